"""Which tier a partner earns: the highest-rank tier whose criteria all hold, at and around
every threshold and for every operator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partners.tenancy import tenant_context
from partners.tier_engine import earned_tier
from partners.tiers import Operator, Tier, TierCriterion, criterion_holds
from tests.tiers.conftest import SCORE

COMPARE = {
    ">=": lambda v, t: v >= t,
    ">": lambda v, t: v > t,
    "<=": lambda v, t: v <= t,
    "<": lambda v, t: v < t,
    "==": lambda v, t: v == t,
}
amounts = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)


@given(operator=st.sampled_from([o.value for o in Operator]), value=amounts, threshold=amounts)
def test_a_criterion_holds_exactly_when_the_comparison_does(operator, value, threshold):
    assert criterion_holds(operator, value, threshold) is COMPARE[operator](value, threshold)


@pytest.mark.parametrize("operator", [o.value for o in Operator])
def test_a_missing_value_never_meets_a_criterion(operator):
    assert criterion_holds(operator, None, Decimal("0")) is False


@given(
    thresholds=st.lists(amounts, min_size=1, max_size=5, unique=True),
    value=amounts,
)
def test_the_earned_tier_is_the_best_tier_whose_criteria_all_hold(thresholds, value):
    tiers = [Tier(pk=i + 1, rank=i + 1, name=f"T{i}") for i in range(len(thresholds))]
    criteria = {
        t.pk: [TierCriterion(tier_id=t.pk, metric=SCORE, operator=">=", threshold=th)]
        for t, th in zip(tiers, thresholds, strict=True)
    }
    best_first = sorted(tiers, key=lambda t: -t.rank)
    earned = earned_tier(best_first, criteria, {SCORE: value})
    qualifying = [t for t in tiers if value >= criteria[t.pk][0].threshold]
    expected = max(qualifying, key=lambda t: t.rank) if qualifying else None
    assert earned == expected


def test_every_criterion_of_a_tier_must_hold():
    tier = Tier(pk=1, rank=1, name="Both")
    criteria = {
        1: [
            TierCriterion(tier_id=1, metric="a", operator=">=", threshold=Decimal("10")),
            TierCriterion(tier_id=1, metric="b", operator="<", threshold=Decimal("5")),
        ]
    }
    assert earned_tier([tier], criteria, {"a": Decimal("10"), "b": Decimal("4.99")}) == tier
    assert earned_tier([tier], criteria, {"a": Decimal("10"), "b": Decimal("5")}) is None
    assert earned_tier([tier], criteria, {"a": Decimal("9.99"), "b": Decimal("0")}) is None
    assert earned_tier([tier], criteria, {"a": Decimal("10")}) is None


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ("0", "registered"),
        ("9.99", "registered"),
        ("10", "silver"),
        ("10.01", "silver"),
        ("49.99", "silver"),
        ("50", "gold"),
        ("50.01", "gold"),
    ],
)
def test_the_engine_places_a_new_partner_by_its_score_around_each_threshold(
    tenant, ladder, scores, make_partner, run, reload, score, expected
):
    partner = make_partner()
    scores[partner.pk] = Decimal(score)

    run(tenant)

    assert reload(partner).tier == ladder[expected]


@pytest.mark.parametrize(
    ("operator", "score", "earned"),
    [
        (">", "10", False), (">", "10.01", True),
        (">=", "9.99", False), (">=", "10", True),
        ("<", "10", False), ("<", "9.99", True),
        ("<=", "10.01", False), ("<=", "10", True),
        ("==", "10.01", False), ("==", "10", True), ("==", "9.99", False),
    ],
)  # fmt: skip
def test_each_operator_decides_at_its_threshold_in_the_engine(
    tenant, make_tier, scores, make_partner, run, reload, operator, score, earned
):
    tier = make_tier(tenant, 1, "Only", [(SCORE, operator, "10")])
    partner = make_partner()
    scores[partner.pk] = Decimal(score)

    run(tenant)

    assert (reload(partner).tier == tier) is earned


def test_a_partner_that_meets_no_tier_stays_without_one(
    tenant, make_tier, scores, make_partner, run, reload
):
    make_tier(tenant, 1, "Silver", [(SCORE, ">=", "10")])
    partner = make_partner()

    assert run(tenant) == []
    assert reload(partner).tier is None


def test_a_criterion_on_an_unknown_metric_is_refused(tenant, make_tier):
    from django.core.exceptions import ValidationError

    tier = make_tier(tenant, 1, "Silver")
    criterion = TierCriterion(tenant=tenant, tier=tier, metric="nonsense", threshold=Decimal(1))
    with tenant_context(tenant), pytest.raises(ValidationError) as error:
        criterion.full_clean()
    assert "metric" in error.value.message_dict


def test_a_criterion_on_a_registered_metric_is_accepted(tenant, make_tier):
    tier = make_tier(tenant, 1, "Silver")
    with tenant_context(tenant):
        TierCriterion(
            tenant=tenant, tier=tier, metric="won_deals_12m", operator=">=", threshold=Decimal(1)
        ).full_clean()
