"""/api/v1/notifications/: a member's own notifications, read one, read all."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.models import Notification
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db


def _app_queries(captured) -> int:
    """Queries of the request, less the role-permission look-up: that one is cached in the
    Redis every test process shares, and another process's cache.clear() may empty it."""
    return sum("auth_group" not in q["sql"] for q in captured.captured_queries)


URL = "/api/v1/notifications/"


def _read_at(notification: Notification):
    with tenant_context(notification.tenant):
        notification.refresh_from_db()
    return notification.read_at


def test_the_list_holds_only_the_callers_own_notifications(
    api_as, partner_rep, partner_admin, outsider, notify_member
):
    mine = notify_member(partner_rep, count=2, url="deals/7/", body="Details")
    notify_member(partner_admin, title="Admin only")
    notify_member(outsider, title="Globex only")

    response = api_as(partner_rep).get(URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [n.pk for n in reversed(mine)]
    assert results[0] == {
        "id": mine[1].pk,
        "kind": "test.news",
        "title": "News 2",
        "body": "Details",
        "url": "deals/7/",
        "is_read": False,
        "read_at": None,
        "created_at": results[0]["created_at"],
    }


def test_the_list_filters_by_unread_and_kind(api_as, partner_rep, notify_member):
    read, _unread = notify_member(partner_rep, count=2)
    notify_member(partner_rep, kind="deal.approved", title="Approved")
    client = api_as(partner_rep)
    client.post(f"{URL}{read.pk}/read/")

    unread = client.get(URL, {"unread": "true"}).json()["results"]
    read_only = client.get(URL, {"unread": "false"}).json()["results"]
    approved = client.get(URL, {"kind": "deal.approved"}).json()["results"]

    assert len(unread) == 2 and all(not r["is_read"] for r in unread)
    assert [r["id"] for r in read_only] == [read.pk]
    assert [r["title"] for r in approved] == ["Approved"]


def test_a_bad_filter_value_is_a_400_with_the_field(api_as, partner_rep):
    response = api_as(partner_rep).get(URL, {"unread": "maybe"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "unread" in response.json()["fields"]


def test_marking_one_read_returns_it_read(api_as, partner_rep, notify_member):
    [notice] = notify_member(partner_rep)
    client = api_as(partner_rep)

    response = client.post(f"{URL}{notice.pk}/read/")
    again = client.post(f"{URL}{notice.pk}/read/")

    assert response.status_code == 200
    assert response.json()["is_read"] is True
    assert again.json()["read_at"] == response.json()["read_at"]  # the first reading stays
    assert _read_at(notice) is not None


def test_marking_all_read_counts_and_touches_only_the_callers(
    api_as, partner_rep, partner_admin, notify_member
):
    mine = notify_member(partner_rep, count=3)
    [theirs] = notify_member(partner_admin)
    client = api_as(partner_rep)
    client.post(f"{URL}{mine[0].pk}/read/")

    response = client.post(f"{URL}read-all/")

    assert response.status_code == 200
    assert response.json() == {"marked": 2}
    assert all(_read_at(n) is not None for n in mine)
    assert _read_at(theirs) is None


def test_another_members_notification_is_404_for_the_lesser_and_the_outsider(
    api_as, partner_rep, partner_admin, outsider, notify_member
):
    [owned] = notify_member(partner_rep)

    assert api_as(partner_rep).post(f"{URL}{owned.pk}/read/").status_code == 200
    for other in (partner_admin, outsider):
        response = api_as(other).post(f"{URL}{owned.pk}/read/")
        assert response.status_code == 404, other
        assert response.json()["code"] == "not_found"


def test_the_outsiders_read_all_leaves_this_tenant_alone(
    api_as, partner_rep, outsider, notify_member
):
    [notice] = notify_member(partner_rep)

    assert api_as(outsider).post(f"{URL}read-all/").json() == {"marked": 0}
    assert _read_at(notice) is None


@pytest.mark.parametrize("bad_id", ["abc", "0", "99999999999999999999"])
def test_an_id_that_names_no_row_is_a_404(api_as, partner_rep, bad_id):
    assert api_as(partner_rep).post(f"{URL}{bad_id}/read/").status_code == 404


def test_without_credentials_the_api_answers_401(client, tenant):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(f"{URL}read-all/").status_code == 401


def test_the_session_api_under_the_tenant_prefix_needs_the_csrf_token(partner_rep, notify_member):
    from rest_framework.test import APIClient

    [notice] = notify_member(partner_rep)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(partner_rep.user, backend="partners.permissions.MembershipBackend")

    assert client.get(f"/t/acme{URL}").status_code == 200
    assert client.post(f"/t/acme{URL}{notice.pk}/read/").status_code == 403
    assert _read_at(notice) is None


def test_the_list_query_count_does_not_grow_with_rows(api_as, partner_rep, notify_member):
    client = api_as(partner_rep)
    notify_member(partner_rep, count=2)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)

    notify_member(partner_rep, count=40)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)

    assert len(response.json()["results"]) == 42
    assert _app_queries(many) == _app_queries(few)


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()

    assert "/api/v1/notifications/" in schema
    assert "/api/v1/notifications/{id}/read/" in schema
    assert "/api/v1/notifications/read-all/" in schema
