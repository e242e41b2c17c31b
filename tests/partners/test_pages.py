"""The foundation pages through the HTTP client: homes per role, navigation, people,
invitations, API tokens, and what every page carries (assets, CSP)."""

from __future__ import annotations

import re

import pytest

from partners.models import ApiToken, Invitation, Membership
from partners.selectors import hash_secret
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory, TenantFactory
from tests.partners.html import active_nav, main_nav, parse, text

pytestmark = pytest.mark.django_db

EXPECTED_NAV = {
    "tenant_admin": [
        "Console", "Review queue", "Deals", "Leads", "Partners", "Tier approvals", "People",
        "API tokens", "Admin",
    ],
    "channel_manager": [
        "Console", "Review queue", "Deals", "Leads", "Partners", "Tier approvals", "People",
        "API tokens",
    ],
    "finance": ["Console", "Deals", "Partners", "People", "API tokens"],
    "marketing": ["Console", "Deals", "Leads", "Partners", "API tokens"],
    "analyst": ["Console", "Deals", "Partners", "People", "API tokens"],
    "partner_admin": ["Portal", "My deals", "Offered leads", "Company", "People", "API tokens"],
    "partner_rep": ["Portal", "My deals", "Offered leads", "Company", "API tokens"],
}  # fmt: skip


@pytest.fixture
def member_with_role(tenant, partner):
    def _make(role: str):
        extra = {"partner": partner} if role.startswith("partner_") else {}
        return MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test", **extra)

    return _make


# ---------------------------------------------------------------- homes


def test_channel_manager_lands_on_the_console_showing_name_tenant_and_role(login, channel_manager):
    client = login(channel_manager)
    response = client.get("/t/acme/", follow=True)
    assert response.redirect_chain == [("/t/acme/console/", 302)]
    assert response.status_code == 200
    page = text(response)
    assert channel_manager.user.full_name in page
    assert "Acme" in page
    assert "Channel manager" in page


def test_tenant_admin_console_shows_counts_pending_invitations_and_admin_link(
    login, tenant_admin, partner, partner_rep, invite
):
    invite(tenant_admin, "newcomer@acme.test", "finance")
    response = login(tenant_admin).get("/t/acme/console/")
    assert response.status_code == 200
    page = text(response)
    assert "Tenant admin" in page
    assert "newcomer@acme.test" in page
    html = response.content.decode()
    assert 'href="/t/acme/admin/"' in html
    assert 'href="/t/acme/people/invite/"' in html


def test_console_of_an_analyst_hides_invitations_and_invite_links(
    login, analyst, tenant_admin, invite
):
    invite(tenant_admin, "newcomer@acme.test", "finance")
    response = login(analyst).get("/t/acme/console/")
    assert response.status_code == 200
    assert "newcomer@acme.test" not in text(response)
    assert "/people/invite/" not in response.content.decode()
    assert "/admin/" not in response.content.decode()


def test_partner_rep_lands_on_the_portal_showing_organization_role_and_colleagues(
    login, partner_rep, partner_admin
):
    client = login(partner_rep)
    response = client.get("/t/acme/", follow=True)
    assert response.redirect_chain == [("/t/acme/portal/", 302)]
    page = text(response)
    assert partner_rep.user.full_name in page
    assert "Northwind" in page
    assert "Acme" in page
    assert "Partner rep" in page
    assert partner_admin.user.email in page  # a colleague


def test_portal_does_not_list_people_of_another_partner_organization(
    login, partner_rep, contoso_rep
):
    response = login(partner_rep).get("/t/acme/portal/")
    assert contoso_rep.user.email not in text(response)


# ---------------------------------------------------------------- navigation


@pytest.mark.parametrize("role", sorted(EXPECTED_NAV))
def test_navigation_shows_only_the_links_the_role_may_open(login, member_with_role, role):
    client = login(member_with_role(role))
    home = client.get("/t/acme/", follow=True)
    assert list(main_nav(home)) == EXPECTED_NAV[role]


@pytest.mark.parametrize("role", sorted(EXPECTED_NAV))
def test_every_navigation_link_answers_200(login, member_with_role, role):
    client = login(member_with_role(role))
    links = main_nav(client.get("/t/acme/", follow=True))
    assert links
    for label, url in links.items():
        assert url.startswith("/t/acme/"), label
        assert client.get(url).status_code == 200, f"{label} {url}"


def test_only_the_page_being_shown_is_marked_active(login, tenant_admin):
    client = login(tenant_admin)
    assert active_nav(client.get("/t/acme/people/tokens/")) == ["API tokens"]
    assert active_nav(client.get("/t/acme/people/")) == ["People"]
    assert active_nav(client.get("/t/acme/console/")) == ["Console"]


