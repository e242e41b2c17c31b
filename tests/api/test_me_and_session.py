"""/me/ for staff and partner users, and the session-authenticated API under /t/<slug>/."""

import pytest
from django.middleware.csrf import _get_new_csrf_string

from partners.models import Membership
from partners.roles import ROLE_PERMISSIONS
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_me_describes_a_staff_member(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": tenant_admin.user.pk,
        "email": "admin@acme.test",
        "full_name": tenant_admin.user.full_name,
    }
    assert body["tenant"] == {
        "slug": "acme",
        "name": "Acme",
        "default_currency": "USD",
        "time_zone": "UTC",
    }
    assert body["membership"] == {"id": tenant_admin.pk, "role": "tenant_admin", "partner": None}
    assert body["permissions"] == sorted(ROLE_PERMISSIONS["tenant_admin"])
    assert body["memberships"] == [
        {"tenant": {"slug": "acme", "name": "Acme"}, "role": "tenant_admin", "is_current": True}
    ]


def test_me_describes_a_partner_user_with_their_organization(api_as, partner_rep, partner):
    body = api_as(partner_rep).get("/api/v1/me/").json()

    assert body["membership"] == {
        "id": partner_rep.pk,
        "role": "partner_rep",
        "partner": {"id": partner.pk, "name": "Northwind", "domain": "northwind.test"},
    }
    assert body["permissions"] == sorted(ROLE_PERMISSIONS["partner_rep"])
    assert "partners.view_membership" not in body["permissions"]


def test_me_lists_every_tenant_of_the_person_for_switching(api_as, tenant_admin, other_tenant):
    MembershipFactory(tenant=other_tenant, role="analyst", user=tenant_admin.user)

    body = api_as(tenant_admin).get("/api/v1/me/").json()

    assert body["memberships"] == [
        {"tenant": {"slug": "acme", "name": "Acme"}, "role": "tenant_admin", "is_current": True},
        {"tenant": {"slug": "globex", "name": "Globex"}, "role": "analyst", "is_current": False},
    ]


def test_me_leaves_out_deactivated_memberships(api_as, tenant_admin, other_tenant):
    MembershipFactory(tenant=other_tenant, role="analyst", user=tenant_admin.user, is_active=False)
    body = api_as(tenant_admin).get("/api/v1/me/").json()
    assert [m["tenant"]["slug"] for m in body["memberships"]] == ["acme"]


# ---------------------------------------------------------------- session under /t/<slug>/


def test_session_authenticates_under_the_tenant_prefix(session_as, partner_admin):
    response = session_as(partner_admin).get("/t/acme/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["membership"]["id"] == partner_admin.pk


def test_session_picks_the_membership_of_the_tenant_in_the_prefix(
    session_as, tenant_admin, other_tenant
):
    globex = MembershipFactory(tenant=other_tenant, role="analyst", user=tenant_admin.user)
    client = session_as(tenant_admin)

    assert client.get("/t/acme/api/v1/me/").json()["membership"]["id"] == tenant_admin.pk
    assert client.get("/t/globex/api/v1/me/").json()["membership"]["id"] == globex.pk


def test_session_without_the_tenant_prefix_is_not_authenticated(session_as, tenant_admin):
    response = session_as(tenant_admin).get("/api/v1/me/")
    assert response.status_code == 401


def test_session_of_a_non_member_gets_404_under_another_tenant(session_as, tenant_admin, outsider):
    response = session_as(tenant_admin).get("/t/globex/api/v1/me/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_unknown_tenant_prefix_answers_404_json(session_as, tenant_admin):
    response = session_as(tenant_admin).get("/t/no-such-tenant/api/v1/me/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_call_under_the_tenant_prefix_answers_401(api_client, tenant):
    response = api_client.get("/t/acme/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_session_needs_csrf_for_unsafe_methods(
    session_as, tenant_admin, channel_manager, in_tenant
):
    client = session_as(tenant_admin)
    url = f"/t/acme/api/v1/memberships/{channel_manager.pk}/"

    refused = client.patch(url, {"is_active": False}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["message"]
    with in_tenant(tenant_admin.tenant):
        assert Membership.objects.get(pk=channel_manager.pk).is_active

    csrf = _get_new_csrf_string()
    client.cookies["csrftoken"] = csrf
    accepted = client.patch(url, {"is_active": False}, format="json", HTTP_X_CSRFTOKEN=csrf)

    assert accepted.status_code == 200
    assert accepted.json()["is_active"] is False


def test_session_reads_need_no_csrf(session_as, tenant_admin):
    assert session_as(tenant_admin).get("/t/acme/api/v1/memberships/").status_code == 200


def test_token_requests_need_no_csrf(api_as, tenant_admin, channel_manager):
    client = api_as(tenant_admin)
    client.handler.enforce_csrf_checks = True
    response = client.patch(
        f"/api/v1/memberships/{channel_manager.pk}/", {"role": "analyst"}, format="json"
    )
    assert response.status_code == 200
