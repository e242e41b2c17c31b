"""Fixtures of the deals API tests: token clients for every role, Acme's catalog (and a
product of Globex), a second partner organization (Contoso), a second Northwind rep, deals
made through the services, and the body of a valid registration."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from deals.models import Deal, DealLine, DealTransition
from partners import services as partner_services
from partners.models import OutboxEvent
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory, LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory

# ---------------------------------------------------------------- clients


@pytest.fixture
def api_as():
    """An APIClient that sends a fresh API token of ``membership``."""

    def _as(membership):
        with tenant_context(membership.tenant, membership):
            issued = partner_services.api_token_issue(actor=membership, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        return client

    return _as


@pytest.fixture
def in_tenant():
    """``with in_tenant(tenant): ...`` reads rows of one tenant."""
    return tenant_context


# ---------------------------------------------------------------- people


@pytest.fixture
def colleague_rep(tenant, partner):
    """A second rep of Northwind: the rep must not see this one's deals."""
    return MembershipFactory(
        tenant=tenant, role="partner_rep", partner=partner, user__email="rep2@northwind.test"
    )


@pytest.fixture
def finance(tenant):
    return MembershipFactory(tenant=tenant, role="finance", user__email="finance@acme.test")


@pytest.fixture
def analyst(tenant):
    return MembershipFactory(tenant=tenant, role="analyst", user__email="analyst@acme.test")


@pytest.fixture
def globex_rep(other_tenant):
    partner = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    return MembershipFactory(
        tenant=other_tenant, role="partner_rep", partner=partner, user__email="rep@umbrella.test"
    )


# ---------------------------------------------------------------- catalog


@pytest.fixture
def product(tenant):
    return ProductFactory(
        tenant=tenant,
        sku="AN-100",
        name="Analytics Suite",
        list_price=Decimal("1000.00"),
        currency="USD",
    )


@pytest.fixture
def retired_product(tenant):
    return ProductFactory(
        tenant=tenant,
        sku="OLD-1",
        name="Retired Box",
        list_price=Decimal("10.00"),
        currency="USD",
        active=False,
    )


@pytest.fixture
def foreign_product(other_tenant):
    return ProductFactory(
        tenant=other_tenant,
        sku="GX-1",
        name="Globex Widget",
        list_price=Decimal("5.00"),
        currency="USD",
    )


@pytest.fixture
def lost_reason(tenant):
    return LostReasonFactory(tenant=tenant, name="Price")


# ---------------------------------------------------------------- deals


@pytest.fixture
def make_deal(product):
    """``make_deal(actor, status="approved", **fields)``: a deal made through the services,
    with one line of Acme's product unless ``lines`` says otherwise."""
    from deals.services import LineInput

    def _make(actor, **kwargs):
        if "lines" not in kwargs and actor.tenant_id == product.tenant_id:
            kwargs["lines"] = [LineInput(product_id=product.pk, quantity=2)]
        return DealFactory(actor=actor, **kwargs)

    return _make


@pytest.fixture
def deal_body(product):
    """The JSON of a valid registration (two licences of the Analytics Suite)."""

    def _body(**overrides):
        body = {
            "customer_name": "Initrode GmbH",
            "customer_domain": "initrode.example",
            "country": "DE",
            "contact_name": "Ines Buyer",
            "contact_email": "ines@initrode.example",
            "currency": "USD",
            "expected_close_date": (timezone.localdate() + timedelta(days=45)).isoformat(),
            "stage": "qualification",
            "deal_type": "resell",
            "lines": [{"product": product.pk, "quantity": 2}],
        }
        body.update(overrides)
        return body

    return _body


@pytest.fixture
def snapshot(in_tenant):
    """Counts of the rows a deal write touches, to assert that nothing was written."""

    def _snapshot(tenant):
        with in_tenant(tenant):
            return {
                "deals": Deal.objects.count(),
                "lines": DealLine.objects.count(),
                "timeline": DealTransition.objects.count(),
                "events": OutboxEvent.objects.count(),
                "updated": sorted(Deal.objects.values_list("id", "updated_at", "status")),
            }

    return _snapshot


@pytest.fixture
def acme_deals(
    tenant, make_deal, partner, partner_rep, colleague_rep, contoso_rep, channel_manager, globex_rep
):
    """One deal of each kind of visibility, and one of Globex:

    - ``rep``: the rep's own submission; ``colleague``: a colleague's draft;
    - ``shared``: a colleague's approved deal shared with the rep (a guardian grant);
    - ``contoso``: another partner's approved deal;
    - ``cosell``: Contoso's submission with Northwind as further partner;
    - ``direct``: a direct deal recorded by the channel manager;
    - ``globex``: a deal of another tenant.
    """
    from guardian.shortcuts import assign_perm

    deals = {
        "rep": make_deal(
            partner_rep,
            status="submitted",
            customer_name="Alpha Corp",
            customer_domain="alpha.example",
            stage="proposal",
        ),
        "colleague": make_deal(
            colleague_rep, customer_name="Bravo Ltd", customer_domain="bravo.example"
        ),
        "shared": make_deal(
            colleague_rep,
            status="approved",
            customer_name="Charlie Systems",
            customer_domain="charlie.example",
        ),
        "contoso": make_deal(
            contoso_rep,
            status="approved",
            customer_name="Delta Industries",
            customer_domain="delta.example",
        ),
        "cosell": make_deal(
            contoso_rep,
            status="submitted",
            customer_name="Echo Logistics",
            customer_domain="echo.example",
            deal_type="co_sell",
            further_partners=[(partner.pk, "co_sell")],
        ),
        "direct": make_deal(
            channel_manager,
            direct=True,
            customer_name="Foxtrot Retail",
            customer_domain="foxtrot.example",
        ),
        "globex": make_deal(globex_rep, customer_name="Golf Foods"),
    }
    with tenant_context(tenant):
        assign_perm("deals.view_deal", partner_rep.user, deals["shared"])
    return deals
