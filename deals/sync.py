"""Writes the REST API and CRM sync need on top of ``deals.services``.

- ``deal_register``: a partner user registers a deal, or vendor staff record a direct deal.
- ``deal_edit``: a partial edit (PATCH) merged onto the stored deal, then ``deal_update``.
- ``deal_upsert_by_external_id``: the idempotent upsert of CRM sync (see its docstring).

External ids are unique in a tenant (a database constraint). Every write that sets one
first takes a transaction-scoped advisory lock on (tenant, external id) and checks it is free,
so a clash answers a field error instead of an integrity error, and two syncs of one CRM
record at once are serialized instead of both creating a deal.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from deals import selectors, services
from deals.models import Deal, DealLine, DealPartner, DealStatus, Product
from deals.services import DealInput, FurtherPartnerInput, LineInput
from partners.models import Membership
from partners.money import quantize
from partners.permissions import membership_permissions
from partners.tenancy import require_tenant

EXTERNAL_ID_MAX_LENGTH = 100


def _external_id_taken_message() -> str:
    return _("Another deal of the program already has this external id.")


def deal_input_for(deal: Deal) -> DealInput:
    """The stored deal as service input: the base a partial edit is merged onto."""
    lines = [
        LineInput(product_id=line.product_id, quantity=line.quantity, unit_price=line.unit_price)
        for line in DealLine.objects.filter(deal=deal).order_by("id")
    ]
    further = [
        FurtherPartnerInput(partner_id=row.partner_id, role=row.role)
        for row in DealPartner.objects.filter(deal=deal).order_by("id")
    ]
    return DealInput(
        customer_name=deal.customer_name,
        country=deal.country,
        currency=deal.currency,
        expected_close_date=deal.expected_close_date,
        customer_domain=deal.customer_domain,
        contact_name=deal.contact_name,
        contact_email=deal.contact_email,
        contact_phone=deal.contact_phone,
        stage=deal.stage,
        deal_type=deal.deal_type,
        notes=deal.notes,
        external_id=deal.external_id,
        lines=lines,
        further_partners=further,
    )


def _lock_external_id(external_id: str) -> None:
    """Serialize writes naming one external id until the transaction ends."""
    key = f"trellis:deal-external-id:{require_tenant().pk}:{external_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _claim_external_id(external_id: str, *, deal_id: int | None = None) -> None:
    _lock_external_id(external_id)
    if Deal.objects.filter(external_id=external_id).exclude(pk=deal_id or 0).exists():
        raise ValidationError({"external_id": [_external_id_taken_message()]})


def _check_may_create(actor: Membership, *, direct: bool) -> None:
    perms = membership_permissions(actor)
    if direct:
        if "deals.record_direct_deal" not in perms:
            raise PermissionDenied(_("Your role does not allow recording direct deals."))
    elif not actor.is_partner_member:
        raise PermissionDenied(
            _("Only partner users register deals; vendor staff record direct deals.")
        )


def _check_registrant(actor: Membership, deal: Deal) -> None:
    # A further partner sees a co-sold deal but does not own it: only the registering
    # organization (or a reviewer) changes it.
    if actor.is_partner_member and deal.partner_id != actor.partner_id:
        raise PermissionDenied(_("Only the registering partner can change this deal."))


@transaction.atomic
def deal_register(
    *, actor: Membership, data: DealInput, submit: bool = False, direct: bool = False
) -> Deal:
    """Register a deal (partner users; a draft, or submitted at once with ``submit``) or
    record a direct deal (vendor staff with ``deals.record_direct_deal``, ``direct``)."""
    _check_may_create(actor, direct=direct)
    if direct and submit:
        raise ValidationError(
            {"submit": [_("A direct deal is open at once; there is nothing to submit.")]}
        )
    data.external_id = (data.external_id or "").strip()
    if data.external_id:
        _claim_external_id(data.external_id)
    if direct:
        return services.deal_create_direct(actor=actor, data=data)
    return services.deal_create(actor=actor, data=data, submit=submit)


@transaction.atomic
def deal_edit(*, actor: Membership, deal: Deal, changes: dict) -> Deal:
    """Change some fields of a deal (``changes``: DealInput field -> new value); lines and
    further partners, when given, replace the stored ones. An external id can be set or
    changed, not cleared."""
    _check_registrant(actor, deal)
    data = deal_input_for(deal)
    for name, value in changes.items():
        setattr(data, name, value)
    data.external_id = (data.external_id or "").strip()
    if data.external_id and data.external_id != deal.external_id:
        _claim_external_id(data.external_id, deal_id=deal.pk)
    return services.deal_update(actor=actor, deal=deal, data=data)


def _same_as_stored(deal: Deal, data: DealInput) -> bool:
    """Whether ``data`` would leave ``deal`` as it is (the no-op of a repeated sync)."""
    stored = deal_input_for(deal)

    def identity(d: DealInput) -> tuple:
        return (
            d.customer_name.strip(),
            (d.customer_domain or "").strip(),
            (d.country or "").strip().upper(),
            (d.currency or "").strip().upper(),
            d.contact_name.strip(),
            d.contact_email.strip(),
            d.contact_phone.strip(),
            d.expected_close_date,
            d.stage,
            d.deal_type,
            d.notes,
            sorted((fp.partner_id, fp.role) for fp in d.further_partners),
        )

    if identity(stored) != identity(data) or len(stored.lines) != len(data.lines):
        return False
    list_prices = dict(
        Product.objects.filter(
            pk__in=[line.product_id for line in data.lines if line.product_id]
        ).values_list("pk", "list_price")
    )
    for old, new in zip(stored.lines, data.lines, strict=True):
        if (old.product_id, old.quantity) != (new.product_id, new.quantity):
            return False
        price = new.unit_price if new.unit_price is not None else list_prices.get(new.product_id)
        if price is None or quantize(price, deal.currency) != old.unit_price:
            return False
    return True


@transaction.atomic
def deal_upsert_by_external_id(
    *, actor: Membership, external_id: str, data: DealInput, submit: bool = False
) -> tuple[Deal, bool]:
    """Create or update the deal a CRM knows as ``external_id``; returns (deal, created).

    - No deal of the tenant has the id: a partner user's request registers a deal of their
      organization (a draft, or submitted with ``submit``); vendor staff record a direct deal.
    - The actor's deal has it (for partner users: one of their own organization's, which they
      can see): the deal is updated with ``deal_update`` (drafts, more-info answers and
      approved deals; other states answer 400) unless the request changes nothing, and with
      ``submit`` a draft or more-info deal is then submitted.
    - Another deal has it (another partner's, a colleague's the rep cannot see): 400 on
      ``external_id``, without saying whose.

    Repeating a request is a no-op: nothing is written, no event is recorded, and the answer
    is the deal as it stands. Requests for one id are serialized by an advisory lock.
    """
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise ValidationError(
            {
                "external_id": [
                    _("An external id has 1 to %(n)d characters.") % {"n": EXTERNAL_ID_MAX_LENGTH}
                ]
            }
        )
    direct = not actor.is_partner_member
    _check_may_create(actor, direct=direct)
    if direct and submit:
        raise ValidationError(
            {"submit": [_("A direct deal is open at once; there is nothing to submit.")]}
        )
    data.external_id = external_id
    _lock_external_id(external_id)
    existing = Deal.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
    if existing is None:
        return deal_register(actor=actor, data=data, submit=submit, direct=direct), True
    deal = selectors.deal_list(actor=actor).filter(pk=existing).first()
    if deal is None or (actor.is_partner_member and deal.partner_id != actor.partner_id):
        raise ValidationError({"external_id": [_external_id_taken_message()]})
    if not _same_as_stored(deal, data):
        deal = services.deal_update(actor=actor, deal=deal, data=data)
    if submit and deal.status in (DealStatus.DRAFT, DealStatus.MORE_INFO):
        deal = services.deal_submit(actor=actor, deal=deal)
    return deal, False
