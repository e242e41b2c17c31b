"""The deals API is in the OpenAPI schema (which stays free of warnings), and the pages can
call it under /t/<slug>/api/v1/ with their session and CSRF token."""

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

DEAL_PATHS = {
    "/api/v1/products/",
    "/api/v1/products/{id}/",
    "/api/v1/deals/",
    "/api/v1/deals/{id}/",
    "/api/v1/deals/{id}/submit/",
    "/api/v1/deals/{id}/approve/",
    "/api/v1/deals/{id}/reject/",
    "/api/v1/deals/{id}/request-info/",
    "/api/v1/deals/{id}/mark-won/",
    "/api/v1/deals/{id}/mark-lost/",
    "/api/v1/deals/{id}/request-extension/",
    "/api/v1/deals/{id}/decide-extension/",
    "/api/v1/deals/{id}/conflicts/",
    "/api/v1/deals/bulk-approve/",
    "/api/v1/deals/by-external-id/{external_id}/",
    "/api/v1/deals/export.csv",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    target = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # --fail-on-warn turns every drf-spectacular warning or error into a CommandError.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return yaml.safe_load(target.read_text())


def test_every_deals_endpoint_is_documented(schema):
    assert set(schema["paths"]) >= DEAL_PATHS
    deals = schema["paths"]["/api/v1/deals/"]
    assert {"get", "post"} <= set(deals)
    parameters = {p["name"] for p in deals["get"]["parameters"]}
    assert {
        "status", "stage", "deal_type", "partner", "registered_by", "direct", "q",
        "created_after", "created_before", "ordering", "cursor", "page_size",
    } <= parameters  # fmt: skip


def test_amounts_are_documented_as_decimal_strings(schema):
    components = schema["components"]["schemas"]
    for component, field in [
        ("Deal", "total"),
        ("DealDetail", "won_amount"),
        ("DealLine", "amount"),
        ("Product", "list_price"),
    ]:
        assert components[component]["properties"][field]["type"] == "string"
        assert components[component]["properties"][field]["format"] == "decimal"


def test_the_export_is_documented_as_csv_with_the_list_filters(schema):
    export = schema["paths"]["/api/v1/deals/export.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {"status", "q", "ordering"} <= {p["name"] for p in export["parameters"]}


def test_the_pages_session_calls_the_deals_api_under_the_tenant_prefix(
    partner_rep, make_deal, deal_body
):
    deal = make_deal(partner_rep)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(partner_rep.user, backend="partners.permissions.MembershipBackend")

    listed = client.get("/t/acme/api/v1/deals/")
    without_csrf = client.post("/t/acme/api/v1/deals/", deal_body(), format="json")
    unprefixed = client.get("/api/v1/deals/")

    assert [row["id"] for row in listed.json()["results"]] == [deal.pk]
    assert without_csrf.status_code == 403
    assert unprefixed.status_code == 401


def test_an_anonymous_caller_gets_401(product):
    response = APIClient().get("/api/v1/deals/")

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}
