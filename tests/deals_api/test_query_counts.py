"""The deals endpoints run a fixed number of queries however many rows they return: the
selects and prefetches are chosen once, never per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.services import LineInput
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_permission_cache(monkeypatch):
    """The role-permission cache in process memory: Redis is shared with any other test run
    on the machine, whose cache.clear() would add a query here and there."""
    from django.core.cache.backends.locmem import LocMemCache

    from partners import permissions

    monkeypatch.setattr(permissions, "cache", LocMemCache("deals-api-query-counts", {}))


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture
def add_deals(make_deal, tenant, partner, partner_rep, contoso_rep, channel_manager, lost_reason):
    """``add_deals(n)``: n more deals of every kind a list shows (registrations of two
    partners by several reps, co-sold, direct, lost with a reason)."""
    counter = {"n": 0}

    def _add(count):
        for _ in range(count):
            counter["n"] += 1
            n = counter["n"]
            kind = n % 4
            if kind == 0:
                rep = MembershipFactory(tenant=tenant, role="partner_rep", partner=partner)
                make_deal(rep, customer_name=f"Row {n} Draft")
            elif kind == 1:
                make_deal(
                    contoso_rep,
                    customer_name=f"Row {n} Cosell",
                    further_partners=[(partner.pk, "co_sell")],
                )
            elif kind == 2:
                make_deal(channel_manager, direct=True, customer_name=f"Row {n} Direct")
            else:
                make_deal(
                    partner_rep, status="lost", lost_reason=lost_reason, customer_name=f"Row {n}"
                )

    return _add


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("channel_manager", "/api/v1/deals/?page_size=100"),
        ("channel_manager", "/api/v1/deals/?page_size=100&ordering=-total&direct=false"),
        ("partner_admin", "/api/v1/deals/?page_size=100"),
        ("partner_rep", "/api/v1/deals/?page_size=100"),
        ("channel_manager", "/api/v1/deals/export.csv"),
        ("channel_manager", "/api/v1/products/?page_size=100"),
    ],
)
def test_a_list_of_50_deals_takes_no_more_queries_than_a_list_of_5(
    request, api_as, add_deals, django_assert_max_num_queries, role, url
):
    client = api_as(request.getfixturevalue(role))
    add_deals(5)
    client.get(url)  # warm the role-permission cache and the token's last-used stamp
    baseline = _queries(client, url)

    add_deals(45)

    with django_assert_max_num_queries(baseline):
        response = client.get(url)
        if response.streaming:
            body = b"".join(response.streaming_content).decode()
    if response.streaming:
        assert len(body.splitlines()) > 45
    elif "deals" in url:
        assert len(response.json()["results"]) > 10


def test_a_deal_with_many_lines_and_a_long_timeline_takes_a_fixed_number_of_queries(
    api_as, channel_manager, partner_rep, make_deal, product, django_assert_max_num_queries
):
    client = api_as(channel_manager)
    small = make_deal(partner_rep, status="won")
    client.get(f"/api/v1/deals/{small.pk}/")
    baseline = _queries(client, f"/api/v1/deals/{small.pk}/")
    lines = [LineInput(product_id=product.pk, quantity=n) for n in range(1, 41)]
    big = make_deal(partner_rep, status="won", lines=lines)

    with django_assert_max_num_queries(baseline):
        response = client.get(f"/api/v1/deals/{big.pk}/")
    assert len(response.json()["lines"]) == 40
