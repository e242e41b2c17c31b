"""The registered metrics: their values on hand-built deals, the currency rule, set-wise
computation (the number of queries does not grow with the partners), and tenants apart."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals import services
from deals.metrics import APPROVAL_RATE, DEALS_REGISTERED_90D, WON_DEALS_12M, WON_REVENUE_12M
from partners import metrics
from partners.metrics import ACTIVE_USERS
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory
from tests.factories import MembershipFactory, PartnerFactory

ALL = [WON_REVENUE_12M, WON_DEALS_12M, DEALS_REGISTERED_90D, APPROVAL_RATE, ACTIVE_USERS]


def rep_of(partner):
    return MembershipFactory(tenant=partner.tenant, role="partner_rep", partner=partner)


def metric_values(tenant, partner, keys=ALL):
    with tenant_context(tenant):
        now = timezone.now()
        out = {}
        for key in keys:
            metric = metrics.get(key)
            out[key] = metric.value_for(metric.evaluate(tenant, now), partner.pk)
        return out


def test_every_metric_the_issue_asks_for_is_registered():
    assert set(ALL) <= {m.key for m in metrics.all_metrics()}


def test_a_partner_without_deals_or_people_has_zero_and_no_approval_rate(tenant, partner):
    assert metric_values(tenant, partner) == {
        WON_REVENUE_12M: Decimal("0"), WON_DEALS_12M: Decimal("0"),
        DEALS_REGISTERED_90D: Decimal("0"), APPROVAL_RATE: None, ACTIVE_USERS: Decimal("0"),
    }  # fmt: skip


def test_the_deal_metrics_count_the_partners_own_registrations(tenant, partner):
    rep = rep_of(partner)
    today = timezone.localdate()
    DealFactory(actor=rep, status="won", won_amount=Decimal("1500.00"), closed_on=today)
    DealFactory(actor=rep, status="won", won_amount=Decimal("250.50"), closed_on=today)
    DealFactory(
        actor=rep, status="won", won_amount=Decimal("9999"), closed_on=today - timedelta(days=400)
    )
    DealFactory(actor=rep, status="approved")
    DealFactory(actor=rep, status="rejected")
    DealFactory(actor=rep, status="submitted")
    DealFactory(actor=rep, status="draft")

    values = metric_values(tenant, partner)

    assert values[WON_REVENUE_12M] == Decimal("1750.50")
    assert values[WON_DEALS_12M] == Decimal("2")
    # Six submitted in the last 90 days (the draft was never registered).
    assert values[DEALS_REGISTERED_90D] == Decimal("6")
    # Four approved (three won since, one still approved) of five decided.
    assert values[APPROVAL_RATE] == Decimal("0.8000")
    assert values[ACTIVE_USERS] == Decimal("1")


def test_won_deals_in_other_currencies_are_left_out_of_revenue_with_a_warning(tenant, partner):
    with tenant_context(tenant):
        rules = services.engagement_rules()
        rules.allowed_currencies = ["USD", "EUR"]
        rules.save()
    rep = rep_of(partner)
    DealFactory(actor=rep, status="won", won_amount=Decimal("100"), currency="USD")
    DealFactory(actor=rep, status="won", won_amount=Decimal("5000"), currency="EUR")

    with tenant_context(tenant):
        result = metrics.get(WON_REVENUE_12M).evaluate(tenant, timezone.now())

    assert result.values[partner.pk] == Decimal("100.00")
    assert result.warnings[partner.pk] == ["1 won deal(s) in other currencies than USD left out."]


def test_active_partner_users_counts_only_active_people_of_the_partner(
    tenant, partner, partner_admin, partner_rep, tenant_admin
):
    MembershipFactory(tenant=tenant, role="partner_rep", partner=partner, is_active=False)
    MembershipFactory(tenant=tenant, role="partner_rep", partner=partner, user__is_active=False)

    assert metric_values(tenant, partner, [ACTIVE_USERS]) == {ACTIVE_USERS: Decimal("2")}


def test_another_tenants_deals_and_people_never_count(tenant, other_tenant, partner):
    foreign = PartnerFactory(tenant=other_tenant)
    DealFactory(actor=rep_of(foreign), status="won")

    with tenant_context(tenant):
        now = timezone.now()
        results = {key: metrics.get(key).evaluate(tenant, now) for key in ALL}

    assert all(foreign.pk not in r.values for r in results.values())


def _ladder_on_every_metric(tenant, make_tier):
    make_tier(tenant, 1, "Registered")
    make_tier(
        tenant, 2, "Gold",
        [(WON_REVENUE_12M, ">=", "1000"), (WON_DEALS_12M, ">=", "1"),
         (DEALS_REGISTERED_90D, ">=", "1"), (APPROVAL_RATE, ">=", "0.5"),
         (ACTIVE_USERS, ">=", "1")],
    )  # fmt: skip


@pytest.mark.parametrize("dry_run", [True, False])
def test_metrics_are_computed_set_wise_so_queries_do_not_grow_with_partners(
    tenant, make_tier, dry_run
):
    from partners.tier_engine import tiers_evaluate

    _ladder_on_every_metric(tenant, make_tier)

    def add_partners(n):
        for _ in range(n):
            DealFactory(actor=rep_of(PartnerFactory(tenant=tenant)), status="won")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            proposals = tiers_evaluate(tenant=tenant, dry_run=dry_run)
        return len(ctx.captured_queries), proposals

    add_partners(2)
    few, proposals_few = count()
    assert len(proposals_few) == 2
    add_partners(8)
    many, proposals_many = count()
    assert len(proposals_many) == (10 if dry_run else 8)
    # The changes are written in bulk too (one INSERT of TierChange rows, one of events).
    assert many == few


def test_the_engine_uses_the_deal_metrics_end_to_end(tenant, make_tier, partner):
    from partners.models import Partner
    from partners.tier_engine import tiers_evaluate

    _ladder_on_every_metric(tenant, make_tier)
    DealFactory(actor=rep_of(partner), status="won", won_amount=Decimal("999.99"))
    tiers_evaluate(tenant=tenant, dry_run=False)
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier.name == "Registered"

    DealFactory(actor=rep_of(partner), status="won", won_amount=Decimal("0.01"))
    [proposal] = tiers_evaluate(tenant=tenant, dry_run=False)

    assert proposal.to_tier.name == "Gold"
    assert proposal.metrics == {
        WON_REVENUE_12M: "1000.00", WON_DEALS_12M: "2", DEALS_REGISTERED_90D: "2",
        APPROVAL_RATE: "1.0000", ACTIVE_USERS: "2",
    }  # fmt: skip
