"""The routing rule, on hand-built partners: who is a candidate (country or region,
competency, never offered before, room under capacity, active, same tenant), how candidates
are ranked (win rate, load, geography, tier hook) and broken ties, and what the offer
records about why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import leads, routing, services
from deals.models import Deal, DealStatus, LeadStatus
from partners.tenancy import tenant_context
from partners.tiers import Tier
from tests.deals.factories import DealFactory

pytestmark = pytest.mark.django_db


def test_a_lead_goes_to_a_partner_serving_its_country(routing_partner, make_lead, pending_offer):
    routing_partner("France Only", ["FR"])
    germany = routing_partner("Germany Only", ["DE"])

    lead = make_lead(country="DE")

    assert lead.status == LeadStatus.OFFERED
    assert pending_offer(lead).partner_id == germany.pk


def test_country_codes_match_whatever_their_case(routing_partner, make_lead, pending_offer):
    germany = routing_partner("Germany", ["de"])

    lead = make_lead(country="de")

    assert pending_offer(lead).partner_id == germany.pk


def test_a_partner_serving_only_the_region_is_a_candidate(
    routing_partner, make_lead, pending_offer
):
    emea = routing_partner("Emea Generalist", regions=["emea"])

    lead = make_lead(country="DE", region="EMEA")

    offer = pending_offer(lead)
    assert offer.partner_id == emea.pk
    assert offer.reason["country"] == "no match"
    assert offer.reason["region"] == "match"


def test_a_country_match_beats_a_region_only_match(routing_partner, make_lead, pending_offer):
    routing_partner("Emea Generalist", regions=["EMEA"])  # older: would win a tie
    germany = routing_partner("Germany Specialist", ["DE"])

    lead = make_lead(country="DE", region="EMEA")

    assert pending_offer(lead).partner_id == germany.pk


def test_a_region_is_no_match_when_the_lead_names_none(routing_partner, make_lead):
    routing_partner("Emea Generalist", regions=["EMEA"])

    lead = make_lead(country="DE")

    assert lead.status == LeadStatus.UNROUTED


def test_a_lead_needing_a_competency_goes_only_to_partners_who_have_it(
    routing_partner, make_lead, pending_offer
):
    routing_partner("Generalist", ["DE"])  # older, idle: would win without the competency rule
    specialist = routing_partner("Specialist", ["DE"], competencies=["Cloud", "Security"])

    lead = make_lead(country="DE", competency="security")

    offer = pending_offer(lead)
    assert offer.partner_id == specialist.pk
    assert offer.reason["competency"] == "security"


def test_a_lead_naming_no_competency_may_go_to_anyone_serving_it(
    routing_partner, make_lead, pending_offer
):
    generalist = routing_partner("Generalist", ["DE"])

    lead = make_lead(country="DE")

    assert pending_offer(lead).partner_id == generalist.pk
    assert pending_offer(lead).reason["competency"] == "not required"


@pytest.mark.parametrize("status", ["suspended", "onboarding", "applicant", "offboarded"])
def test_a_partner_that_is_not_active_is_never_offered_a_lead(routing_partner, make_lead, status):
    routing_partner("Dormant", ["DE"], status=status)

    lead = make_lead(country="DE")

    assert lead.status == LeadStatus.UNROUTED


def test_another_tenants_partner_is_never_a_candidate(
    routing_partner, other_tenant, make_lead, pending_offer
):
    routing_partner("Globex Reseller", ["DE"], tenant_=other_tenant)

    lead = make_lead(country="DE")

    assert lead.status == LeadStatus.UNROUTED
    assert pending_offer(lead) is None


def test_a_partner_at_its_capacity_gets_no_more_leads(routing_partner, make_lead, pending_offer):
    busy = routing_partner("Busy", ["DE"], capacity=2)
    spare = routing_partner("Spare", ["DE"], capacity=2)
    first = make_lead("Alpha")
    second = make_lead("Beta")
    assert {pending_offer(first).partner_id, pending_offer(second).partner_id} == {
        busy.pk,
        spare.pk,
    }

    third, fourth = make_lead("Gamma"), make_lead("Delta")
    fifth = make_lead("Epsilon")

    assert {pending_offer(third).partner_id, pending_offer(fourth).partner_id} == {
        busy.pk,
        spare.pk,
    }
    assert fifth.status == LeadStatus.UNROUTED


def test_a_partner_with_no_capacity_is_never_offered_a_lead(routing_partner, make_lead):
    routing_partner("Closed Shop", ["DE"], capacity=0)

    assert make_lead().status == LeadStatus.UNROUTED


def test_accepted_leads_count_against_capacity_while_their_registration_is_open(
    routing_partner, make_lead, pending_offer, rep_of, as_member, reload
):
    solo = routing_partner("Solo", ["DE"], capacity=1)
    first = make_lead("Alpha")
    rep = rep_of(solo)
    with as_member(rep):
        leads.lead_accept(actor=rep, offer=pending_offer(first))

    assert make_lead("Beta").status == LeadStatus.UNROUTED

    deal_id = reload(first).deal_id
    with as_member(rep):
        deal = Deal.objects.get(pk=deal_id)
        services.deal_mark_won(
            actor=rep, deal=deal, final_amount=Decimal("10"), closed_on=timezone.localdate()
        )

    third = make_lead("Gamma")
    assert pending_offer(third).partner_id == solo.pk


def test_the_partner_with_the_better_win_rate_is_offered_first(
    routing_partner, track_record, make_lead, pending_offer
):
    loser = routing_partner("Loser", ["DE"])
    winner = routing_partner("Winner", ["DE"])
    track_record(loser, won=1, lost=3)
    track_record(winner, won=3, lost=1)

    lead = make_lead()

    offer = pending_offer(lead)
    assert offer.partner_id == winner.pk
    assert offer.reason["win_rate"] == "0.7500"
    assert (offer.reason["won"], offer.reason["lost"]) == (3, 1)


def test_a_partner_with_no_closed_deal_counts_as_an_even_win_rate(
    routing_partner, track_record, make_lead, pending_offer
):
    weak = routing_partner("Weak", ["DE"])
    newcomer = routing_partner("Newcomer", ["DE"])
    track_record(weak, won=1, lost=2)

    offer = pending_offer(make_lead())

    assert offer.partner_id == newcomer.pk
    assert Decimal(offer.reason["win_rate"]) == routing.NEUTRAL_WIN_RATE


def test_registrations_closed_before_the_window_do_not_count(
    routing_partner, rep_of, make_lead, pending_offer
):
    veteran = routing_partner("Veteran", ["DE"])
    DealFactory(actor=rep_of(veteran), status=DealStatus.LOST)
    with tenant_context(veteran.tenant):
        Deal.objects.filter(partner=veteran).update(
            closed_on=timezone.localdate() - timedelta(days=routing.WIN_RATE_WINDOW_DAYS + 1)
        )

    offer = pending_offer(make_lead())

    assert (offer.reason["won"], offer.reason["lost"]) == (0, 0)


def test_the_less_loaded_partner_wins_between_equal_win_rates(
    routing_partner, make_lead, pending_offer
):
    routing_partner("First", ["DE"])
    second = routing_partner("Second", ["DE"])
    make_lead("Warm-up", country="DE")  # goes to First (a full tie: the oldest)

    offer = pending_offer(make_lead("Next", country="DE"))

    assert offer.partner_id == second.pk
    assert offer.reason["open_leads"] == 0


def test_win_rate_outweighs_a_little_extra_load(
    routing_partner, track_record, make_lead, pending_offer
):
    strong = routing_partner("Strong", ["DE"], capacity=10)
    idle = routing_partner("Idle", ["DE"], capacity=10)
    track_record(strong, won=4)
    track_record(idle, lost=4)
    make_lead("Warm-up")  # Strong: 1 open lead of 10

    offer = pending_offer(make_lead("Next"))

    assert offer.partner_id == strong.pk
    assert offer.reason["open_leads"] == 1


def test_on_equal_scores_the_partner_with_fewer_open_leads_wins(
    routing_partner, make_lead, pending_offer
):
    roomy = routing_partner("Roomy", ["DE", "AT"], capacity=4)  # older: would win a full tie
    small = routing_partner("Small", ["DE", "CH"], capacity=2)
    make_lead("For roomy 1", country="AT")
    make_lead("For roomy 2", country="AT")
    make_lead("For small", country="CH")

    offer = pending_offer(make_lead("Contested", country="DE"))

    # Same score (half the capacity free each); Small has 1 open lead, Roomy 2.
    assert offer.partner_id == small.pk
    assert offer.reason["open_leads"] == 1
    assert roomy.pk < small.pk


def test_on_a_full_tie_the_oldest_partner_wins(routing_partner, make_lead, pending_offer):
    oldest = routing_partner("Oldest", ["DE"])
    routing_partner("Younger", ["DE"])

    assert pending_offer(make_lead()).partner_id == oldest.pk


def test_the_offer_records_every_factor_and_the_score(
    routing_partner, track_record, make_lead, pending_offer
):
    partner = routing_partner("Specialist", ["DE"], ["EMEA"], ["Security"], capacity=4)
    track_record(partner, won=1, lost=1)

    offer = pending_offer(make_lead(country="DE", region="emea", competency="Security"))

    # 0.5 * 0.5 (win rate) + 0.3 * (1 - 0/4) (load) + 0.2 * 1 (country) + 0.2 * 0 (tier)
    assert offer.score == Decimal("0.7500")
    assert offer.reason == {
        "country": "match",
        "region": "match",
        "competency": "Security",
        "win_rate": "0.5000",
        "won": 1,
        "lost": 1,
        "open_leads": 0,
        "capacity": 4,
        "tier": "0",
        "weights": routing.weights(),
        "score": "0.7500",
        "candidates": 1,
        "trigger": "created",
    }


def test_the_offer_waits_for_the_tenants_response_sla(
    routing_partner, make_lead, pending_offer, sla_hours
):
    routing_partner("Germany", ["DE"])
    sla_hours(24)
    before = timezone.now()

    offer = pending_offer(make_lead())

    assert before + timedelta(hours=24) <= offer.expires_at
    assert offer.expires_at <= timezone.now() + timedelta(hours=24)


def test_the_offer_counts_every_candidate(routing_partner, make_lead, pending_offer):
    for name in ("One", "Two", "Three"):
        routing_partner(name, ["DE"])

    assert pending_offer(make_lead()).reason["candidates"] == 3


def test_a_lead_is_offered_and_the_event_names_the_partner(
    routing_partner, make_lead, pending_offer, events_named
):
    partner = routing_partner("Germany", ["DE"])

    lead = make_lead()

    (payload,) = events_named("lead.offered")
    assert payload["lead_id"] == lead.pk
    assert payload["partner_id"] == partner.pk
    assert payload["offer_id"] == pending_offer(lead).pk


def _put_in_tier(partner, name, rank, priority):
    with tenant_context(partner.tenant):
        tier, _ = Tier.objects.get_or_create(
            tenant=partner.tenant,
            rank=rank,
            defaults={"name": name, "lead_routing_priority": priority},
        )
        partner.tier = tier
        partner.save(update_fields=["tier"])
    return tier


def test_of_otherwise_equal_partners_the_one_in_the_higher_priority_tier_is_offered_first(
    routing_partner, make_lead, pending_offer
):
    silver = routing_partner("Silver Reseller", ["DE"])  # older: would win a tie
    gold = routing_partner("Gold Reseller", ["DE"])
    _put_in_tier(silver, "Silver", 2, priority=1)
    _put_in_tier(gold, "Gold", 3, priority=2)

    offer = pending_offer(make_lead(country="DE"))

    assert offer.partner_id == gold.pk
    # 0.5 * 0.5 (win rate) + 0.3 * 1 (load) + 0.2 * 1 (country) + 0.2 * 2/2 (tier)
    assert offer.reason["tier"] == "1.0000"
    assert offer.score == Decimal("0.9500")


def test_the_tier_score_is_the_priority_over_the_tenants_highest_priority(
    routing_partner, make_lead, pending_offer
):
    silver = routing_partner("Silver Reseller", ["DE"])
    _put_in_tier(silver, "Silver", 2, priority=1)
    with tenant_context(silver.tenant):
        Tier.objects.create(tenant=silver.tenant, rank=4, name="Platinum", lead_routing_priority=4)

    offer = pending_offer(make_lead(country="DE"))

    assert offer.reason["tier"] == "0.2500"
    assert offer.score == Decimal("0.8000")


def test_a_partner_without_a_tier_scores_nothing_for_its_tier(
    routing_partner, make_lead, pending_offer
):
    untiered = routing_partner("No Tier", ["DE"])
    gold = routing_partner("Gold Reseller", ["DE"])
    _put_in_tier(gold, "Gold", 3, priority=2)

    lead = make_lead(country="DE")

    assert pending_offer(lead).partner_id == gold.pk
    with tenant_context(lead.tenant):
        (runner_up,) = routing.route_candidates(lead)
    assert runner_up.partner_id == untiered.pk
    assert runner_up.tier_score == 0
    assert runner_up.reason(lead, trigger="created")["tier"] == "0"


def test_tiers_without_a_priority_change_nothing(routing_partner, make_lead, pending_offer):
    older = routing_partner("Older", ["DE"])
    newer = routing_partner("Newer", ["DE"])
    _put_in_tier(newer, "Registered", 1, priority=0)

    offer = pending_offer(make_lead(country="DE"))

    assert offer.partner_id == older.pk
    assert offer.reason["tier"] == "0"
