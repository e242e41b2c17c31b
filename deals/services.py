"""Every write of deal registration: the lifecycle state machine, conflict detection on
submit, and the rules of engagement (first approved wins, protection and expiry, one
extension, auto-approval).

Each service is one transaction, takes the acting membership (``None`` for the system),
checks permission and visibility itself, records the transition on the timeline, and writes
a domain event (``deal.<status>``) through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from deals import selectors
from deals.models import (
    MONEY,
    Deal,
    DealConflict,
    DealLine,
    DealPartner,
    DealStage,
    DealStatus,
    DealTransition,
    DealType,
    EngagementRules,
    ExtensionStatus,
    Lead,
    LostReason,
    MatchType,
    PartnerRole,
    Product,
)
from deals.normalize import matchable_domain, normalize_company
from partners import events
from partners.domains import is_valid_domain
from partners.models import Membership, Partner, PartnerStatus
from partners.money import MAX_AMOUNT, minor_units, quantize
from partners.permissions import membership_permissions
from partners.tenancy import require_tenant

#: The state machine: status -> statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    DealStatus.DRAFT: frozenset({DealStatus.SUBMITTED}),
    DealStatus.SUBMITTED: frozenset(
        {DealStatus.APPROVED, DealStatus.REJECTED, DealStatus.MORE_INFO}
    ),
    DealStatus.MORE_INFO: frozenset({DealStatus.SUBMITTED}),
    DealStatus.APPROVED: frozenset({DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED}),
    DealStatus.REJECTED: frozenset(),
    DealStatus.WON: frozenset(),
    DealStatus.LOST: frozenset(),
    DealStatus.EXPIRED: frozenset(),
}

MAX_LINES = 100
MONEY_DECIMAL_PLACES = MONEY["decimal_places"]
MAX_QUANTITY = 1_000_000


class InvalidTransition(ValidationError):
    """A move the state machine does not allow (a 400 on the API, a form error on a page)."""


def _require_perm(actor: Membership | None, perm: str) -> None:
    if actor is not None and perm not in membership_permissions(actor):
        raise PermissionDenied(_("Your role does not allow this."))


def engagement_rules() -> EngagementRules:
    """The current tenant's rules of engagement (created with defaults on first use)."""
    tenant = require_tenant()
    rules = next(iter(EngagementRules.objects.all()), None)  # one row per tenant at most
    if rules is None:
        rules, _created = EngagementRules.objects.get_or_create(tenant=tenant)
    return rules


def allowed_currencies() -> list[str]:
    rules = engagement_rules()
    return list(rules.allowed_currencies) or [require_tenant().default_currency]


# ---------------------------------------------------------------- input


@dataclass
class LineInput:
    product_id: int | None
    quantity: int
    unit_price: Decimal | None = None


@dataclass
class FurtherPartnerInput:
    partner_id: int
    role: str


@dataclass
class DealInput:
    customer_name: str
    country: str
    currency: str
    expected_close_date: date
    customer_domain: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    stage: str = DealStage.PROSPECTING
    deal_type: str = DealType.RESELL
    notes: str = ""
    external_id: str = ""
    lines: list[LineInput] = field(default_factory=list)
    further_partners: list[FurtherPartnerInput] = field(default_factory=list)


