"""A lead's life after routing: accepted (an approved registration of that partner), declined
or timed out (the next best partner, never the same one twice), unrouted when nobody is left,
routed again by staff; and the scheduled expiry job, run twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from deals import leads, services
from deals.models import Deal, DealStatus, DealTransition, Lead, LeadOffer, LeadStatus, OfferStatus
from deals.tasks import expire_lead_offers, route_new_leads, sweep_lead_offers
from partners.models import AutomationRun
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db

LATER = timedelta(hours=49)  # past the default 48-hour SLA


@pytest.fixture
def three_partners(routing_partner):
    """Best first: Alpha (idle, oldest), Beta, Gamma, all serving Germany."""
    return [routing_partner(name, ["DE"]) for name in ("Alpha", "Beta", "Gamma")]


def offers_of(lead):
    with tenant_context(lead.tenant):
        return list(
            LeadOffer.objects.filter(lead_id=lead.pk)
            .order_by("offered_at", "id")
            .values_list("partner__name", "status")
        )


# ---------------------------------------------------------------- accept


def test_an_accepted_lead_becomes_an_approved_registration_of_that_partner(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload, events_named
):
    alpha = three_partners[0]
    lead = make_lead(
        "Initech GmbH", company_domain="www.initech.example", contact_email="peter@initech.example",
        estimated_value=Decimal("25000.00"), currency="USD", notes="Wants a demo",
    )  # fmt: skip
    rep = rep_of(alpha)
    before = timezone.now()

    with as_member(rep):
        offer = leads.lead_accept(actor=rep, offer=pending_offer(lead))
        deal = Deal.objects.get(pk=reload(lead).deal_id)
        rules = services.engagement_rules()
        timeline = list(DealTransition.objects.filter(deal=deal).values_list("to_status", flat=1))

    assert offer.status == OfferStatus.ACCEPTED
    assert offer.responded_by_id == rep.user_id
    assert reload(lead).status == LeadStatus.ACCEPTED
    assert deal.status == DealStatus.APPROVED
    assert deal.partner_id == alpha.pk
    assert deal.registered_by_id == rep.user_id
    assert deal.customer_name == "Initech GmbH"
    assert deal.customer_domain_normalized == "initech.example"
    assert deal.contact_email == "peter@initech.example"
    assert (deal.total, deal.currency) == (Decimal("25000.00"), "USD")
    assert deal.protection_ends_at >= before + timedelta(days=rules.protection_days)
    assert deal.protection_ends_at <= timezone.now() + timedelta(days=rules.protection_days)
    assert timeline == [DealStatus.SUBMITTED, DealStatus.APPROVED]
    (accepted,) = events_named("lead.accepted")
    assert accepted["deal_id"] == deal.pk and accepted["partner_id"] == alpha.pk
    assert [e["deal_id"] for e in events_named("deal.approved")] == [deal.pk]


def test_a_partner_admin_may_accept_for_the_organization(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload
):
    admin = rep_of(three_partners[0], role="partner_admin")
    lead = make_lead()

    with as_member(admin):
        leads.lead_accept(actor=admin, offer=pending_offer(lead))

    assert reload(lead).status == LeadStatus.ACCEPTED


def test_another_partner_cannot_accept_or_decline_the_offer(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload
):
    lead = make_lead()
    offer = pending_offer(lead)
    intruder = rep_of(three_partners[1])

    with as_member(intruder), pytest.raises(Http404):
        leads.lead_accept(actor=intruder, offer=offer)
    with as_member(intruder), pytest.raises(Http404):
        leads.lead_decline(actor=intruder, offer=offer, reason="Not ours anyway")

    assert reload(offer).status == OfferStatus.PENDING
    assert reload(lead).status == LeadStatus.OFFERED


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "marketing", "analyst"])
def test_vendor_staff_cannot_answer_an_offer(
    role, three_partners, make_lead, pending_offer, member_of_acme, as_member, reload
):
    lead = make_lead()
    staff = member_of_acme(role)

    with as_member(staff), pytest.raises(PermissionDenied):
        leads.lead_accept(actor=staff, offer=pending_offer(lead))

    assert reload(lead).status == LeadStatus.OFFERED


def test_an_offer_past_its_time_cannot_be_accepted(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload
):
    lead = make_lead()
    offer = pending_offer(lead)
    with tenant_context(lead.tenant):
        LeadOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now())
    rep = rep_of(three_partners[0])

    with as_member(rep), pytest.raises(ValidationError, match="time to answer"):
        leads.lead_accept(actor=rep, offer=offer)

    assert reload(offer).status == OfferStatus.PENDING
    assert reload(lead).deal_id is None


def test_an_answered_offer_cannot_be_answered_again(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload
):
    lead = make_lead()
    offer = pending_offer(lead)
    rep = rep_of(three_partners[0])
    with as_member(rep):
        leads.lead_decline(actor=rep, offer=offer, reason="No capacity this quarter")

    with as_member(rep), pytest.raises(ValidationError, match="no longer open"):
        leads.lead_accept(actor=rep, offer=offer)

    assert reload(offer).status == OfferStatus.DECLINED
    assert reload(lead).deal_id is None


def test_a_suspended_partner_cannot_accept(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload, tenant
):
    alpha = three_partners[0]
    lead = make_lead()
    with tenant_context(tenant):
        alpha.status = "suspended"
        alpha.save(update_fields=["status"])
    rep = rep_of(alpha)

    with as_member(rep), pytest.raises(ValidationError):
        leads.lead_accept(actor=rep, offer=pending_offer(lead))

    assert reload(lead).status == LeadStatus.OFFERED


# ---------------------------------------------------------------- decline and timeout


def test_a_declined_lead_moves_to_the_next_best_partner(
    three_partners, make_lead, pending_offer, rep_of, as_member, reload, events_named
):
    alpha, beta, _gamma = three_partners
    lead = make_lead()
    first = pending_offer(lead)
    rep = rep_of(alpha)

    with as_member(rep):
        leads.lead_decline(actor=rep, offer=first, reason="  Outside our focus  ")

    declined = reload(first)
    assert declined.status == OfferStatus.DECLINED
    assert declined.decline_reason == "Outside our focus"
    assert declined.responded_by_id == rep.user_id
    second = pending_offer(lead)
    assert second.partner_id == beta.pk
    assert second.reason["trigger"] == "declined"
    assert reload(lead).status == LeadStatus.OFFERED
    assert events_named("lead.declined")[0]["reason"] == "Outside our focus"
    assert [e["partner_id"] for e in events_named("lead.offered")] == [alpha.pk, beta.pk]


@pytest.mark.parametrize("reason", ["", "   ", "x" * (leads.MAX_DECLINE_REASON + 1)])
def test_a_decline_needs_a_reason(
    reason, three_partners, make_lead, pending_offer, rep_of, as_member, reload
):
    lead = make_lead()
    offer = pending_offer(lead)
    rep = rep_of(three_partners[0])

    with as_member(rep), pytest.raises(ValidationError) as raised:
        leads.lead_decline(actor=rep, offer=offer, reason=reason)

    assert "reason" in raised.value.message_dict
    assert reload(offer).status == OfferStatus.PENDING
    assert offers_of(lead) == [("Alpha", "pending")]


def test_a_timed_out_offer_moves_the_lead_to_the_next_best_partner(
    three_partners, make_lead, pending_offer, tenant, reload, events_named
):
    lead = make_lead()
    first = pending_offer(lead)

    with tenant_context(tenant):
        timed_out = leads.offers_expire_due(now=timezone.now() + LATER)

    assert timed_out == 1
    assert reload(first).status == OfferStatus.EXPIRED
    second = pending_offer(lead)
    assert second.partner_id == three_partners[1].pk
    assert second.reason["trigger"] == "expired"
    assert events_named("lead.expired")[0]["offer_id"] == first.pk


def test_a_partner_who_declined_or_timed_out_is_never_offered_the_lead_again(
    three_partners, make_lead, pending_offer, rep_of, as_member, tenant
):
    alpha, _beta, gamma = three_partners
    lead = make_lead()
    with as_member(rep_of(alpha)):
        leads.lead_decline(actor=rep_of(alpha), offer=pending_offer(lead), reason="Busy")
    with tenant_context(tenant):
        leads.offers_expire_due(now=timezone.now() + LATER)  # Beta times out
    with as_member(rep_of(gamma)):
        leads.lead_decline(actor=rep_of(gamma), offer=pending_offer(lead), reason="Busy")

    # Alpha and Beta are idle and the best by every other rule, yet nobody is left.
    assert offers_of(lead) == [("Alpha", "declined"), ("Beta", "expired"), ("Gamma", "declined")]
    with tenant_context(tenant):
        assert Lead.objects.get(pk=lead.pk).status == LeadStatus.UNROUTED


def test_a_lead_nobody_can_take_is_unrouted_and_says_why(
    routing_partner, make_lead, pending_offer, events_named
):
    routing_partner("Far Away", ["JP"])
    routing_partner("Germany, No Security", ["DE"])
    routing_partner("Full", ["DE"], ["EMEA"], ["Security"], capacity=0)

    lead = make_lead(country="DE", competency="Security")

    assert lead.status == LeadStatus.UNROUTED
    assert pending_offer(lead) is None
    (payload,) = events_named("lead.unrouted")
    assert payload["lead_id"] == lead.pk
    assert payload["filters"] == {
        "serving_geography": 2,
        "with_competency": 1,
        "not_offered_before": 1,
        "with_capacity": 0,
    }


def test_the_expiry_job_is_idempotent(
    three_partners, make_lead, pending_offer, tenant, events_named
):
    first_lead, second_lead = make_lead("Alpha Corp"), make_lead("Beta Corp")
    with tenant_context(tenant):
        LeadOffer.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    with tenant_context(tenant):
        assert leads.offers_expire_due() == 2
    offers_after_one_run = offers_of(first_lead) + offers_of(second_lead)
    with tenant_context(tenant):
        assert leads.offers_expire_due() == 0

    assert offers_of(first_lead) + offers_of(second_lead) == offers_after_one_run
    assert len(events_named("lead.expired")) == 2
    assert len(events_named("lead.offered")) == 4
    assert pending_offer(first_lead).expires_at > timezone.now()  # a fresh SLA


def test_offers_still_within_their_time_are_left_alone(
    three_partners, make_lead, pending_offer, tenant
):
    lead = make_lead()

    with tenant_context(tenant):
        assert leads.offers_expire_due(now=timezone.now() + timedelta(hours=47)) == 0

    assert pending_offer(lead).partner_id == three_partners[0].pk


def test_the_expiry_job_never_touches_another_tenants_offers(
    three_partners, make_lead, pending_offer, other_tenant, routing_partner
):
    routing_partner("Globex Reseller", ["DE"], tenant_=other_tenant)
    lead = make_lead()

    with tenant_context(other_tenant):
        assert leads.offers_expire_due(now=timezone.now() + LATER) == 0

    assert pending_offer(lead).status == OfferStatus.PENDING


# ---------------------------------------------------------------- routing again


def test_staff_routing_again_withdraws_the_offer_and_asks_the_next_partner(
    three_partners, make_lead, pending_offer, channel_manager, as_member, reload
):
    lead = make_lead()
    first = pending_offer(lead)

    with as_member(channel_manager):
        offer = leads.lead_route(actor=channel_manager, lead=lead)

    assert reload(first).status == OfferStatus.WITHDRAWN
    assert offer.partner_id == three_partners[1].pk
    assert offer.reason["trigger"] == "manual"


def test_an_unrouted_lead_is_offered_once_a_partner_fits(
    routing_partner, make_lead, pending_offer, channel_manager, as_member
):
    lead = make_lead()
    assert lead.status == LeadStatus.UNROUTED
    newcomer = routing_partner("Newcomer", ["DE"])

    with as_member(channel_manager):
        leads.lead_route(actor=channel_manager, lead=lead)

    assert pending_offer(lead).partner_id == newcomer.pk


def test_an_accepted_lead_cannot_be_routed_again(
    three_partners, make_lead, pending_offer, rep_of, channel_manager, as_member, reload
):
    lead = make_lead()
    with as_member(rep_of(three_partners[0])):
        leads.lead_accept(actor=rep_of(three_partners[0]), offer=pending_offer(lead))

    with as_member(channel_manager), pytest.raises(ValidationError):
        leads.lead_route(actor=channel_manager, lead=lead)

    assert offers_of(lead) == [("Alpha", "accepted")]


@pytest.mark.parametrize("role", ["finance", "analyst"])
def test_staff_without_lead_management_cannot_create_or_route(
    role, three_partners, make_lead, member_of_acme, as_member, tenant
):
    lead = make_lead()
    staff = member_of_acme(role)

    with as_member(staff), pytest.raises(PermissionDenied):
        leads.lead_route(actor=staff, lead=lead)
    with as_member(staff), pytest.raises(PermissionDenied):
        leads.lead_create(actor=staff, data=leads.LeadInput(company_name="X", country="DE"))

    with tenant_context(tenant):
        assert Lead.objects.count() == 1


# ---------------------------------------------------------------- jobs


def test_the_expiry_task_runs_in_its_tenant_and_logs_the_run(
    three_partners, make_lead, pending_offer, tenant, monkeypatch
):
    lead = make_lead()
    with tenant_context(tenant):
        LeadOffer.objects.filter(lead_id=lead.pk).update(expires_at=timezone.now())

    result = expire_lead_offers.apply(args=(tenant.pk,))
    again = expire_lead_offers.apply(args=(tenant.pk,))

    assert (result.get(), again.get()) == (1, 0)
    assert pending_offer(lead).partner_id == three_partners[1].pk
    with tenant_context(tenant):
        runs = AutomationRun.objects.filter(job="deals.expire_lead_offers").order_by("pk")
        assert [run.detail["expired"] for run in runs] == [1, 0]


def test_the_sweep_enqueues_only_tenants_with_work(
    three_partners, make_lead, tenant, other_tenant, monkeypatch
):
    make_lead("Fresh offer")  # not due
    due = make_lead("Due offer")
    with tenant_context(tenant):
        LeadOffer.objects.filter(lead_id=due.pk).update(expires_at=timezone.now())
    enqueued = []
    monkeypatch.setattr(expire_lead_offers, "delay", lambda tenant_id: enqueued.append(tenant_id))

    assert sweep_lead_offers.apply().get() == 1

    assert enqueued == [tenant.pk]


def test_the_routing_task_routes_leads_waiting_for_their_first_offer(
    three_partners, tenant, channel_manager, as_member, pending_offer
):
    with as_member(channel_manager):
        imported = leads.lead_import_csv(
            actor=channel_manager, content=b"company_name,country\nInitech,DE\nHooli,DE\n"
        )
    assert {lead.status for lead in imported} == {LeadStatus.NEW}

    assert route_new_leads.apply(args=(tenant.pk,)).get() == 2
    assert route_new_leads.apply(args=(tenant.pk,)).get() == 0

    assert {pending_offer(lead).partner.name for lead in imported} == {"Alpha", "Beta"}
