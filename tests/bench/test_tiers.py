"""The tier engine benchmark: thresholds from the data's distribution, the report, and one
whole (tiny) run on a test tenant that leaves no change rows or events behind."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from bench.tiers import (
    LADDER,
    EngineRow,
    TierBenchmark,
    ensure_ladder,
    ladder_thresholds,
    nice_floor,
    replayable,
    table,
    threshold_for_share,
    verdict,
)
from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChange, TierCriterion
from tests.deals.factories import DealFactory
from tests.factories import MembershipFactory, PartnerFactory


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12345", "12000"), ("0.7692", "0.76"), ("470.02", "470"), ("9", "9"), ("0", "0")],
)
def test_nice_floor_rounds_down_to_two_significant_digits(value, expected):
    assert nice_floor(Decimal(value)) == Decimal(expected)


@pytest.mark.parametrize("share", [0.05, 0.1, 0.35, 0.75, 0.95])
def test_at_least_the_share_asked_for_meets_the_threshold(share):
    values = [Decimal(n * n) for n in range(1, 201)] + [None] * 20
    threshold = threshold_for_share(values, share)
    meeting = sum(1 for v in values if v is not None and v >= threshold)
    # A missing value meets nothing: at most the 200 present can.
    assert meeting >= min(share * len(values), 200)
    assert threshold == nice_floor(threshold)


def test_a_better_tier_never_asks_for_less_than_the_tier_below():
    keys = {key for _rank, _name, shares in LADDER for key in shares}
    values = {key: [Decimal(n % 17) for n in range(500)] for key in keys}

    ladder = ladder_thresholds(values)

    assert [name for _rank, name, _c in ladder] == ["Registered", "Silver", "Gold", "Platinum"]
    assert ladder[0][2] == {}
    for (_r1, _n1, lower), (_r2, _n2, upper) in pairwise(ladder[1:]):
        assert set(lower) == set(upper) == keys
        assert all(upper[key] >= lower[key] for key in keys)


def test_a_replay_leaves_transaction_control_to_its_own_transaction():
    statements = ["BEGIN", "SELECT 1", 'SAVEPOINT "s1"', "UPDATE x SET y = 1", "COMMIT"]
    assert replayable(statements) == ["SELECT 1", "UPDATE x SET y = 1"]


def test_the_report_shows_each_run_against_the_floor():
    floor = EngineRow("floor", timings=[1.0, 1.2, 0.9], queries=2)
    quick = EngineRow(
        "steady state (x)", timings=[1.5, 1.4], own_sql=[1.2], queries=9, changes=0,
        promotions=0, written=0,
    )  # fmt: skip
    slow = EngineRow(
        "cold run (x)", timings=[4.0], own_sql=[3.0], queries=12, changes=18_045,
        promotions=18_000, written=18_045,
    )  # fmt: skip

    text = table(floor, [quick, slow])

    assert "| floor" in text and "18,045" in text and "18,000" in text
    assert "1.2x" in text  # 1.45 / 1.0 (medians), steady state
    assert "4.0x" in text  # cold run
    assert verdict(floor, [quick, slow]) == (
        "Targets (under 30 s and within 2x of the metric SQL floor): steady state met (1.4x); "
        "cold run NOT met (4.0x)."
    )


@pytest.fixture
def program(tenant):
    """A few active partners with people and won deals, and one suspended partner."""
    partners = []
    for n in range(4):
        partner = PartnerFactory(tenant=tenant)
        rep = MembershipFactory(tenant=tenant, role="partner_rep", partner=partner)
        for _ in range(n):
            DealFactory(actor=rep, status="won", won_amount=Decimal("1000"))
        partners.append(partner)
    PartnerFactory(tenant=tenant, status="suspended")
    return partners


def test_the_ladder_is_made_once_with_a_criterion_on_every_metric(tenant, program):
    logged: list[str] = []
    first = ensure_ladder(tenant, log=logged.append)
    again = ensure_ladder(tenant, log=logged.append)

    assert [t.name for t in first] == ["Registered", "Silver", "Gold", "Platinum"]
    assert [t.pk for t in again] == [t.pk for t in first]
    assert len(logged) == 4
    with tenant_context(tenant):
        assert Tier.objects.count() == 4
        assert TierCriterion.objects.count() == 15
        # No benefit the deal benchmark would feel.
        assert not Tier.objects.filter(deal_protection_days__isnull=False).exists()
        assert not Tier.objects.filter(auto_approve_max_total__isnull=False).exists()


def test_a_whole_run_measures_every_figure_and_leaves_no_changes_behind(tenant, program):
    with tenant_context(tenant):
        before = (TierChange.objects.count(), OutboxEvent.objects.count())

    floor, rows, spread = TierBenchmark(tenant, runs=1, log=lambda _line: None, vacuum=False).run()

    assert floor.queries == 2 and len(floor.timings) == 1
    dry, cold, steady = rows
    assert (dry.changes, dry.promotions, dry.written) == (4, 4, 0)
    assert (cold.changes, cold.promotions, cold.written) == (4, 4, 4)
    assert (steady.changes, steady.written) == (0, 0)
    assert all(row.own_sql and row.queries for row in rows)
    assert sum(spread.values()) == 4 and spread["(none)"] == 0
    with tenant_context(tenant):
        assert (TierChange.objects.count(), OutboxEvent.objects.count()) == before
        assert Partner.objects.filter(status="active", tier__isnull=False).count() == 4
