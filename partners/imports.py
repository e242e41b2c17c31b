"""Bulk import of partners from CSV (the format of ``partners.partner_csv``): the service.

An import is a ``PartnerImport`` row and two Celery jobs:

1. :func:`partner_import_start` (the upload) checks what can be told at once (size, UTF-8,
   row count), stores the text and enqueues :func:`partner_import_check`, which checks every
   row against the tenant as it is (required values, choices, numbers, domains, duplicates in
   the file and against existing partners, tiers, competencies, managers, admin emails) and
   ends in ``preview`` (no errors) or ``invalid`` (the errors, row by row). Its progress is
   ``processed_rows`` of ``total_rows``, saved every ``PROGRESS_EVERY`` rows in short
   transactions of their own, so the pages polling it see it move.
2. :func:`partner_import_commit_request` (the "Import" button) moves a ``preview`` import to
   ``importing`` and enqueues :func:`partner_import_commit`, which checks the rows again (the
   tenant may have changed since the preview) and creates the partners through
   ``services.partners_bulk_create`` and the first partner admins' invitations through
   ``services.invitations_bulk_create``, ``COMMIT_BATCH`` rows at a time (a constant number
   of queries a batch, whatever the rows hold), all in ONE transaction: any failure rolls
   everything back and the import ends ``failed`` with the reason. The invitation emails are
   sent on commit only. The created rows are invisible until then, so the commit reports its
   progress through the cache after every batch (:func:`partner_import_progress` falls back
   to the row), and looks there for a cancel request.

Errors are ``{"row": n, "field": column, "message": text}`` where ``n`` is the row number a
spreadsheet shows (the header is row 1).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from partners import partner_csv, selectors, services, tasks
from partners.models import (
    Membership,
    Partner,
    PartnerImport,
    PartnerImportStatus,
    PartnerSegment,
    PartnerStatus,
    PartnerType,
    Tenant,
)
from partners.permissions import membership_permissions
from partners.roles import Role
from partners.tenancy import require_tenant, tenant_context
from partners.tiers import Tier

logger = logging.getLogger(__name__)

IMPORT_PERM = "partners.import_partner"
#: Limits of one upload (module constants; the tests lower them).
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
#: How often (in rows) the check reports progress.
PROGRESS_EVERY = 100
#: Rows the commit writes at a time (a few queries each), reporting progress after each.
COMMIT_BATCH = 1000
#: How many rows without errors the preview shows.
SAMPLE_SIZE = 10
_CACHE_SECONDS = 6 * 3600

IN_PROGRESS = frozenset({PartnerImportStatus.VALIDATING, PartnerImportStatus.IMPORTING})
#: Cancelled at once; an import being imported is cancelled by its job (see cancel).
CANCELLABLE_AT_ONCE = (
    PartnerImportStatus.VALIDATING,
    PartnerImportStatus.PREVIEW,
    PartnerImportStatus.INVALID,
)
# Optional columns that are integers, and the value an empty cell means (None: the model's).
_INTEGER_COLUMNS = ("employee_count", "lead_capacity")


# ---------------------------------------------------------------- reading the file


def read_upload(upload) -> str:
    """The text of an uploaded CSV file (a Django ``UploadedFile``), or ``ValidationError``:
    too large, not UTF-8 (a byte-order mark is fine), not CSV, empty, too many rows."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise ValidationError(_too_large())
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationError(_too_large())
    return decode_csv(data)


def _too_large() -> str:
    return _("The file is larger than %(size)s MB: split it into smaller files.") % {
        "size": f"{MAX_BYTES / (1024 * 1024):g}"
    }


