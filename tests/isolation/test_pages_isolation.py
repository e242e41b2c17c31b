"""Pages never cross a tenant (or a partner organization) boundary.

Every URL of the URLconf is reachable under /t/<slug>/, so every one of them is checked: a
signed-in member of another tenant gets 404 for all of them, with real object ids of the
tenant in the path, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone

from partners import services
from partners.models import ApiToken, Invitation, Membership
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_objects(tenant, tenant_admin, partner, partner_admin, partner_rep):
    """Rows of Acme whose ids the URLs carry: memberships, an invitation, an API token."""
    with tenant_context(tenant, tenant_admin):
        issued = services.invitation_create(
            actor=tenant_admin, email="pending@northwind.test", role="partner_rep", partner=partner
        )
        token = services.api_token_issue(actor=tenant_admin, name="CRM").token
    return {
        "people:edit": partner_rep.pk,
        "people:invitation-revoke": issued.invitation.pk,
        "people:token-revoke": token.pk,
        "invitation_token": issued.token,
    }


def _sample(name: str, converter_or_regex: str, url_name: str | None, objects: dict) -> str:
    """A plausible value for one URL parameter, preferring real Acme ids."""
    if url_name in objects and name in {"pk", "object_id", "id"}:
        return str(objects[url_name])
    if name == "token":
        return objects["invitation_token"]
    if name == "app_label":
        return "partners"
    if name in {"pk", "object_id", "id", "content_type_id"}:
        return str(objects["people:edit"])
    return "x1"


def _route(pattern, url_name: str | None, objects: dict) -> str:
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        return re.sub(
            r"<(?:(\w+):)?(\w+)>",
            lambda m: _sample(m.group(2), m.group(1) or "str", url_name, objects),
            route,
        )
    if isinstance(pattern, RegexPattern):
        regex = pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
        regex = re.sub(
            r"\(\?P<(\w+)>[^)]*\)",
            lambda m: _sample(m.group(1), "regex", url_name, objects),
            regex,
        )
        regex = re.sub(r"\([^)]*\)", "1", regex)  # unnamed groups (simple_history's)
        return regex.replace("\\", "")
    return str(pattern)


def _walk(patterns, prefix: str, namespace: str | None, objects: dict):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _walk(
                entry.url_patterns, prefix + _route(entry.pattern, None, objects), ns, objects
            )
        elif isinstance(entry, URLPattern):
            url_name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield url_name, prefix + _route(entry.pattern, url_name, objects)


def every_tenant_path(objects: dict) -> list[tuple[str | None, str]]:
    """(URL name, path) for every pattern of the URLconf, with sample parameters."""
    return list(_walk(get_resolver().url_patterns, "/", None, objects))


def _snapshot(tenant) -> dict:
    with tenant_context(tenant):
        return {
            "memberships": sorted(
                Membership.objects.values_list("pk", "role", "is_active", "partner_id")
            ),
            "invitations": sorted(
                Invitation.objects.values_list("pk", "revoked_at", "accepted_at")
            ),
            "tokens": sorted(ApiToken.objects.values_list("pk", "revoked_at")),
        }


def test_the_url_walk_covers_every_tenant_page(acme_objects):
    paths = every_tenant_path(acme_objects)
    for name, path in paths:
        resolve(path)  # every sample path is a real route (raises Resolver404 if not)
        assert "(" not in path and "[" not in path, (name, path)
    names = {name for name, _path in paths}
    expected = {
        "home",
        "console:home",
        "portal:home",
        "people:list",
        "people:invite",
        "people:edit",
        "people:tokens",
        "people:invitation-revoke",
        "people:token-revoke",
        "admin:index",
        "login",
        "tenant-choose",
        "invitation-accept",
    }
    assert expected <= names


def test_a_member_of_another_tenant_gets_404_for_every_tenant_url(
    login, outsider, tenant, acme_objects
):
    client = login(outsider)
    before = _snapshot(tenant)
    refused = []
    for name, path in every_tenant_path(acme_objects):
        url = f"/t/acme{path}"
        for method in (client.get, client.post):
            response = method(url)
            if response.status_code != 404:
                refused.append((name, url, method.__name__, response.status_code))
    assert refused == []
    assert _snapshot(tenant) == before


def test_the_same_urls_answer_the_tenants_own_admin(login, tenant_admin, acme_objects):
    """The outsider test is meaningful: the pages it probes do exist for a member."""
    client = login(tenant_admin)
    for path in (
        "/t/acme/console/",
        "/t/acme/people/",
        f"/t/acme/people/{acme_objects['people:edit']}/edit/",
        "/t/acme/people/tokens/",
        "/t/acme/people/invite/",
    ):
        assert client.get(path).status_code == 200, path


def test_an_unknown_tenant_slug_is_a_404_for_a_signed_in_user(login, tenant_admin):
    client = login(tenant_admin)
    assert client.get("/t/no-such-tenant/").status_code == 404
    assert client.get("/t/no-such-tenant/console/").status_code == 404
    assert client.get("/t/no-such-tenant/people/").status_code == 404


def test_an_inactive_tenant_is_a_404_for_its_own_members(login, tenant_admin, tenant):
    tenant.is_active = False
    tenant.save()
    assert login(tenant_admin).get("/t/acme/console/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page_from_every_tenant_url(client, acme_objects):
    for name, path in every_tenant_path(acme_objects):
        url = f"/t/acme{path}"
        response = client.get(url)
        if path.startswith("/api/"):
            assert response.status_code == 401, (name, url)
            continue
        assert response.status_code == 302, (name, url)
        assert response["Location"].startswith("/accounts/login/?next="), (name, url)


def test_an_anonymous_visitor_cannot_tell_whether_a_tenant_exists(client, tenant):
    known = client.get("/t/acme/console/")
    unknown = client.get("/t/no-such-tenant/console/")
    assert known.status_code == unknown.status_code == 302


def test_partner_admin_gets_404_editing_a_membership_of_another_partner_organization(
    login, tenant, partner_admin
):
    contoso = PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    contoso_rep = MembershipFactory(
        tenant=tenant, role="partner_rep", partner=contoso, user__email="rep@contoso.test"
    )
    client = login(partner_admin)
    url = f"/t/acme/people/{contoso_rep.pk}/edit/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"role": "partner_admin", "is_active": ""}).status_code == 404
    with tenant_context(tenant):
        unchanged = Membership.objects.get(pk=contoso_rep.pk)
    assert (unchanged.role, unchanged.is_active) == ("partner_rep", True)


def test_partner_admin_gets_404_editing_a_staff_membership(login, partner_admin, tenant_admin):
    url = f"/t/acme/people/{tenant_admin.pk}/edit/"
    assert login(partner_admin).get(url).status_code == 404


def test_partner_admin_gets_404_revoking_an_invitation_of_another_partner_organization(
    login, tenant, tenant_admin, partner_admin
):
    contoso = PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    with tenant_context(tenant, tenant_admin):
        issued = services.invitation_create(
            actor=tenant_admin, email="new@contoso.test", role="partner_rep", partner=contoso
        )
    response = login(partner_admin).post(
        f"/t/acme/people/invitations/{issued.invitation.pk}/revoke/"
    )
    assert response.status_code == 404
    with tenant_context(tenant):
        assert Invitation.objects.get(pk=issued.invitation.pk).state == "pending"


def test_a_member_deactivated_in_a_tenant_gets_404(login, channel_manager, tenant):
    client = login(channel_manager)
    assert client.get("/t/acme/console/").status_code == 200
    with tenant_context(tenant):
        Membership.objects.filter(pk=channel_manager.pk).update(is_active=False)
    for path in ("/t/acme/", "/t/acme/console/", "/t/acme/people/", "/t/acme/people/tokens/"):
        assert client.get(path).status_code == 404, path


def test_a_deactivated_member_keeps_access_to_their_other_tenant(
    login, channel_manager, tenant, other_tenant
):
    MembershipFactory(tenant=other_tenant, role="analyst", user=channel_manager.user)
    with tenant_context(tenant):
        Membership.objects.filter(pk=channel_manager.pk).update(is_active=False)
    client = login(channel_manager)
    assert client.get("/t/acme/console/").status_code == 404
    assert client.get("/t/globex/console/").status_code == 200


def test_the_404_page_of_another_tenant_shows_nothing_of_it(login, outsider, partner_rep):
    response = login(outsider).get("/t/acme/people/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Acme" not in html
    assert "Northwind" not in html
    assert 'href="/t/acme/' not in html


def test_an_expired_invitation_of_another_tenant_cannot_be_accepted_into_it(
    login, outsider, tenant_admin, tenant
):
    with tenant_context(tenant, tenant_admin):
        issued = services.invitation_create(
            actor=tenant_admin, email="admin@globex.test", role="analyst"
        )
        Invitation.objects.filter(pk=issued.invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    client = login(outsider)
    assert client.post(f"/accounts/invite/{issued.token}/").status_code == 410
    assert client.get("/t/acme/console/").status_code == 404
