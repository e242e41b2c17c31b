"""Fixtures of the tier tests: tiers with criteria, a test metric whose values the test sets
per partner, and the engine run as a job would run it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from partners import metrics
from partners.models import Partner
from partners.tenancy import tenant_context
from partners.tier_engine import tiers_evaluate
from tests.factories import PartnerFactory

SCORE = "test_score"


@pytest.fixture
def scores():
    """``scores[partner.pk] = Decimal(...)``: the values of the ``test_score`` metric."""
    values: dict[int, Decimal] = {}

    def compute(tenant, now, partner_ids=None):
        return metrics.MetricResult(
            values={k: v for k, v in values.items() if partner_ids is None or k in partner_ids}
        )

    metrics.register(SCORE, "Test score", compute)
    yield values
    metrics.unregister(SCORE)


@pytest.fixture
def ladder(tenant, make_tier, scores):
    """Acme's tiers on the test score: Registered (no criteria), Silver >= 10, Gold >= 50."""
    return {
        "registered": make_tier(tenant, 1, "Registered"),
        "silver": make_tier(tenant, 2, "Silver", [(SCORE, ">=", "10")]),
        "gold": make_tier(tenant, 3, "Gold", [(SCORE, ">=", "50")]),
    }


@pytest.fixture
def run():
    def _run(tenant, *, dry_run=False, now=None):
        return tiers_evaluate(tenant=tenant, dry_run=dry_run, now=now)

    return _run


@pytest.fixture
def reload():
    """The partner as stored now, with its tier."""

    def _reload(partner):
        with tenant_context(partner.tenant):
            return Partner.objects.select_related("tier").get(pk=partner.pk)

    return _reload


@pytest.fixture
def make_partner(tenant):
    def _make(t=None, **kwargs):
        return PartnerFactory(tenant=t or tenant, **kwargs)

    return _make
