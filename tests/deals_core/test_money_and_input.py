"""Amounts are Decimal, rounded to the currency, and the total is the sum of the lines; bad
input is refused field by field and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals import services
from deals.models import Deal, DealLine, DealTransition
from deals.services import FurtherPartnerInput, LineInput
from partners.money import MAX_AMOUNT, quantize
from partners.tenancy import tenant_context
from tests.deals.factories import ProductFactory
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

prices = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("99999.99"), places=2, allow_nan=False
)
line_specs = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10_000), prices, st.booleans()),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=line_specs, currency=st.sampled_from(["USD", "JPY"]))
def test_the_total_is_the_exact_sum_of_the_rounded_line_amounts(
    tenant, partner_rep, register, set_rules, specs, currency
):
    set_rules(allowed_currencies=["USD", "JPY"])
    lines = []
    for quantity, price, own_price in specs:
        product = ProductFactory(tenant=tenant, list_price=price, currency=currency)
        # Either the list price, or a negotiated unit price given on the line.
        lines.append(
            LineInput(product.pk, quantity, price + Decimal("0.01") if own_price else None)
        )

    deal = register(partner_rep, submit=False, currency=currency, lines=lines)

    with tenant_context(tenant):
        deal.refresh_from_db()
        stored = list(DealLine.objects.filter(deal=deal).order_by("id"))
    assert isinstance(deal.total, Decimal)
    assert deal.total == sum((line.amount for line in stored), Decimal("0"))
    for line, (quantity, price, own_price) in zip(stored, specs, strict=True):
        unit = price + Decimal("0.01") if own_price else price
        assert line.unit_price == unit
        assert line.amount == quantize(unit * quantity, currency)
    if currency == "JPY":
        assert deal.total == deal.total.to_integral_value()


def test_a_yen_line_rounds_half_to_even(tenant, partner_rep, register, set_rules):
    set_rules(allowed_currencies=["JPY"])
    product = ProductFactory(tenant=tenant, list_price=Decimal("0.50"), currency="JPY")

    deal = register(
        partner_rep,
        submit=False,
        currency="JPY",
        lines=[LineInput(product.pk, 5), LineInput(product.pk, 3)],  # 2.5 -> 2, 1.5 -> 2
    )

    assert deal.total == Decimal("4")


# ---------------------------------------------------------------- bad input


@pytest.fixture
def refused(tenant, partner_rep, register):
    """Register with ``overrides``; assert it is refused on ``field`` and nothing is written."""

    def _refused(field: str, **overrides):
        with pytest.raises(ValidationError) as error:
            register(partner_rep, **overrides)
        assert field in error.value.message_dict, error.value.message_dict
        with tenant_context(tenant):
            assert not Deal.objects.exists()
            assert not DealLine.objects.exists()
            assert not DealTransition.objects.exists()
        return error.value.message_dict[field]

    return _refused


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("customer_name", {"customer_name": ""}),
        ("customer_name", {"customer_name": "   "}),
        ("customer_name", {"customer_name": "!!!"}),
        ("country", {"country": ""}),
        ("country", {"country": "USA"}),
        ("country", {"country": "1A"}),
        ("currency", {"currency": "XYZ"}),
        ("currency", {"currency": ""}),
        ("currency", {"currency": "EUR"}),  # a real currency, but not one of the program's
        ("expected_close_date", {"expected_close_date": None}),
        ("stage", {"stage": "dreaming"}),
        ("deal_type", {"deal_type": "barter"}),
        ("customer_domain", {"customer_domain": "localhost"}),
        ("customer_domain", {"customer_domain": "not a domain"}),
        ("customer_domain", {"customer_domain": "acme..com"}),
        ("lines", {"lines": []}),
        ("lines", {"lines": [LineInput(None, 1)]}),
        ("lines", {"lines": [LineInput(999_999_999, 1)]}),
    ],
)
def test_each_missing_or_malformed_field_is_refused_and_nothing_is_written(
    refused, field, overrides
):
    assert refused(field, **overrides)


def test_a_close_date_in_the_past_is_refused(refused):
    messages = refused(
        "expected_close_date", expected_close_date=timezone.localdate() - timedelta(days=1)
    )
    assert "past" in messages[0]


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001])
def test_a_quantity_out_of_range_is_refused(refused, product, quantity):
    refused("lines", lines=[LineInput(product.pk, quantity)])


@pytest.mark.parametrize("price", [Decimal("-0.01"), MAX_AMOUNT + 1])
def test_a_negative_or_huge_unit_price_is_refused(refused, product, price):
    refused("lines", lines=[LineInput(product.pk, 1, price)])


def test_a_total_beyond_the_largest_amount_is_refused(refused, product):
    huge = MAX_AMOUNT / 2
    refused("lines", lines=[LineInput(product.pk, 3, huge.quantize(Decimal("0.01")))])


def test_a_product_of_another_tenant_is_refused(refused, other_tenant):
    foreign = ProductFactory(tenant=other_tenant, currency="USD")
    messages = refused("lines", lines=[LineInput(foreign.pk, 1)])
    assert "unknown product" in messages[0]


def test_an_inactive_product_is_refused(refused, tenant):
    retired = ProductFactory(tenant=tenant, active=False)
    refused("lines", lines=[LineInput(retired.pk, 1)])


def test_a_product_priced_in_another_currency_needs_a_unit_price(
    tenant, partner_rep, register, refused, set_rules
):
    set_rules(allowed_currencies=["USD", "EUR"])
    euro = ProductFactory(tenant=tenant, currency="EUR", list_price=Decimal("100"))
    refused("lines", lines=[LineInput(euro.pk, 1)])

    deal = register(partner_rep, submit=False, lines=[LineInput(euro.pk, 2, Decimal("110.00"))])

    assert (deal.currency, deal.total) == ("USD", Decimal("220.00"))


def test_too_many_lines_are_refused(refused, product):
    refused("lines", lines=[LineInput(product.pk, 1)] * (services.MAX_LINES + 1))


def test_a_three_decimal_currency_is_refused_rather_than_rounded_twice(refused, set_rules):
    set_rules(allowed_currencies=["USD", "BHD"])
    refused("currency", currency="BHD")


def test_a_further_partner_must_be_another_organization_of_the_tenant(
    refused, partner, other_tenant
):
    foreign = PartnerFactory(tenant=other_tenant)
    refused("further_partners", further_partners=[FurtherPartnerInput(foreign.pk, "co_sell")])
    refused("further_partners", further_partners=[FurtherPartnerInput(partner.pk, "co_sell")])


def test_an_unknown_further_partner_role_is_refused(refused, contoso):
    refused("further_partners", further_partners=[FurtherPartnerInput(contoso.pk, "boss")])


def test_every_bad_field_is_reported_at_once(tenant, partner_rep, register):
    with pytest.raises(ValidationError) as error:
        register(partner_rep, customer_name="", country="X", currency="XYZ", lines=[])

    assert {"customer_name", "country", "currency", "lines"} <= set(error.value.message_dict)