def test_header_has_a_sign_out_form_and_a_tenant_switcher_only_for_several_tenants(
    login, channel_manager, other_tenant
):
    client = login(channel_manager)
    html = client.get("/t/acme/console/").content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"', html)
    assert "/accounts/tenants/?all=1" not in html

    MembershipFactory(tenant=other_tenant, role="analyst", user=channel_manager.user)
    html = client.get("/t/acme/console/").content.decode()
    assert 'href="/accounts/tenants/?all=1"' in html


def test_partner_user_header_shows_their_partner_organization(login, partner_admin):
    response = login(partner_admin).get("/t/acme/people/")
    header = response.content.decode().split("</header>")[0]
    assert "Northwind" in header
    assert "Partner admin" in header


# ---------------------------------------------------------------- what partner users may not open


@pytest.mark.parametrize("who", ["partner_admin", "partner_rep"])
def test_partner_user_gets_403_on_the_staff_console(login, request, who):
    assert login(request.getfixturevalue(who)).get("/t/acme/console/").status_code == 403


def test_staff_member_gets_403_on_the_partner_portal(login, channel_manager):
    assert login(channel_manager).get("/t/acme/portal/").status_code == 403


def test_partner_rep_gets_403_on_the_people_pages(login, partner_rep, partner_admin):
    client = login(partner_rep)
    assert client.get("/t/acme/people/").status_code == 403
    assert client.get("/t/acme/people/invite/").status_code == 403
    assert client.get(f"/t/acme/people/{partner_admin.pk}/edit/").status_code == 403
    response = client.post(
        f"/t/acme/people/{partner_admin.pk}/edit/", {"role": "partner_rep", "is_active": ""}
    )
    assert response.status_code == 403
    with tenant_context(partner_admin.tenant):
        assert Membership.objects.get(pk=partner_admin.pk).role == "partner_admin"


def test_403_page_says_which_role_the_person_has(login, partner_rep):
    response = login(partner_rep).get("/t/acme/console/")
    assert "Partner rep" in text(response)


# ---------------------------------------------------------------- people and invitations


def test_staff_analyst_cannot_invite(login, analyst):
    client = login(analyst)
    assert client.get("/t/acme/people/invite/").status_code == 403
    response = client.post(
        "/t/acme/people/invite/", {"email": "someone@acme.test", "role": "analyst"}
    )
    assert response.status_code == 403
    with tenant_context(analyst.tenant):
        assert not Invitation.objects.exists()


def test_analyst_sees_people_but_no_invite_button_or_edit_links(login, analyst, channel_manager):
    response = login(analyst).get("/t/acme/people/")
    assert response.status_code == 200
    html = response.content.decode()
    assert channel_manager.user.email in html
    assert "/people/invite/" not in html
    assert "/edit/" not in html


def test_channel_manager_cannot_edit_memberships(login, channel_manager, analyst):
    client = login(channel_manager)
    assert client.get(f"/t/acme/people/{analyst.pk}/edit/").status_code == 403
    response = client.post(f"/t/acme/people/{analyst.pk}/edit/", {"role": "tenant_admin"})
    assert response.status_code == 403
    with tenant_context(analyst.tenant):
        assert Membership.objects.get(pk=analyst.pk).role == "analyst"


def test_people_list_shows_roles_statuses_edit_links_and_pending_invitations(
    login, tenant_admin, analyst, partner_rep, invite
):
    with tenant_context(analyst.tenant):
        Membership.objects.filter(pk=analyst.pk).update(is_active=False)
    issued = invite(tenant_admin, "newcomer@acme.test", "finance")
    response = login(tenant_admin).get("/t/acme/people/")
    assert response.status_code == 200
    page = text(response)
    html = response.content.decode()
    assert "Analyst" in page and "Deactivated" in page
    assert "Partner rep" in page and "Northwind" in page
    assert f'href="/t/acme/people/{analyst.pk}/edit/"' in html
    assert f'href="/t/acme/people/{tenant_admin.pk}/edit/"' not in html  # not yourself
    assert "newcomer@acme.test" in page
    assert f'action="/t/acme/people/invitations/{issued.invitation.pk}/revoke/"' in html
    assert 'href="/t/acme/people/invite/"' in html


