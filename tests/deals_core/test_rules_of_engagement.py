"""Rules of engagement: first approved wins (override with a reason), protection and expiry
with a warning, one extension, auto-approval; what won and lost need; who may register."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from deals import services
from deals.models import Deal, DealStatus, DealTransition, ExtensionStatus
from deals.services import InvalidTransition, LineInput
from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory, LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def timeline(deal) -> list[DealTransition]:
    with tenant_context(deal.tenant):
        return list(DealTransition.objects.filter(deal=deal).order_by("at", "id"))


def events_named(tenant, name: str) -> list[OutboxEvent]:
    with tenant_context(tenant):
        return list(OutboxEvent.objects.filter(name=name).order_by("id"))


@pytest.fixture
def rival_pair(register, partner_rep, contoso_rep):
    """Northwind and Contoso both registered Blue Harbor Logistics: two submissions."""
    northwind = register(
        partner_rep, customer_name="Blue Harbor Logistics", customer_domain="blueharbor.example"
    )
    contoso = register(
        contoso_rep, customer_name="Blue Harbor Logistics Inc", customer_domain="blueharbor.example"
    )
    return northwind, contoso


# ---------------------------------------------------------------- first approved wins


def test_either_of_two_conflicting_submissions_can_be_approved_first(
    rival_pair, channel_manager, act
):
    _northwind, contoso = rival_pair

    approved = act(channel_manager, services.deal_approve, deal=contoso)

    assert approved.status == DealStatus.APPROVED
    assert approved.decided_by_id == channel_manager.user_id


def test_a_second_conflicting_approval_is_refused_without_an_override(
    rival_pair, channel_manager, act, reload
):
    northwind, contoso = rival_pair
    act(channel_manager, services.deal_approve, deal=northwind)
    transitions_before = len(timeline(contoso))

    with pytest.raises(ValidationError) as refused:
        act(channel_manager, services.deal_approve, deal=contoso)

    assert "override_reason" in refused.value.message_dict
    assert "first approved wins" in str(refused.value)
    assert reload(contoso).status == DealStatus.SUBMITTED
    assert reload(contoso).decided_at is None
    assert len(timeline(contoso)) == transitions_before


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_override_needs_a_real_reason(rival_pair, channel_manager, act, reload, blank):
    northwind, contoso = rival_pair
    act(channel_manager, services.deal_approve, deal=northwind)

    with pytest.raises(ValidationError):
        act(channel_manager, services.deal_approve, deal=contoso, override_reason=blank)

    assert reload(contoso).status == DealStatus.SUBMITTED


def test_an_override_with_a_reason_approves_and_is_recorded(rival_pair, channel_manager, act):
    northwind, contoso = rival_pair
    act(channel_manager, services.deal_approve, deal=northwind)

    approved = act(
        channel_manager,
        services.deal_approve,
        deal=contoso,
        override_reason="The customer chose Contoso in writing.",
        comment="Northwind agreed.",
    )

    assert approved.status == DealStatus.APPROVED
    last = timeline(contoso)[-1]
    assert (last.from_status, last.to_status) == (DealStatus.SUBMITTED, DealStatus.APPROVED)
    assert last.actor_id == channel_manager.user_id
    assert "Override" in last.comment
    assert "The customer chose Contoso in writing." in last.comment
    assert "Northwind agreed." in last.comment


def test_an_open_direct_deal_also_wins_over_a_later_registration(
    channel_manager, register, contoso_rep, act
):
    DealFactory(
        actor=channel_manager,
        direct=True,
        customer_name="Blue Harbor Logistics",
        customer_domain="blueharbor.example",
    )
    registration = register(contoso_rep, customer_domain="blueharbor.example")

    with pytest.raises(ValidationError, match="first approved wins"):
        act(channel_manager, services.deal_approve, deal=registration)


def test_a_closed_rival_does_not_block_approval(rival_pair, channel_manager, partner_rep, act):
    northwind, contoso = rival_pair
    act(channel_manager, services.deal_approve, deal=northwind)
    act(
        partner_rep,
        services.deal_mark_lost,
        deal=northwind,
        reason=LostReasonFactory(tenant=northwind.tenant, name="Competitor"),
    )

    approved = act(channel_manager, services.deal_approve, deal=contoso)

    assert approved.status == DealStatus.APPROVED


# ---------------------------------------------------------------- protection


@pytest.mark.parametrize("days", [90, 30])
def test_protection_ends_the_tenants_protection_days_after_approval(
    register, partner_rep, channel_manager, act, set_rules, days
):
    set_rules(protection_days=days)
    deal = register(partner_rep)

    approved = act(channel_manager, services.deal_approve, deal=deal)

    assert approved.protection_ends_at == approved.decided_at + timedelta(days=days)


def test_the_default_rules_protect_for_ninety_days_with_a_seven_day_warning(rules):
    assert rules.protection_days == 90
    assert rules.expiry_warning_days == 7
    assert rules.name_similarity_threshold == Decimal("0.60")
    assert rules.auto_approve_max_total is None


# ---------------------------------------------------------------- auto-approval


@pytest.fixture
def auto_approval(set_rules):
    return set_rules(
        auto_approve_max_total=Decimal("5000.00"),
        auto_approve_currency="USD",
        allowed_currencies=["USD", "EUR"],
    )


@pytest.mark.parametrize(
    ("unit_price", "quantity", "approved"),
    [
        (Decimal("1200.00"), 2, True),
        (Decimal("2500.00"), 2, True),  # exactly at the limit
        (Decimal("2500.01"), 2, False),  # a cent above
        (Decimal("0.00"), 1, True),
    ],
)
def test_a_conflict_free_submission_at_or_under_the_limit_is_approved_at_once(
    auto_approval, tenant, register, partner_rep, unit_price, quantity, approved
):
    product = ProductFactory(tenant=tenant, list_price=unit_price, currency="USD")

    deal = register(partner_rep, lines=[LineInput(product_id=product.pk, quantity=quantity)])

    assert deal.total == unit_price * quantity
    if approved:
        assert deal.status == DealStatus.APPROVED
        assert deal.auto_approved is True
        assert deal.decided_by_id is None
        assert deal.protection_ends_at == deal.decided_at + timedelta(days=90)
        last = timeline(deal)[-1]
        assert (last.from_status, last.to_status) == (DealStatus.SUBMITTED, DealStatus.APPROVED)
        assert last.automatic is True and last.actor_id is None
        assert "automatically" in last.comment
    else:
        assert deal.status == DealStatus.SUBMITTED
        assert deal.auto_approved is False


def test_a_submission_with_a_conflict_waits_for_review_even_under_the_limit(
    auto_approval, register, partner_rep, contoso_rep
):
    register(partner_rep, customer_domain="blueharbor.example")  # approved automatically

    later = register(contoso_rep, customer_name="Quillon", customer_domain="blueharbor.example")

    assert later.total <= Decimal("5000")
    assert later.conflict_count == 1
    assert later.status == DealStatus.SUBMITTED
    assert later.auto_approved is False


def test_a_submission_in_another_currency_waits_for_review(
    auto_approval, tenant, register, partner_rep
):
    euro = ProductFactory(tenant=tenant, list_price=Decimal("100.00"), currency="EUR")

    deal = register(partner_rep, currency="EUR", lines=[LineInput(product_id=euro.pk, quantity=1)])

    assert deal.status == DealStatus.SUBMITTED


def test_without_an_auto_approval_limit_everything_waits_for_review(
    rules, tenant, register, partner_rep
):
    free = ProductFactory(tenant=tenant, list_price=Decimal("0.00"))

    deal = register(partner_rep, lines=[LineInput(product_id=free.pk, quantity=1)])

    assert rules.auto_approve_max_total is None
    assert deal.status == DealStatus.SUBMITTED


def test_the_limit_without_a_currency_means_the_tenants_default_currency(
    set_rules, register, partner_rep
):
    set_rules(auto_approve_max_total=Decimal("5000.00"), auto_approve_currency="")

    deal = register(partner_rep)  # 2 x 1,200 USD; Acme's default currency is USD

    assert deal.status == DealStatus.APPROVED
    assert deal.auto_approved


def test_a_draft_is_never_auto_approved(auto_approval, register, partner_rep):
    deal = register(partner_rep, submit=False)

    assert deal.status == DealStatus.DRAFT


# ---------------------------------------------------------------- extension


@pytest.fixture
def approved(partner_rep):
    return DealFactory(actor=partner_rep, status=DealStatus.APPROVED)


def test_the_partner_requests_an_extension_once(approved, partner_rep, act, reload):
    act(partner_rep, services.deal_request_extension, deal=approved, reason="Budget in Q3.")

    deal = reload(approved)
    assert deal.extension_status == ExtensionStatus.REQUESTED
    assert deal.extension_reason == "Budget in Q3."
    assert "Budget in Q3." in timeline(deal)[-1].comment
    assert len(events_named(deal.tenant, "deal.extension_requested")) == 1
    with pytest.raises(InvalidTransition, match="only once"):
        act(partner_rep, services.deal_request_extension, deal=approved, reason="Again.")


def test_an_extension_request_needs_a_reason(approved, partner_rep, act, reload):
    with pytest.raises(ValidationError):
        act(partner_rep, services.deal_request_extension, deal=approved, reason="  ")

    assert reload(approved).extension_status == ExtensionStatus.NONE


@pytest.mark.parametrize("status", [DealStatus.DRAFT, DealStatus.SUBMITTED, DealStatus.WON])
def test_only_an_approved_registration_can_be_extended(partner_rep, act, status):
    deal = DealFactory(actor=partner_rep, status=status)

    with pytest.raises(InvalidTransition):
        act(partner_rep, services.deal_request_extension, deal=deal, reason="More time.")


def test_an_approved_extension_moves_the_end_of_protection(
    approved, partner_rep, channel_manager, act, reload
):
    ends = approved.protection_ends_at
    act(partner_rep, services.deal_request_extension, deal=approved, reason="Budget in Q3.")

    act(channel_manager, services.deal_decide_extension, deal=approved, approve=True)

    deal = reload(approved)
    assert deal.extension_status == ExtensionStatus.APPROVED
    assert deal.protection_ends_at == ends + timedelta(days=30)
    assert timeline(deal)[-1].actor_id == channel_manager.user_id
    with pytest.raises(InvalidTransition, match="only once"):
        act(partner_rep, services.deal_request_extension, deal=approved, reason="Once more.")


def test_a_declined_extension_keeps_the_date_and_cannot_be_asked_again(
    approved, partner_rep, channel_manager, act, reload
):
    ends = approved.protection_ends_at
    act(partner_rep, services.deal_request_extension, deal=approved, reason="Budget in Q3.")

    act(channel_manager, services.deal_decide_extension, deal=approved, approve=False)

    deal = reload(approved)
    assert deal.extension_status == ExtensionStatus.DECLINED
    assert deal.protection_ends_at == ends
    with pytest.raises(InvalidTransition):
        act(partner_rep, services.deal_request_extension, deal=approved, reason="Please.")


def test_deciding_without_a_request_is_refused(approved, channel_manager, act):
    with pytest.raises(InvalidTransition):
        act(channel_manager, services.deal_decide_extension, deal=approved, approve=True)


def test_partners_cannot_decide_their_own_extension(approved, partner_rep, partner_admin, act):
    act(partner_rep, services.deal_request_extension, deal=approved, reason="Budget in Q3.")

    with pytest.raises(PermissionDenied):
        act(partner_admin, services.deal_decide_extension, deal=approved, approve=True)


# ---------------------------------------------------------------- expiry and warning jobs


def test_the_expiry_job_expires_only_due_approved_partner_registrations(
    partner_rep, channel_manager, tenant, reload
):
    due = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    later = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    direct = DealFactory(actor=channel_manager, direct=True)
    submitted = DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED)
    with tenant_context(tenant):
        Deal.objects.filter(pk=later.pk).update(
            protection_ends_at=due.protection_ends_at + timedelta(days=1)
        )
    moment = due.protection_ends_at + timedelta(minutes=1)

    with tenant_context(tenant):
        count = services.deals_expire_due(now=moment)

    assert count == 1
    assert reload(due).status == DealStatus.EXPIRED
    assert reload(later).status == DealStatus.APPROVED
    assert reload(direct).status == DealStatus.APPROVED
    assert reload(submitted).status == DealStatus.SUBMITTED
    assert [e.payload["deal_id"] for e in events_named(tenant, "deal.expired")] == [due.pk]


def test_the_expiry_job_is_idempotent(partner_rep, tenant):
    deal = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    moment = deal.protection_ends_at + timedelta(seconds=1)

    with tenant_context(tenant):
        first = services.deals_expire_due(now=moment)
        second = services.deals_expire_due(now=moment + timedelta(days=1))

    assert (first, second) == (1, 0)
    assert [t.to_status for t in timeline(deal)].count(DealStatus.EXPIRED) == 1
    assert len(events_named(tenant, "deal.expired")) == 1


def test_the_expiry_job_of_one_tenant_leaves_another_tenants_deals_alone(
    partner_rep, other_tenant, tenant
):
    globex_rep = MembershipFactory(
        tenant=other_tenant, role="partner_rep", partner=PartnerFactory(tenant=other_tenant)
    )
    foreign = DealFactory(actor=globex_rep, status=DealStatus.APPROVED)

    with tenant_context(tenant):
        services.deals_expire_due(now=foreign.protection_ends_at + timedelta(days=1))

    with tenant_context(other_tenant):
        assert Deal.objects.get(pk=foreign.pk).status == DealStatus.APPROVED


def test_the_warning_goes_out_once_inside_the_warning_window(partner_rep, tenant, reload):
    deal = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    ends = deal.protection_ends_at

    with tenant_context(tenant):
        too_early = services.deals_warn_expiring(now=ends - timedelta(days=8))
        first = services.deals_warn_expiring(now=ends - timedelta(days=6))
        again = services.deals_warn_expiring(now=ends - timedelta(days=5))

    assert (too_early, first, again) == (0, 1, 0)
    assert reload(deal).expiry_warning_sent_at == ends - timedelta(days=6)
    [warning] = events_named(tenant, "deal.expiry_warning")
    assert warning.payload["deal_id"] == deal.pk
    assert reload(deal).status == DealStatus.APPROVED


def test_no_warning_for_direct_deals_or_protection_already_over(
    partner_rep, channel_manager, tenant
):
    deal = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    DealFactory(actor=channel_manager, direct=True)

    with tenant_context(tenant):
        warned = services.deals_warn_expiring(now=deal.protection_ends_at + timedelta(seconds=1))

    assert warned == 0


def test_an_approved_extension_allows_a_new_warning_before_the_new_end(
    partner_rep, channel_manager, tenant, act, reload
):
    deal = DealFactory(actor=partner_rep, status=DealStatus.APPROVED)
    with tenant_context(tenant):
        services.deals_warn_expiring(now=deal.protection_ends_at - timedelta(days=1))
    act(partner_rep, services.deal_request_extension, deal=deal, reason="Budget in Q3.")
    act(channel_manager, services.deal_decide_extension, deal=deal, approve=True)
    new_end = reload(deal).protection_ends_at

    with tenant_context(tenant):
        warned = services.deals_warn_expiring(now=new_end - timedelta(days=1))

    assert warned == 1
    assert len(events_named(tenant, "deal.expiry_warning")) == 2


# ---------------------------------------------------------------- won and lost


@pytest.mark.parametrize(
    ("final_amount", "closed_on", "field"),
    [
        (None, "today", "final_amount"),
        (Decimal("1000.00"), None, "closed_on"),
        (Decimal("-1.00"), "today", "final_amount"),
        (Decimal("1000000000000.00"), "today", "final_amount"),
        (Decimal("1000.00"), "tomorrow", "closed_on"),
    ],
)
def test_won_needs_a_final_amount_and_a_close_date(
    approved, partner_rep, act, reload, final_amount, closed_on, field
):
    today = timezone.localdate()
    dates = {"today": today, "tomorrow": today + timedelta(days=1), None: None}

    with pytest.raises(ValidationError) as refused:
        act(
            partner_rep,
            services.deal_mark_won,
            deal=approved,
            final_amount=final_amount,
            closed_on=dates[closed_on],
        )

    assert field in refused.value.message_dict
    deal = reload(approved)
    assert (deal.status, deal.won_amount, deal.closed_on) == (DealStatus.APPROVED, None, None)


def test_won_records_the_final_amount_rounded_to_the_currency(approved, partner_rep, act):
    closed = timezone.localdate() - timedelta(days=2)

    won = act(
        partner_rep,
        services.deal_mark_won,
        deal=approved,
        final_amount=Decimal("1234.565"),
        closed_on=closed,
    )

    assert won.status == DealStatus.WON
    assert won.won_amount == Decimal("1234.56")  # half to even
    assert won.closed_on == closed


def test_lost_needs_a_reason(approved, partner_rep, act, reload):
    with pytest.raises(ValidationError) as refused:
        act(partner_rep, services.deal_mark_lost, deal=approved, reason=None)

    assert "reason" in refused.value.message_dict
    assert reload(approved).status == DealStatus.APPROVED


def test_lost_refuses_an_inactive_reason(approved, partner_rep, act, tenant, reload):
    retired = LostReasonFactory(tenant=tenant, name="Retired reason", active=False)

    with pytest.raises(ValidationError):
        act(partner_rep, services.deal_mark_lost, deal=approved, reason=retired)

    assert reload(approved).status == DealStatus.APPROVED


def test_lost_refuses_another_tenants_reason(approved, partner_rep, act, other_tenant, reload):
    foreign = LostReasonFactory(tenant=other_tenant, name="Price")

    with pytest.raises(ValidationError):
        act(partner_rep, services.deal_mark_lost, deal=approved, reason=foreign)

    assert reload(approved).status == DealStatus.APPROVED


def test_lost_records_the_reason_and_the_day(approved, partner_rep, act, lost_reason):
    lost = act(partner_rep, services.deal_mark_lost, deal=approved, reason=lost_reason)

    assert lost.status == DealStatus.LOST
    assert lost.lost_reason_id == lost_reason.pk
    assert lost.closed_on == timezone.localdate()
    assert timeline(lost)[-1].comment == "Price"


def test_a_further_partner_sees_the_deal_but_cannot_close_it(
    partner_rep, contoso, tenant, act, lost_reason
):
    contoso_admin = MembershipFactory(
        tenant=tenant, role="partner_admin", partner=contoso, user__email="padmin@contoso.test"
    )
    deal = DealFactory(
        actor=partner_rep, status=DealStatus.APPROVED, further_partners=[(contoso.pk, "co_sell")]
    )

    with pytest.raises(PermissionDenied):
        act(
            contoso_admin,
            services.deal_mark_won,
            deal=deal,
            final_amount=Decimal("1"),
            closed_on=timezone.localdate(),
        )
    with pytest.raises(PermissionDenied):
        act(contoso_admin, services.deal_mark_lost, deal=deal, reason=lost_reason)


# ---------------------------------------------------------------- who may register


@pytest.mark.parametrize("status", ["suspended", "offboarded"])
def test_a_suspended_or_offboarded_partner_cannot_register(
    partner_rep, partner, tenant, register, status
):
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(status=status)
        partner_rep.partner.refresh_from_db()

    with pytest.raises(ValidationError):
        register(partner_rep)

    with tenant_context(tenant):
        assert not Deal.objects.exists()


def test_a_suspended_partner_cannot_submit_an_earlier_draft(
    partner_rep, partner, tenant, register, reload
):
    draft = register(partner_rep, submit=False)
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(status="suspended")
        partner_rep.partner.refresh_from_db()

    with pytest.raises(ValidationError, match="suspended"), tenant_context(tenant, partner_rep):
        services.deal_submit(actor=partner_rep, deal=draft)

    assert reload(draft).status == DealStatus.DRAFT


@pytest.mark.parametrize("role", ["channel_manager", "tenant_admin", "analyst"])
def test_vendor_staff_do_not_register_partner_deals(tenant, register, role):
    staff = MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test")

    with pytest.raises(PermissionDenied):
        register(staff)


@pytest.mark.parametrize("role", ["partner_rep", "partner_admin", "analyst", "finance"])
def test_only_reviewers_approve(partner, tenant, act, partner_rep, role):
    deal = DealFactory(actor=partner_rep, status=DealStatus.SUBMITTED)
    member = MembershipFactory(
        tenant=tenant,
        role=role,
        partner=partner if role.startswith("partner") else None,
        user__email=f"other-{role}@acme.test",
    )

    with pytest.raises(PermissionDenied):
        act(member, services.deal_approve, deal=deal)
