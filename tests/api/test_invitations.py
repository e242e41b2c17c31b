"""/invitations/: who sees and sends which invitations; the secret never leaves the email."""

import re

import pytest

from partners.models import Invitation
from partners.selectors import hash_secret

pytestmark = pytest.mark.django_db

URL = "/api/v1/invitations/"


@pytest.fixture
def invitations(tenant, partner, other_partner, tenant_admin, make_invitation):
    return {
        "staff": make_invitation(
            tenant, "cfo@acme.test", role="finance", invited_by=tenant_admin.user
        ),
        "northwind": make_invitation(tenant, "new@northwind.test", partner=partner),
        "contoso": make_invitation(tenant, "new@contoso.test", partner=other_partner),
    }


def _emails(response):
    assert response.status_code == 200, response.json()
    return sorted(i["email"] for i in response.json()["results"])


def test_tenant_admin_sees_every_invitation(api_as, tenant_admin, invitations):
    assert _emails(api_as(tenant_admin).get(URL)) == [
        "cfo@acme.test",
        "new@contoso.test",
        "new@northwind.test",
    ]


def test_partner_admin_sees_only_invitations_to_their_organization(
    api_as, partner_admin, invitations
):
    client = api_as(partner_admin)
    assert _emails(client.get(URL)) == ["new@northwind.test"]
    assert client.get(f"{URL}{invitations['contoso'].pk}/").status_code == 404
    assert client.get(f"{URL}{invitations['staff'].pk}/").status_code == 404


def test_roles_without_the_permission_may_not_list_invitations(
    api_as, partner_rep, analyst, invitations
):
    assert api_as(partner_rep).get(URL).status_code == 403
    assert api_as(analyst).get(URL).status_code == 403


def test_outsider_sees_none_of_the_tenants_invitations(api_as, outsider, invitations):
    client = api_as(outsider)
    assert _emails(client.get(URL)) == []
    for invitation in invitations.values():
        assert client.get(f"{URL}{invitation.pk}/").status_code == 404
        assert client.post(f"{URL}{invitation.pk}/revoke/").status_code == 404


def test_invitation_never_shows_its_secret(api_as, tenant_admin, invitations):
    body = api_as(tenant_admin).get(f"{URL}{invitations['staff'].pk}/").json()
    assert set(body) == {
        "id",
        "email",
        "role",
        "partner",
        "state",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    }
    assert body["state"] == "pending"
    assert body["invited_by"]["email"] == "admin@acme.test"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("role=finance", ["cfo@acme.test"]),
        ("state=pending", ["cfo@acme.test", "new@contoso.test", "new@northwind.test"]),
        ("state=revoked", []),
    ],
)
def test_invitations_can_be_filtered(api_as, tenant_admin, invitations, query, expected):
    assert _emails(api_as(tenant_admin).get(f"{URL}?{query}")) == expected


def test_bad_invitation_filter_answers_400(api_as, tenant_admin, invitations):
    response = api_as(tenant_admin).get(f"{URL}?state=lost")
    assert response.status_code == 400
    assert "state" in response.json()["fields"]


# ---------------------------------------------------------------- create


