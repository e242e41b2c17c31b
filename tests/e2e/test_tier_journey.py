"""The tier journey in a real browser: a tenant admin creates tiers in the admin and runs
the tier engine; the partner's admin then sees the new tier and the progress toward the
next one on the portal home."""

from __future__ import annotations

import pytest

from partners.models import Partner
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChange
from tests.e2e.conftest import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    tenant = TenantFactory(slug="acme", name="Acme Cloud")
    northwind = PartnerFactory(tenant=tenant, name="Northwind", domain="northwind.test")
    MembershipFactory(
        tenant=tenant,
        role="tenant_admin",
        user__email="admin@acme.test",
        user__full_name="Avery Admin",
    )
    MembershipFactory(
        tenant=tenant,
        role="partner_admin",
        partner=northwind,
        user__email="padmin@northwind.test",
        user__full_name="Nora Partner",
    )
    return tenant


def _add_tier(page, *, rank: int, name: str, criterion: tuple[str, str, str] | None = None):
    page.goto("/t/acme/admin/partners/tier/add/")
    page.fill("input[name=rank]", str(rank))
    page.fill("input[name=name]", name)
    if criterion:
        metric, operator, threshold = criterion
        page.select_option("select[name=criteria-0-metric]", metric)
        page.select_option("select[name=criteria-0-operator]", operator)
        page.fill("input[name=criteria-0-threshold]", threshold)
    page.click("input[name=_save]")
    page.wait_for_load_state("networkidle")
    assert page.locator(".messagelist .success").count() == 1, page.content()


def test_an_admin_creates_tiers_runs_the_engine_and_the_partner_sees_tier_and_progress(page, acme):
    sign_in(page, "admin@acme.test")
    _add_tier(page, rank=1, name="Registered")
    _add_tier(page, rank=2, name="Silver", criterion=("active_partner_users", ">=", "3"))

    page.goto("/t/acme/admin/partners/tier/")
    page.get_by_role("button", name="Re-evaluate tiers now").click()
    page.wait_for_load_state("networkidle")
    assert "1 partner changed tier" in page.locator(".messagelist").inner_text()

    with tenant_context(acme):
        northwind = Partner.objects.select_related("tier").get(domain="northwind.test")
        assert northwind.tier.name == "Registered"
        change = TierChange.objects.get(partner=northwind)
        assert change.to_tier == Tier.objects.get(name="Registered")
        assert change.metrics["values"] == {"active_partner_users": "1"}

    page.context.clear_cookies()
    sign_in(page, "padmin@northwind.test")
    page.goto("/t/acme/portal/")
    tier_panel = page.locator("#tier-progress")
    text = tier_panel.inner_text()
    assert "Registered" in text
    assert "Silver" in text
    # One active partner user of the three Silver asks for: two to go.
    assert "Active partner users" in text
    criterion = tier_panel.locator("[data-metric=active_partner_users]")
    assert "1" in criterion.inner_text() and "3" in criterion.inner_text()
    assert "2" in criterion.locator("[data-missing]").inner_text()