def test_channel_manager_sees_no_revoke_button_on_a_staff_invitation(
    login, tenant_admin, channel_manager, partner, invite
):
    staff = invite(tenant_admin, "cfo@acme.test", "finance")
    partner_user = invite(tenant_admin, "new@northwind.test", "partner_rep", partner)
    html = login(channel_manager).get("/t/acme/people/").content.decode()
    assert f"/invitations/{staff.invitation.pk}/revoke/" not in html
    assert f"/invitations/{partner_user.invitation.pk}/revoke/" in html
    response = login(channel_manager).post(
        f"/t/acme/people/invitations/{staff.invitation.pk}/revoke/"
    )
    assert response.status_code == 403
    with tenant_context(tenant_admin.tenant):
        assert Invitation.objects.get(pk=staff.invitation.pk).state == "pending"


def test_partner_admin_sees_only_their_own_organization_on_the_people_page(
    login, partner_admin, partner_rep, contoso_rep, channel_manager
):
    page = text(login(partner_admin).get("/t/acme/people/"))
    assert partner_rep.user.email in page
    assert contoso_rep.user.email not in page
    assert channel_manager.user.email not in page


def test_tenant_admin_revokes_an_invitation_from_the_people_page(login, tenant_admin, invite):
    issued = invite(tenant_admin, "newcomer@acme.test", "finance")
    client = login(tenant_admin)
    response = client.post(
        f"/t/acme/people/invitations/{issued.invitation.pk}/revoke/", follow=True
    )
    assert response.status_code == 200
    assert "Invitation revoked." in text(response)
    with tenant_context(tenant_admin.tenant):
        assert Invitation.objects.get(pk=issued.invitation.pk).state == "revoked"


def test_revoking_an_invitation_needs_a_post(login, tenant_admin, invite):
    issued = invite(tenant_admin, "newcomer@acme.test", "finance")
    response = login(tenant_admin).get(f"/t/acme/people/invitations/{issued.invitation.pk}/revoke/")
    assert response.status_code == 405


def test_tenant_admin_changes_a_role_and_deactivates_someone(login, tenant_admin, analyst):
    client = login(tenant_admin)
    form = client.get(f"/t/acme/people/{analyst.pk}/edit/")
    assert form.status_code == 200
    assert analyst.user.email in text(form)
    response = client.post(f"/t/acme/people/{analyst.pk}/edit/", {"role": "finance"})
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/people/"
    with tenant_context(analyst.tenant):
        changed = Membership.objects.get(pk=analyst.pk)
    assert changed.role == "finance"
    assert changed.is_active is False  # an unticked box deactivates


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"role": "emperor", "is_active": "on"},
        {"role": "partner_rep", "is_active": "on"},  # a staff member cannot hold a partner role
    ],
)
def test_membership_edit_with_bad_input_is_a_400_and_changes_nothing(
    login, tenant_admin, analyst, data
):
    response = login(tenant_admin).post(f"/t/acme/people/{analyst.pk}/edit/", data)
    assert response.status_code == 400
    assert parse(response)  # the form is shown again
    with tenant_context(analyst.tenant):
        unchanged = Membership.objects.get(pk=analyst.pk)
    assert (unchanged.role, unchanged.is_active) == ("analyst", True)


def test_tenant_admin_cannot_deactivate_themselves(login, tenant_admin):
    response = login(tenant_admin).post(
        f"/t/acme/people/{tenant_admin.pk}/edit/", {"role": "tenant_admin"}
    )
    assert response.status_code == 400
    assert "cannot change your own role" in text(response)
    with tenant_context(tenant_admin.tenant):
        assert Membership.objects.get(pk=tenant_admin.pk).is_active


def test_partner_admin_promotes_a_colleague_but_only_to_partner_roles(
    login, partner_admin, partner_rep
):
    client = login(partner_admin)
    url = f"/t/acme/people/{partner_rep.pk}/edit/"
    assert client.post(url, {"role": "tenant_admin", "is_active": "on"}).status_code == 400
    assert client.post(url, {"role": "partner_admin", "is_active": "on"}).status_code == 302
    with tenant_context(partner_rep.tenant):
        assert Membership.objects.get(pk=partner_rep.pk).role == "partner_admin"


# ---------------------------------------------------------------- API tokens


def test_api_token_key_is_shown_once_then_listed_by_prefix_and_revocable(login, partner_rep):
    client = login(partner_rep)
    response = client.post("/t/acme/people/tokens/", {"name": "CRM sync"})
    assert response.status_code == 200
    key = re.search(r"trl_[A-Za-z0-9_-]+", response.content.decode()).group(0)
    with tenant_context(partner_rep.tenant):
        token = ApiToken.objects.get(membership=partner_rep)
    assert token.key_hash == hash_secret(key)
    assert token.name == "CRM sync"

    listing = client.get("/t/acme/people/tokens/")
    assert key not in listing.content.decode()
    assert token.prefix in listing.content.decode()
    assert 'href="/api/docs/"' in listing.content.decode()

    revoked = client.post(f"/t/acme/people/tokens/{token.pk}/revoke/", follow=True)
    assert revoked.status_code == 200
    assert "Token revoked." in text(revoked)
    with tenant_context(partner_rep.tenant):
        token.refresh_from_db()
    assert token.revoked_at is not None