def _validate_input(data: DealInput, *, own_partner: Partner | None, today: date) -> dict:
    """Check a deal's input; raise ValidationError with every field's reason."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not (data.customer_name or "").strip():
        err("customer_name", _("Enter the customer's company name."))
    elif not normalize_company(data.customer_name):
        err("customer_name", _("Enter a company name with letters or digits."))
    country = (data.country or "").strip().upper()
    if len(country) != 2 or not country.isalpha():
        err("country", _("Use a two-letter ISO country code, such as US or DE."))
    currency = (data.currency or "").strip().upper()
    if currency not in allowed_currencies():
        err(
            "currency",
            _("Use one of the program's currencies: %(list)s.")
            % {"list": ", ".join(allowed_currencies())},
        )
    elif minor_units(currency) > MONEY_DECIMAL_PLACES:
        # Amounts are stored to the cent: a three-decimal currency would be rounded twice.
        err("currency", _("Deals in %(cur)s are not supported yet.") % {"cur": currency})
    if data.expected_close_date is None:
        err("expected_close_date", _("Enter the expected close date."))
    elif data.expected_close_date < today:
        err("expected_close_date", _("The expected close date cannot be in the past."))
    if data.stage not in DealStage.values:
        err("stage", _("Unknown stage."))
    if data.deal_type not in DealType.values:
        err("deal_type", _("Unknown deal type."))
    if (data.customer_domain or "").strip() and not is_valid_domain(data.customer_domain):
        err("customer_domain", _("Enter a website domain such as example.com."))

    lines: list[tuple[Product, int, Decimal]] = []
    if not data.lines:
        err("lines", _("Add at least one product line."))
    elif len(data.lines) > MAX_LINES:
        err("lines", _("A deal can have at most %(n)d lines.") % {"n": MAX_LINES})
    else:
        product_ids = {line.product_id for line in data.lines if line.product_id}
        products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids, active=True)}
        for index, line in enumerate(data.lines):
            product = products.get(line.product_id or 0)
            if product is None:
                err("lines", _("Line %(n)d: unknown product.") % {"n": index + 1})
                continue
            if not isinstance(line.quantity, int) or not 1 <= line.quantity <= MAX_QUANTITY:
                err(
                    "lines",
                    _("Line %(n)d: quantity must be between 1 and %(max)d.")
                    % {"n": index + 1, "max": MAX_QUANTITY},
                )
                continue
            price = line.unit_price
            if price is None:
                if product.currency != currency:
                    err(
                        "lines",
                        _("Line %(n)d: %(sku)s is priced in %(cur)s; enter a unit price.")
                        % {"n": index + 1, "sku": product.sku, "cur": product.currency},
                    )
                    continue
                price = product.list_price
            if price < 0 or price > MAX_AMOUNT:
                err("lines", _("Line %(n)d: the unit price is out of range.") % {"n": index + 1})
                continue
            lines.append((product, line.quantity, price))
    total = Decimal("0")
    if currency and not errors.get("lines"):
        amounts = [quantize(price * quantity, currency) for _p, quantity, price in lines]
        total = sum(amounts, Decimal("0"))
        if total > MAX_AMOUNT:
            err("lines", _("The deal total is too large."))

    further: list[tuple[Partner, str]] = []
    if data.further_partners:
        ids = {fp.partner_id for fp in data.further_partners}
        partners = {p.pk: p for p in Partner.objects.filter(pk__in=ids)}
        for fp in data.further_partners:
            partner = partners.get(fp.partner_id)
            if partner is None or (own_partner is not None and partner.pk == own_partner.pk):
                err("further_partners", _("Unknown partner organization."))
            elif fp.role not in PartnerRole.values:
                err("further_partners", _("Unknown partner role."))
            else:
                further.append((partner, fp.role))
    if errors:
        raise ValidationError(errors)
    return {"country": country, "currency": currency, "lines": lines, "total": total,
            "further": further}  # fmt: skip


def _apply_input(deal: Deal, data: DealInput, cleaned: dict) -> None:
    deal.customer_name = data.customer_name.strip()
    deal.customer_domain = (data.customer_domain or "").strip()
    deal.customer_name_normalized = normalize_company(deal.customer_name)
    deal.customer_domain_normalized = matchable_domain(deal.customer_domain)
    deal.country = cleaned["country"]
    deal.currency = cleaned["currency"]
    deal.contact_name = data.contact_name.strip()
    deal.contact_email = data.contact_email.strip()
    deal.contact_phone = data.contact_phone.strip()
    deal.expected_close_date = data.expected_close_date
    deal.stage = data.stage
    deal.deal_type = data.deal_type
    deal.notes = data.notes
    deal.total = cleaned["total"]
    deal.updated_at = timezone.now()
    if data.external_id:
        deal.external_id = data.external_id.strip()


def _write_lines(deal: Deal, cleaned: dict) -> None:
    DealLine.objects.filter(deal=deal).delete()
    DealLine.objects.bulk_create(
        DealLine(
            tenant_id=deal.tenant_id,
            deal=deal,
            product=product,
            quantity=quantity,
            unit_price=price,
            amount=quantize(price * quantity, deal.currency),
        )
        for product, quantity, price in cleaned["lines"]
    )
    DealPartner.objects.filter(deal=deal).delete()
    DealPartner.objects.bulk_create(
        DealPartner(tenant_id=deal.tenant_id, deal=deal, partner=partner, role=role)
        for partner, role in cleaned["further"]
    )


def _check_partner_may_register(actor: Membership) -> Partner:
    _require_perm(actor, "deals.register_deal")
    partner = actor.partner
    if partner is None:
        raise PermissionDenied(_("Only partner users register deals."))
    if partner.status in (PartnerStatus.SUSPENDED, PartnerStatus.OFFBOARDED):
        # The vendor had to say why (partner_set_status); the partner's users read it here.
        values = {"partner": partner.name, "reason": partner.status_reason}
        if partner.status == PartnerStatus.SUSPENDED:
            message = (
                _("%(partner)s is suspended and cannot register deals. Reason: %(reason)s")
                if partner.status_reason
                else _("%(partner)s is suspended and cannot register deals.")
            )
        else:
            message = (
                _("%(partner)s has left the program and cannot register deals. Reason: %(reason)s")
                if partner.status_reason
                else _("%(partner)s has left the program and cannot register deals.")
            )
        raise ValidationError(message % values)
    return partner


# ---------------------------------------------------------------- create and edit


@transaction.atomic
def deal_create(*, actor: Membership, data: DealInput, submit: bool = False) -> Deal:
    """A partner user registers a deal (as a draft, or submitted at once)."""
    partner = _check_partner_may_register(actor)
    cleaned = _validate_input(data, own_partner=partner, today=timezone.localdate())
    deal = Deal(tenant=require_tenant(), partner=partner, registered_by=actor.user)
    _apply_input(deal, data, cleaned)
    deal.save()
    _write_lines(deal, cleaned)
    _record(deal, "", DealStatus.DRAFT, actor=actor, comment="")
    if submit:
        return deal_submit(actor=actor, deal=deal)
    return deal


@transaction.atomic
def deal_create_direct(*, actor: Membership, data: DealInput) -> Deal:
    """Vendor staff record a direct deal (no partner). It is open at once, with no expiry."""
    _require_perm(actor, "deals.record_direct_deal")
    cleaned = _validate_input(data, own_partner=None, today=timezone.localdate())
    now = timezone.now()
    deal = Deal(
        tenant=require_tenant(),
        partner=None,
        registered_by=actor.user,
        status=DealStatus.APPROVED,
        submitted_at=now,
        decided_at=now,
        decided_by=actor.user,
    )
    _apply_input(deal, data, cleaned)
    deal.save()
    _write_lines(deal, cleaned)
    _record(deal, "", DealStatus.APPROVED, actor=actor, comment=_("Direct deal recorded."))
    return deal


@transaction.atomic
def deal_create_from_lead(*, actor: Membership, lead: Lead, partner: Partner) -> Deal:
    """An accepted lead becomes an approved registration of the partner that accepted it
    (``deals.leads.lead_accept`` checks the offer). The vendor chose the partner, so there is
    no review: it is submitted and approved at once, protected like any approval, and its
    conflicts are still stored for the reviewers to see."""
    _require_perm(actor, "deals.respond_lead")
    if actor.partner_id != partner.pk:
        raise PermissionDenied(_("Only the partner the lead was offered to can accept it."))
    now = timezone.now()
    deal = Deal(
        tenant=require_tenant(),
        partner=partner,
        registered_by=actor.user,
        status=DealStatus.SUBMITTED,
        submitted_at=now,
        customer_name=lead.company_name,
        customer_domain=lead.company_domain,
        customer_name_normalized=normalize_company(lead.company_name),
        customer_domain_normalized=matchable_domain(lead.company_domain),
        country=lead.country,
        contact_name=lead.contact_name,
        contact_email=lead.contact_email,
        contact_phone=lead.contact_phone,
        currency=lead.currency,
        total=quantize(lead.estimated_value or 0, lead.currency),
        expected_close_date=timezone.localdate()
        + timedelta(days=engagement_rules().protection_days),
        notes=lead.notes,
        updated_at=now,
    )
    deal.save()
    accepted = _("Lead #%(id)d accepted.") % {"id": lead.pk}
    _record(deal, "", DealStatus.SUBMITTED, actor=actor, comment=accepted)
    detect_conflicts(deal)
    _approve(
        deal, actor=None, comment=_("Approved: a lead the vendor offered and the partner accepted.")
    )
    return deal


EDITABLE_STATUSES = (DealStatus.DRAFT, DealStatus.MORE_INFO, DealStatus.APPROVED)


@transaction.atomic
def deal_update(*, actor: Membership, deal: Deal, data: DealInput) -> Deal:
    """Edit a deal: drafts and more-info answers fully; approved deals keep their customer."""
    deal = _lock_visible(actor, deal)
    if actor.is_partner_member:
        _check_registering_partner(actor, deal)
    else:
        _require_perm(actor, "deals.review_deal")
    if deal.status not in EDITABLE_STATUSES:
        raise InvalidTransition(
            _("A deal that is %(status)s cannot be edited.")
            % {"status": deal.get_status_display().lower()}
        )
    if deal.status == DealStatus.APPROVED and (
        normalize_company(data.customer_name) != deal.customer_name_normalized
        or matchable_domain(data.customer_domain) != deal.customer_domain_normalized
        or (data.country or "").upper() != deal.country
    ):
        raise ValidationError(
            {"customer_name": _("The customer of an approved registration cannot change.")}
        )
    # An approved deal's close date may have passed; only new dates must lie ahead.
    today = timezone.localdate()
    if deal.status == DealStatus.APPROVED and data.expected_close_date == deal.expected_close_date:
        today = min(today, deal.expected_close_date)
    cleaned = _validate_input(data, own_partner=deal.partner, today=today)
    _apply_input(deal, data, cleaned)
    deal.save()
    _write_lines(deal, cleaned)
    events.record(tenant=require_tenant(), name="deal.updated", payload=_payload(deal))
    return deal


# ---------------------------------------------------------------- lifecycle


@transaction.atomic
def deal_submit(*, actor: Membership, deal: Deal, comment: str = "") -> Deal:
    """Submit (or answer a more-info request): detect conflicts, auto-approve if allowed."""
    deal = _lock_visible(actor, deal)
    _check_registering_partner(actor, deal)
    _require_transition(deal, DealStatus.SUBMITTED)
    if deal.expected_close_date < timezone.localdate():
        raise ValidationError(
            {"expected_close_date": _("The expected close date cannot be in the past.")}
        )
    if not DealLine.objects.filter(deal=deal).exists():
        raise ValidationError({"lines": _("Add at least one product line.")})
    previous = deal.status
    rules = engagement_rules()
    # The candidates first, so one UPDATE writes the status and the count together.
    found = _conflict_candidates(deal, rules)
    deal.status = DealStatus.SUBMITTED
    deal.submitted_at = timezone.now()
    deal.updated_at = deal.submitted_at
    deal.conflict_count = len(found)
    deal.save(update_fields=["status", "submitted_at", "updated_at", "conflict_count"])
    # Only a resubmission (after a more-info request) has conflicts stored to replace: they
    # are stored on submission, and no deal goes back to draft.
    conflicts = _store_conflicts(deal, found, replace=previous != DealStatus.DRAFT)
    _record(deal, previous, DealStatus.SUBMITTED, actor=actor, comment=comment)
    limit = auto_approve_limit(deal, rules)
    if (
        not conflicts
        and limit is not None
        and deal.currency == (rules.auto_approve_currency or require_tenant().default_currency)
        and deal.total <= limit
    ):
        _approve(
            deal,
            actor=None,
            comment=_("Approved automatically: no conflict, within limit."),
            rules=rules,
        )
    return deal


def detect_conflicts(deal: Deal, *, rules: EngagementRules | None = None) -> list[DealConflict]:
    """Find and store the open registrations and direct deals this deal may collide with."""
    conflicts = _store_conflicts(deal, _conflict_candidates(deal, rules or engagement_rules()))
    Deal.objects.filter(pk=deal.pk).update(conflict_count=len(conflicts))
    deal.conflict_count = len(conflicts)
    return conflicts


def _conflict_candidates(deal: Deal, rules: EngagementRules) -> list[tuple[int, float, bool]]:
    return selectors.conflict_candidates(
        tenant_id=deal.tenant_id,
        deal_id=deal.pk,
        domain=deal.customer_domain_normalized,
        name=deal.customer_name_normalized,
        country=deal.country,
        threshold=rules.name_similarity_threshold,
    )


def _store_conflicts(
    deal: Deal, found: list[tuple[int, float, bool]], *, replace: bool = True
) -> list[DealConflict]:
    """Store the conflicts found, replacing those stored before (a resubmission finds them
    afresh)."""
    if replace:
        DealConflict.objects.filter(deal=deal).delete()
    return DealConflict.objects.bulk_create(
        DealConflict(
            tenant_id=deal.tenant_id,
            deal=deal,
            candidate_id=candidate_id,
            match_type=MatchType.DOMAIN if domain_match else MatchType.NAME,
            score=Decimal(str(round(score, 3))),
        )
        for candidate_id, score, domain_match in found
    )


@transaction.atomic
def deal_approve(
    *, actor: Membership, deal: Deal, comment: str = "", override_reason: str = ""
) -> Deal:
    """Approve a submission. First approved registration wins: refused while a conflicting
    registration is approved, unless the reviewer overrides with a reason."""
    _require_perm(actor, "deals.review_deal")
    deal = _visible(actor, deal)
    _require_transition(deal, DealStatus.APPROVED)
    # Lock the deal and its current candidates together, in id order, so two reviewers
    # approving two conflicting registrations at once are serialized (the second sees the
    # first approved) and cannot deadlock by locking the same pair in opposite orders.
    candidates = selectors.conflict_candidates(
        tenant_id=deal.tenant_id,
        deal_id=deal.pk,
        domain=deal.customer_domain_normalized,
        name=deal.customer_name_normalized,
        country=deal.country,
        threshold=engagement_rules().name_similarity_threshold,
    )
    ids = sorted({deal.pk, *(candidate_id for candidate_id, _s, _d in candidates)})
    locked = {
        d.pk: d
        for d in Deal.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    }
    deal = locked[deal.pk]
    _require_transition(deal, DealStatus.APPROVED)
    approved_rivals = [
        d for pk, d in locked.items() if pk != deal.pk and d.status == DealStatus.APPROVED
    ]
    if approved_rivals and not override_reason.strip():
        raise ValidationError(
            {
                "override_reason": _(
                    "A conflicting registration is already approved (first approved wins). "
                    "Give a reason to override."
                )
            }
        )
    note = comment
    if approved_rivals:
        note = _("Override of the first-approved rule: %(reason)s") % {
            "reason": override_reason.strip()
        }
        if comment:
            note = f"{note}\n{comment}"
    _approve(deal, actor=actor, comment=note)
    return deal


def _approve(
    deal: Deal, *, actor: Membership | None, comment: str, rules: EngagementRules | None = None
) -> None:
    rules = rules or engagement_rules()
    now = timezone.now()
    previous = deal.status
    deal.status = DealStatus.APPROVED
    deal.decided_at = now
    deal.decided_by = actor.user if actor else None
    deal.auto_approved = actor is None
    deal.protection_ends_at = now + timedelta(days=protection_days(deal, rules))
    deal.updated_at = now
    deal.save(
        update_fields=[
            "status", "decided_at", "decided_by", "auto_approved", "protection_ends_at",
            "updated_at",
        ]
    )  # fmt: skip
    _record(deal, previous, DealStatus.APPROVED, actor=actor, comment=comment)


def _partner_tier(deal: Deal):
    return deal.partner.tier if deal.partner_id else None


def protection_days(deal: Deal, rules: EngagementRules) -> int:
    """Days an approved registration is protected: the partner's tier's benefit when the tier
    sets one, else the rules of engagement."""
    tier = _partner_tier(deal)
    if tier is not None and tier.deal_protection_days:
        return tier.deal_protection_days
    return rules.protection_days


def auto_approve_limit(deal: Deal, rules: EngagementRules) -> Decimal | None:
    """The total up to which a conflict-free submission is approved at once: the partner's
    tier's override when set (in the rules' auto-approval currency), else the rules'."""
    tier = _partner_tier(deal)
    if tier is not None and tier.auto_approve_max_total is not None:
        return tier.auto_approve_max_total
    return rules.auto_approve_max_total


