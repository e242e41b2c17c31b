"""factory_boy factories of deal registration.

Deals are made the way users make them: through ``deals.services`` inside the tenant's
context, walked along the state machine to the ``status`` asked for. Only ``expired`` (the
job's work, set-wise over the whole tenant) is written as a direct row update with its
timeline entry, so that one factory call never expires anybody else's deals.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from deals import services
from deals.models import Deal, DealStatus, DealTransition, LostReason, Product
from deals.services import DealInput, FurtherPartnerInput, LineInput
from partners.models import Membership
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory, TenantOwnedFactory


def _tag(n: int) -> str:
    # Hex tags keep factory customers far apart in trigram similarity (no accidental conflicts).
    return hashlib.sha1(str(n).encode(), usedforsecurity=False).hexdigest()[:8]


class ProductFactory(TenantOwnedFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Software"
    list_price = Decimal("1000.00")
    currency = factory.LazyAttribute(lambda o: o.tenant.default_currency)
    active = True


class LostReasonFactory(TenantOwnedFactory):
    class Meta:
        model = LostReason

    name = factory.Sequence(lambda n: f"Reason {n}")
    active = True


def reviewer_of(tenant) -> Membership:
    """The tenant's factory reviewer (a channel manager), made on first use."""
    email = f"reviewer@{tenant.slug}.test"
    with tenant_context(tenant):
        found = Membership.objects.filter(user__email=email).first()
    return found or MembershipFactory(tenant=tenant, role="channel_manager", user__email=email)


class DealFactory(factory.Factory):
    """``DealFactory(actor=partner_rep, status="approved")``; ``direct=True`` with a staff
    actor records a direct deal. ``lines`` takes LineInput rows (default: one line of a new
    product at 1,000 in the deal's currency); ``further_partners`` takes FurtherPartnerInput."""

    class Meta:
        model = Deal

    direct = False
    actor = factory.SubFactory(
        MembershipFactory,
        role="partner_rep",
        partner=factory.SubFactory(PartnerFactory, tenant=factory.SelfAttribute("..tenant")),
    )
    customer_name = factory.Sequence(lambda n: f"Customer {_tag(n)}")
    customer_domain = factory.Sequence(lambda n: f"{_tag(n)}.example")
    country = "US"
    currency = factory.LazyAttribute(lambda o: o.actor.tenant.default_currency)
    expected_close_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=60))
    contact_name = "Casey Buyer"
    contact_email = factory.LazyAttribute(lambda o: f"casey@{o.customer_domain or 'example.test'}")
    contact_phone = ""
    stage = "qualification"
    deal_type = "resell"
    notes = ""
    external_id = ""
    lines = None
    further_partners = ()
    status = DealStatus.DRAFT
    reviewer = None
    won_amount = None
    closed_on = None
    lost_reason = None

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise NotImplementedError("DealFactory only creates (through the services).")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        actor: Membership = kwargs.pop("actor")
        direct = kwargs.pop("direct", False)
        status = kwargs.pop("status")
        reviewer = kwargs.pop("reviewer")
        won_amount = kwargs.pop("won_amount")
        closed_on = kwargs.pop("closed_on")
        lost_reason = kwargs.pop("lost_reason")
        lines = kwargs.pop("lines")
        further = [
            fp if isinstance(fp, FurtherPartnerInput) else FurtherPartnerInput(*fp)
            for fp in kwargs.pop("further_partners")
        ]
        tenant = actor.tenant
        if lines is None:
            product = ProductFactory(tenant=tenant, currency=kwargs["currency"])
            lines = [LineInput(product_id=product.pk, quantity=1)]
        data = DealInput(**kwargs, lines=list(lines), further_partners=further)
        if direct:
            with tenant_context(tenant, actor):
                return services.deal_create_direct(actor=actor, data=data)
        with tenant_context(tenant, actor):
            deal = services.deal_create(actor=actor, data=data)
            if status == DealStatus.DRAFT:
                return deal
            deal = services.deal_submit(actor=actor, deal=deal)
        if status in (DealStatus.SUBMITTED, deal.status):
            return deal
        reviewer = reviewer or reviewer_of(tenant)
        with tenant_context(tenant, reviewer):
            if status == DealStatus.MORE_INFO:
                return services.deal_request_info(
                    actor=reviewer, deal=deal, question="Which products exactly?"
                )
            if status == DealStatus.REJECTED:
                return services.deal_reject(actor=reviewer, deal=deal, reason="Not a fit.")
            if deal.status != DealStatus.APPROVED:
                deal = services.deal_approve(
                    actor=reviewer, deal=deal, override_reason="Factory override."
                )
            if status == DealStatus.APPROVED:
                return deal
        with tenant_context(tenant, actor):
            if status == DealStatus.WON:
                return services.deal_mark_won(
                    actor=actor,
                    deal=deal,
                    final_amount=won_amount if won_amount is not None else deal.total,
                    closed_on=closed_on or timezone.localdate(),
                )
            if status == DealStatus.LOST:
                reason = lost_reason or LostReasonFactory(tenant=tenant)
                return services.deal_mark_lost(actor=actor, deal=deal, reason=reason)
            if status == DealStatus.EXPIRED:
                return _expire(deal)
        raise ValueError(f"DealFactory cannot make a {status!r} deal")


def _expire(deal: Deal) -> Deal:
    """What ``deals_expire_due`` does to one deal (the job itself is set-wise per tenant)."""
    now = timezone.now()
    Deal.objects.filter(pk=deal.pk).update(
        status=DealStatus.EXPIRED, protection_ends_at=now - timedelta(seconds=1), updated_at=now
    )
    DealTransition.objects.create(
        tenant_id=deal.tenant_id, deal=deal, from_status=DealStatus.APPROVED,
        to_status=DealStatus.EXPIRED, automatic=True, comment="Protection ended.",
    )  # fmt: skip
    deal.refresh_from_db()
    return deal