def decode_csv(data: bytes) -> str:
    """Decode and sanity-check the bytes of a CSV file (see :func:`read_upload`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
        ) from exc
    if "\x00" in text:
        raise ValidationError(_("The file is not a CSV text file."))
    try:
        rows = sum(1 for _number, _cells in _records(text))
    except csv.Error as exc:
        raise ValidationError(_("The file is not valid CSV: %(error)s") % {"error": exc}) from exc
    if rows == 0:
        raise ValidationError(_("The file is empty."))
    if rows - 1 > MAX_ROWS:
        raise ValidationError(
            _("The file has %(rows)s partner rows; at most %(max)s can be imported at once.")
            % {"rows": f"{rows - 1:,}", "max": f"{MAX_ROWS:,}"}
        )
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) of every row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""))
    for number, cells in enumerate(reader, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def data_row_count(text: str) -> int:
    return max(sum(1 for _record in _records(text)) - 1, 0)


def template_csv() -> str:
    """An empty import file: the header row only."""
    return partner_csv.to_csv_text([list(partner_csv.COLUMNS)])


# ---------------------------------------------------------------- checking rows


def _error(row: int, field_: str, message: str) -> dict:
    return {"row": row, "field": field_, "message": str(message)}


@dataclass
class PartnerRow:
    """One checked row: the partner to create (cleaned values) and whom to invite."""

    number: int
    partner: services.NewPartner
    admin_email: str = ""


def _cells_by_column(columns: list[str], cells: list[str]) -> dict[str, str]:
    """A row's cells by column, trimmed, without the export's formula guard (a leading
    apostrophe before ``=``, ``+``, ``-``, ``@``...: ``partner_csv.formula_safe``)."""
    return {
        column: partner_csv.formula_unguarded(cells[i].strip()) if i < len(cells) else ""
        for i, column in enumerate(columns)
    }


@dataclass
class _Lookups:
    """The tenant's rows the checks compare against, read once per check (not per row)."""

    partner_names: set[str]
    partner_domains: set[str]
    tiers: dict[str, Tier]
    competencies: set[str]
    managers: dict[str, Membership]
    member_emails: set[str]

    @classmethod
    def load(cls) -> _Lookups:
        require_tenant()
        names, domains = set(), set()
        for name, domain in Partner.objects.values_list("name", "domain"):
            names.add(name.lower())
            domains.add(domain)
        return cls(
            partner_names=names,
            partner_domains=domains,
            tiers={tier.name.lower(): tier for tier in Tier.objects.all()},
            competencies=set(selectors.competency_names()),
            managers={m.user.email.lower(): m for m in selectors.manager_candidates()},
            member_emails=set(
                Membership.objects.annotate(email=Lower("user__email")).values_list(
                    "email", flat=True
                )
            ),
        )


@dataclass
class _Seen:
    """What earlier rows of the file used: a later row repeating it is an error."""

    names: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    admin_emails: dict[str, int] = field(default_factory=dict)


def _choices(choices) -> dict[str, str]:
    """A choice by its value or its label, in any case."""
    out = {}
    for value, label in choices.choices:
        out[str(label).lower()] = value
        out[value.lower()] = value
    return out


def check_header(cells: list[str]) -> tuple[list[str], list[dict]]:
    """The column names of a header row, and its errors (row 1)."""
    columns = [cell.strip().lower() for cell in cells]
    errors = []
    known = set(partner_csv.COLUMNS)
    for column in partner_csv.REQUIRED:
        if column not in columns:
            errors.append(
                _error(1, column, _("The header has no “%(column)s” column.") % {"column": column})
            )
    for index, column in enumerate(columns):
        if not column:
            errors.append(_error(1, "", _("Column %(n)s has no name.") % {"n": index + 1}))
        elif column not in known:
            errors.append(
                _error(
                    1,
                    column,
                    _("Unknown column “%(column)s”. The columns are: %(columns)s.")
                    % {"column": column, "columns": ", ".join(partner_csv.COLUMNS)},
                )
            )
        elif columns.index(column) != index:
            errors.append(
                _error(1, column, _("The column “%(column)s” appears twice.") % {"column": column})
            )
    return columns, errors


