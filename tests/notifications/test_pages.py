"""The notification list, marking read, and the unread count in the header of every page."""

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


def _read_at(notification: Notification):
    with tenant_context(notification.tenant):
        notification.refresh_from_db()
    return notification.read_at


# ---------------------------------------------------------------- the header


def test_the_header_shows_the_unread_count_and_links_to_the_list(login, partner_rep, notify_member):
    notify_member(partner_rep, count=3)

    page = login(partner_rep).get("/t/acme/portal/")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'href="/t/acme/notifications/"' in html
    assert '<span id="notification-badge" class="count-badge">3<' in html


def test_the_header_shows_no_count_when_everything_is_read(login, partner_rep):
    page = login(partner_rep).get("/t/acme/portal/")

    assert 'class="count-badge is-empty"' in page.content.decode()


def test_the_header_counts_only_the_members_own_unread_notifications(
    login, partner_rep, partner_admin, outsider, notify_member
):
    notify_member(partner_rep, count=2)
    notify_member(partner_admin, count=5)
    notify_member(outsider, count=7)
    read = notify_member(partner_rep, title="Old news")[0]
    login(partner_rep).post(f"/t/acme/notifications/{read.pk}/read/")

    page = login(partner_rep).get("/t/acme/portal/")

    assert '<span id="notification-badge" class="count-badge">2<' in page.content.decode()


def test_the_header_count_costs_one_query_however_many_notifications_there_are(
    login, channel_manager, notify_member
):
    client = login(channel_manager)
    notify_member(channel_manager, count=1)
    client.get("/t/acme/console/")  # warm the role-permission cache
    with CaptureQueriesContext(connection) as few:
        client.get("/t/acme/console/")

    notify_member(channel_manager, count=150)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/t/acme/console/")

    assert ">99+<" in page.content.decode()
    assert _app_queries(many) == _app_queries(few)
    counts = [q["sql"] for q in many.captured_queries if "partners_notification" in q["sql"]]
    assert len(counts) == 1 and "COUNT(" in counts[0].upper()


def test_pages_outside_a_tenant_show_no_notifications_link(login, partner_rep, other_tenant):
    from tests.factories import MembershipFactory

    MembershipFactory(tenant=other_tenant, role="analyst", user=partner_rep.user)
    page = login(partner_rep).get("/accounts/tenants/?all=1")

    assert page.status_code == 200
    assert "notification-badge" not in page.content.decode()


# ---------------------------------------------------------------- the list


def test_the_list_shows_the_members_own_notifications_newest_first(
    login, partner_rep, partner_admin, notify_member
):
    notify_member(partner_rep, title="First")
    notify_member(partner_rep, title="Second", body="Line one\nLine two")
    notify_member(partner_admin, title="Not yours")

    page = login(partner_rep).get("/t/acme/notifications/")

    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("Second") < html.index("First")
    assert "Line one<br>Line two" in html
    assert "Not yours" not in html
    assert "You have 2 unread notifications." in html


def test_the_list_filters_unread_and_pages_through_older_notifications(
    login, partner_rep, notify_member
):
    made = notify_member(partner_rep, count=30, title="Item")
    client = login(partner_rep)
    client.post(f"/t/acme/notifications/{made[0].pk}/read/")

    unread = client.get("/t/acme/notifications/?show=unread").content.decode()
    assert unread.count('class="notification is-unread"') == 25
    assert "Item 1<" not in unread
    second = client.get("/t/acme/notifications/?page=2").content.decode()
    assert second.count('<li class="notification') == 5
    assert client.get("/t/acme/notifications/?page=abc").status_code == 200


def test_every_member_has_an_inbox_whatever_the_role(login, member_of_each_role):
    for membership in member_of_each_role:
        assert login(membership).get("/t/acme/notifications/").status_code == 200


@pytest.fixture
def member_of_each_role(tenant, partner):
    from partners.roles import PARTNER_ROLES, Role
    from tests.factories import MembershipFactory

    return [
        MembershipFactory(
            tenant=tenant,
            role=role,
            partner=partner if role in PARTNER_ROLES else None,
            user__email=f"{role}@each.test",
        )
        for role in Role.values
    ]


def test_an_anonymous_visitor_is_sent_to_sign_in(client, tenant):
    response = client.get("/t/acme/notifications/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# ---------------------------------------------------------------- marking read


def test_marking_a_notification_read_updates_it_and_returns_to_the_list(
    login, partner_rep, notify_member
):
    [notice] = notify_member(partner_rep)

    response = login(partner_rep).post(f"/t/acme/notifications/{notice.pk}/read/")

    assert response.status_code == 302
    assert response["Location"] == "/t/acme/notifications/"
    assert _read_at(notice) is not None


def test_marking_read_with_htmx_swaps_the_row_and_the_header_count(
    login, partner_rep, notify_member
):
    first, _second = notify_member(partner_rep, count=2)

    response = login(partner_rep).post(
        f"/t/acme/notifications/{first.pk}/read/", HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<li class="notification" id="notification-')
    assert "Mark read" not in html
    assert 'id="notification-badge" class="count-badge" hx-swap-oob="true">1<' in html


def test_marking_read_needs_a_post(login, partner_rep, notify_member):
    [notice] = notify_member(partner_rep)

    response = login(partner_rep).get(f"/t/acme/notifications/{notice.pk}/read/")

    assert response.status_code == 405
    assert _read_at(notice) is None


def test_opening_a_notification_reads_it_and_follows_its_link(login, partner_rep, notify_member):
    [notice] = notify_member(partner_rep, url="deals/42/")

    response = login(partner_rep).get(f"/t/acme/notifications/{notice.pk}/open/")

    assert response.status_code == 302
    assert response["Location"] == "/t/acme/deals/42/"
    assert _read_at(notice) is not None


def test_mark_all_read_marks_only_the_members_own(login, partner_rep, partner_admin, notify_member):
    mine = notify_member(partner_rep, count=3)
    theirs = notify_member(partner_admin, count=2)

    response = login(partner_rep).post("/t/acme/notifications/read-all/", follow=True)

    assert "Marked 3 notifications read." in response.content.decode()
    assert all(_read_at(n) is not None for n in mine)
    assert all(_read_at(n) is None for n in theirs)


@pytest.mark.parametrize("action", ["read", "open"])
def test_another_members_notification_answers_404_and_stays_unread(
    login, partner_rep, partner_admin, notify_member, action
):
    [theirs] = notify_member(partner_admin)
    client = login(partner_rep)

    response = (client.post if action == "read" else client.get)(
        f"/t/acme/notifications/{theirs.pk}/{action}/"
    )

    assert response.status_code == 404
    assert _read_at(theirs) is None


@pytest.mark.parametrize("action", ["read", "open"])
def test_another_tenants_notification_answers_404_and_stays_unread(
    login, partner_rep, outsider, notify_member, action
):
    [acme_notice] = notify_member(partner_rep)
    client = login(outsider)

    for url in (
        f"/t/globex/notifications/{acme_notice.pk}/{action}/",
        f"/t/acme/notifications/{acme_notice.pk}/{action}/",
    ):
        response = (client.post if action == "read" else client.get)(url)
        assert response.status_code == 404, url
    assert _read_at(acme_notice) is None


def test_an_outsider_cannot_see_the_tenants_notification_list(login, outsider, tenant):
    assert login(outsider).get("/t/acme/notifications/").status_code == 404
