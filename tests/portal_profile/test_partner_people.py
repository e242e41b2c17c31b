"""A partner admin manages the people of their own organization on /people/: invites reps
and partner admins, changes a person's role between the two, deactivates someone; never
themselves, never a staff role, never another organization. A rep does none of it."""

from __future__ import annotations

import pytest

from partners.models import Invitation
from partners.tenancy import tenant_context
from tests.partners.html import text

pytestmark = pytest.mark.django_db

INVITE = "/t/acme/people/invite/"


def edit_url(membership) -> str:
    return f"/t/acme/people/{membership.pk}/edit/"


@pytest.fixture
def invitations(tenant):
    """The invitations of Acme, as stored."""

    def _all():
        with tenant_context(tenant):
            return list(Invitation.objects.select_related("partner").order_by("id"))

    return _all


@pytest.fixture
def colleague_admin(tenant, partner):
    from tests.factories import MembershipFactory

    return MembershipFactory(
        tenant=tenant, role="partner_admin", partner=partner, user__email="admin2@northwind.test"
    )


# ---------------------------------------------------------------- inviting


@pytest.mark.parametrize("role", ["partner_rep", "partner_admin"])
def test_partner_admin_invites_into_their_own_organization(
    login, partner_admin, partner, invitations, role
):
    response = login(partner_admin).post(INVITE, {"email": "New@Northwind.test", "role": role})
    assert response.status_code == 302
    (invitation,) = invitations()
    assert (invitation.email, invitation.role, invitation.partner) == (
        "new@northwind.test", role, partner,
    )  # fmt: skip
    assert invitation.invited_by == partner_admin.user


def test_the_invite_form_offers_only_partner_roles_and_no_organization(login, partner_admin):
    form = login(partner_admin).get(INVITE).context["form"]
    assert [value for value, _label in form.fields["role"].choices] == [
        "partner_admin", "partner_rep",
    ]  # fmt: skip
    assert "partner" not in form.fields


def test_posting_another_organizations_id_still_invites_into_their_own(
    login, partner_admin, partner, contoso, invitations
):
    response = login(partner_admin).post(
        INVITE, {"email": "mole@contoso.test", "role": "partner_rep", "partner": contoso.pk}
    )
    assert response.status_code == 302
    (invitation,) = invitations()
    assert invitation.partner == partner
    with tenant_context(contoso.tenant):
        assert not Invitation.objects.filter(partner=contoso).exists()


@pytest.mark.parametrize(
    "role", ["tenant_admin", "channel_manager", "finance", "marketing", "analyst", "emperor"]
)
def test_partner_admin_cannot_invite_to_a_staff_role(login, partner_admin, invitations, role):
    response = login(partner_admin).post(INVITE, {"email": "boss@northwind.test", "role": role})
    assert response.status_code == 400
    assert response.context["form"].errors["role"]
    assert invitations() == []


def test_a_staff_role_with_another_organization_is_refused_too(
    login, partner_admin, contoso, invitations
):
    data = {"email": "boss@contoso.test", "role": "tenant_admin", "partner": contoso.pk}
    assert login(partner_admin).post(INVITE, data).status_code == 400
    assert invitations() == []


def test_the_invitation_shows_on_the_people_page_of_their_organization_only(
    login, partner_admin, contoso_admin
):
    login(partner_admin).post(INVITE, {"email": "new@northwind.test", "role": "partner_rep"})
    assert "new@northwind.test" in text(login(partner_admin).get("/t/acme/people/"))
    assert "new@northwind.test" not in text(login(contoso_admin).get("/t/acme/people/"))


# ---------------------------------------------------------------- roles and deactivation


def test_partner_admin_promotes_a_rep_and_demotes_an_admin(
    login, partner_admin, partner_rep, colleague_admin, stored_membership
):
    client = login(partner_admin)
    assert client.get(edit_url(partner_rep)).status_code == 200
    response = client.post(edit_url(partner_rep), {"role": "partner_admin", "is_active": "on"})
    assert response.status_code == 302
    assert stored_membership(partner_rep).role == "partner_admin"
    response = client.post(edit_url(colleague_admin), {"role": "partner_rep", "is_active": "on"})
    assert response.status_code == 302
    assert stored_membership(colleague_admin).role == "partner_rep"


def test_the_edit_form_offers_only_partner_roles(login, partner_admin, partner_rep):
    form = login(partner_admin).get(edit_url(partner_rep)).context["form"]
    assert [value for value, _label in form.fields["role"].choices] == [
        "partner_admin", "partner_rep",
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "analyst", ""])
def test_partner_admin_cannot_give_a_staff_role(
    login, partner_admin, partner_rep, stored_membership, role
):
    response = login(partner_admin).post(edit_url(partner_rep), {"role": role, "is_active": "on"})
    assert response.status_code == 400
    saved = stored_membership(partner_rep)
    assert (saved.role, saved.is_active) == ("partner_rep", True)


