"""The OpenAPI schema renders cleanly; the docs page is served from local static files and
runs under the Content-Security-Policy."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db

CDN_HOSTS = ("jsdelivr", "unpkg", "cdnjs", "googleapis", "cloudflare", "//cdn.")


def test_schema_generates_without_warnings_or_errors(tmp_path):
    target = tmp_path / "schema.yaml"
    # --fail-on-warn turns every drf-spectacular warning or error into a CommandError.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    assert set(schema["paths"]) >= {
        "/api/v1/",
        "/api/v1/auth/token/",
        "/api/v1/auth/token/current/",
        "/api/v1/me/",
        "/api/v1/memberships/",
        "/api/v1/memberships/{id}/",
        "/api/v1/invitations/",
        "/api/v1/invitations/{id}/",
        "/api/v1/invitations/{id}/revoke/",
        "/api/v1/partners/",
        "/api/v1/partners/{id}/",
        "/api/v1/tokens/",
        "/api/v1/tokens/{id}/",
    }
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["tokenAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "fields"}


def test_invitation_schema_has_no_secret(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(target))
    invitation = yaml.safe_load(target.read_text())["components"]["schemas"]["Invitation"]
    assert not {"token", "token_hash", "url"} & set(invitation["properties"])


def test_schema_endpoint_answers_200(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/memberships/" in response.content


def test_docs_page_loads_swagger_ui_from_local_static_files(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert not any(host in html for host in CDN_HOSTS)
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset


def test_docs_page_has_no_inline_script(api_client):
    html = api_client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    for attributes, body in scripts:
        assert "src=" in attributes
        assert body.strip() == ""


def test_docs_page_runs_under_the_content_security_policy(api_client):
    response = api_client.get("/api/docs/")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )

    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    # The template's one inline <style> block is allowed by its hash, nothing else.
    assert re.fullmatch(r"'self' 'sha256-[A-Za-z0-9+/=]+'", policy["style-src"])


def test_docs_start_up_script_is_served_as_javascript(api_client):
    response = api_client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()
    assert "/api/schema/" in response.content.decode()
