"""/partners/: staff see the directory, partner users only their own organization."""

import pytest

from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"


def _names(response):
    assert response.status_code == 200, response.json()
    return [p["name"] for p in response.json()["results"]]


def test_staff_see_every_partner_of_the_tenant(api_as, tenant_admin, partner, other_partner):
    assert _names(api_as(tenant_admin).get(URL)) == ["Northwind", "Contoso"]


@pytest.mark.parametrize("role", ["finance", "marketing", "analyst"])
def test_every_staff_role_reads_the_directory(api_as, tenant, partner, role):
    assert _names(api_as(MembershipFactory(tenant=tenant, role=role)).get(URL)) == ["Northwind"]


def test_channel_managers_read_only_the_partners_assigned_to_them(
    api_as, tenant, channel_manager, partner, other_partner
):
    assert _names(api_as(channel_manager).get(URL)) == ["Northwind"]
    unassigned = MembershipFactory(tenant=tenant, role="channel_manager")
    assert _names(api_as(unassigned).get(URL)) == []
    assert api_as(unassigned).get(f"{URL}{partner.pk}/").status_code == 404


@pytest.mark.parametrize("actor", ["partner_admin", "partner_rep"])
def test_partner_users_see_only_their_own_organization(
    api_as, request, partner, other_partner, actor
):
    client = api_as(request.getfixturevalue(actor))
    assert _names(client.get(URL)) == ["Northwind"]
    assert client.get(f"{URL}{partner.pk}/").status_code == 200
    assert client.get(f"{URL}{other_partner.pk}/").status_code == 404


def test_outsider_sees_none_of_the_tenants_partners(api_as, outsider, partner, other_tenant):
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    client = api_as(outsider)
    assert _names(client.get(URL)) == ["Umbrella"]
    assert client.get(f"{URL}{partner.pk}/").status_code == 404


def test_partner_detail(api_as, tenant_admin, partner):
    body = api_as(tenant_admin).get(f"{URL}{partner.pk}/").json()
    assert body == {
        "id": partner.pk,
        "name": "Northwind",
        "domain": "northwind.test",
        "status": "active",
        "created_at": body["created_at"],
    }


def test_partners_can_be_filtered_by_status(api_as, tenant, tenant_admin, partner):
    PartnerFactory(tenant=tenant, name="Initech", domain="initech.test", status="suspended")
    client = api_as(tenant_admin)
    assert _names(client.get(f"{URL}?status=suspended")) == ["Initech"]
    bad = client.get(f"{URL}?status=bankrupt")
    assert bad.status_code == 400
    assert "status" in bad.json()["fields"]


def test_partners_are_read_only(api_as, tenant_admin, partner):
    client = api_as(tenant_admin)
    assert client.post(URL, {"name": "X", "domain": "x.test"}, format="json").status_code == 405
    assert client.patch(f"{URL}{partner.pk}/", {"name": "Y"}, format="json").status_code == 405
    assert client.delete(f"{URL}{partner.pk}/").status_code == 405