def test_partner_admin_deactivates_a_person_who_then_loses_access(
    login, partner_admin, partner_rep, stored_membership
):
    response = login(partner_admin).post(edit_url(partner_rep), {"role": "partner_rep"})
    assert response.status_code == 302
    assert stored_membership(partner_rep).is_active is False
    assert login(partner_rep).get("/t/acme/portal/").status_code == 404
    assert "Deactivated" in text(login(partner_admin).get("/t/acme/people/"))


def test_partner_admin_reactivates_a_person(login, partner_admin, partner_rep, stored_membership):
    client = login(partner_admin)
    client.post(edit_url(partner_rep), {"role": "partner_rep"})
    client.post(edit_url(partner_rep), {"role": "partner_rep", "is_active": "on"})
    assert stored_membership(partner_rep).is_active is True


@pytest.mark.parametrize(
    "data",
    [
        {"role": "partner_rep", "is_active": "on"},  # demote themselves
        {"role": "partner_admin"},  # deactivate themselves
        {"role": "partner_rep"},  # both
    ],
)
def test_partner_admin_cannot_change_their_own_role_or_deactivate_themselves(
    login, partner_admin, stored_membership, data
):
    response = login(partner_admin).post(edit_url(partner_admin), data)
    assert response.status_code == 400
    assert "cannot change your own role" in text(response)
    saved = stored_membership(partner_admin)
    assert (saved.role, saved.is_active) == ("partner_admin", True)


def test_the_people_page_has_no_edit_link_for_themselves(login, partner_admin, partner_rep):
    html = login(partner_admin).get("/t/acme/people/").content.decode()
    assert f'href="{edit_url(partner_rep)}"' in html
    assert f'href="{edit_url(partner_admin)}"' not in html


# ---------------------------------------------------------------- another organization


@pytest.mark.parametrize(
    "data", [{"role": "partner_admin", "is_active": "on"}, {"role": "partner_rep"}]
)
def test_another_organizations_membership_is_a_404_and_untouched(
    login, partner_admin, contoso_rep, stored_membership, data
):
    client = login(partner_admin)
    assert client.get(edit_url(contoso_rep)).status_code == 404
    assert client.post(edit_url(contoso_rep), data).status_code == 404
    saved = stored_membership(contoso_rep)
    assert (saved.role, saved.is_active) == ("partner_rep", True)


def test_a_staff_membership_is_a_404_for_a_partner_admin(
    login, partner_admin, tenant_admin, stored_membership
):
    client = login(partner_admin)
    assert client.get(edit_url(tenant_admin)).status_code == 404
    assert client.post(edit_url(tenant_admin), {"role": "partner_rep"}).status_code == 404
    assert stored_membership(tenant_admin).is_active is True


def test_the_people_page_lists_only_their_organization(
    login, partner_admin, partner_rep, contoso_rep, tenant_admin
):
    page = text(login(partner_admin).get("/t/acme/people/"))
    assert partner_rep.user.email in page
    assert contoso_rep.user.email not in page
    assert tenant_admin.user.email not in page


def test_another_tenants_member_gets_404_on_the_people_pages(login, outsider, partner_rep):
    client = login(outsider)
    assert client.get("/t/acme/people/").status_code == 404
    assert client.post(INVITE, {"email": "x@globex.test", "role": "partner_rep"}).status_code == 404
    assert client.post(edit_url(partner_rep), {"role": "partner_admin"}).status_code == 404


# ---------------------------------------------------------------- a rep


def test_a_rep_can_do_none_of_it(
    login, partner_rep, partner_admin, colleague_admin, invitations, stored_membership
):
    client = login(partner_rep)
    assert client.get("/t/acme/people/").status_code == 403
    assert client.get(INVITE).status_code == 403
    assert (
        client.post(INVITE, {"email": "x@northwind.test", "role": "partner_rep"}).status_code == 403
    )
    assert client.get(edit_url(partner_admin)).status_code == 403
    assert client.post(edit_url(partner_admin), {"role": "partner_rep"}).status_code == 403
    assert (
        client.post(edit_url(partner_rep), {"role": "partner_admin", "is_active": "on"}).status_code
        == 403
    )
    assert invitations() == []
    assert stored_membership(partner_admin).role == "partner_admin"
    assert stored_membership(partner_admin).is_active is True
    assert stored_membership(partner_rep).role == "partner_rep"
