"""Every write of leads and their routing.

Vendor staff (``deals.manage_lead``) create leads one by one or import a CSV file. The router
(``deals.routing``) offers each lead to one partner at a time; the offer waits for the tenant's
response SLA (``EngagementRules.lead_response_sla_hours``). A partner user with
``deals.respond_lead`` accepts it (the lead becomes an approved registration of that partner)
or declines it with a reason; a decline or a timeout (``offers_expire_due``, a scheduled job)
moves the lead on to the next best partner, and a partner is never offered the same lead twice.
When no partner is left the lead is ``unrouted`` until staff route it again.

A lead created in a page or the API is routed at once, in the same transaction, so the answer
already shows where it went. Imported leads are written together and routed by a job right
after the commit (``deals.tasks.route_new_leads``), so a 5,000-row file does not hold the
request; the scheduled job also routes any lead whose hand-off was lost.

Lock order, everywhere: the lead, then its offers. Routing itself is serialized per tenant
(an advisory lock), so two leads routed at once cannot both take a partner's last free slot.

Domain events: ``lead.offered``, ``lead.accepted``, ``lead.declined``, ``lead.expired``,
``lead.unrouted``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from deals import routing
from deals import services as deal_services
from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from deals.normalize import normalize_domain
from partners import events
from partners.models import Membership, PartnerStatus
from partners.money import MAX_AMOUNT, minor_units
from partners.permissions import membership_permissions
from partners.tenancy import require_tenant

MANAGE = "deals.manage_lead"
RESPOND = "deals.respond_lead"

#: The most rows one CSV import may hold, and the largest file accepted.
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: The columns of a lead CSV file (header row required, any order, case-insensitive).
IMPORT_COLUMNS = (
    "company_name",
    "company_domain",
    "country",
    "region",
    "competency",
    "contact_name",
    "contact_email",
    "contact_phone",
    "estimated_value",
    "currency",
    "notes",
)
REQUIRED_COLUMNS = ("company_name", "country")

#: Leads one job run routes (or offers it times out) in one transaction; a full batch makes the
#: job enqueue itself again for the rest.
ROUTE_BATCH = 500
MAX_NOTES = 5000
MAX_DECLINE_REASON = 2000
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9-]{1,63})+$")
_GROUPED_AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_PHONE = re.compile(r"^[0-9+()./ -]{3,50}$")
# Any constant: two-key advisory locks of the lead router, keyed by tenant id.
_ROUTING_LOCK = 7_341_001


# ---------------------------------------------------------------- input


@dataclass
class LeadInput:
    company_name: str
    country: str
    currency: str = ""  # '' means the tenant's default currency
    company_domain: str = ""
    region: str = ""
    competency: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    estimated_value: Decimal | None = None
    notes: str = ""


def default_currency(currencies: list[str]) -> str:
    default = require_tenant().default_currency
    return default if default in currencies else currencies[0]


def _clean(data: LeadInput, *, currencies: list[str]) -> tuple[dict, dict[str, list[str]]]:
    """The lead's column values, and every field's reasons to refuse them."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    def text(value: str | None, name: str, limit: int) -> str:
        value = (value or "").strip()
        if len(value) > limit:
            err(name, _("Use at most %(n)d characters.") % {"n": limit})
        return value

    company_name = text(data.company_name, "company_name", 200)
    if not company_name:
        err("company_name", _("Enter the company's name."))
    domain = ""
    if (data.company_domain or "").strip():
        domain = normalize_domain(data.company_domain)
        if not _HOSTNAME.match(domain):
            err("company_domain", _("Enter a website domain such as example.com."))
    country = (data.country or "").strip().upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        err("country", _("Use a two-letter ISO country code, such as US or DE."))
    region = text(data.region, "region", 50)
    competency = text(data.competency, "competency", 100)
    contact_name = text(data.contact_name, "contact_name", 200)
    contact_email = text(data.contact_email, "contact_email", 254)
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            err("contact_email", _("Enter a valid email address."))
    contact_phone = text(data.contact_phone, "contact_phone", 50)
    if contact_phone and not _PHONE.match(contact_phone):
        err("contact_phone", _("Use digits, spaces and + ( ) - . / only."))
    notes = text(data.notes, "notes", MAX_NOTES)
    currency = (data.currency or "").strip().upper() or default_currency(currencies)
    if currency not in currencies:
        err(
            "currency",
            _("Use one of the program's currencies: %(list)s.") % {"list": ", ".join(currencies)},
        )
    value = data.estimated_value
    if value is not None:
        if not isinstance(value, Decimal) or not value.is_finite():
            err("estimated_value", _("Enter an amount."))
        elif value < 0 or value > MAX_AMOUNT:
            err("estimated_value", _("The amount must be between 0 and %(max)s.")
                % {"max": MAX_AMOUNT})  # fmt: skip
        elif -value.as_tuple().exponent > minor_units(currency):
            err("estimated_value", _("Use at most %(n)d decimal places for %(currency)s.")
                % {"n": minor_units(currency), "currency": currency})  # fmt: skip
    values = {
        "company_name": company_name,
        "company_domain": domain,
        "country": country,
        "region": region,
        "competency": competency,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "estimated_value": value,
        "currency": currency,
        "notes": notes,
    }
    return values, errors


