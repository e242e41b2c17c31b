"""API tokens: create with credentials, use, describe, list, revoke; throttled creation."""

import pytest
from django.conf import settings as django_settings

from partners.models import ApiToken
from partners.selectors import hash_secret
from tests.conftest import DEMO_PASSWORD
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
CURRENT_URL = "/api/v1/auth/token/current/"

REFUSED = {
    "code": "invalid",
    "message": "Unable to create a token with these credentials for this tenant.",
    "fields": {
        "non_field_errors": ["Unable to create a token with these credentials for this tenant."]
    },
}


def _create(client, **body):
    return client.post(TOKEN_URL, body, format="json")


def test_member_creates_a_token_with_email_and_password(api_client, tenant_admin, in_tenant):
    response = _create(
        api_client,
        email="admin@acme.test",
        password=DEMO_PASSWORD,
        tenant="acme",
        name="CRM sync",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("trl_")
    assert set(body["token"]) == {"id", "name", "prefix", "created_at"}
    assert body["token"]["name"] == "CRM sync"
    assert body["key"].startswith(body["token"]["prefix"])
    with in_tenant(tenant_admin.tenant):
        token = ApiToken.objects.get(pk=body["token"]["id"])
    assert token.membership_id == tenant_admin.pk
    assert token.key_hash == hash_secret(body["key"])  # only the hash is stored


def test_created_token_authenticates_requests_in_its_tenant(api_client, tenant_admin):
    key = _create(
        api_client, email="admin@acme.test", password=DEMO_PASSWORD, tenant="acme"
    ).json()["key"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == "acme"
    assert response.json()["membership"]["id"] == tenant_admin.pk


def test_bearer_scheme_is_accepted_too(api_client, tenant_admin, issue_token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(tenant_admin).key}")
    assert api_client.get("/api/v1/me/").status_code == 200


def test_email_is_matched_case_insensitively(api_client, tenant_admin):
    response = _create(api_client, email="Admin@ACME.test", password=DEMO_PASSWORD, tenant="acme")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("email", "password", "tenant_slug"),
    [
        ("admin@acme.test", "wrong-password", "acme"),  # wrong password
        ("nobody@acme.test", DEMO_PASSWORD, "acme"),  # unknown person
        ("admin@acme.test", DEMO_PASSWORD, "initech"),  # unknown tenant
        ("admin@acme.test", DEMO_PASSWORD, "globex"),  # a tenant the person is not a member of
    ],
    ids=["wrong-password", "unknown-email", "unknown-tenant", "not-a-member"],
)
def test_refused_token_requests_all_answer_the_same(
    api_client, tenant_admin, outsider, in_tenant, email, password, tenant_slug
):
    response = _create(api_client, email=email, password=password, tenant=tenant_slug)

    assert response.status_code == 400
    assert response.json() == REFUSED
    for membership in (tenant_admin, outsider):
        with in_tenant(membership.tenant):
            assert not ApiToken.objects.exists()


def test_token_for_a_tenant_the_user_is_not_a_member_of_cannot_be_created(
    api_client, tenant_admin, other_tenant, in_tenant
):
    response = _create(api_client, email="admin@acme.test", password=DEMO_PASSWORD, tenant="globex")

    assert response.status_code == 400
    with in_tenant(other_tenant):
        assert not ApiToken.objects.exists()


def test_deactivated_membership_cannot_create_a_token(api_client, tenant):
    MembershipFactory(tenant=tenant, role="analyst", user__email="gone@acme.test", is_active=False)
    response = _create(api_client, email="gone@acme.test", password=DEMO_PASSWORD, tenant="acme")
    assert response.json() == REFUSED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": DEMO_PASSWORD, "tenant": "acme"}, "email"),
        ({"email": "not-an-email", "password": DEMO_PASSWORD, "tenant": "acme"}, "email"),
        ({"email": "admin@acme.test", "tenant": "acme"}, "password"),
        ({"email": "admin@acme.test", "password": DEMO_PASSWORD}, "tenant"),
        ({"email": "admin@acme.test", "password": DEMO_PASSWORD, "tenant": "a/b"}, "tenant"),
        ({"email": ["x"], "password": DEMO_PASSWORD, "tenant": "acme"}, "email"),
        (
            {
                "email": "admin@acme.test",
                "password": DEMO_PASSWORD,
                "tenant": "acme",
                "name": "x" * 101,
            },
            "name",
        ),
        ({"email": "admin@acme.test", "password": "a\x00b", "tenant": "acme"}, "password"),
    ],
)
def test_bad_token_request_answers_400_with_the_field(
    api_client, tenant_admin, in_tenant, body, field
):
    response = api_client.post(TOKEN_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    with in_tenant(tenant_admin.tenant):
        assert not ApiToken.objects.exists()


def test_current_token_describes_itself(api_as, tenant_admin):
    client = api_as(tenant_admin)

    response = client.get(CURRENT_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "test token"
    assert body["membership"] == tenant_admin.pk
    assert body["user"]["email"] == "admin@acme.test"
    assert "key" not in body and "key_hash" not in body


def test_current_token_can_be_revoked_and_then_answers_401(api_as, tenant_admin):
    client = api_as(tenant_admin)

    assert client.delete(CURRENT_URL).status_code == 204

    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoked_token_answers_401_everywhere(api_client, tenant_admin, issue_token, in_tenant):
    issued = issue_token(tenant_admin)
    with in_tenant(tenant_admin.tenant):
        ApiToken.objects.filter(pk=issued.token.pk).update(revoked_at="2020-01-01T00:00Z")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")

    for url in ["/api/v1/me/", "/api/v1/memberships/", CURRENT_URL, "/t/acme/api/v1/me/"]:
        response = api_client.get(url)
        assert response.status_code == 401, url
        assert set(response.json()) == {"code", "message", "fields"}


def test_unknown_token_answers_401(api_client, tenant_admin):
    api_client.credentials(HTTP_AUTHORIZATION="Token trl_not-a-real-key")
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_missing_credentials_answer_401(api_client, tenant_admin):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_token_of_one_tenant_is_refused_under_another_tenants_prefix(
    api_client, tenant_admin, outsider, issue_token
):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(tenant_admin).key}")

    assert api_client.get("/t/acme/api/v1/me/").status_code == 200
    response = api_client.get("/t/globex/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_token_of_a_deactivated_member_answers_401(api_as, tenant_admin, in_tenant):
    client = api_as(tenant_admin)
    with in_tenant(tenant_admin.tenant):
        type(tenant_admin).objects.filter(pk=tenant_admin.pk).update(is_active=False)
    assert client.get("/api/v1/me/").status_code == 401


def test_session_has_no_current_token(session_as, tenant_admin):
    response = session_as(tenant_admin).get("/t/acme/api/v1/auth/token/current/")
    assert response.status_code == 401


# ---------------------------------------------------------------- /tokens/


def test_member_lists_only_their_own_live_tokens(
    api_client, channel_manager, tenant_admin, issue_token, in_tenant
):
    mine = issue_token(channel_manager, name="mine")
    revoked = issue_token(channel_manager, name="revoked")
    issue_token(tenant_admin, name="someone else's")
    with in_tenant(channel_manager.tenant):
        ApiToken.objects.filter(pk=revoked.token.pk).update(revoked_at="2020-01-01T00:00Z")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {mine.key}")

    response = api_client.get("/api/v1/tokens/")

    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["mine"]


def test_member_revokes_one_of_their_tokens(api_client, channel_manager, issue_token, in_tenant):
    in_use = issue_token(channel_manager, name="in use")
    spare = issue_token(channel_manager, name="spare")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {in_use.key}")

    assert api_client.delete(f"/api/v1/tokens/{spare.token.pk}/").status_code == 204

    with in_tenant(channel_manager.tenant):
        assert ApiToken.objects.get(pk=spare.token.pk).revoked_at is not None
    assert api_client.get("/api/v1/me/").status_code == 200


def test_member_cannot_revoke_a_colleagues_token(
    api_as, channel_manager, tenant_admin, issue_token, in_tenant
):
    colleagues = issue_token(tenant_admin)
    client = api_as(channel_manager)

    assert client.delete(f"/api/v1/tokens/{colleagues.token.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{colleagues.token.pk}/?all=1").status_code == 403
    with in_tenant(tenant_admin.tenant):
        assert ApiToken.objects.get(pk=colleagues.token.pk).revoked_at is None


def test_tenant_admin_lists_and_revokes_every_token_of_the_tenant_with_all(
    api_as, channel_manager, tenant_admin, outsider, issue_token, in_tenant
):
    colleagues = issue_token(channel_manager, name="manager's")
    issue_token(outsider, name="another tenant's")
    client = api_as(tenant_admin)

    listed = client.get("/api/v1/tokens/?all=1").json()["results"]
    assert sorted(t["name"] for t in listed) == ["manager's", "test token"]
    assert client.delete(f"/api/v1/tokens/{colleagues.token.pk}/?all=1").status_code == 204
    with in_tenant(channel_manager.tenant):
        assert ApiToken.objects.get(pk=colleagues.token.pk).revoked_at is not None


def test_lesser_role_may_not_list_every_token(api_as, channel_manager):
    response = api_as(channel_manager).get("/api/v1/tokens/?all=1")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_all_flag_must_be_a_boolean(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/api/v1/tokens/?all=maybe")
    assert response.status_code == 400
    assert "all" in response.json()["fields"]


# ---------------------------------------------------------------- throttling


def test_token_creation_is_throttled_after_the_limit(api_client, tenant_admin, settings):
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token_create": "3/min",
        },
    }
    body = {"email": "admin@acme.test", "password": DEMO_PASSWORD, "tenant": "acme"}

    statuses = [api_client.post(TOKEN_URL, body, format="json").status_code for _ in range(4)]

    assert statuses == [201, 201, 201, 429]
    response = api_client.post(TOKEN_URL, body, format="json")
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response


def test_repeated_wrong_passwords_lock_out_with_the_api_error_body(api_client, tenant_admin):
    body = {"email": "admin@acme.test", "password": "wrong", "tenant": "acme"}
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        assert api_client.post(TOKEN_URL, body, format="json").status_code == 400

    response = api_client.post(TOKEN_URL, body, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    right = {**body, "password": DEMO_PASSWORD}
    assert api_client.post(TOKEN_URL, right, format="json").status_code == 429