class _RowChecker:
    def __init__(self, lookups: _Lookups) -> None:
        self.lookups = lookups
        self.seen = _Seen()
        self.types = _choices(PartnerType)
        self.segments = _choices(PartnerSegment)
        self.statuses = _choices(PartnerStatus)

    def check(
        self, number: int, columns: list[str], cells: list[str]
    ) -> tuple[PartnerRow | None, list[dict]]:
        errors: dict[str, str] = {}

        def fail(column: str, message: str) -> None:
            errors.setdefault(column, str(message))  # the first problem of a cell is enough

        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            fail("", _("This row has more cells than the header has columns."))
        raw = _cells_by_column(columns, cells)
        for column in partner_csv.REQUIRED:
            if not raw.get(column):
                fail(column, _("This value is required."))

        values: dict = {"name": raw.get("name", ""), "domain": raw.get("domain", "")}
        if "legal_name" in raw:
            values["legal_name"] = raw["legal_name"]
        for column, choices in (("partner_type", self.types), ("segment", self.segments)):
            if raw.get(column):
                value = choices.get(raw[column].lower())
                if value is None:
                    fail(column, self._choice_message(raw[column], choices))
                else:
                    values[column] = value
        status = PartnerStatus.ACTIVE
        if raw.get("status"):
            status = self.statuses.get(raw["status"].lower())
            if status is None:
                fail("status", self._choice_message(raw["status"], self.statuses))
        for column in _INTEGER_COLUMNS:
            if raw.get(column):
                try:
                    number_value = int(raw[column])
                except ValueError:
                    number_value = -1
                if number_value < 0:
                    fail(column, _("Enter a whole number, 0 or more."))
                else:
                    values[column] = number_value
        for column in ("countries", "regions", "competencies"):
            if column in raw:
                values[column] = partner_csv.split_list(raw[column])

        # The service's own rules (normalized domain, country codes, known competencies, the
        # model's field rules), without touching the database.
        try:
            built = services.partner_build(
                status=status or PartnerStatus.ACTIVE,
                known_competencies=self.lookups.competencies,
                **values,
            )
        except ValidationError as exc:
            for column, messages in exc.message_dict.items():
                fail(column if column in raw or column in values else "", " ".join(messages))
        else:
            values = {key: getattr(built, key) for key in values}

        self._check_unique(number, values, fail)
        tier = self._tier(raw.get("tier", ""), fail)
        managers = self._managers(raw.get("managers", ""), fail)
        admin_email = self._admin_email(number, raw.get("admin_email", ""), fail)

        row_errors = [_error(number, column, message) for column, message in errors.items()]
        if row_errors:
            return None, row_errors
        partner = services.NewPartner(
            name=values.pop("name"),
            domain=values.pop("domain"),
            status=status,
            managers=managers,
            tier=tier,
            profile=values,
        )
        return PartnerRow(number=number, partner=partner, admin_email=admin_email), []

    @staticmethod
    def _choice_message(value: str, choices: dict[str, str]) -> str:
        return _("“%(value)s” is not one of: %(choices)s.") % {
            "value": value,
            "choices": ", ".join(sorted(set(choices.values()))),
        }

    def _check_unique(self, number: int, values: dict, fail) -> None:
        name, domain = values.get("name", "").lower(), values.get("domain", "")
        if name:
            if name in self.seen.names:
                fail("name", _("Row %(row)s has the same name.") % {"row": self.seen.names[name]})
            elif name in self.lookups.partner_names:
                fail("name", _("A partner with this name already exists."))
            self.seen.names.setdefault(name, number)
        if domain:
            if domain in self.seen.domains:
                fail(
                    "domain",
                    _("Row %(row)s has the same domain.") % {"row": self.seen.domains[domain]},
                )
            elif domain in self.lookups.partner_domains:
                fail("domain", _("A partner with this domain already exists."))
            self.seen.domains.setdefault(domain, number)

    def _tier(self, name: str, fail) -> Tier | None:
        if not name:
            return None
        tier = self.lookups.tiers.get(name.lower())
        if tier is None:
            names = sorted(t.name for t in self.lookups.tiers.values())
            fail(
                "tier",
                _("No tier is named “%(name)s”. The tiers are: %(tiers)s.")
                % {"name": name, "tiers": ", ".join(names) or _("none yet")},
            )
        return tier

    def _managers(self, value: str, fail) -> list[Membership]:
        managers, unknown = [], []
        for email in partner_csv.split_list(value):
            manager = self.lookups.managers.get(email.lower())
            if manager is None:
                unknown.append(email)
            elif manager not in managers:
                managers.append(manager)
        if unknown:
            fail(
                "managers",
                _("Not an active channel manager or tenant admin of this program: %(emails)s.")
                % {"emails": ", ".join(unknown)},
            )
        return managers

    def _admin_email(self, number: int, value: str, fail) -> str:
        email = value.strip().lower()
        if not email:
            return ""
        try:
            validate_email(email)
        except ValidationError:
            fail("admin_email", _("Enter a valid email address."))
            return ""
        if email in self.lookups.member_emails:
            fail("admin_email", _("This person is already a member of this program."))
        elif email in self.seen.admin_emails:
            fail(
                "admin_email",
                _("Row %(row)s invites the same person.") % {"row": self.seen.admin_emails[email]},
            )
        self.seen.admin_emails.setdefault(email, number)
        return email


