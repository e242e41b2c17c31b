"""Fixtures of the deal page tests: Acme's catalog (and one product of Globex), lost reasons,
a second partner organization (Contoso), a second Northwind rep, and helpers that run a
service as someone and build the POST of the deal form."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import Deal
from partners.tenancy import tenant_context
from tests.deals.factories import LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def catalog(tenant, other_tenant):
    """Acme's products (two active in USD, one in EUR, one retired) and one of Globex."""
    return {
        "suite": ProductFactory(
            tenant=tenant, sku="AN-100", name="Analytics Suite", list_price=Decimal("1000.00"),
            currency="USD",
        ),
        "support": ProductFactory(
            tenant=tenant, sku="SP-200", name="Support Plan", list_price=Decimal("250.00"),
            currency="USD",
        ),
        "euro": ProductFactory(
            tenant=tenant, sku="EU-300", name="Euro Edition", list_price=Decimal("900.00"),
            currency="EUR",
        ),
        "retired": ProductFactory(
            tenant=tenant, sku="OLD-1", name="Retired Box", list_price=Decimal("10.00"),
            currency="USD", active=False,
        ),
        "foreign": ProductFactory(
            tenant=other_tenant, sku="GX-1", name="Globex Widget", list_price=Decimal("5.00"),
            currency="USD",
        ),
    }  # fmt: skip


@pytest.fixture
def currencies(tenant):
    """Acme's program takes USD and EUR."""
    with tenant_context(tenant):
        rules = services.engagement_rules()
        rules.allowed_currencies = ["USD", "EUR"]
        rules.save()
    return ["USD", "EUR"]


@pytest.fixture
def lost_reasons(tenant, other_tenant):
    return {
        "price": LostReasonFactory(tenant=tenant, name="Price"),
        "competitor": LostReasonFactory(tenant=tenant, name="Chose a competitor"),
        "retired": LostReasonFactory(tenant=tenant, name="Old reason", active=False),
        "foreign": LostReasonFactory(tenant=other_tenant, name="Globex reason"),
    }


@pytest.fixture
def contoso(tenant):
    """A second partner organization of Acme."""
    return PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")


@pytest.fixture
def contoso_rep(tenant, contoso):
    return MembershipFactory(
        tenant=tenant,
        role="partner_rep",
        partner=contoso,
        user__email="rep@contoso.test",
        user__full_name="Carla Contoso",
    )


@pytest.fixture
def contoso_admin(tenant, contoso):
    return MembershipFactory(
        tenant=tenant,
        role="partner_admin",
        partner=contoso,
        user__email="admin@contoso.test",
        user__full_name="Conrad Contoso",
    )


@pytest.fixture
def colleague_rep(tenant, partner):
    """A second rep of Northwind."""
    return MembershipFactory(
        tenant=tenant,
        role="partner_rep",
        partner=partner,
        user__email="rep2@northwind.test",
        user__full_name="Colin Colleague",
    )


@pytest.fixture
def act():
    """``act(membership, services.deal_approve, deal=deal)``: a service as that member, in
    their tenant, the way a request runs it."""

    def _act(actor, service, **kwargs):
        with tenant_context(actor.tenant, actor):
            return service(actor=actor, **kwargs)

    return _act


@pytest.fixture
def reload(tenant):
    def _reload(deal: Deal) -> Deal:
        with tenant_context(tenant):
            return Deal.objects.select_related("partner").get(pk=deal.pk)

    return _reload


@pytest.fixture
def deal_count(tenant):
    def _count() -> int:
        with tenant_context(tenant):
            return Deal.objects.count()

    return _count


@pytest.fixture
def deal_post(catalog):
    """The POST of the deal form: valid by default; ``field=None`` leaves a field out;
    ``lines`` takes dicts of product/quantity/unit_price (raw values, as a browser sends)."""

    def _post(*, lines: list[dict] | None = None, action: str = "draft", **fields) -> dict:
        data = {
            "customer_name": "Blue Harbor Logistics",
            "customer_domain": "blueharbor.example",
            "country": "US",
            "contact_name": "Dana Whitfield",
            "contact_email": "dana@blueharbor.example",
            "contact_phone": "+1 555 0100",
            "currency": "USD",
            "expected_close_date": (timezone.localdate() + timedelta(days=45)).isoformat(),
            "stage": "qualification",
            "deal_type": "resell",
            "notes": "",
            "action": action,
        }
        for name, value in fields.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        if lines is None:
            lines = [{"product": catalog["suite"].pk, "quantity": 2}]
        data.update(
            {
                "lines-TOTAL_FORMS": str(len(lines)),
                "lines-INITIAL_FORMS": "0",
                "lines-MIN_NUM_FORMS": "0",
                "lines-MAX_NUM_FORMS": "100",
            }
        )
        for index, line in enumerate(lines):
            for name in ("product", "quantity", "unit_price"):
                value = line.get(name, "")
                data[f"lines-{index}-{name}"] = "" if value is None else str(value)
        return data

    return _post
