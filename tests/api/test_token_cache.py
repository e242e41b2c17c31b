"""A token's ids are cached after its first use (partners.selectors.api_token_ids_by_key), but
every request still reloads the token, membership and user: changes count at once."""

import pytest

from partners.models import ApiToken, Membership, Tenant, User
from partners.selectors import api_token_cache_key, hash_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def used_token(api_client, issue_token, tenant_admin):
    """A client whose token has answered once (so its ids are cached)."""
    from django.core.cache import cache

    issued = issue_token(tenant_admin)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    assert api_client.get("/api/v1/me/").status_code == 200
    assert cache.get(api_token_cache_key(hash_secret(issued.key))) is not None
    return api_client, issued


def test_cached_token_keeps_answering_as_its_member(used_token, tenant_admin):
    client, _issued = used_token
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert client.get("/t/acme/api/v1/me/").status_code == 200


def test_cached_token_revoked_behind_the_services_back_answers_401_at_once(
    used_token, tenant_admin, in_tenant
):
    client, issued = used_token
    with in_tenant(tenant_admin.tenant):
        ApiToken.objects.filter(pk=issued.token.pk).update(revoked_at="2020-01-01T00:00Z")
    assert client.get("/api/v1/me/").status_code == 401


def test_cached_token_of_a_member_deactivated_since_answers_401_at_once(
    used_token, tenant_admin, in_tenant
):
    client, _issued = used_token
    with in_tenant(tenant_admin.tenant):
        Membership.objects.filter(pk=tenant_admin.pk).update(is_active=False)
    assert client.get("/api/v1/me/").status_code == 401


def test_cached_token_of_a_user_deactivated_since_answers_401_at_once(used_token, tenant_admin):
    client, _issued = used_token
    User.objects.filter(pk=tenant_admin.user_id).update(is_active=False)
    assert client.get("/api/v1/me/").status_code == 401


def test_cached_token_of_a_tenant_deactivated_since_answers_401_at_once(used_token, tenant_admin):
    client, _issued = used_token
    Tenant.objects.filter(pk=tenant_admin.tenant_id).update(is_active=False)
    assert client.get("/api/v1/me/").status_code == 401


def test_cached_token_sees_a_role_change_at_once(used_token, tenant_admin, in_tenant):
    client, _issued = used_token
    assert client.get("/api/v1/tokens/?all=1").status_code == 200
    with in_tenant(tenant_admin.tenant):
        Membership.objects.filter(pk=tenant_admin.pk).update(role="channel_manager")
    assert client.get("/api/v1/tokens/?all=1").status_code == 403


def test_cached_token_is_still_refused_under_another_tenants_prefix(used_token, outsider):
    client, _issued = used_token
    response = client.get("/t/globex/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
