"""Tier benefits take effect in deal registration: protection days and the auto-approval
threshold come from the partner's tier when the tier sets them, else from the rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from deals import services
from partners.models import Partner
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory


@pytest.fixture
def set_rules(tenant):
    def _set(**values):
        with tenant_context(tenant):
            rules = services.engagement_rules()
            for name, value in values.items():
                setattr(rules, name, value)
            rules.save()
            return rules

    return _set


def join(partner, tier):
    with tenant_context(partner.tenant):
        Partner.objects.filter(pk=partner.pk).update(tier=tier)


def protection(deal):
    return deal.protection_ends_at - deal.decided_at


def test_an_approved_deal_is_protected_for_the_tiers_days(tenant, partner, partner_rep, make_tier):
    join(partner, make_tier(tenant, 1, "Gold", deal_protection_days=150))

    deal = DealFactory(actor=partner_rep, status="approved")

    assert protection(deal) == timedelta(days=150)


def test_a_tier_without_protection_days_leaves_the_rules_days(
    tenant, partner, partner_rep, make_tier, set_rules
):
    set_rules(protection_days=45)
    join(partner, make_tier(tenant, 1, "Registered"))

    deal = DealFactory(actor=partner_rep, status="approved")

    assert protection(deal) == timedelta(days=45)


def test_a_partner_without_a_tier_gets_the_rules_days(tenant, partner_rep, set_rules):
    set_rules(protection_days=45)

    assert protection(DealFactory(actor=partner_rep, status="approved")) == timedelta(days=45)


def test_the_tiers_threshold_auto_approves_what_the_rules_would_not(
    tenant, partner, partner_rep, make_tier
):
    join(partner, make_tier(tenant, 1, "Gold", auto_approve_max_total=Decimal("1000.00")))

    deal = DealFactory(actor=partner_rep, status="submitted")

    assert (deal.status, deal.auto_approved) == ("approved", True)


def test_the_tiers_threshold_is_a_ceiling_too(tenant, partner, partner_rep, make_tier, set_rules):
    set_rules(auto_approve_max_total=Decimal("5000"))
    join(partner, make_tier(tenant, 1, "Probation", auto_approve_max_total=Decimal("999.99")))

    deal = DealFactory(actor=partner_rep, status="submitted")

    assert (deal.status, deal.auto_approved) == ("submitted", False)


def test_a_tier_without_a_threshold_leaves_the_rules_threshold(
    tenant, partner, partner_rep, make_tier, set_rules
):
    set_rules(auto_approve_max_total=Decimal("1000"))
    join(partner, make_tier(tenant, 1, "Registered"))

    assert DealFactory(actor=partner_rep, status="submitted").status == "approved"


def test_a_tier_change_by_the_engine_changes_the_next_deals_protection(
    tenant, partner, partner_rep, ladder, scores, run
):
    gold = ladder["gold"]
    with tenant_context(tenant):
        gold.deal_protection_days = 120
        gold.save()
    scores[partner.pk] = Decimal("50")
    run(tenant)

    assert protection(DealFactory(actor=partner_rep, status="approved")) == timedelta(days=120)
