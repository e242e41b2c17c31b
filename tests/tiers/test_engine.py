"""The tier engine over time: promotion at once, demotion only after the grace period,
recovery within grace, pins, the history, the outbox event, the dry run, and tenants kept
apart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tier_engine import EVENT, tier_pin
from partners.tiers import TierChange
from tests.factories import PartnerFactory
from tests.tiers.conftest import SCORE


def changes_of(partner):
    with tenant_context(partner.tenant):
        changes = TierChange.objects.filter(partner=partner).select_related("from_tier", "to_tier")
        return list(changes.order_by("at", "id"))


def put_in(partner, tier):
    with tenant_context(partner.tenant):
        Partner.objects.filter(pk=partner.pk).update(tier=tier)


@pytest.fixture
def gold_partner(tenant, ladder, scores, make_partner, run):
    partner = make_partner()
    scores[partner.pk] = Decimal("60")
    run(tenant)
    return partner


def test_a_partner_meeting_a_better_tier_is_promoted_at_once(
    tenant, ladder, scores, make_partner, run, reload
):
    partner = make_partner()
    put_in(partner, ladder["registered"])
    scores[partner.pk] = Decimal("60")

    proposals = run(tenant)

    assert reload(partner).tier == ladder["gold"]
    assert [(p.partner_id, p.from_tier, p.to_tier, p.kind) for p in proposals] == [
        (partner.pk, ladder["registered"], ladder["gold"], "promotion")
    ]
    [change] = changes_of(partner)
    assert (change.from_tier, change.to_tier, change.kind) == (
        ladder["registered"], ladder["gold"], "promotion",
    )  # fmt: skip


def test_the_history_row_holds_the_deciding_metric_values_and_why(
    tenant, ladder, scores, make_partner, run
):
    partner = make_partner()
    scores[partner.pk] = Decimal("12.50")

    run(tenant)

    [change] = changes_of(partner)
    assert change.metrics["values"] == {SCORE: "12.50"}
    assert "Silver" in change.reason
    # The criterion in words: the metric's label, the value, the threshold as written.
    assert "Test score = 12.50 >= 10 ✓" in change.reason


def test_every_change_announces_partner_tier_changed_in_the_outbox(
    tenant, ladder, scores, make_partner, run
):
    partner = make_partner()
    scores[partner.pk] = Decimal("60")

    run(tenant)

    [change] = changes_of(partner)
    with tenant_context(tenant):
        [event] = OutboxEvent.objects.filter(name=EVENT)
    assert event.payload == {
        "partner_id": partner.pk, "change_id": change.pk, "kind": "promotion",
        "from_tier_id": None, "to_tier_id": ladder["gold"].pk,
    }  # fmt: skip


def test_a_second_run_without_new_facts_changes_nothing(tenant, gold_partner, run):
    assert run(tenant) == []
    assert len(changes_of(gold_partner)) == 1


def test_falling_short_starts_the_grace_period_and_keeps_the_tier(
    tenant, ladder, scores, gold_partner, run, reload
):
    scores[gold_partner.pk] = Decimal("20")
    now = timezone.now()

    assert run(tenant, now=now) == []

    stored = reload(gold_partner)
    assert stored.tier == ladder["gold"]
    assert stored.tier_shortfall_since == now


def test_a_partner_is_not_demoted_a_moment_before_the_grace_period_ends(
    tenant, ladder, scores, gold_partner, run, reload
):
    scores[gold_partner.pk] = Decimal("20")
    start = timezone.now()
    run(tenant, now=start)

    assert run(tenant, now=start + timedelta(days=90) - timedelta(seconds=1)) == []

    stored = reload(gold_partner)
    assert stored.tier == ladder["gold"]
    assert stored.tier_shortfall_since == start


def test_a_partner_is_demoted_to_the_tier_it_earns_once_the_grace_period_has_passed(
    tenant, ladder, scores, gold_partner, run, reload
):
    scores[gold_partner.pk] = Decimal("20")
    start = timezone.now()
    run(tenant, now=start)

    [proposal] = run(tenant, now=start + timedelta(days=90))

    stored = reload(gold_partner)
    assert stored.tier == ladder["silver"]
    assert stored.tier_shortfall_since is None
    assert (proposal.from_tier, proposal.to_tier, proposal.kind) == (
        ladder["gold"], ladder["silver"], "demotion",
    )  # fmt: skip
    demotion = changes_of(gold_partner)[-1]
    assert demotion.kind == "demotion"
    assert demotion.metrics["values"] == {SCORE: "20"}
    assert "90-day grace period" in demotion.reason


def test_the_tenant_sets_the_grace_period(tenant, ladder, scores, gold_partner, run, reload):
    tenant.settings = {**tenant.settings, "tier_demotion_grace_days": 10}
    tenant.save()
    scores[gold_partner.pk] = Decimal("0")
    start = timezone.now()
    run(tenant, now=start)

    assert run(tenant, now=start + timedelta(days=9)) == []
    run(tenant, now=start + timedelta(days=10))

    assert reload(gold_partner).tier == ladder["registered"]


def test_a_partner_that_recovers_within_grace_keeps_its_tier_and_the_clock_restarts(
    tenant, ladder, scores, gold_partner, run, reload
):
    start = timezone.now()
    scores[gold_partner.pk] = Decimal("20")
    run(tenant, now=start)
    scores[gold_partner.pk] = Decimal("55")
    run(tenant, now=start + timedelta(days=30))
    assert reload(gold_partner).tier_shortfall_since is None

    scores[gold_partner.pk] = Decimal("20")
    later = start + timedelta(days=100)
    assert run(tenant, now=later) == []

    stored = reload(gold_partner)
    assert stored.tier == ladder["gold"]
    assert stored.tier_shortfall_since == later
    assert len(changes_of(gold_partner)) == 1


def test_a_pinned_partner_keeps_its_tier_until_the_pin_ends(
    tenant, ladder, scores, make_partner, run, reload
):
    partner = make_partner()
    scores[partner.pk] = Decimal("60")
    today = timezone.localdate()
    with tenant_context(tenant):
        change = tier_pin(partner=partner, tier=ladder["silver"], until=today + timedelta(days=5))
    assert (change.kind, change.to_tier) == ("pin", ladder["silver"])

    assert run(tenant) == []
    assert run(tenant, now=timezone.now() + timedelta(days=5)) == []
    assert reload(partner).tier == ladder["silver"]

    [proposal] = run(tenant, now=timezone.now() + timedelta(days=6))
    assert (proposal.kind, proposal.to_tier) == ("promotion", ladder["gold"])


def test_a_pinned_partner_is_not_demoted_nor_marked_short(
    tenant, ladder, scores, gold_partner, run, reload
):
    with tenant_context(tenant):
        tier_pin(partner=gold_partner, tier=ladder["gold"], until=timezone.localdate())
    scores[gold_partner.pk] = Decimal("0")

    assert run(tenant, now=timezone.now() + timedelta(hours=1)) == []

    stored = reload(gold_partner)
    assert stored.tier == ladder["gold"]
    assert stored.tier_shortfall_since is None


def test_a_pin_cannot_end_in_the_past(tenant, ladder, make_partner):
    from django.core.exceptions import ValidationError

    partner = make_partner()
    with tenant_context(tenant), pytest.raises(ValidationError):
        tier_pin(partner=partner, tier=ladder["gold"], until=timezone.localdate() - timedelta(1))
    assert changes_of(partner) == []


def test_only_active_partners_are_evaluated(tenant, ladder, scores, make_partner, run, reload):
    suspended = make_partner(status="suspended")
    scores[suspended.pk] = Decimal("60")

    assert run(tenant) == []
    assert reload(suspended).tier is None


def test_the_dry_run_reports_what_would_change_and_why_and_changes_nothing(
    tenant, ladder, scores, gold_partner, make_partner, run, reload
):
    newcomer = make_partner()
    scores[newcomer.pk] = Decimal("15")
    scores[gold_partner.pk] = Decimal("0")
    with tenant_context(tenant):
        Partner.objects.filter(pk=gold_partner.pk).update(
            tier_shortfall_since=timezone.now() - timedelta(days=91)
        )
        before = (TierChange.objects.count(), OutboxEvent.objects.count())
        partners_before = list(
            Partner.objects.order_by("id").values_list("id", "tier", "tier_shortfall_since")
        )

    proposals = run(tenant, dry_run=True)

    assert sorted((p.partner_id, p.to_tier.name, p.kind) for p in proposals) == sorted(
        [(newcomer.pk, "Silver", "promotion"), (gold_partner.pk, "Registered", "demotion")]
    )
    assert all(p.reason and p.change_id is None for p in proposals)
    with tenant_context(tenant):
        assert (TierChange.objects.count(), OutboxEvent.objects.count()) == before
        assert (
            list(Partner.objects.order_by("id").values_list("id", "tier", "tier_shortfall_since"))
            == partners_before
        )


def test_the_dry_run_does_not_start_a_grace_period(
    tenant, ladder, scores, gold_partner, run, reload
):
    scores[gold_partner.pk] = Decimal("0")

    run(tenant, dry_run=True)

    assert reload(gold_partner).tier_shortfall_since is None


def test_another_tenants_partners_and_tiers_never_take_part(
    tenant, other_tenant, ladder, make_tier, scores, make_partner, run, reload
):
    own = make_partner()
    foreign = PartnerFactory(tenant=other_tenant)
    foreign_gold = make_tier(other_tenant, 9, "Globex Gold", [(SCORE, ">=", "0")])
    scores[own.pk] = Decimal("60")
    scores[foreign.pk] = Decimal("60")

    proposals = run(tenant)

    assert [p.partner_id for p in proposals] == [own.pk]
    assert reload(own).tier == ladder["gold"]
    assert reload(foreign).tier is None
    with tenant_context(other_tenant):
        assert not TierChange.objects.exists()
    run(other_tenant)
    assert reload(foreign).tier == foreign_gold
    assert reload(own).tier == ladder["gold"]


def test_a_partner_that_meets_no_tier_any_more_loses_its_tier_after_grace(
    tenant, make_tier, scores, make_partner, run, reload
):
    silver = make_tier(tenant, 1, "Silver", [(SCORE, ">=", "10")])
    partner = make_partner()
    scores[partner.pk] = Decimal("10")
    run(tenant)
    scores[partner.pk] = Decimal("9")
    start = timezone.now()
    run(tenant, now=start)

    [proposal] = run(tenant, now=start + timedelta(days=90))

    assert (proposal.from_tier, proposal.to_tier, proposal.kind) == (silver, None, "demotion")
    assert reload(partner).tier is None
