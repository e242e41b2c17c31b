"""/memberships/: who sees whom, who may change whom, and bad input changes nothing."""

import pytest

from partners.models import Membership, OutboxEvent
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/memberships/"


def _emails(response):
    assert response.status_code == 200, response.json()
    return sorted(m["user"]["email"] for m in response.json()["results"])


@pytest.fixture
def people(tenant_admin, channel_manager, partner_admin, partner_rep, other_partner_admin):
    return {
        "tenant_admin": tenant_admin,
        "channel_manager": channel_manager,
        "partner_admin": partner_admin,
        "partner_rep": partner_rep,
        "other_partner_admin": other_partner_admin,
    }


ACME_EMAILS = sorted(
    [
        "admin@acme.test",
        "manager@acme.test",
        "padmin@northwind.test",
        "rep@northwind.test",
        "padmin@contoso.test",
    ]
)


def test_tenant_admin_sees_everyone_in_the_tenant(api_as, people, outsider):
    assert _emails(api_as(people["tenant_admin"]).get(URL)) == ACME_EMAILS


def test_channel_manager_sees_everyone_in_the_tenant(api_as, people):
    assert _emails(api_as(people["channel_manager"]).get(URL)) == ACME_EMAILS


def test_partner_admin_sees_only_their_own_organization(api_as, people):
    assert _emails(api_as(people["partner_admin"]).get(URL)) == [
        "padmin@northwind.test",
        "rep@northwind.test",
    ]


def test_partner_rep_may_not_list_people(api_as, people):
    response = api_as(people["partner_rep"]).get(URL)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_marketing_may_not_list_people(api_as, tenant, people):
    marketing = MembershipFactory(tenant=tenant, role="marketing")
    assert api_as(marketing).get(URL).status_code == 403


def test_outsider_sees_none_of_the_tenants_people(api_as, people, outsider):
    assert _emails(api_as(outsider).get(URL)) == ["admin@globex.test"]


def test_membership_shows_user_role_and_partner(api_as, people, partner):
    rep = people["partner_rep"]
    body = api_as(people["tenant_admin"]).get(f"{URL}{rep.pk}/").json()
    assert body == {
        "id": rep.pk,
        "user": {"id": rep.user.pk, "email": "rep@northwind.test", "full_name": rep.user.full_name},
        "role": "partner_rep",
        "partner": {"id": partner.pk, "name": "Northwind", "domain": "northwind.test"},
        "is_active": True,
        "created_at": body["created_at"],
    }


def test_partner_admin_cannot_see_people_of_another_partner(api_as, people):
    other = people["other_partner_admin"]
    client = api_as(people["partner_admin"])
    assert client.get(f"{URL}{other.pk}/").status_code == 404
    assert client.get(f"{URL}{people['tenant_admin'].pk}/").status_code == 404


def test_outsider_gets_404_for_the_tenants_people(api_as, people, outsider):
    client = api_as(outsider)
    for membership in people.values():
        assert client.get(f"{URL}{membership.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("role=partner_admin", ["padmin@contoso.test", "padmin@northwind.test"]),
        ("is_active=false", ["gone@acme.test"]),
        ("is_active=true&role=channel_manager", ["manager@acme.test"]),
    ],
)
def test_people_can_be_filtered(api_as, tenant, people, query, expected):
    MembershipFactory(tenant=tenant, role="analyst", user__email="gone@acme.test", is_active=False)
    assert _emails(api_as(people["tenant_admin"]).get(f"{URL}?{query}")) == expected


def test_people_can_be_filtered_by_partner(api_as, people, other_partner):
    response = api_as(people["tenant_admin"]).get(f"{URL}?partner={other_partner.pk}")
    assert _emails(response) == ["padmin@contoso.test"]


@pytest.mark.parametrize(
    "query", ["role=king", "is_active=perhaps", "partner=abc", "partner=99999999999999999999999"]
)
def test_bad_filter_answers_400_with_the_field(api_as, people, query):
    response = api_as(people["tenant_admin"]).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["fields"]


def test_partner_admin_cannot_filter_by_another_partner(api_as, people, other_partner):
    response = api_as(people["partner_admin"]).get(f"{URL}?partner={other_partner.pk}")
    assert response.status_code == 400
    assert "partner" in response.json()["fields"]