def check_rows(
    text: str,
    *,
    progress: Callable[[int], bool] | None = None,
    chunk_context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> tuple[list[PartnerRow], list[dict], int]:
    """Check every row of ``text`` against the current tenant: (good rows, errors, rows).

    Rows are checked ``PROGRESS_EVERY`` at a time, each chunk inside ``chunk_context()``;
    ``progress(rows_done)`` is called between chunks (outside it), and returning False stops
    the check (the import was cancelled)."""
    records = _records(text)
    first = next(records, None)
    if first is None:
        return [], [_error(1, "", _("The file is empty."))], 0
    columns, errors = check_header(first[1])
    if errors:
        # Without the columns, row by row errors would only repeat the header's problem.
        return [], errors, data_row_count(text)
    with chunk_context():
        checker = _RowChecker(_Lookups.load())
    rows: list[PartnerRow] = []
    done = 0
    while chunk := list(islice(records, PROGRESS_EVERY)):
        with chunk_context():
            for number, cells in chunk:
                row, row_errors = checker.check(number, columns, cells)
                if row is not None:
                    rows.append(row)
                errors.extend(row_errors)
        done += len(chunk)
        if progress is not None and progress(done) is False:
            break
    if done == 0:
        errors.append(_error(1, "", _("The file has a header but no partner rows.")))
    return rows, errors, done


# ---------------------------------------------------------------- progress (cache)


def _progress_key(job: PartnerImport | int, tenant_id: int) -> str:
    pk = job if isinstance(job, int) else job.pk
    return f"partners:import:{tenant_id}:{pk}:progress"


def _cancel_key(job: PartnerImport | int, tenant_id: int) -> str:
    pk = job if isinstance(job, int) else job.pk
    return f"partners:import:{tenant_id}:{pk}:cancel"


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, _CACHE_SECONDS)
    except Exception:  # progress is a nicety: a cache outage must not fail an import
        logger.warning("partner import: cache unavailable for %s", key, exc_info=True)


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:
        logger.warning("partner import: cache unavailable for %s", key, exc_info=True)
        return None


@dataclass(frozen=True)
class Progress:
    processed: int
    total: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))


def partner_import_progress(job: PartnerImport) -> Progress:
    """Rows done of ``total_rows``: the row's count, or while importing (whose writes are
    invisible until the end) the count the commit job keeps in the cache."""
    processed = job.processed_rows
    if job.status == PartnerImportStatus.IMPORTING:
        cached = _cache_get(_progress_key(job, job.tenant_id))
        processed = int(cached) if cached is not None else job.processed_rows
    return Progress(processed=min(processed, job.total_rows), total=job.total_rows)


def cancel_requested(job: PartnerImport) -> bool:
    return bool(_cache_get(_cancel_key(job, job.tenant_id)))


# ---------------------------------------------------------------- the services


def _require_import_perm(actor: Membership | None) -> None:
    if actor is not None and IMPORT_PERM not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


def partner_import_list():
    """The tenant's imports, newest first (every import admin sees them all)."""
    require_tenant()
    return PartnerImport.objects.select_related("created_by").order_by("-created_at", "-id")


@transaction.atomic
def partner_import_start(*, actor: Membership, filename: str, text: str) -> PartnerImport:
    """Store an uploaded file (``text`` from :func:`read_upload`) and enqueue its check."""
    _require_import_perm(actor)
    tenant = require_tenant()
    job = PartnerImport.objects.create(
        tenant=tenant,
        created_by=actor.user,
        filename=(filename or "")[:255],
        content=text,
        status=PartnerImportStatus.VALIDATING,
        total_rows=data_row_count(text),
    )
    _enqueue("check_partner_import", tenant, job.pk)
    return job


def _enqueue(task_name: str, tenant: Tenant, *args) -> None:
    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(tenant.pk, *args))


def partner_import_check(*, tenant: Tenant, import_id: int) -> PartnerImport | None:
    """The check job: every row, with progress. Not one transaction but several short ones,
    so the progress is visible while it runs; safe to run twice (it only finishes an import
    that is still being checked)."""
    with tenant_context(tenant):
        job = PartnerImport.objects.filter(pk=import_id).first()
        if job is None or job.status != PartnerImportStatus.VALIDATING:
            return job
        text = job.content

    def progress(done: int) -> bool:
        # Its own transaction (when the job is not nested in one): the pages see it at once.
        with tenant_context(tenant):
            return bool(
                PartnerImport.objects.filter(
                    pk=import_id, status=PartnerImportStatus.VALIDATING
                ).update(processed_rows=done)
            )

    _rows, errors, done = check_rows(
        text, progress=progress, chunk_context=lambda: tenant_context(tenant)
    )
    with tenant_context(tenant):
        status = PartnerImportStatus.INVALID if errors else PartnerImportStatus.PREVIEW
        PartnerImport.objects.filter(pk=import_id, status=PartnerImportStatus.VALIDATING).update(
            status=status,
            errors=errors,
            total_rows=max(done, 0),
            processed_rows=done,
        )
        return PartnerImport.objects.filter(pk=import_id).first()