def _require(actor: Membership | None, perm: str) -> None:
    if actor is not None and perm not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


def _require_partner_user(actor: Membership) -> None:
    _require(actor, RESPOND)
    if not actor.is_partner_member or actor.partner_id is None:
        raise PermissionDenied(_("Only partner users answer lead offers."))


# ---------------------------------------------------------------- create and import


@transaction.atomic
def lead_create(*, actor: Membership, data: LeadInput) -> Lead:
    """Vendor staff create a lead; it is routed at once."""
    _require(actor, MANAGE)
    values, errors = _clean(data, currencies=deal_services.allowed_currencies())
    if errors:
        raise ValidationError(errors)
    lead = Lead.objects.create(tenant=require_tenant(), created_by=actor.user, **values)
    _route(lead, trigger="created")
    return lead


@dataclass
class ImportRow:
    number: int  # the row of the file, the header being row 1 (as a spreadsheet shows it)
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    cleaned: dict = field(default_factory=dict, repr=False)


@dataclass
class LeadImport:
    """A parsed CSV file: every row with its errors, and errors of the file as a whole."""

    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def valid(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.error_rows

    def error_messages(self) -> list[str]:
        return [
            _("Row %(row)d, %(column)s: %(message)s")
            % {"row": row.number, "column": column, "message": message}
            for row in self.error_rows
            for column, messages in row.errors.items()
            for message in messages
        ]


def _parse_amount(text: str) -> Decimal | None:
    """``25000.00`` or ``25,000.00``; a decimal comma (``1.500,00``) is refused, not guessed."""
    text = (text or "").strip()
    if not text:
        return None
    if _GROUPED_AMOUNT.fullmatch(text):
        text = text.replace(",", "")
    elif "," in text:
        raise InvalidOperation(text)
    return Decimal(text)


def parse_lead_csv(content: bytes | str) -> LeadImport:
    """Read a lead CSV file and check every row; writes nothing. Runs inside the tenant."""
    result = LeadImport()
    if isinstance(content, bytes):
        if len(content) > MAX_IMPORT_BYTES:
            result.file_errors.append(
                _("The file is larger than %(mb)d MB.") % {"mb": MAX_IMPORT_BYTES // 2**20}
            )
            return result
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            result.file_errors.append(_("Save the file as UTF-8 text (CSV UTF-8)."))
            return result
    if "\x00" in content:
        result.file_errors.append(_("This is not a CSV text file."))
        return result
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header: list[str] | None = None
        for cells in reader:
            if header is None:
                if not any(cell.strip() for cell in cells):
                    continue
                header = [cell.strip().lower().replace(" ", "_") for cell in cells]
                if not _check_header(header, result):
                    return result
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if len(result.rows) == MAX_IMPORT_ROWS:
                result.file_errors.append(
                    _("A file may hold at most %(n)d leads; split it.") % {"n": MAX_IMPORT_ROWS}
                )
                return result
            result.rows.append(_read_row(reader.line_num, header, cells))
    except csv.Error as exc:
        result.file_errors.append(
            _("Row %(row)d cannot be read: %(error)s") % {"row": reader.line_num, "error": exc}
        )
        return result
    if header is None:
        result.file_errors.append(_("The file is empty: it needs a header row and leads."))
    elif not result.rows:
        result.file_errors.append(_("The file has a header row but no leads."))
    else:
        _check_rows(result)
    return result


def _check_header(header: list[str], result: LeadImport) -> bool:
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if unknown:
        result.file_errors.append(
            _("Unknown columns: %(unknown)s. The columns are: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(IMPORT_COLUMNS)}
        )
    if missing:
        result.file_errors.append(
            _("Missing required columns: %(names)s.") % {"names": ", ".join(missing)}
        )
    if repeated:
        result.file_errors.append(
            _("Columns given twice: %(names)s.") % {"names": ", ".join(repeated)}
        )
    return not result.file_errors


def _read_row(number: int, header: list[str], cells: list[str]) -> ImportRow:
    row = ImportRow(number=number, values=dict(zip(header, cells, strict=False)))
    if len(cells) > len(header):
        row.errors["row"] = [
            _("It has %(cells)d cells; the header has %(columns)d columns.")
            % {"cells": len(cells), "columns": len(header)}
        ]
    return row


def _check_rows(result: LeadImport) -> None:
    currencies = deal_services.allowed_currencies()
    for row in result.rows:
        values = row.values
        amount: Decimal | None = None
        try:
            amount = _parse_amount(values.get("estimated_value", ""))
        except InvalidOperation:
            row.errors.setdefault("estimated_value", []).append(
                _("Enter an amount such as 25000.00 (a dot before the cents).")
            )
        data = LeadInput(**{name: values.get(name, "") for name in IMPORT_COLUMNS
                            if name != "estimated_value"}, estimated_value=amount)  # fmt: skip
        cleaned, errors = _clean(data, currencies=currencies)
        for column, messages in errors.items():
            if column == "estimated_value" and "estimated_value" in row.errors:
                continue
            row.errors.setdefault(column, []).extend(messages)
        row.cleaned = cleaned


def lead_import_preview(*, actor: Membership, content: bytes | str) -> LeadImport:
    """Check a CSV file the way the import would, and write nothing."""
    _require(actor, MANAGE)
    return parse_lead_csv(content)


def lead_import_csv(*, actor: Membership, content: bytes | str) -> list[Lead]:
    """Import a CSV file of leads: all rows or none. A file with any bad row raises a
    ValidationError listing every row's errors (``rows``) or the file's (``file``). The leads
    are routed by a job once the import has committed."""
    _require(actor, MANAGE)
    parsed = parse_lead_csv(content)
    if parsed.file_errors:
        raise ValidationError({"file": parsed.file_errors})
    if not parsed.valid:
        raise ValidationError({"rows": parsed.error_messages()})
    tenant = require_tenant()
    now = timezone.now()
    with transaction.atomic():
        leads = Lead.objects.bulk_create(
            [
                Lead(tenant=tenant, created_by=actor.user, created_at=now, **row.cleaned)
                for row in parsed.rows
            ],
            batch_size=1000,
        )
        _enqueue_routing(tenant.pk)
    return leads


def _enqueue_routing(tenant_id: int) -> None:
    from deals.tasks import route_new_leads

    # robust: if the broker is down the leads still stand; the scheduled job routes them.
    transaction.on_commit(lambda: route_new_leads.delay(tenant_id), robust=True)


# ---------------------------------------------------------------- routing


def _lock_routing(tenant_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_ROUTING_LOCK, tenant_id % 2_147_483_647]
        )


def _route(lead: Lead, *, trigger: str) -> LeadOffer | None:
    """Offer ``lead`` (locked by the caller, or just created) to the best candidate, or mark it
    unrouted when none is left. Call inside a transaction."""
    _lock_routing(lead.tenant_id)
    tenant = require_tenant()
    candidates = routing.route_candidates(lead, limit=1)
    if not candidates:
        lead.status = LeadStatus.UNROUTED
        lead.save(update_fields=["status"])
        events.record(
            tenant=tenant,
            name="lead.unrouted",
            payload={
                "lead_id": lead.pk,
                "trigger": trigger,
                "filters": routing.explain_no_candidate(lead),
            },
        )
        return None
    best = candidates[0]
    now = timezone.now()
    sla_hours = deal_services.engagement_rules().lead_response_sla_hours
    offer = LeadOffer.objects.create(
        tenant=tenant,
        lead=lead,
        partner_id=best.partner_id,
        score=best.score,
        reason=best.reason(lead, trigger=trigger),
        offered_at=now,
        expires_at=now + timedelta(hours=sla_hours),
    )
    lead.status = LeadStatus.OFFERED
    lead.save(update_fields=["status"])
    events.record(tenant=tenant, name="lead.offered", payload=_offer_payload(offer))
    return offer


_ROUTABLE = (LeadStatus.NEW, LeadStatus.OFFERED, LeadStatus.UNROUTED)


@transaction.atomic
def lead_route(*, actor: Membership, lead: Lead) -> LeadOffer | None:
    """Staff route a lead again: a pending offer is withdrawn (that partner is not asked
    again) and the next best partner gets it; an unrouted lead gets another try."""
    _require(actor, MANAGE)
    lead = _lock_lead(lead.pk)
    if lead.status not in _ROUTABLE:
        raise ValidationError(
            _("A lead that is %(status)s cannot be routed again.")
            % {"status": lead.get_status_display().lower()}
        )
    now = timezone.now()
    LeadOffer.objects.filter(lead=lead, status=OfferStatus.PENDING).update(
        status=OfferStatus.WITHDRAWN, responded_at=now, responded_by=actor.user
    )
    return _route(lead, trigger="manual")


def _lock_lead(lead_id: int) -> Lead:
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise Http404
    return lead


# ---------------------------------------------------------------- the partner's answer


def _lock_offer(actor: Membership, offer_id: int) -> tuple[Lead, LeadOffer]:
    """The lead and the offer, locked in that order; 404 unless offered to actor's partner."""
    lead_id = (
        LeadOffer.objects.filter(pk=offer_id, partner_id=actor.partner_id)
        .values_list("lead_id", flat=True)
        .first()
    )
    if lead_id is None:
        raise Http404
    lead = _lock_lead(lead_id)
    offer = (
        LeadOffer.objects.select_for_update()
        .select_related("partner")
        .filter(pk=offer_id, partner_id=actor.partner_id)
        .first()
    )
    if offer is None:
        raise Http404
    return lead, offer


def _require_pending(offer: LeadOffer) -> None:
    if offer.status != OfferStatus.PENDING:
        raise ValidationError(
            _("This offer is no longer open: %(status)s.")
            % {"status": offer.get_status_display().lower()}
        )


@transaction.atomic
def lead_accept(*, actor: Membership, offer: LeadOffer) -> LeadOffer:
    """The partner takes the lead: it becomes an approved registration of the partner."""
    _require_partner_user(actor)
    lead, offer = _lock_offer(actor, offer.pk)
    _require_pending(offer)
    now = timezone.now()
    if offer.expires_at <= now:
        raise ValidationError(_("The time to answer this offer has passed."))
    if offer.partner.status != PartnerStatus.ACTIVE:
        raise ValidationError(
            _("%(partner)s is not active and cannot take leads.") % {"partner": offer.partner}
        )
    deal = deal_services.deal_create_from_lead(actor=actor, lead=lead, partner=offer.partner)
    offer.status = OfferStatus.ACCEPTED
    offer.responded_at = now
    offer.responded_by = actor.user
    offer.save(update_fields=["status", "responded_at", "responded_by"])
    lead.status = LeadStatus.ACCEPTED
    lead.deal = deal
    lead.save(update_fields=["status", "deal"])
    events.record(
        tenant=require_tenant(),
        name="lead.accepted",
        payload={**_offer_payload(offer), "deal_id": deal.pk},
    )
    return offer


@transaction.atomic
def lead_decline(*, actor: Membership, offer: LeadOffer, reason: str) -> LeadOffer:
    """The partner passes on the lead, saying why; it moves on to the next best partner."""
    _require_partner_user(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why you decline the lead.")})
    if len(reason) > MAX_DECLINE_REASON:
        raise ValidationError(
            {"reason": _("Use at most %(n)d characters.") % {"n": MAX_DECLINE_REASON}}
        )
    lead, offer = _lock_offer(actor, offer.pk)
    _require_pending(offer)
    offer.status = OfferStatus.DECLINED
    offer.responded_at = timezone.now()
    offer.responded_by = actor.user
    offer.decline_reason = reason
    offer.save(update_fields=["status", "responded_at", "responded_by", "decline_reason"])
    events.record(
        tenant=require_tenant(),
        name="lead.declined",
        payload={**_offer_payload(offer), "reason": reason},
    )
    _route(lead, trigger="declined")
    return offer


# ---------------------------------------------------------------- scheduled


def offers_expire_due(*, now=None, limit: int = ROUTE_BATCH) -> int:
    """Time out the pending offers past their SLA (one UPDATE) and route their leads on.
    Safe to run twice: a second run finds nothing due. Returns the offers timed out."""
    now = now or timezone.now()
    with transaction.atomic():
        due = LeadOffer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now)
        leads = list(
            Lead.objects.filter(pk__in=due.values("lead_id"))
            .select_for_update(skip_locked=True)
            .order_by("pk")[:limit]
        )
        if not leads:
            return 0
        offers = list(
            due.filter(lead__in=leads).select_for_update().order_by("pk")  # lead, then offer
        )
        LeadOffer.objects.filter(
            pk__in=[offer.pk for offer in offers], status=OfferStatus.PENDING
        ).update(status=OfferStatus.EXPIRED)
        tenant = require_tenant()
        by_id = {lead.pk: lead for lead in leads}
        for offer in offers:
            offer.status = OfferStatus.EXPIRED
            events.record(tenant=tenant, name="lead.expired", payload=_offer_payload(offer))
            _route(by_id[offer.lead_id], trigger="expired")
    return len(offers)


def leads_route_new(*, created_before=None, limit: int = ROUTE_BATCH) -> int:
    """Route leads still waiting for their first offer (imported ones, or ones whose routing
    job was lost). Safe to run twice. Returns how many were routed."""
    waiting = Lead.objects.filter(status=LeadStatus.NEW)
    if created_before is not None:
        waiting = waiting.filter(created_at__lte=created_before)
    with transaction.atomic():
        leads = list(waiting.select_for_update(skip_locked=True).order_by("pk")[:limit])
        for lead in leads:
            _route(lead, trigger="created")
    return len(leads)


# ---------------------------------------------------------------- helpers


def _offer_payload(offer: LeadOffer) -> dict:
    return {
        "lead_id": offer.lead_id,
        "offer_id": offer.pk,
        "partner_id": offer.partner_id,
        "status": offer.status,
        "score": str(offer.score),
        "expires_at": offer.expires_at.isoformat(),
    }
