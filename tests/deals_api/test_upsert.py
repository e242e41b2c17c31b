"""PUT /api/v1/deals/by-external-id/{external_id}/: the idempotent upsert of CRM sync."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from deals.models import Deal
from partners import services as partner_services
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db

URL = "/api/v1/deals/by-external-id/{}/"


def _put(client, external_id, body):
    return client.put(URL.format(external_id), body, format="json")


def test_the_same_request_twice_makes_one_deal_and_the_second_writes_nothing(
    api_as, partner_rep, deal_body, tenant, in_tenant, snapshot
):
    client = api_as(partner_rep)

    first = _put(client, "SF-0001", deal_body())
    after_first = snapshot(tenant)
    second = _put(client, "SF-0001", deal_body())

    assert first.status_code == 201, first.json()
    assert second.status_code == 200, second.json()
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["external_id"] == "SF-0001"
    assert second.json() == first.json()
    assert snapshot(tenant) == after_first
    with in_tenant(tenant):
        assert Deal.objects.filter(external_id="SF-0001").count() == 1


def test_a_changed_request_updates_the_deal(api_as, partner_rep, deal_body, product):
    client = api_as(partner_rep)
    created = _put(client, "SF-0002", deal_body())

    updated = _put(
        client,
        "SF-0002",
        deal_body(stage="negotiation", lines=[{"product": product.pk, "quantity": 5}]),
    )

    assert updated.status_code == 200, updated.json()
    assert updated.json()["id"] == created.json()["id"]
    assert (updated.json()["stage"], updated.json()["total"]) == ("negotiation", "5000.00")


def test_submit_submits_a_draft_once_and_repeating_it_is_a_no_op(
    api_as, partner_rep, deal_body, tenant, snapshot
):
    client = api_as(partner_rep)

    created = _put(client, "SF-0003", deal_body(submit=True))
    after = snapshot(tenant)
    repeated = _put(client, "SF-0003", deal_body(submit=True))

    assert created.status_code == 201
    assert created.json()["status"] == "submitted"
    assert repeated.status_code == 200
    assert repeated.json()["status"] == "submitted"
    assert snapshot(tenant) == after


def test_a_draft_is_submitted_by_a_later_sync(api_as, partner_rep, deal_body):
    client = api_as(partner_rep)
    _put(client, "SF-0004", deal_body())

    response = _put(client, "SF-0004", deal_body(submit=True))

    assert response.status_code == 200
    assert response.json()["status"] == "submitted"


def test_changing_a_deal_under_review_answers_400(api_as, partner_rep, deal_body, tenant, snapshot):
    client = api_as(partner_rep)
    _put(client, "SF-0005", deal_body(submit=True))
    before = snapshot(tenant)

    response = _put(client, "SF-0005", deal_body(notes="changed in the CRM"))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert snapshot(tenant) == before


def test_an_approved_deal_takes_stage_and_amount_changes(
    api_as, partner_rep, channel_manager, deal_body
):
    client = api_as(partner_rep)
    deal_id = _put(client, "SF-0006", deal_body(submit=True)).json()["id"]
    api_as(channel_manager).post(f"/api/v1/deals/{deal_id}/approve/", {}, format="json")

    response = _put(client, "SF-0006", deal_body(stage="closing"))

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["stage"]) == ("approved", "closing")


@pytest.mark.parametrize("owner", ["contoso_rep", "colleague_rep"])
def test_an_external_id_of_a_deal_the_actor_may_not_sync_answers_400(
    request, api_as, partner_rep, make_deal, deal_body, tenant, snapshot, owner
):
    make_deal(request.getfixturevalue(owner), external_id="SF-0007")
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = _put(client, "SF-0007", deal_body())

    assert response.status_code == 400
    assert "external_id" in response.json()["fields"]
    assert "Contoso" not in response.content.decode()
    assert snapshot(tenant) == before


def test_a_partner_admin_syncs_a_reps_deal_of_their_organization(
    api_as, partner_rep, partner_admin, deal_body
):
    created = _put(api_as(partner_rep), "SF-0008", deal_body())

    response = _put(api_as(partner_admin), "SF-0008", deal_body(stage="proposal"))

    assert response.status_code == 200
    assert response.json()["id"] == created.json()["id"]
    assert response.json()["stage"] == "proposal"


def test_staff_upsert_direct_deals(api_as, channel_manager, deal_body, tenant, snapshot):
    client = api_as(channel_manager)

    created = _put(client, "ERP-1", deal_body())
    after = snapshot(tenant)
    repeated = _put(client, "ERP-1", deal_body())

    assert created.status_code == 201, created.json()
    assert created.json()["direct"] is True
    assert created.json()["status"] == "approved"
    assert repeated.status_code == 200
    assert snapshot(tenant) == after


def test_staff_cannot_submit_through_the_upsert(
    api_as, channel_manager, deal_body, tenant, snapshot
):
    client = api_as(channel_manager)
    before = snapshot(tenant)

    response = _put(client, "ERP-2", deal_body(submit=True))

    assert response.status_code == 400
    assert "submit" in response.json()["fields"]
    assert snapshot(tenant) == before


@pytest.mark.parametrize("role", ["finance", "analyst"])
def test_roles_that_cannot_create_deals_get_403(request, api_as, deal_body, tenant, snapshot, role):
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = _put(client, "SF-0009", deal_body())

    assert response.status_code == 403
    assert snapshot(tenant) == before


@pytest.mark.parametrize(
    ("external_id", "change", "field"),
    [
        ("SF-0010", {"customer_name": ""}, "customer_name"),
        ("SF-0010", {"lines": [{"product": 1, "quantity": 0}]}, "lines"),
        ("SF-0010", {"currency": "XYZ"}, "currency"),
        ("SF-0010", {"expected_close_date": "2001-01-01"}, "expected_close_date"),
        ("SF-0010", {"lines": "everything"}, "lines"),
        ("x" * 101, {}, "external_id"),
        ("%20", {}, "external_id"),
    ],
)
def test_bad_input_answers_400_and_writes_nothing(
    api_as, partner_rep, deal_body, tenant, snapshot, external_id, change, field
):
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = _put(client, external_id, deal_body(**change))

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert snapshot(tenant) == before


def test_a_product_of_another_tenant_is_refused(
    api_as, partner_rep, deal_body, foreign_product, tenant, snapshot
):
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = _put(
        client, "SF-0011", deal_body(lines=[{"product": foreign_product.pk, "quantity": 1}])
    )

    assert response.status_code == 400
    assert "lines" in response.json()["fields"]
    assert snapshot(tenant) == before


def test_the_same_external_id_in_another_tenant_is_another_deal(
    api_as, partner_rep, globex_rep, deal_body, foreign_product, other_tenant, tenant, in_tenant
):
    acme = _put(api_as(partner_rep), "SF-0012", deal_body())
    globex = _put(
        api_as(globex_rep),
        "SF-0012",
        deal_body(lines=[{"product": foreign_product.pk, "quantity": 1}]),
    )

    assert (acme.status_code, globex.status_code) == (201, 201)
    with in_tenant(tenant):
        assert Deal.objects.filter(external_id="SF-0012").count() == 1
    with in_tenant(other_tenant):
        assert Deal.objects.filter(external_id="SF-0012").count() == 1


def test_only_put_is_allowed_on_the_external_id_route(api_as, partner_rep, deal_body):
    client = api_as(partner_rep)

    assert client.get(URL.format("SF-1")).status_code == 405
    assert client.post(URL.format("SF-1"), deal_body(), format="json").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_one_record_at_once_make_one_deal(tenant, partner, product):
    from tests.factories import MembershipFactory

    rep = MembershipFactory(tenant=tenant, role="partner_rep", partner=partner)
    with tenant_context(tenant, rep):
        key = partner_services.api_token_issue(actor=rep, name="crm").key
    body = {
        "customer_name": "Race Condition Ltd",
        "country": "GB",
        "currency": "USD",
        "expected_close_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "lines": [{"product": product.pk, "quantity": 1}],
    }
    barrier = threading.Barrier(2)
    statuses = []

    def sync():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            barrier.wait()
            statuses.append(_put(client, "SF-RACE", body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 201]
    with tenant_context(tenant):
        assert Deal.objects.filter(external_id="SF-RACE").count() == 1
