"""The partner portal's company profile: every partner user reads their own organization's
profile, partner admins edit their part of it, nobody else reaches it."""

from __future__ import annotations

import pytest

from partners import services
from partners.tenancy import tenant_context
from tests.conftest import assign_partner_manager
from tests.factories import MembershipFactory
from tests.partners.html import parse, text

pytestmark = pytest.mark.django_db

PROFILE = "/t/acme/portal/profile/"
EDIT = "/t/acme/portal/profile/edit/"


@pytest.fixture
def northwind(partner, tenant_admin):
    """Northwind with a full profile, suspended-free, its managers assigned."""
    with tenant_context(partner.tenant, tenant_admin):
        services.partner_update(
            actor=tenant_admin, partner=partner, legal_name="Northwind Traders LLC",
            partner_type="msp", segment="mid_market", employee_count=120,
            countries=["US", "CA"], regions=["North America"],
        )  # fmt: skip
    return partner


@pytest.fixture
def profile_post():
    def _post(**fields):
        data = {
            "legal_name": "Northwind Traders Inc.",
            "employee_count": "140",
            "countries": "us, mx",
            "regions": "North America, LATAM",
        }
        data.update(fields)
        return data

    return _post


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("who", ["partner_admin", "partner_rep"])
def test_every_partner_user_reads_their_organizations_profile_and_contacts(
    login, request, who, northwind, channel_manager
):
    response = login(request.getfixturevalue(who)).get(PROFILE)
    assert response.status_code == 200
    page = text(response)
    for shown in [
        "Northwind", "Northwind Traders LLC", "northwind.test", "Managed service provider",
        "120", "CA, US", "North America", "Active", channel_manager.user.email,
        channel_manager.user.get_full_name(),
    ]:  # fmt: skip
        assert shown in page, shown
    assert f"mailto:{channel_manager.user.email}" in response.content.decode()


def test_profile_shows_the_tier_and_competencies(login, partner_rep, partner, tenant, make_tier):
    gold = make_tier(tenant, 3, "Gold")
    with tenant_context(tenant):
        type(partner).objects.filter(pk=partner.pk).update(
            tier=gold, competencies=["Cloud security"]
        )
    page = text(login(partner_rep).get(PROFILE))
    assert "Gold" in page
    assert "Cloud security" in page


def test_profile_without_a_manager_says_none_is_assigned(login, partner_rep):
    assert "No channel manager is assigned" in text(login(partner_rep).get(PROFILE))


def test_only_partner_admins_see_the_edit_link(login, partner_admin, partner_rep):
    assert f'href="{EDIT}"' in login(partner_admin).get(PROFILE).content.decode()
    assert f'href="{EDIT}"' not in login(partner_rep).get(PROFILE).content.decode()


def test_portal_home_links_to_the_profile(login, partner_rep):
    assert f'href="{PROFILE}"' in login(partner_rep).get("/t/acme/portal/").content.decode()


def test_a_partner_user_never_sees_another_organizations_profile(
    login, northwind, contoso, contoso_rep
):
    page = text(login(contoso_rep).get(PROFILE))
    assert "Contoso" in page
    assert "Northwind" not in page
    assert "northwind.test" not in page


# ---------------------------------------------------------------- who may reach it


@pytest.mark.parametrize("url", [PROFILE, EDIT])
def test_another_tenants_member_gets_404(login, outsider, partner, url):
    assert login(outsider).get(url).status_code == 404
    assert login(outsider).post(url, {"legal_name": "Hijacked"}).status_code == 404


@pytest.mark.parametrize("url", [PROFILE, EDIT])
@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "analyst"])
def test_staff_get_403_like_on_every_portal_page(login, tenant, partner, url, role):
    """The portal pages answer staff 403 (no ``access_partner_portal``), whether or not the
    channel manager is assigned to a partner."""
    staff = MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test")
    if role == "channel_manager":
        assign_partner_manager(staff, partner)
    assert login(staff).get(url).status_code == 403