def test_tenant_admin_invites_staff_and_the_link_is_only_in_the_email(
    api_as, tenant_admin, tenant, in_tenant, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(tenant_admin).post(
            URL, {"email": "New.Person@Acme.test", "role": "finance"}, format="json"
        )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.person@acme.test"
    assert body["role"] == "finance"
    assert body["partner"] is None
    assert body["state"] == "pending"
    assert [m.to for m in mailoutbox] == [["new.person@acme.test"]]
    link = re.search(r"/accounts/invite/(\S+)/", mailoutbox[0].body)
    assert link is not None
    secret = link.group(1)
    assert secret not in response.content.decode()
    with in_tenant(tenant):
        invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.token_hash == hash_secret(secret)
    assert invitation.token_hash not in response.content.decode()


def test_channel_manager_invites_a_partner_user(api_as, channel_manager, partner):
    response = api_as(channel_manager).post(
        URL,
        {"email": "ops@northwind.test", "role": "partner_rep", "partner": partner.pk},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["partner"]["id"] == partner.pk


def test_partner_admin_invites_into_their_own_organization(
    api_as, partner_admin, partner, other_partner
):
    client = api_as(partner_admin)

    own = client.post(URL, {"email": "a@northwind.test", "role": "partner_rep"}, format="json")
    assert own.status_code == 201
    assert own.json()["partner"]["id"] == partner.pk

    other = client.post(
        URL,
        {"email": "b@contoso.test", "role": "partner_rep", "partner": other_partner.pk},
        format="json",
    )
    assert other.status_code == 400
    assert "partner" in other.json()["fields"]


def test_partner_rep_may_not_invite(api_as, partner_rep, tenant, in_tenant):
    response = api_as(partner_rep).post(
        URL, {"email": "x@northwind.test", "role": "partner_rep"}, format="json"
    )
    assert response.status_code == 403
    with in_tenant(tenant):
        assert not Invitation.objects.exists()


def test_channel_manager_may_not_invite_staff(api_as, channel_manager, tenant, in_tenant):
    response = api_as(channel_manager).post(
        URL, {"email": "boss@acme.test", "role": "tenant_admin"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()["fields"]
    with in_tenant(tenant):
        assert not Invitation.objects.exists()


def test_outsider_cannot_invite_into_the_tenant_with_its_partner(
    api_as, outsider, partner, tenant, in_tenant
):
    response = api_as(outsider).post(
        URL,
        {"email": "x@northwind.test", "role": "partner_rep", "partner": partner.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "partner" in response.json()["fields"]
    with in_tenant(tenant):
        assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "finance"}, "email"),
        ({"email": "not-an-email", "role": "finance"}, "email"),
        ({"email": "x@acme.test"}, "role"),
        ({"email": "x@acme.test", "role": "emperor"}, "role"),
        ({"email": "x@acme.test", "role": "partner_rep"}, "partner"),
        ({"email": "x@acme.test", "role": "partner_rep", "partner": 10**30}, "partner"),
        ({"email": "x@acme.test", "role": "partner_rep", "partner": "abc"}, "partner"),
        ({"email": "x@acme.test", "role": "partner_rep", "partner": True}, "partner"),
        ({"email": "x@acme.test", "role": "partner_rep", "partner": {"id": 1}}, "partner"),
        ({"email": "admin@acme.test", "role": "finance"}, "email"),  # already a member
        ({"email": {"a": 1}, "role": "finance"}, "email"),
        ("just a string", "non_field_errors"),
    ],
)
def test_bad_invitation_answers_400_and_writes_nothing(
    api_as, tenant_admin, partner, tenant, in_tenant, mailoutbox, body, field
):
    response = api_as(tenant_admin).post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    with in_tenant(tenant):
        assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_a_new_invitation_replaces_the_pending_one(api_as, tenant_admin, tenant, in_tenant):
    client = api_as(tenant_admin)
    first = client.post(URL, {"email": "x@acme.test", "role": "finance"}, format="json").json()
    second = client.post(URL, {"email": "x@acme.test", "role": "analyst"}, format="json").json()

    states = {i["id"]: i["state"] for i in client.get(URL).json()["results"]}
    assert states == {first["id"]: "revoked", second["id"]: "pending"}


# ---------------------------------------------------------------- revoke


def test_tenant_admin_revokes_a_pending_invitation(api_as, tenant_admin, invitations):
    client = api_as(tenant_admin)
    url = f"{URL}{invitations['northwind'].pk}/revoke/"

    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["state"] == "revoked"

    again = client.post(url)
    assert again.status_code == 400
    assert again.json()["fields"] == {
        "non_field_errors": ["Only a pending invitation can be revoked."]
    }


def test_partner_admin_revokes_only_their_own_organizations_invitations(
    api_as, partner_admin, invitations, tenant, in_tenant
):
    client = api_as(partner_admin)
    assert client.post(f"{URL}{invitations['northwind'].pk}/revoke/").status_code == 200
    assert client.post(f"{URL}{invitations['contoso'].pk}/revoke/").status_code == 404
    with in_tenant(tenant):
        assert Invitation.objects.get(pk=invitations["contoso"].pk).revoked_at is None


def test_partner_rep_may_not_revoke(api_as, partner_rep, invitations):
    response = api_as(partner_rep).post(f"{URL}{invitations['northwind'].pk}/revoke/")
    assert response.status_code == 403