@transaction.atomic
def deal_reject(*, actor: Membership, deal: Deal, reason: str) -> Deal:
    _require_perm(actor, "deals.review_deal")
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give the partner a reason for the rejection.")})
    deal = _lock_visible(actor, deal)
    _require_transition(deal, DealStatus.REJECTED)
    previous = deal.status
    deal.status = DealStatus.REJECTED
    deal.decided_at = timezone.now()
    deal.decided_by = actor.user
    deal.updated_at = deal.decided_at
    deal.save(update_fields=["status", "decided_at", "decided_by", "updated_at"])
    _record(deal, previous, DealStatus.REJECTED, actor=actor, comment=reason.strip())
    return deal


@transaction.atomic
def deal_request_info(*, actor: Membership, deal: Deal, question: str) -> Deal:
    _require_perm(actor, "deals.review_deal")
    if not (question or "").strip():
        raise ValidationError({"question": _("Say what information you need.")})
    deal = _lock_visible(actor, deal)
    _require_transition(deal, DealStatus.MORE_INFO)
    previous = deal.status
    deal.status = DealStatus.MORE_INFO
    deal.updated_at = timezone.now()
    deal.save(update_fields=["status", "updated_at"])
    _record(deal, previous, DealStatus.MORE_INFO, actor=actor, comment=question.strip())
    return deal


