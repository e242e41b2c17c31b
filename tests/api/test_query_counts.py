"""List endpoints run a fixed number of queries however many rows they return."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(captured)


def _add_people(tenant, partner, count, offset):
    for n in range(count):
        MembershipFactory(tenant=tenant, role="finance", user__email=f"staff{offset + n}@acme.test")
        MembershipFactory(
            tenant=tenant,
            role="partner_rep",
            partner=partner,
            user__email=f"rep{offset + n}@northwind.test",
        )


def _add_invitations(make_invitation, tenant, partner, inviter, count, offset):
    for n in range(count):
        make_invitation(
            tenant, f"invitee{offset + n}@northwind.test", partner=partner, invited_by=inviter.user
        )


def _add_partners(tenant, count, offset):
    for n in range(count):
        PartnerFactory(tenant=tenant, name=f"Reseller {offset + n}", domain=f"r{offset + n}.test")


def _add_tokens(issue_token, members):
    for member in members:
        issue_token(member)


@pytest.mark.parametrize("url", ["/api/v1/memberships/", "/api/v1/memberships/?role=partner_rep"])
def test_people_list_query_count_does_not_grow_with_rows(
    api_as, tenant_admin, partner, django_assert_max_num_queries, url
):
    client = api_as(tenant_admin)
    _add_people(tenant_admin.tenant, partner, 2, 0)
    client.get(url)  # warm the role-permission cache and the token's last-used stamp
    baseline = _queries(client, url)

    _add_people(tenant_admin.tenant, partner, 20, 100)

    with django_assert_max_num_queries(baseline):
        response = client.get(url)
    assert len(response.json()["results"]) >= 20


def test_invitation_list_query_count_does_not_grow_with_rows(
    api_as, tenant_admin, partner, make_invitation, django_assert_max_num_queries
):
    client = api_as(tenant_admin)
    url = "/api/v1/invitations/"
    _add_invitations(make_invitation, tenant_admin.tenant, partner, tenant_admin, 2, 0)
    client.get(url)
    baseline = _queries(client, url)

    _add_invitations(make_invitation, tenant_admin.tenant, partner, tenant_admin, 20, 100)

    with django_assert_max_num_queries(baseline):
        assert len(client.get(url).json()["results"]) == 22


def test_partner_list_query_count_does_not_grow_with_rows(
    api_as, tenant_admin, django_assert_max_num_queries
):
    client = api_as(tenant_admin)
    url = "/api/v1/partners/"
    _add_partners(tenant_admin.tenant, 2, 0)
    client.get(url)
    baseline = _queries(client, url)

    _add_partners(tenant_admin.tenant, 20, 100)

    with django_assert_max_num_queries(baseline):
        assert len(client.get(url).json()["results"]) == 22


def test_token_list_query_count_does_not_grow_with_rows(
    api_as, tenant_admin, tenant, issue_token, django_assert_max_num_queries
):
    client = api_as(tenant_admin)
    url = "/api/v1/tokens/?all=1"
    members = [MembershipFactory(tenant=tenant, role="analyst") for _ in range(12)]
    _add_tokens(issue_token, members[:2])
    client.get(url)
    baseline = _queries(client, url)

    _add_tokens(issue_token, members[2:])

    with django_assert_max_num_queries(baseline):
        assert len(client.get(url).json()["results"]) == 13


def test_me_query_count_does_not_grow_with_the_persons_tenants(
    api_as, tenant_admin, django_assert_max_num_queries
):
    from tests.factories import TenantFactory

    client = api_as(tenant_admin)
    client.get("/api/v1/me/")
    baseline = _queries(client, "/api/v1/me/")

    for n in range(10):
        MembershipFactory(
            tenant=TenantFactory(slug=f"t{n}"), role="analyst", user=tenant_admin.user
        )

    with django_assert_max_num_queries(baseline):
        assert len(client.get("/api/v1/me/").json()["memberships"]) == 11