def test_api_token_without_a_name_is_a_400_and_creates_nothing(login, partner_rep):
    response = login(partner_rep).post("/t/acme/people/tokens/", {"name": "  "})
    assert response.status_code == 400
    with tenant_context(partner_rep.tenant):
        assert not ApiToken.objects.exists()


def test_a_member_cannot_revoke_a_colleagues_token(login, partner_rep, partner_admin):
    login(partner_admin).post("/t/acme/people/tokens/", {"name": "Admin's"})
    with tenant_context(partner_admin.tenant):
        token = ApiToken.objects.get(membership=partner_admin)
    response = login(partner_rep).post(f"/t/acme/people/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    with tenant_context(partner_admin.tenant):
        token.refresh_from_db()
    assert token.revoked_at is None


# ---------------------------------------------------------------- what every page carries


def test_htmx_and_pico_are_served_from_static_never_from_a_cdn(login, channel_manager, client):
    for response in (
        client.get("/accounts/login/"),
        login(channel_manager).get("/t/acme/console/"),
    ):
        page = parse(response)
        scripts = [attrs.get("src") for tag, attrs in page.tags if tag == "script"]
        styles = [
            attrs.get("href")
            for tag, attrs in page.tags
            if tag == "link" and attrs.get("rel") == "stylesheet"
        ]
        assert "/static/vendor/htmx.min.js" in scripts
        assert "/static/vendor/pico.min.css" in styles
        assert all(url and url.startswith("/static/") for url in scripts + styles)
        assert "cdn" not in response.content.decode().lower()


def test_pages_have_no_inline_scripts_or_styles(login, tenant_admin, client):
    for response in (
        client.get("/accounts/login/"),
        login(tenant_admin).get("/t/acme/console/"),
        client.get("/t/acme/people/"),
        client.get("/t/acme/people/tokens/"),
    ):
        page = parse(response)
        assert all(attrs.get("src") for tag, attrs in page.tags if tag == "script")
        assert not [tag for tag, _attrs in page.tags if tag == "style"]
        assert not [tag for tag, attrs in page.tags if "style" in attrs]
        assert '"includeIndicatorStyles": false' in response.content.decode()


def test_pages_send_a_content_security_policy(login, channel_manager, client):
    for response in (
        client.get("/accounts/login/"),
        login(channel_manager).get("/t/acme/console/"),
    ):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_pages_are_usable_on_a_phone(client):
    page = parse(client.get("/accounts/login/"))
    viewports = [
        a.get("content", "")
        for tag, a in page.tags
        if tag == "meta" and a.get("name") == "viewport"
    ]
    assert viewports == ["width=device-width, initial-scale=1"]


def test_unknown_page_inside_a_tenant_shows_the_404_page(login, tenant_admin):
    response = login(tenant_admin).get("/t/acme/people/999999/edit/")
    assert response.status_code == 404
    assert "Page not found" in text(response)


def test_home_without_a_tenant_sends_a_member_to_their_tenant(login, channel_manager):
    response = login(channel_manager).get("/", follow=True)
    assert response.redirect_chain[-1] == ("/t/acme/console/", 302)


def test_second_tenant_membership_gives_a_second_home(login, channel_manager):
    globex = TenantFactory(slug="globex", name="Globex")
    MembershipFactory(tenant=globex, role="finance", user=channel_manager.user)
    client = login(channel_manager)
    response = client.get("/t/globex/", follow=True)
    assert response.redirect_chain == [("/t/globex/console/", 302)]
    assert "Finance" in text(response)
    assert "Globex" in text(response)


@pytest.mark.parametrize("role", sorted(EXPECTED_NAV))
def test_no_page_of_the_role_links_to_a_dead_end(
    login, member_with_role, tenant_admin, invite, role
):
    invite(tenant_admin, "newcomer@acme.test", "finance")
    client = login(member_with_role(role))
    pages = ["/t/acme/", *main_nav(client.get("/t/acme/", follow=True)).values()]
    links = set()
    for url in pages:
        response = client.get(url, follow=True)
        links |= {
            attrs["href"]
            for tag, attrs in parse(response).tags
            if tag == "a" and attrs.get("href", "").startswith("/")
        }
    assert links
    dead = {url: client.get(url, follow=True).status_code for url in links}
    assert {url: status for url, status in dead.items() if status != 200} == {}