def test_unassigned_channel_manager_gets_403_and_writes_nothing(
    login, tenant, partner, stored_partner
):
    manager = MembershipFactory(tenant=tenant, role="channel_manager", user__email="cm@acme.test")
    assert login(manager).post(EDIT, {"legal_name": "Hijacked"}).status_code == 403
    assert stored_partner(partner).legal_name == ""


def test_rep_gets_403_on_the_edit_page_and_writes_nothing(
    login, partner_rep, partner, profile_post, stored_partner
):
    client = login(partner_rep)
    assert client.get(EDIT).status_code == 403
    assert client.post(EDIT, profile_post()).status_code == 403
    assert stored_partner(partner).legal_name == ""


def test_an_anonymous_visitor_is_sent_to_sign_in_and_writes_nothing(
    client, partner, stored_partner
):
    for response in (client.get(PROFILE), client.post(EDIT, {"legal_name": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert stored_partner(partner).legal_name == ""


# ---------------------------------------------------------------- editing


def test_partner_admin_edits_the_profile(
    login, partner_admin, northwind, profile_post, stored_partner
):
    client = login(partner_admin)
    form = client.get(EDIT)
    assert form.status_code == 200
    fields = {attrs.get("name") for tag, attrs in parse(form).tags if tag in ("input", "select")}
    assert {"legal_name", "employee_count", "countries", "regions"} <= fields
    assert not fields & {"name", "domain", "partner_type", "competencies", "lead_capacity"}
    assert 'value="CA, US"' in form.content.decode()

    response = client.post(EDIT, profile_post())
    assert response.status_code == 302
    assert response["Location"] == PROFILE
    saved = stored_partner(northwind)
    assert saved.legal_name == "Northwind Traders Inc."
    assert saved.employee_count == 140
    assert saved.countries == ["MX", "US"]
    assert saved.regions == ["LATAM", "North America"]
    assert "Company profile saved." in text(client.get(PROFILE))


def test_partner_admin_clears_optional_fields(
    login, partner_admin, northwind, profile_post, stored_partner
):
    data = profile_post(legal_name="", employee_count="", countries="", regions="")
    assert login(partner_admin).post(EDIT, data).status_code == 302
    saved = stored_partner(northwind)
    assert (saved.legal_name, saved.employee_count, saved.countries, saved.regions) == (
        "", None, [], [],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"employee_count": "-3"}, "employee_count"),
        ({"employee_count": "many"}, "employee_count"),
        ({"countries": "USA, Canada"}, "countries"),
        ({"countries": "U1"}, "countries"),
        ({"regions": "x" * 51}, "regions"),
        ({"legal_name": "x" * 301}, "legal_name"),
    ],
)
def test_bad_input_is_a_400_with_the_form_and_writes_nothing(
    login, partner_admin, northwind, profile_post, stored_partner, fields, error_field
):
    before = stored_partner(northwind)
    response = login(partner_admin).post(EDIT, profile_post(**fields))
    assert response.status_code == 400
    assert response.context["form"].errors.get(error_field), response.context["form"].errors
    after = stored_partner(northwind)
    for name in ("legal_name", "employee_count", "countries", "regions"):
        assert getattr(after, name) == getattr(before, name)


def test_fields_the_partner_may_not_change_are_ignored(
    login, partner_admin, northwind, profile_post, stored_partner
):
    data = profile_post(name="Hijacked", domain="evil.test", competencies="Anything",
                        lead_capacity="999", status="active")  # fmt: skip
    assert login(partner_admin).post(EDIT, data).status_code == 302
    saved = stored_partner(northwind)
    assert (saved.name, saved.domain, saved.lead_capacity) == ("Northwind", "northwind.test", 10)
    assert saved.competencies == []


def test_a_partner_admin_edits_only_their_own_organization(
    login, contoso_admin, northwind, contoso, profile_post, stored_partner
):
    assert (
        login(contoso_admin).post(EDIT, profile_post(legal_name="Contoso Ltd")).status_code == 302
    )
    assert stored_partner(contoso).legal_name == "Contoso Ltd"
    assert stored_partner(northwind).legal_name == "Northwind Traders LLC"
