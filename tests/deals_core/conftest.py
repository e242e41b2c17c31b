"""Fixtures of the deal-registration core tests: Acme's catalog and rules, a second partner
organization (Contoso) with its people, and a helper that runs a service as someone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.services import DealInput, LineInput
from partners.tenancy import tenant_context
from tests.deals.factories import LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory


@pytest.fixture
def act():
    """``act(membership, services.deal_submit, deal=deal)``: the service as that member, in
    their tenant (the way a request or a task would run it)."""

    def _act(actor, service, **kwargs):
        with tenant_context(actor.tenant, actor):
            return service(actor=actor, **kwargs)

    return _act


@pytest.fixture
def in_tenant():
    """``with in_tenant(tenant): ...`` reads rows of one tenant."""
    return tenant_context


@pytest.fixture
def rules(tenant):
    """Acme's rules of engagement (defaults: threshold 0.6, 90 days, no auto-approval)."""
    with tenant_context(tenant):
        return services.engagement_rules()


@pytest.fixture
def set_rules(tenant):
    def _set(**values):
        with tenant_context(tenant):
            rules = services.engagement_rules()
            for name, value in values.items():
                setattr(rules, name, value)
            rules.full_clean()
            rules.save()
            return rules

    return _set


@pytest.fixture
def product(tenant):
    return ProductFactory(
        tenant=tenant, sku="CLOUD-STD", name="Cloud Standard", list_price=Decimal("1200.00")
    )


@pytest.fixture
def lost_reason(tenant):
    return LostReasonFactory(tenant=tenant, name="Price")


@pytest.fixture
def colleague_rep(tenant, partner):
    """A second rep of Northwind."""
    return MembershipFactory(
        tenant=tenant, role="partner_rep", partner=partner, user__email="rep2@northwind.test"
    )


@pytest.fixture
def second_manager(tenant):
    return MembershipFactory(
        tenant=tenant, role="channel_manager", user__email="manager2@acme.test"
    )


@pytest.fixture
def deal_input(product):
    """A valid registration's input; keyword arguments override fields."""

    def _input(**overrides):
        values = {
            "customer_name": "Blue Harbor Logistics Inc.",
            "customer_domain": "https://www.blueharbor.example/contact",
            "country": "US",
            "currency": "USD",
            "expected_close_date": timezone.localdate() + timedelta(days=45),
            "contact_name": "Dana Whitfield",
            "contact_email": "dana@blueharbor.example",
            "lines": [LineInput(product_id=product.pk, quantity=2)],
        }
        values.update(overrides)
        return DealInput(**values)

    return _input


@pytest.fixture
def register(act, deal_input):
    """``register(rep, submit=True, customer_name=...)``: a registration through the service."""

    def _register(actor, *, submit: bool = True, **overrides):
        return act(actor, services.deal_create, data=deal_input(**overrides), submit=submit)

    return _register


@pytest.fixture
def reload(tenant):
    def _reload(deal):
        with tenant_context(deal.tenant):
            deal.refresh_from_db()
        return deal

    return _reload
