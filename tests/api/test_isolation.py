"""Every endpoint, asked by a member of another tenant about this tenant's rows: a 404 for an
object, a list without them, never a leak and never a change."""

import pytest

from partners.models import ApiToken, Invitation, Membership
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_rows(tenant, tenant_admin, partner_admin, partner, make_invitation, issue_token):
    return {
        "membership": partner_admin,
        "invitation": make_invitation(tenant, "new@northwind.test", partner=partner),
        "partner": partner,
        "token": issue_token(tenant_admin).token,
    }


@pytest.fixture
def outsider_client(api_as, outsider, other_tenant):
    # The outsider has rows of their own, so an empty answer is not just an empty tenant.
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    return api_as(outsider)


OBJECT_REQUESTS = [
    ("get", "/api/v1/memberships/{membership}/", None),
    ("patch", "/api/v1/memberships/{membership}/", {"is_active": False}),
    ("get", "/api/v1/invitations/{invitation}/", None),
    ("post", "/api/v1/invitations/{invitation}/revoke/", None),
    ("get", "/api/v1/partners/{partner}/", None),
    ("delete", "/api/v1/tokens/{token}/", None),
    ("delete", "/api/v1/tokens/{token}/?all=1", None),
]


@pytest.mark.parametrize(("method", "url", "body"), OBJECT_REQUESTS)
def test_another_tenants_object_answers_404(
    outsider_client, acme_rows, tenant, in_tenant, method, url, body
):
    ids = {name: row.pk for name, row in acme_rows.items()}

    response = getattr(outsider_client, method)(url.format(**ids), body, format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
    with in_tenant(tenant):
        assert Membership.objects.get(pk=ids["membership"]).is_active
        assert Invitation.objects.get(pk=ids["invitation"]).revoked_at is None
        assert ApiToken.objects.get(pk=ids["token"]).revoked_at is None


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/memberships/",
        "/api/v1/invitations/",
        "/api/v1/partners/",
        "/api/v1/tokens/",
        "/api/v1/tokens/?all=1",
    ],
)
def test_another_tenants_rows_are_not_in_any_list(outsider_client, acme_rows, url):
    response = outsider_client.get(url)

    assert response.status_code == 200
    ids_in_list = {row["id"] for row in response.json()["results"]}
    kind = url.split("/")[3]
    acme_ids = {
        "memberships": {acme_rows["membership"].pk},
        "invitations": {acme_rows["invitation"].pk},
        "partners": {acme_rows["partner"].pk},
        "tokens": {acme_rows["token"].pk},
    }[kind]
    assert not ids_in_list & acme_ids


def test_me_answers_for_the_outsiders_own_tenant(outsider_client, acme_rows):
    body = outsider_client.get("/api/v1/me/").json()
    assert body["tenant"]["slug"] == "globex"
    assert [m["tenant"]["slug"] for m in body["memberships"]] == ["globex"]


def test_outsiders_token_is_refused_under_the_tenants_prefix(outsider_client, acme_rows):
    for url in [
        "/t/acme/api/v1/me/",
        "/t/acme/api/v1/memberships/",
        f"/t/acme/api/v1/partners/{acme_rows['partner'].pk}/",
    ]:
        assert outsider_client.get(url).status_code == 401


def test_outsiders_session_gets_404_under_the_tenants_prefix(session_as, outsider, acme_rows):
    client = session_as(outsider)
    for url in [
        "/t/acme/api/v1/me/",
        "/t/acme/api/v1/memberships/",
        f"/t/acme/api/v1/partners/{acme_rows['partner'].pk}/",
    ]:
        assert client.get(url).status_code == 404


def test_ids_of_the_tenant_in_the_outsiders_tenant_prefix_are_404(session_as, outsider, acme_rows):
    client = session_as(outsider)
    response = client.get(f"/t/globex/api/v1/memberships/{acme_rows['membership'].pk}/")
    assert response.status_code == 404
