"""The partner CSV format: one format for the bulk import and for the export.

A header row, then one row per partner. List columns (countries, regions, competencies,
managers) separate their items with ``;``. ``admin_email`` / ``admin_name`` name the
partner's first partner admin: on import they receive an invitation; the export writes the
earliest active partner admin. ``tier`` is a tier name (empty: none); ``managers`` are the
emails of assigned channel managers / tenant admins.

A cell a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) is written with an apostrophe in front (:func:`formula_safe`, which the
deals export uses too); the import takes exactly that apostrophe off again
(:func:`formula_unguarded`), so an export imports as the same values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from partners import selectors
from partners.models import Membership, Partner, User
from partners.roles import Role

COLUMNS = (
    "name",
    "legal_name",
    "domain",
    "partner_type",
    "segment",
    "status",
    "employee_count",
    "countries",
    "regions",
    "competencies",
    "lead_capacity",
    "tier",
    "managers",
    "admin_email",
    "admin_name",
)
#: Columns a row must have a value in.
REQUIRED = ("name", "domain")
LIST_COLUMNS = ("countries", "regions", "competencies", "managers")
LIST_SEPARATOR = ";"
#: What a spreadsheet runs as a formula when a cell starts with it (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: an apostrophe before a cell
    that would start a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def formula_unguarded(value: str) -> str:
    """A cell read back: without the one apostrophe :func:`formula_safe` put in front."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def split_list(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(LIST_SEPARATOR) if item.strip()]


def join_list(values: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(values)


def first_admins(partner_ids: Iterable[int]) -> dict[int, User]:
    """The earliest active partner admin of each partner (the export's admin columns)."""
    out: dict[int, User] = {}
    rows = (
        Membership.objects.filter(
            partner_id__in=list(partner_ids), role=Role.PARTNER_ADMIN, is_active=True
        )
        .select_related("user")
        .order_by("partner_id", "created_at", "id")
    )
    for membership in rows:
        out.setdefault(membership.partner_id, membership.user)
    return out


def partner_row(partner: Partner, *, managers: list[User], admin: User | None) -> list[str]:
    cells = [
        partner.name,
        partner.legal_name,
        partner.domain,
        partner.partner_type,
        partner.segment,
        partner.status,
        "" if partner.employee_count is None else str(partner.employee_count),
        join_list(partner.countries),
        join_list(partner.regions),
        join_list(partner.competencies),
        str(partner.lead_capacity),
        partner.tier.name if partner.tier_id else "",
        join_list(u.email for u in managers),
        admin.email if admin else "",
        admin.full_name if admin else "",
    ]
    return [formula_safe(cell) for cell in cells]


def export_rows(partners: Iterable[Partner], *, chunk: int = 1000) -> Iterator[list[str]]:
    """The header, then a row per partner (``partners`` with ``select_related("tier")``),
    looking managers and admins up a chunk at a time (queries do not grow per row)."""
    yield list(COLUMNS)
    batch: list[Partner] = []

    def flush() -> Iterator[list[str]]:
        ids = [p.pk for p in batch]
        managers = selectors.partner_managers(partner_ids=ids)
        admins = first_admins(ids)
        for p in batch:
            yield partner_row(p, managers=managers.get(p.pk, []), admin=admins.get(p.pk))

    for partner in partners:
        batch.append(partner)
        if len(batch) >= chunk:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def to_csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
