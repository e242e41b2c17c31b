"""Every error has the same body, and no request ends in a 500 (the test client re-raises
any exception a view lets escape, so a 500 would fail these tests loudly)."""

import pytest

from partners.models import Membership

pytestmark = pytest.mark.django_db


def _assert_error_body(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.mark.parametrize("url", ["/api/v1/invitations/", "/api/v1/auth/token/"])
def test_malformed_json_answers_400(api_as, tenant_admin, url):
    response = api_as(tenant_admin).generic(
        "POST", url, '{"email": "x@acme.test", ', content_type="application/json"
    )
    _assert_error_body(response, 400, "parse_error")


def test_malformed_json_in_a_patch_answers_400_and_changes_nothing(
    api_as, tenant_admin, channel_manager, tenant, in_tenant
):
    response = api_as(tenant_admin).generic(
        "PATCH",
        f"/api/v1/memberships/{channel_manager.pk}/",
        "{not json",
        content_type="application/json",
    )
    _assert_error_body(response, 400, "parse_error")
    with in_tenant(tenant):
        assert Membership.objects.get(pk=channel_manager.pk).is_active


def test_unsupported_media_type_answers_415(api_as, tenant_admin):
    response = api_as(tenant_admin).generic(
        "POST", "/api/v1/invitations/", "email=x", content_type="text/plain"
    )
    _assert_error_body(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "object_id",
    ["0", "99999999999999999999999999999", "9223372036854775807", "9223372036854775808"],
)
@pytest.mark.parametrize(
    "url", ["/api/v1/memberships/{}/", "/api/v1/invitations/{}/", "/api/v1/partners/{}/"]
)
def test_ids_that_name_no_row_answer_404(api_as, tenant_admin, url, object_id):
    response = api_as(tenant_admin).get(url.format(object_id))
    _assert_error_body(response, 404, "not_found")


@pytest.mark.parametrize("object_id", ["abc", "-1", "1.5", "%00"])
def test_ids_that_are_not_numbers_answer_404(api_as, tenant_admin, object_id):
    response = api_as(tenant_admin).get(f"/api/v1/memberships/{object_id}/")
    assert response.status_code == 404


def test_huge_id_in_a_revoke_or_delete_answers_404(api_as, tenant_admin):
    client = api_as(tenant_admin)
    huge = "9" * 40
    _assert_error_body(client.post(f"/api/v1/invitations/{huge}/revoke/"), 404, "not_found")
    _assert_error_body(client.delete(f"/api/v1/tokens/{huge}/"), 404, "not_found")
    _assert_error_body(
        client.patch(f"/api/v1/memberships/{huge}/", {"role": "x"}, format="json"),
        404,
        "not_found",
    )


def test_bad_cursor_answers_404_with_the_error_body(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/api/v1/memberships/?cursor=garbage")
    _assert_error_body(response, 404, "not_found")


def test_page_size_is_capped(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/api/v1/memberships/?page_size=100000")
    assert response.status_code == 200
    response = api_as(tenant_admin).get("/api/v1/memberships/?page_size=-3")
    assert response.status_code == 200


def test_forbidden_answers_403_with_the_error_body(api_as, partner_rep):
    body = _assert_error_body(
        api_as(partner_rep).get("/api/v1/memberships/"), 403, "permission_denied"
    )
    assert body["message"] == "Your role does not allow this."


def test_wrong_method_answers_405_with_the_error_body(api_as, tenant_admin):
    _assert_error_body(api_as(tenant_admin).put("/api/v1/me/", {}), 405, "method_not_allowed")


def test_validation_error_lists_every_bad_field(api_as, tenant_admin):
    response = api_as(tenant_admin).post(
        "/api/v1/invitations/", {"email": "nope", "role": "emperor"}, format="json"
    )
    body = _assert_error_body(response, 400, "invalid")
    assert body["message"] == "The request has invalid fields."
    assert set(body["fields"]) == {"email", "role"}
    assert all(isinstance(messages, list) for messages in body["fields"].values())


def test_form_encoded_bodies_are_accepted_too(api_as, tenant_admin, channel_manager):
    response = api_as(tenant_admin).patch(
        f"/api/v1/memberships/{channel_manager.pk}/",
        "is_active=false",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_nul_bytes_in_input_answer_400(api_as, tenant_admin, tenant, in_tenant):
    response = api_as(tenant_admin).post(
        "/api/v1/invitations/", {"email": "a\x00@acme.test", "role": "finance"}, format="json"
    )
    _assert_error_body(response, 400, "invalid")


def test_nul_bytes_in_a_filter_answer_400(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/api/v1/memberships/?role=tenant%00admin")
    _assert_error_body(response, 400, "invalid")


def test_unknown_tenant_with_a_token_answers_404(api_as, tenant_admin):
    response = api_as(tenant_admin).get("/t/nowhere/api/v1/me/")
    _assert_error_body(response, 404, "not_found")


def test_api_root_is_public(api_client):
    assert api_client.get("/api/v1/").json() == {"schema": "/api/schema/", "docs": "/api/docs/"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/",
        "/api/v1/auth/token/",
        "/api/v1/auth/token/current/",
        "/api/v1/me/",
        "/api/v1/memberships/",
        "/api/v1/memberships/{membership}/",
        "/api/v1/invitations/",
        "/api/v1/invitations/{membership}/revoke/",
        "/api/v1/partners/",
        "/api/v1/tokens/",
    ],
)
def test_options_and_head_never_fail(api_as, tenant_admin, url):
    client = api_as(tenant_admin)
    url = url.format(membership=tenant_admin.pk)
    assert client.options(url).status_code in {200, 404}
    assert client.head(url).status_code in {200, 401, 404, 405}


def test_head_needs_what_get_needs(api_as, partner_rep):
    assert api_as(partner_rep).head("/api/v1/memberships/").status_code == 403


@pytest.mark.parametrize("prefix", ["", "/t/acme"])
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/me/",
        "/api/v1/memberships/",
        "/api/v1/memberships/{membership}/",
        "/api/v1/invitations/",
        "/api/v1/partners/",
        "/api/v1/tokens/",
    ],
)
def test_browsable_api_pages_render_for_a_browser(api_as, session_as, partner_admin, prefix, url):
    client = session_as(partner_admin) if prefix else api_as(partner_admin)
    response = client.get(prefix + url.format(membership=partner_admin.pk), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