@transaction.atomic
def partner_import_commit_request(*, actor: Membership, job: PartnerImport) -> PartnerImport:
    """The "Import" button: a checked import without errors goes to the commit job."""
    _require_import_perm(actor)
    tenant = require_tenant()
    if job.status != PartnerImportStatus.PREVIEW or job.errors:
        raise ValidationError(_import_refusal(job))
    updated = PartnerImport.objects.filter(
        pk=job.pk, status=PartnerImportStatus.PREVIEW, errors=[]
    ).update(status=PartnerImportStatus.IMPORTING, processed_rows=0)
    if not updated:  # someone else pressed Import (or Cancel) first
        job.refresh_from_db()
        raise ValidationError(_import_refusal(job))
    _cache_set(_progress_key(job, tenant.pk), 0)
    _enqueue("commit_partner_import", tenant, job.pk, actor.pk)
    job.refresh_from_db()
    return job


def _import_refusal(job: PartnerImport) -> str:
    if job.status == PartnerImportStatus.INVALID or job.errors:
        return _("Fix the errors in the file and upload it again: nothing was imported.")
    if job.status == PartnerImportStatus.VALIDATING:
        return _("The file is still being checked.")
    return _("This import is %(status)s; it cannot be imported now.") % {
        "status": job.get_status_display().lower()
    }


