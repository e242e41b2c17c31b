"""A suspended or offboarded partner's users are told why, on the portal and when they try
to register a deal, and registering is refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from deals import services as deal_services
from deals.models import Deal
from deals.services import DealInput
from partners import services
from partners.models import Partner
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.partners.html import text

pytestmark = pytest.mark.django_db

HOME = "/t/acme/portal/"
PROFILE = "/t/acme/portal/profile/"
REASON = "Unpaid invoices since March."


@pytest.fixture
def suspend(tenant_admin):
    def _suspend(partner, reason=REASON):
        with tenant_context(partner.tenant, tenant_admin):
            return services.partner_suspend(actor=tenant_admin, partner=partner, reason=reason)

    return _suspend


@pytest.fixture
def offboard(tenant_admin):
    def _offboard(partner, reason="Contract ended."):
        with tenant_context(partner.tenant, tenant_admin):
            return services.partner_set_status(
                actor=tenant_admin, partner=partner, status="offboarded", reason=reason
            )

    return _offboard


def register(actor):
    """Try to register a deal as ``actor`` (the refusal comes before the input is read)."""
    data = DealInput(
        customer_name="Blue Harbor Logistics", country="US", currency="USD",
        expected_close_date=timezone.localdate() + timedelta(days=30),
    )  # fmt: skip
    with tenant_context(actor.tenant, actor):
        actor.partner.refresh_from_db()
        return deal_services.deal_create(actor=actor, data=data)


def deal_count(tenant) -> int:
    with tenant_context(tenant):
        return Deal.objects.count()


# ---------------------------------------------------------------- the banner


@pytest.mark.parametrize("url", [HOME, PROFILE])
@pytest.mark.parametrize("who", ["partner_admin", "partner_rep"])
def test_a_suspended_partners_users_see_a_banner_with_the_reason(
    login, request, partner, suspend, url, who
):
    suspend(partner)
    response = login(request.getfixturevalue(who)).get(url)
    assert response.status_code == 200
    page = text(response)
    assert "Northwind is suspended from the program. Deals cannot be registered." in page
    assert f"Reason: {REASON}" in page
    assert 'role="alert"' in response.content.decode()


def test_an_offboarded_partners_users_see_that_they_left_and_why(
    login, partner, partner_rep, offboard
):
    offboard(partner)
    page = text(login(partner_rep).get(HOME))
    assert "Northwind has left the program. Deals cannot be registered." in page
    assert "Reason: Contract ended." in page


def test_an_active_partner_sees_no_banner(login, partner_rep, contoso, contoso_rep, suspend):
    suspend(contoso)  # another organization's suspension is none of Northwind's business
    page = text(login(partner_rep).get(HOME))
    assert "Deals cannot be registered" not in page
    assert REASON not in page


def test_the_banner_goes_away_after_reactivation(
    login, partner, partner_rep, suspend, tenant_admin
):
    suspended = suspend(partner)
    with tenant_context(partner.tenant, tenant_admin):
        services.partner_reactivate(actor=tenant_admin, partner=suspended)
    assert "Deals cannot be registered" not in text(login(partner_rep).get(HOME))


def test_a_suspension_without_a_recorded_reason_still_shows_the_banner(login, partner, partner_rep):
    with tenant_context(partner.tenant):
        Partner.objects.filter(pk=partner.pk).update(status="suspended", status_reason="")
    page = text(login(partner_rep).get(HOME))
    assert "Northwind is suspended from the program. Deals cannot be registered." in page
    assert "Reason:" not in page


# ---------------------------------------------------------------- the refusal says why


def test_registering_as_a_suspended_partner_is_refused_with_the_reason(
    partner, partner_rep, suspend, tenant
):
    suspend(partner)
    with pytest.raises(ValidationError) as refused:
        register(partner_rep)
    assert refused.value.messages == [
        f"Northwind is suspended and cannot register deals. Reason: {REASON}"
    ]
    assert deal_count(tenant) == 0


def test_registering_as_an_offboarded_partner_is_refused_with_the_reason(
    partner, partner_rep, offboard, tenant
):
    offboard(partner)
    with pytest.raises(ValidationError) as refused:
        register(partner_rep)
    assert refused.value.messages == [
        "Northwind has left the program and cannot register deals. Reason: Contract ended."
    ]
    assert deal_count(tenant) == 0


def test_without_a_recorded_reason_the_refusal_is_the_plain_sentence(partner, partner_rep, tenant):
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(status="suspended", status_reason="")
    with pytest.raises(ValidationError) as refused:
        register(partner_rep)
    assert refused.value.messages == ["Northwind is suspended and cannot register deals."]
    assert deal_count(tenant) == 0


def test_the_register_page_shows_the_reason_as_a_form_error(
    login, partner, partner_rep, suspend, tenant
):
    suite = ProductFactory(tenant=tenant, sku="AN-100", list_price=Decimal("1000.00"))
    suspend(partner)
    data = {
        "customer_name": "Blue Harbor Logistics", "customer_domain": "blueharbor.example",
        "country": "US", "contact_name": "Dana Whitfield",
        "contact_email": "dana@blueharbor.example", "currency": "USD",
        "expected_close_date": (timezone.localdate() + timedelta(days=45)).isoformat(),
        "stage": "qualification", "deal_type": "resell", "action": "submit",
        "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100", "lines-0-product": str(suite.pk),
        "lines-0-quantity": "2", "lines-0-unit_price": "",
    }  # fmt: skip
    response = login(partner_rep).post("/t/acme/deals/new/", data)
    assert response.status_code == 400
    assert f"Northwind is suspended and cannot register deals. Reason: {REASON}" in text(response)
    assert deal_count(tenant) == 0
