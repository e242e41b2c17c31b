"""The deal journey in a real browser: a partner rep registers a deal in the portal, a channel
manager approves it from the review queue, and the rep marks it won."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals.models import Deal, DealStatus, DealTransition, Product
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.e2e.conftest import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    tenant = TenantFactory(slug="acme", name="Acme Cloud")
    northwind = PartnerFactory(tenant=tenant, name="Northwind", domain="northwind.test")
    MembershipFactory(
        tenant=tenant,
        role="partner_rep",
        partner=northwind,
        user__email="rep@northwind.test",
        user__full_name="Riley Rep",
    )
    MembershipFactory(
        tenant=tenant,
        role="channel_manager",
        user__email="manager@acme.test",
        user__full_name="Morgan Manager",
    )
    ProductFactory(
        tenant=tenant,
        sku="ACME-CLD-STD",
        name="Cloud Platform Standard",
        list_price=Decimal("1200.00"),
        currency="USD",
    )
    return tenant


@pytest.fixture
def manager_page(browser, live_server):
    """A second browser, for the channel manager (the rep stays signed in on ``page``)."""
    context = browser.new_context(base_url=live_server.url)
    second = context.new_page()
    second.set_default_timeout(15000)
    yield second
    context.close()


def test_a_rep_registers_a_deal_a_manager_approves_it_and_the_rep_marks_it_won(
    page, manager_page, acme, tmp_path
):
    close_date = timezone.localdate() + timedelta(days=45)

    # The partner rep registers the deal in the portal.
    sign_in(page, "rep@northwind.test")
    page.get_by_role("link", name="My deals").first.click()
    page.get_by_role("button", name="Register a deal").first.click()
    page.fill("#id_customer_name", "Blue Harbor Logistics")
    page.fill("#id_customer_domain", "https://www.blueharbor.example")
    page.fill("#id_country", "US")
    page.fill("#id_contact_name", "Dana Whitfield")
    page.fill("#id_contact_email", "dana@blueharbor.example")
    page.select_option("#id_currency", "USD")
    page.fill("#id_expected_close_date", close_date.isoformat())
    with tenant_context(acme):
        product = Product.objects.get(sku="ACME-CLD-STD")
    page.select_option("#id_lines-0-product", str(product.pk))
    page.fill("#id_lines-0-quantity", "3")
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_load_state("networkidle")

    assert "/t/acme/deals/" in page.url
    body = page.locator("body").inner_text()
    assert "Blue Harbor Logistics" in body
    assert "under review" in body
    with tenant_context(acme):
        deal = Deal.objects.get(customer_name="Blue Harbor Logistics")
    assert deal.status == DealStatus.SUBMITTED
    assert deal.total == Decimal("3600.00")
    assert page.url.endswith(f"/t/acme/deals/{deal.pk}/")

    # The channel manager finds it in the review queue and approves it.
    sign_in(manager_page, "manager@acme.test")
    manager_page.get_by_role("link", name="Review queue").first.click()
    row = manager_page.locator(f'tr[data-deal-id="{deal.pk}"]')
    assert "Northwind" in row.inner_text()
    row.get_by_role("link", name="Blue Harbor Logistics").click()
    manager_page.wait_for_load_state("networkidle")
    approve = manager_page.locator(f'form[action$="/console/deals/{deal.pk}/approve/"]')
    approve.locator("textarea").first.fill("Welcome aboard.")
    approve.get_by_role("button", name="Approve").click()
    manager_page.wait_for_load_state("networkidle")

    assert "Registration approved." in manager_page.locator("body").inner_text()
    with tenant_context(acme):
        deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED
    assert deal.protection_ends_at is not None

    # The rep sees the approval and marks the deal won.
    page.reload()
    assert "protected for you until" in page.locator("body").inner_text()
    page.locator("summary", has_text="Mark as won").click()
    won = page.locator(f'form[action$="/deals/{deal.pk}/won/"]')
    won.locator("#id_won-final_amount").fill("3450.00")
    won.locator("#id_won-closed_on").fill(timezone.localdate().isoformat())
    won.get_by_role("button", name="Mark as won").click()
    page.wait_for_load_state("networkidle")

    body = page.locator("body").inner_text()
    assert "the deal is marked won" in body
    assert "3,450.00" in body or "3450.00" in body
    page.screenshot(path=str(tmp_path / "deal-won.png"), full_page=True)
    with tenant_context(acme):
        deal.refresh_from_db()
        timeline = list(
            DealTransition.objects.filter(deal=deal)
            .order_by("at", "id")
            .values_list("to_status", "actor__email")
        )
    assert (deal.status, deal.won_amount, deal.closed_on) == (
        DealStatus.WON,
        Decimal("3450.00"),
        timezone.localdate(),
    )
    assert timeline == [
        ("draft", "rep@northwind.test"),
        ("submitted", "rep@northwind.test"),
        ("approved", "manager@acme.test"),
        ("won", "rep@northwind.test"),
    ]