@transaction.atomic
def partner_import_cancel(*, actor: Membership, job: PartnerImport) -> PartnerImport:
    """Cancel an import. One being imported is stopped by its job at the next progress
    report (everything it wrote rolls back); the others are cancelled at once."""
    _require_import_perm(actor)
    tenant = require_tenant()
    if job.status not in (*CANCELLABLE_AT_ONCE, PartnerImportStatus.IMPORTING):
        raise ValidationError(
            _("This import is %(status)s; it can no longer be cancelled.")
            % {"status": job.get_status_display().lower()}
        )
    if job.status == PartnerImportStatus.IMPORTING:
        # The commit job holds the row locked until it ends: ask it through the cache.
        _cache_set(_cancel_key(job, tenant.pk), True)
        return job
    PartnerImport.objects.filter(pk=job.pk, status__in=CANCELLABLE_AT_ONCE).update(
        status=PartnerImportStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


class _Cancelled(Exception):
    pass


class _RowsRefused(Exception):
    """Rows no longer pass the checks (the tenant changed after the preview), or a service
    refused them as it wrote them: the import's errors, by row."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors

    @classmethod
    def of(cls, exc: services.RowsInvalid, numbers: list[int], columns: dict) -> _RowsRefused:
        """``exc`` of a bulk service given rows ``numbers`` (the file's row numbers, in the
        order given); ``columns`` renames the service's fields to the file's columns."""
        return cls(
            [
                error
                for index, row_exc in exc.errors_by_row.items()
                for error in _validation_errors(numbers[index], row_exc, columns)
            ]
        )


#: The file's columns of the invitation service's fields ("": the row as a whole).
_INVITATION_COLUMNS = {"email": "admin_email", "partner": "", "role": ""}


def partner_import_commit(*, tenant: Tenant, import_id: int, actor_id: int) -> PartnerImport | None:
    """The commit job, inside the task's transaction (``tenant_task``): all rows or none.

    Safe to run twice: the import row is locked first, and only an import still
    ``importing`` is worked on (a second run waits for the first and finds it done)."""
    job = PartnerImport.objects.select_for_update().filter(pk=import_id).first()
    if job is None or job.status != PartnerImportStatus.IMPORTING:
        return job
    progress_key = _progress_key(job, tenant.pk)
    cancel_key = _cancel_key(job, tenant.pk)
    actor = (
        Membership.objects.select_related("user", "partner")
        .filter(pk=actor_id, is_active=True, user__is_active=True)
        .first()
    )
    created = invited = 0
    try:
        with transaction.atomic():  # the savepoint every partner and invitation is in
            if actor is None:
                raise PermissionDenied(
                    _("The person who started the import is no longer a member.")
                )
            _require_import_perm(actor)
            rows, errors, _done = check_rows(job.content)
            if errors:
                raise _RowsRefused(errors)
            reason = _("Imported from %(file)s.") % {"file": job.filename or _("a CSV file")}
            for start in range(0, len(rows), COMMIT_BATCH):
                batch = rows[start : start + COMMIT_BATCH]
                invited += _import_batch(actor=actor, rows=batch, reason=reason)
                created += len(batch)
                _cache_set(progress_key, created)
                if _cache_get(cancel_key):
                    raise _Cancelled
    except _Cancelled:
        job.status = PartnerImportStatus.CANCELLED
        job.processed_rows = 0
        logger.info("partner import %s of tenant %s cancelled", job.pk, tenant.pk)
    except Exception as exc:  # every failure ends the import, with its reason
        job.status = PartnerImportStatus.FAILED
        job.processed_rows = 0
        job.errors = _failure_errors(exc)
        if not isinstance(exc, _RowsRefused | ValidationError | PermissionDenied):
            logger.exception("partner import %s of tenant %s failed", job.pk, tenant.pk)
    else:
        job.status = PartnerImportStatus.DONE
        job.processed_rows = job.total_rows
        job.created_count = created
        job.invited_count = invited
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "status",
            "processed_rows",
            "errors",
            "created_count",
            "invited_count",
            "finished_at",
        ]
    )
    transaction.on_commit(lambda: cache.delete_many([progress_key, cancel_key]))
    return job


def _import_batch(*, actor: Membership, rows: list[PartnerRow], reason: str) -> int:
    """Create the partners of ``rows`` and invite their first admins; returns how many were
    invited. The services check every row again as they write (``_RowsRefused``)."""
    new = [replace(row.partner, status_reason=reason) for row in rows]
    try:
        partners = services.partners_bulk_create(actor=actor, partners=new)
    except services.RowsInvalid as exc:
        raise _RowsRefused.of(exc, [row.number for row in rows], {}) from exc
    invited = [
        (row, partner) for row, partner in zip(rows, partners, strict=True) if row.admin_email
    ]
    try:
        services.invitations_bulk_create(
            actor=actor,
            role=Role.PARTNER_ADMIN,
            invitees=[(row.admin_email, partner) for row, partner in invited],
        )
    except services.RowsInvalid as exc:
        numbers = [row.number for row, _partner in invited]
        raise _RowsRefused.of(exc, numbers, _INVITATION_COLUMNS) from exc
    return len(invited)


def _validation_errors(
    number: int, exc: ValidationError, columns: dict | None = None
) -> list[dict]:
    """``exc`` as import errors of row ``number`` (0: the whole import)."""
    if hasattr(exc, "error_dict"):
        return [
            _error(number, (columns or {}).get(column, column), " ".join(messages))
            for column, messages in exc.message_dict.items()
        ]
    return [_error(number, "", " ".join(exc.messages) or _("Refused."))]


def _failure_errors(exc: Exception) -> list[dict]:
    """The reason a commit failed, as import errors (the rows it concerns, when known)."""
    if isinstance(exc, _RowsRefused):
        return exc.errors
    if isinstance(exc, ValidationError):
        return _validation_errors(0, exc)
    if isinstance(exc, PermissionDenied):
        return [_error(0, "", str(exc) or _("Refused."))]
    return [
        _error(
            0,
            "",
            _("The import failed (%(error)s); nothing was imported.")
            % {"error": exc.__class__.__name__},
        )
    ]


# ---------------------------------------------------------------- the preview


def partner_import_sample(job: PartnerImport, *, limit: int = SAMPLE_SIZE) -> list[dict]:
    """The first ``limit`` rows without errors, as the file has them (``row`` and cells)."""
    bad_rows = {e.get("row") for e in job.errors}
    records = _records(job.content)
    header = next(records, None)
    if header is None:
        return []
    columns = [cell.strip().lower() for cell in header[1]]
    sample = []
    for number, cells in records:
        if number in bad_rows:
            continue
        values = _cells_by_column(columns, cells)
        sample.append({"row": number, "cells": [values.get(c, "") for c in partner_csv.COLUMNS]})
        if len(sample) >= limit:
            break
    return sample


def errors_csv(job: PartnerImport) -> str:
    """The import's errors as a CSV file (row, column, message)."""
    return partner_csv.to_csv_text(
        [["row", "column", "message"]]
        + [
            [partner_csv.formula_safe(str(e.get(key, ""))) for key in ("row", "field", "message")]
            for e in job.errors
        ]
    )