@transaction.atomic
def deal_mark_won(
    *, actor: Membership, deal: Deal, final_amount: Decimal | None, closed_on: date | None
) -> Deal:
    deal = _lock_visible(actor, deal)
    _check_owner_or_reviewer(actor, deal)
    _require_transition(deal, DealStatus.WON)
    errors = {}
    if final_amount is None:
        errors["final_amount"] = [_("Enter the final amount.")]
    elif final_amount < 0 or final_amount > MAX_AMOUNT:
        errors["final_amount"] = [_("The final amount is out of range.")]
    if closed_on is None:
        errors["closed_on"] = [_("Enter the close date.")]
    elif closed_on > timezone.localdate():
        errors["closed_on"] = [_("The close date cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    previous = deal.status
    deal.status = DealStatus.WON
    deal.won_amount = quantize(final_amount, deal.currency)
    deal.closed_on = closed_on
    deal.updated_at = timezone.now()
    deal.save(update_fields=["status", "won_amount", "closed_on", "updated_at"])
    _record(deal, previous, DealStatus.WON, actor=actor, comment="")
    return deal


@transaction.atomic
def deal_mark_lost(
    *, actor: Membership, deal: Deal, reason: LostReason | None, comment: str = ""
) -> Deal:
    deal = _lock_visible(actor, deal)
    _check_owner_or_reviewer(actor, deal)
    _require_transition(deal, DealStatus.LOST)
    if reason is None or not reason.active or reason.tenant_id != deal.tenant_id:
        raise ValidationError({"reason": _("Choose why the deal was lost.")})
    previous = deal.status
    deal.status = DealStatus.LOST
    deal.lost_reason = reason
    deal.closed_on = timezone.localdate()
    deal.updated_at = timezone.now()
    deal.save(update_fields=["status", "lost_reason", "closed_on", "updated_at"])
    _record(deal, previous, DealStatus.LOST, actor=actor, comment=comment or reason.name)
    return deal


@transaction.atomic
def deal_request_extension(*, actor: Membership, deal: Deal, reason: str) -> Deal:
    """The partner asks once to extend the protection of an approved registration."""
    deal = _lock_visible(actor, deal)
    _check_registering_partner(actor, deal)
    if deal.status != DealStatus.APPROVED or deal.is_direct:
        raise InvalidTransition(_("Only an approved registration can be extended."))
    if deal.extension_status != ExtensionStatus.NONE:
        raise InvalidTransition(_("A registration can be extended only once."))
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Say why you need more time.")})
    deal.extension_status = ExtensionStatus.REQUESTED
    deal.extension_reason = reason.strip()
    deal.updated_at = timezone.now()
    deal.save(update_fields=["extension_status", "extension_reason", "updated_at"])
    _timeline_note(deal, actor=actor, comment=_("Extension requested: %(r)s") % {"r": reason})
    events.record(tenant=require_tenant(), name="deal.extension_requested", payload=_payload(deal))
    return deal


@transaction.atomic
def deal_decide_extension(
    *, actor: Membership, deal: Deal, approve: bool, comment: str = ""
) -> Deal:
    _require_perm(actor, "deals.review_deal")
    deal = _lock_visible(actor, deal)
    if deal.extension_status != ExtensionStatus.REQUESTED or deal.status != DealStatus.APPROVED:
        raise InvalidTransition(_("There is no pending extension request on this deal."))
    rules = engagement_rules()
    if approve:
        deal.extension_status = ExtensionStatus.APPROVED
        base = max(deal.protection_ends_at or timezone.now(), timezone.now())
        deal.protection_ends_at = base + timedelta(days=rules.extension_days)
        deal.expiry_warning_sent_at = None
        text = _("Extension approved until %(d)s.") % {
            "d": timezone.localtime(deal.protection_ends_at).date().isoformat()
        }
    else:
        deal.extension_status = ExtensionStatus.DECLINED
        text = _("Extension declined.")
    deal.updated_at = timezone.now()
    deal.save(
        update_fields=[
            "extension_status", "protection_ends_at", "expiry_warning_sent_at", "updated_at",
        ]
    )  # fmt: skip
    _timeline_note(deal, actor=actor, comment=f"{text} {comment}".strip())
    events.record(
        tenant=require_tenant(),
        name="deal.extension_decided",
        payload={**_payload(deal), "approved": approve},
    )
    return deal


@transaction.atomic
def deals_bulk_approve(*, actor: Membership, deal_ids: list[int]) -> list[Deal]:
    """Approve the conflict-free submissions among ``deal_ids``; the rest are left alone."""
    _require_perm(actor, "deals.review_deal")
    approved = []
    visible = selectors.deal_list(actor=actor).filter(
        pk__in=deal_ids[:500], status=DealStatus.SUBMITTED, conflict_count=0
    )
    chosen = list(visible.select_for_update(no_key=True, of=("self",)).order_by("pk"))
    for deal in chosen:
        try:
            approved.append(deal_approve(actor=actor, deal=deal, comment=_("Bulk approval.")))
        except ValidationError:
            # A rival registered after it was approved first (first approved wins): this one
            # needs a review with an override of its own; the rest of the batch goes ahead.
            # deal_approve's own savepoint has undone its part.
            continue
    return approved


def deal_transition(
    *,
    actor: Membership,
    deal: Deal,
    to_status: str,
    comment: str = "",
    override_reason: str = "",
    final_amount: Decimal | None = None,
    closed_on: date | None = None,
    lost_reason: LostReason | None = None,
) -> Deal:
    """One entry point for "move this deal to ``to_status``" (API actions, generic forms).

    ``comment`` is the rejection reason, the more-info question or the partner's answer.
    Nobody moves a deal back to draft, and only the expiry job expires a registration."""
    if to_status == DealStatus.SUBMITTED:
        return deal_submit(actor=actor, deal=deal, comment=comment)
    if to_status == DealStatus.APPROVED:
        return deal_approve(
            actor=actor, deal=deal, comment=comment, override_reason=override_reason
        )
    if to_status == DealStatus.REJECTED:
        return deal_reject(actor=actor, deal=deal, reason=comment)
    if to_status == DealStatus.MORE_INFO:
        return deal_request_info(actor=actor, deal=deal, question=comment)
    if to_status == DealStatus.WON:
        return deal_mark_won(actor=actor, deal=deal, final_amount=final_amount, closed_on=closed_on)
    if to_status == DealStatus.LOST:
        return deal_mark_lost(actor=actor, deal=deal, reason=lost_reason, comment=comment)
    if to_status == DealStatus.EXPIRED:
        raise InvalidTransition(_("A registration expires by itself when its protection ends."))
    if to_status in DealStatus.values:
        _require_transition(_visible(actor, deal), to_status)
    raise InvalidTransition(_("Unknown status."))


# ---------------------------------------------------------------- scheduled rules


def deals_expire_due(*, now=None) -> int:
    """Expire approved registrations whose protection has ended (set-wise, in the tenant)."""
    now = now or timezone.now()
    tenant = require_tenant()
    with transaction.atomic():
        expired = list(
            Deal.objects.filter(
                status=DealStatus.APPROVED, partner__isnull=False, protection_ends_at__lte=now
            )
            .select_for_update(skip_locked=True)
            .order_by("pk")[:5000]
        )
        if not expired:
            return 0
        Deal.objects.filter(pk__in=[d.pk for d in expired], status=DealStatus.APPROVED).update(
            status=DealStatus.EXPIRED, updated_at=now
        )
        DealTransition.objects.bulk_create(
            DealTransition(
                tenant_id=d.tenant_id, deal=d, from_status=DealStatus.APPROVED,
                to_status=DealStatus.EXPIRED, automatic=True, at=now,
                comment=_("Protection ended."),
            )
            for d in expired
        )  # fmt: skip
        for d in expired:
            d.status = DealStatus.EXPIRED
            events.record(tenant=tenant, name="deal.expired", payload=_payload(d))
    return len(expired)


def deals_warn_expiring(*, now=None) -> int:
    """Warn partners (once) that a registration's protection ends within the warning days."""
    now = now or timezone.now()
    tenant = require_tenant()
    rules = engagement_rules()
    horizon = now + timedelta(days=rules.expiry_warning_days)
    with transaction.atomic():
        due = list(
            Deal.objects.filter(
                status=DealStatus.APPROVED,
                partner__isnull=False,
                protection_ends_at__lte=horizon,
                protection_ends_at__gt=now,
                expiry_warning_sent_at__isnull=True,
            )
            .select_for_update(skip_locked=True)
            .order_by("pk")[:5000]
        )
        Deal.objects.filter(pk__in=[d.pk for d in due]).update(expiry_warning_sent_at=now)
        for d in due:
            events.record(tenant=tenant, name="deal.expiry_warning", payload=_payload(d))
    return len(due)


# ---------------------------------------------------------------- helpers


def _visible(actor: Membership | None, deal: Deal) -> Deal:
    """Re-read the deal through the actor's visibility (404 if hidden), without a lock."""
    queryset = Deal.objects.all() if actor is None else selectors.deal_list(actor=actor)
    found = next(iter(queryset.order_by().filter(pk=deal.pk)), None)  # by pk: one row at most
    if found is None:
        raise Http404
    return found


def _lock_visible(actor: Membership | None, deal: Deal) -> Deal:
    """Re-read the deal under a row lock, through the actor's visibility (404 if hidden).

    FOR NO KEY UPDATE: rows that only point at the deal (timeline, conflicts of another
    submission naming it as candidate) can still be inserted meanwhile, so a submission and a
    review touching the same pair of deals do not deadlock on the foreign-key checks."""
    queryset = Deal.objects.all() if actor is None else selectors.deal_list(actor=actor)
    # With the partner's tier: its benefits (protection, auto-approval limit) decide approvals.
    locked = next(
        iter(
            queryset.select_related("partner__tier")
            .select_for_update(no_key=True, of=("self",))
            .order_by()
            .filter(pk=deal.pk)  # by pk: one row at most
        ),
        None,
    )
    if locked is None:
        raise Http404
    return locked


def _check_registering_partner(actor: Membership, deal: Deal) -> None:
    """Partner users change only their own organization's registrations: a further partner
    (co-seller, influencer) sees the deal but does not speak for it."""
    _check_partner_may_register(actor)
    if deal.partner_id is None or deal.partner_id != actor.partner_id:
        raise PermissionDenied(_("Only the registering partner can change this deal."))


def _check_owner_or_reviewer(actor: Membership, deal: Deal) -> None:
    if actor.is_partner_member:
        _check_registering_partner(actor, deal)
    else:
        _require_perm(actor, "deals.review_deal")


def _require_transition(deal: Deal, to_status: str) -> None:
    if to_status not in TRANSITIONS.get(deal.status, frozenset()):
        raise InvalidTransition(
            _("A deal that is %(from)s cannot become %(to)s.")
            % {
                "from": DealStatus(deal.status).label.lower(),
                "to": DealStatus(to_status).label.lower(),
            }
        )


def _payload(deal: Deal) -> dict:
    return {
        "deal_id": deal.pk,
        "status": deal.status,
        "partner_id": deal.partner_id,
        "registered_by_id": deal.registered_by_id,
        "total": str(deal.total),
        "currency": deal.currency,
    }


def _record(
    deal: Deal, from_status: str, to_status: str, *, actor: Membership | None, comment: str
) -> DealTransition:
    transition = DealTransition.objects.create(
        tenant_id=deal.tenant_id,
        deal=deal,
        from_status=from_status,
        to_status=to_status,
        actor=actor.user if actor else None,
        automatic=actor is None,
        comment=comment,
    )
    if from_status:  # creation of a draft is not an event anyone listens to
        events.record(tenant=require_tenant(), name=f"deal.{to_status}", payload=_payload(deal))
    return transition


def _timeline_note(deal: Deal, *, actor: Membership | None, comment: str) -> None:
    DealTransition.objects.create(
        tenant_id=deal.tenant_id,
        deal=deal,
        from_status=deal.status,
        to_status=deal.status,
        actor=actor.user if actor else None,
        automatic=actor is None,
        comment=comment,
    )
