"""Fixtures of the partner-portal profile tests: a test metric whose values a test sets per
partner (the pattern of tests/tiers/conftest.py, under its own key), tiers, and reading a
partner or a membership as stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from partners import metrics
from partners.models import Membership, Partner
from partners.tenancy import tenant_context

POINTS = "portal_test_points"
REVENUE = "portal_test_revenue"
RATE = "portal_test_rate"


def _register(key: str, label: str, *, unit: str = "", default=Decimal("0")):
    values: dict[int, Decimal] = {}

    def compute(tenant, now, partner_ids=None):
        return metrics.MetricResult(
            values={k: v for k, v in values.items() if partner_ids is None or k in partner_ids}
        )

    metrics.register(key, label, compute, unit=unit, default=default)
    return values


@pytest.fixture
def points():
    """``points[partner.pk] = Decimal(...)``: the values of the ``portal_test_points`` metric."""
    yield _register(POINTS, "Test points")
    metrics.unregister(POINTS)


@pytest.fixture
def revenue():
    """A money metric (unit "currency") whose values the test sets per partner."""
    yield _register(REVENUE, "Test revenue", unit="currency")
    metrics.unregister(REVENUE)


@pytest.fixture
def rate():
    """A fraction metric (unit "fraction", no value by default) like the approval rate."""
    yield _register(RATE, "Test rate", unit="fraction", default=None)
    metrics.unregister(RATE)


@pytest.fixture
def warn():
    """A metric that qualifies a partner's value with a warning: ``warn[pk] = "..."``."""
    messages: dict[int, str] = {}

    def compute(tenant, now, partner_ids=None):
        return metrics.MetricResult(
            values={pid: Decimal("1") for pid in messages},
            warnings={pid: [text] for pid, text in messages.items()},
        )

    metrics.register("portal_test_warned", "Warned metric", compute)
    yield messages
    metrics.unregister("portal_test_warned")


@pytest.fixture
def ladder(tenant, make_tier, points):
    """Acme's tiers on the test points: Registered (none), Silver >= 10, Gold >= 50."""
    return {
        "registered": make_tier(tenant, 1, "Registered"),
        "silver": make_tier(tenant, 2, "Silver", [(POINTS, ">=", "10")]),
        "gold": make_tier(tenant, 3, "Gold", [(POINTS, ">=", "50")]),
    }


@pytest.fixture
def set_tier():
    """Put a partner in a tier directly (the engine's own tests cover how it gets there)."""

    def _set(partner, tier):
        with tenant_context(partner.tenant):
            Partner.objects.filter(pk=partner.pk).update(tier=tier)

    return _set


@pytest.fixture
def stored_partner():
    def _get(partner):
        with tenant_context(partner.tenant):
            return Partner.objects.get(pk=partner.pk)

    return _get


@pytest.fixture
def stored_membership():
    def _get(membership):
        with tenant_context(membership.tenant):
            return Membership.objects.get(pk=membership.pk)

    return _get
