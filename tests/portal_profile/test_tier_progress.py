"""The portal home's tier section: the partner's tier, its benefits, and progress toward
the next tier, criterion by criterion, at and around every threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from partners import metrics, selectors, tier_display
from partners.models import Partner, Tenant
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory
from tests.partners.html import parse, text
from tests.portal_profile.conftest import POINTS, RATE, REVENUE

pytestmark = pytest.mark.django_db

HOME = "/t/acme/portal/"
NBSP = " "  # text() reads a no-break space as a space


def rows(partner):
    """The criterion rows the home page shows (USD), computed as the view computes them."""
    with tenant_context(partner.tenant):
        partner = Partner.objects.get(pk=partner.pk)
        progress = selectors.partner_tier_progress(partner=partner)
    return progress, tier_display.criterion_rows(progress, "USD")


def progress_bars(response) -> list[str]:
    return [attrs["value"] for tag, attrs in parse(response).tags if tag == "progress"]


# ---------------------------------------------------------------- at and around thresholds


@pytest.mark.parametrize(
    ("value", "met", "missing", "percent"),
    [
        ("0", False, "50", 0),
        ("25", False, "25", 50),
        ("49", False, "1", 98),
        ("49.99", False, "0.01", 99),  # never a full bar for a criterion not met
        ("50", True, "", 100),
        ("51", True, "", 100),
        ("5000", True, "", 100),  # capped
    ],
)
def test_progress_toward_gold_at_and_around_its_threshold(
    partner, ladder, points, set_tier, value, met, missing, percent
):
    set_tier(partner, ladder["silver"])
    points[partner.pk] = Decimal(value)
    progress, (row,) = rows(partner)
    assert progress.tier == ladder["silver"]
    assert progress.next_tier == ladder["gold"]
    assert (row.label, row.threshold, row.met, row.missing, row.percent) == (
        "Test points", "50", met, missing, percent,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "met", "percent", "missing"),
    [("9", False, 90, "1"), ("10", True, 100, ""), ("11", True, 100, "")],
)
def test_a_partner_without_a_tier_sees_progress_toward_the_first_tier_with_criteria(
    partner, make_tier, tenant, points, value, met, percent, missing
):
    make_tier(tenant, 2, "Silver", [(POINTS, ">=", "10")])
    points[partner.pk] = Decimal(value)
    progress, (row,) = rows(partner)
    assert progress.tier is None
    assert progress.next_tier.name == "Silver"
    assert (row.value, row.met, row.percent, row.missing) == (value, met, percent, missing)


@pytest.mark.parametrize(
    ("operator", "value", "met", "missing", "percent"),
    [
        (">", "40", False, "more than 10", 80),
        (">", "50", False, "must be > 50", 99),
        (">", "50.5", True, "", 100),
        ("<=", "50", True, "", 100),
        ("<=", "100", False, "must be ≤ 50", 50),
        ("<", "50", False, "must be < 50", 99),
        ("==", "49", False, "must be = 50", 0),
        ("==", "50", True, "", 100),
    ],
)
def test_other_operators_say_what_the_value_must_be(
    partner, make_tier, tenant, points, operator, value, met, missing, percent
):
    make_tier(tenant, 2, "Silver", [(POINTS, operator, "50")])
    points[partner.pk] = Decimal(value)
    _progress, (row,) = rows(partner)
    assert (row.met, row.missing, row.percent) == (met, missing, percent)


@given(
    value=st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    threshold=st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    operator=st.sampled_from([">=", ">", "<=", "<", "=="]),
)
def test_the_bar_is_full_exactly_when_the_criterion_holds(value, threshold, operator):
    from partners.tiers import criterion_holds

    met = criterion_holds(operator, value, threshold)
    percent = tier_display.progress_percent(operator, value, threshold, met)
    assert 0 <= percent <= 100
    assert (percent == 100) == met


def test_a_missing_value_is_shown_as_such_and_misses_the_whole_threshold(
    partner, make_tier, tenant, rate
):
    make_tier(tenant, 2, "Silver", [(RATE, ">=", "0.8")])
    _progress, (row,) = rows(partner)
    assert (row.value, row.met, row.percent) == ("no value yet", False, 0)
    assert row.missing == "80 percentage points"


# ---------------------------------------------------------------- units


def test_money_metrics_are_shown_in_the_tenants_default_currency(
    login, partner, partner_rep, tenant, make_tier, revenue
):
    Tenant.objects.filter(pk=tenant.pk).update(default_currency="EUR")
    make_tier(tenant, 2, "Silver", [(REVENUE, ">=", "100000")])
    revenue[partner.pk] = Decimal("87500.5")
    page = text(login(partner_rep).get(HOME))
    assert f"87,500.50{NBSP}EUR" in page
    assert f"100,000.00{NBSP}EUR" in page
    assert f"12,499.50{NBSP}EUR" in page  # missing


def test_fractions_are_shown_as_percentages(login, partner, partner_rep, tenant, make_tier, rate):
    make_tier(tenant, 2, "Silver", [(RATE, ">=", "0.8")])
    rate[partner.pk] = Decimal("0.75")
    page = text(login(partner_rep).get(HOME))
    assert f"75{NBSP}%" in page
    assert f"80{NBSP}%" in page
    assert "5 percentage points" in page


def test_the_approval_rate_metric_is_a_fraction():
    assert metrics.get("approval_rate").unit == tier_display.FRACTION
    assert metrics.get("won_revenue_12m").unit == tier_display.CURRENCY


# ---------------------------------------------------------------- the page


def test_portal_home_shows_tier_benefits_and_progress(
    login, partner, partner_rep, tenant, make_tier, points, set_tier
):
    silver = make_tier(
        tenant, 2, "Silver", [(POINTS, ">=", "10")], description="For growing partners.",
        deal_protection_days=120, auto_approve_max_total=Decimal("25000"),
        commission_multiplier=Decimal("1.25"), lead_routing_priority=5,
    )  # fmt: skip
    make_tier(tenant, 3, "Gold", [(POINTS, ">=", "50")])
    set_tier(partner, silver)
    points[partner.pk] = Decimal("30")
    response = login(partner_rep).get(HOME)
    assert response.status_code == 200
    page = text(response)
    assert "Your tier: Silver" in page
    assert "For growing partners." in page
    assert "Deal protection 120 days" in page
    assert f"Auto-approve registrations up to 25,000.00{NBSP}USD" in page
    assert f"Commission multiplier \N{MULTIPLICATION SIGN}{NBSP}1.25" in page
    assert "MDF allowance program default" in page
    assert "Lead-routing priority 5" in page
    assert "Progress toward Gold" in page
    assert "Test points 30 ≥ 50 Not yet 20" in page
    assert progress_bars(response) == ["60"]
    html = response.content.decode()
    assert 'id="tier-progress"' in html
    assert f'<tr data-metric="{POINTS}">' in html


def test_empty_benefits_say_program_default(
    login, partner, partner_rep, tenant, make_tier, set_tier
):
    set_tier(partner, make_tier(tenant, 1, "Registered"))
    page = text(login(partner_rep).get(HOME))
    assert "Deal protection program default" in page
    assert "Auto-approve registrations up to program default" in page
    assert "MDF allowance program default" in page


def test_a_met_criterion_shows_a_full_bar(login, partner, partner_rep, ladder, points, set_tier):
    set_tier(partner, ladder["silver"])
    points[partner.pk] = Decimal("50")
    response = login(partner_rep).get(HOME)
    assert "Test points 50 ≥ 50 Yes" in text(response)
    assert progress_bars(response) == ["100"]


def test_the_highest_tier_says_there_is_no_higher_one(
    login, partner, partner_rep, ladder, set_tier
):
    set_tier(partner, ladder["gold"])
    response = login(partner_rep).get(HOME)
    page = text(response)
    assert "Your tier: Gold" in page
    assert "You are in the program's highest tier." in page
    assert "Progress toward" not in page
    assert progress_bars(response) == []


def test_a_next_tier_without_criteria_says_the_next_evaluation_places_you(
    login, partner_rep, ladder
):
    page = text(login(partner_rep).get(HOME))
    assert "Your organization has no tier yet." in page
    assert "Registered has no entry criteria" in page


def test_a_program_without_tiers_says_so(login, partner_rep):
    page = text(login(partner_rep).get(HOME))
    assert "The program has no tiers yet." in page


def test_metric_warnings_are_shown(login, partner, partner_rep, tenant, make_tier, warn):
    make_tier(tenant, 2, "Silver", [("portal_test_warned", ">=", "1")])
    warn[partner.pk] = "2 won deals in EUR were left out of the revenue."
    assert "2 won deals in EUR were left out of the revenue." in text(login(partner_rep).get(HOME))


def test_each_partner_sees_only_their_own_progress(
    login, partner, contoso, contoso_rep, ladder, points, set_tier
):
    set_tier(partner, ladder["silver"])
    set_tier(contoso, ladder["registered"])
    points[partner.pk] = Decimal("45")
    points[contoso.pk] = Decimal("3")
    page = text(login(contoso_rep).get(HOME))
    assert "Progress toward Silver" in page
    assert "Test points 3 ≥ 10" in page
    assert "45" not in page


def test_the_home_page_query_count_is_bounded(
    login, partner, partner_rep, tenant, make_tier, points, revenue, set_tier
):
    """Reading the page costs the same with one criterion or many tiers, criteria and
    colleagues: one query per tier table and one per metric, none per row."""

    def count() -> int:
        client = login(partner_rep)
        client.get(HOME)  # warm the session and permission caches
        with CaptureQueriesContext(connection) as queries:
            assert client.get(HOME).status_code == 200
        return len(queries)

    silver = make_tier(tenant, 2, "Silver", [(POINTS, ">=", "10")])
    make_tier(tenant, 3, "Gold", [(POINTS, ">=", "50"), (REVENUE, ">=", "1000")])
    set_tier(partner, silver)
    small = count()
    make_tier(tenant, 4, "Platinum", [(POINTS, ">=", "90"), (REVENUE, ">=", "9000")])
    make_tier(tenant, 5, "Diamond", [(POINTS, ">=", "99")])
    for n in range(5):
        MembershipFactory(
            tenant=tenant, role="partner_rep", partner=partner, user__email=f"rep{n}@nw.test"
        )
    assert count() == small
    assert small <= 18
