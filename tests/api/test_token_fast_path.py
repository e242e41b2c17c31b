"""The token fast path of partners.middleware: a process remembers a key's ids and its tenant's
row, enters that tenant at once and reloads token, membership, user, partner and tenant in one
query there. What it remembers grants nothing: every change counts on the next request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from partners import middleware
from partners.models import ApiToken, Partner, Tenant
from partners.selectors import hash_secret

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


@pytest.fixture
def used_token(api_client, issue_token):
    """``used_token(membership)``: a client whose token has answered once (ids remembered)."""

    def _used(membership):
        issued = issue_token(membership)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        assert api_client.get(ME).status_code == 200
        assert middleware._recall(middleware._token_ids, issued.token.key_hash) is not None
        api_client.issued = issued
        return api_client

    return _used


def test_a_known_token_takes_one_query_for_its_identity(used_token, tenant_admin):
    client = used_token(tenant_admin)

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/auth/token/current/").status_code == 200

    # One statement: the prepared token query (prepared with its first use on a connection),
    # which reads the tenant row too; no look-up of the tenant of its own.
    identity = [
        q["sql"] for q in captured if any(name in q["sql"] for name in ("apitoken", "live_token"))
    ]
    assert len(identity) == 1
    assert "trellis_live_token" in identity[0]
    assert not any("partners_tenant" in q["sql"] and "PREPARE" not in q["sql"] for q in captured)


def test_a_lost_prepared_statement_costs_nothing_but_a_retry(used_token, tenant_admin):
    """A session that lost the statement (as behind a pooler): the request is served with
    plain SQL, and the connection keeps to plain SQL."""
    client = used_token(tenant_admin)
    assert client.get(ME).status_code == 200  # prepared by now
    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {middleware._STATEMENT}")

    try:
        assert client.get(ME).status_code == 200
        assert connection.trellis_token_statement == middleware._OFF
        assert client.get(ME).status_code == 200
    finally:
        connection.trellis_token_statement = None  # prepare again in later tests


def test_a_change_to_the_tenant_counts_at_once(used_token, tenant_admin):
    client = used_token(tenant_admin)
    Tenant.objects.filter(pk=tenant_admin.tenant_id).update(time_zone="Asia/Tokyo", name="Acme 2")

    body = client.get(ME).json()

    assert body["tenant"]["time_zone"] == "Asia/Tokyo"
    assert body["tenant"]["name"] == "Acme 2"


def test_a_tenant_deactivated_and_reactivated_is_refused_then_served(used_token, tenant_admin):
    client = used_token(tenant_admin)
    Tenant.objects.filter(pk=tenant_admin.tenant_id).update(is_active=False)
    assert client.get(ME).status_code == 401
    Tenant.objects.filter(pk=tenant_admin.tenant_id).update(is_active=True)
    assert client.get(ME).status_code == 200


def test_a_partner_users_token_brings_its_partner_as_it_now_is(
    used_token, partner_admin, in_tenant
):
    client = used_token(partner_admin)
    with in_tenant(partner_admin.tenant):
        Partner.objects.filter(pk=partner_admin.partner_id).update(name="Northwind Renamed")

    body = client.get(ME).json()

    assert body["membership"]["partner"]["name"] == "Northwind Renamed"


def test_a_token_revoked_while_remembered_answers_401(used_token, tenant_admin, in_tenant):
    client = used_token(tenant_admin)
    with in_tenant(tenant_admin.tenant):
        ApiToken.objects.filter(membership=tenant_admin).update(revoked_at="2020-01-01T00:00Z")

    assert client.get(ME).status_code == 401


def test_remembered_ids_grant_nothing_to_another_key(used_token, tenant_admin):
    """Even ids planted under another key's hash: the query checks the key's own hash."""
    issued = used_token(tenant_admin).issued
    ids = middleware._recall(middleware._token_ids, issued.token.key_hash)
    other_key = "trl_not-a-real-key"
    middleware._remember(
        middleware._token_ids, hash_secret(other_key), dict(ids), middleware._IDS_SECONDS
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {other_key}")

    assert client.get(ME).status_code == 401