def test_list_is_cursor_paginated_by_a_stable_key(api_as, people):
    client = api_as(people["tenant_admin"])
    first = client.get(f"{URL}?page_size=2").json()
    assert len(first["results"]) == 2
    assert first["previous"] is None
    seen = [m["id"] for m in first["results"]]
    next_url = first["next"]
    while next_url:
        page = client.get(next_url).json()
        seen += [m["id"] for m in page["results"]]
        next_url = page["next"]
    assert seen == sorted(m.pk for m in people.values())


# ---------------------------------------------------------------- PATCH


def test_tenant_admin_changes_a_role_and_deactivates_someone(api_as, people, in_tenant, tenant):
    client = api_as(people["tenant_admin"])
    manager = people["channel_manager"]

    response = client.patch(f"{URL}{manager.pk}/", {"role": "finance"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "finance"

    response = client.patch(f"{URL}{manager.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    with in_tenant(tenant):
        manager.refresh_from_db()
        assert (manager.role, manager.is_active) == ("finance", False)
        assert OutboxEvent.objects.filter(name="membership.changed").count() == 2


def test_channel_manager_may_read_but_not_change_people(api_as, people, in_tenant, tenant):
    client = api_as(people["channel_manager"])
    rep = people["partner_rep"]

    response = client.patch(f"{URL}{rep.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 403
    with in_tenant(tenant):
        assert Membership.objects.get(pk=rep.pk).is_active


def test_partner_admin_manages_people_of_their_own_organization(api_as, people):
    rep = people["partner_rep"]
    response = api_as(people["partner_admin"]).patch(
        f"{URL}{rep.pk}/", {"role": "partner_admin"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "partner_admin"


def test_partner_admin_cannot_patch_people_of_another_partner(api_as, people, in_tenant, tenant):
    other = people["other_partner_admin"]
    response = api_as(people["partner_admin"]).patch(
        f"{URL}{other.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 404
    with in_tenant(tenant):
        assert Membership.objects.get(pk=other.pk).is_active


def test_partner_admin_cannot_give_a_staff_role(api_as, people, in_tenant, tenant):
    rep = people["partner_rep"]
    response = api_as(people["partner_admin"]).patch(
        f"{URL}{rep.pk}/", {"role": "tenant_admin"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()["fields"]
    with in_tenant(tenant):
        assert Membership.objects.get(pk=rep.pk).role == "partner_rep"


def test_partner_rep_cannot_patch_anyone(api_as, people):
    admin = people["partner_admin"]
    response = api_as(people["partner_rep"]).patch(
        f"{URL}{admin.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 403


def test_outsider_cannot_patch_the_tenants_people(api_as, people, outsider, in_tenant, tenant):
    manager = people["channel_manager"]
    response = api_as(outsider).patch(f"{URL}{manager.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 404
    with in_tenant(tenant):
        assert Membership.objects.get(pk=manager.pk).is_active


def test_nobody_deactivates_themselves(api_as, people, in_tenant, tenant):
    admin = people["tenant_admin"]
    response = api_as(admin).patch(f"{URL}{admin.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "non_field_errors": ["You cannot change your own role or deactivate yourself."]
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "king"}, "role"),
        ({"role": None}, "role"),
        ({"is_active": "perhaps"}, "is_active"),
        ({"is_active": [True]}, "is_active"),
        ({}, "non_field_errors"),
        ({"email": "new@acme.test"}, "non_field_errors"),
        ([{"role": "finance"}], "non_field_errors"),
        ({"role": "partner_rep"}, "partner"),  # staff member without a partner organization
    ],
)
def test_bad_patch_answers_400_and_changes_nothing(api_as, people, in_tenant, tenant, body, field):
    manager = people["channel_manager"]

    response = api_as(people["tenant_admin"]).patch(f"{URL}{manager.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    with in_tenant(tenant):
        manager.refresh_from_db()
        assert (manager.role, manager.is_active) == ("channel_manager", True)
        assert not OutboxEvent.objects.filter(name="membership.changed").exists()


def test_put_and_delete_are_not_allowed(api_as, people):
    client = api_as(people["tenant_admin"])
    url = f"{URL}{people['channel_manager'].pk}/"
    assert client.put(url, {"role": "finance"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post(URL, {}, format="json").status_code == 405
