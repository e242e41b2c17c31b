"""/api/v1/products/: every member with deals.view_product reads the catalog (partner users
only its active products); tenant admins add and change products through deals.catalog."""

from decimal import Decimal

import pytest

from deals.models import Product

pytestmark = pytest.mark.django_db

READERS = ["tenant_admin", "channel_manager", "finance", "analyst", "partner_admin", "partner_rep"]


def _ids(response):
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", READERS)
def test_every_member_with_view_product_lists_the_catalog(request, api_as, product, role):
    member = request.getfixturevalue(role)

    response = api_as(member).get("/api/v1/products/")

    assert product.pk in _ids(response)
    row = next(r for r in response.json()["results"] if r["id"] == product.pk)
    assert row == {
        "id": product.pk,
        "sku": "AN-100",
        "name": "Analytics Suite",
        "category": "Software",
        "list_price": "1000.00",
        "currency": "USD",
        "active": True,
    }


@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
def test_partner_users_see_only_active_products(request, api_as, product, retired_product, role):
    client = api_as(request.getfixturevalue(role))

    assert _ids(client.get("/api/v1/products/")) == {product.pk}
    assert client.get(f"/api/v1/products/{retired_product.pk}/").status_code == 404


def test_staff_see_retired_products_and_can_filter_them(
    api_as, channel_manager, product, retired_product
):
    client = api_as(channel_manager)

    assert _ids(client.get("/api/v1/products/")) == {product.pk, retired_product.pk}
    assert _ids(client.get("/api/v1/products/?active=false")) == {retired_product.pk}
    assert _ids(client.get("/api/v1/products/?q=analytics")) == {product.pk}
    assert _ids(client.get("/api/v1/products/?q=OLD")) == {retired_product.pk}
    assert client.get(f"/api/v1/products/{retired_product.pk}/").json()["active"] is False


def test_an_invalid_product_filter_answers_400(api_as, channel_manager):
    response = api_as(channel_manager).get("/api/v1/products/?active=maybe")

    assert response.status_code == 400
    assert "active" in response.json()["fields"]


def test_another_tenants_products_are_404_and_never_listed(
    api_as, outsider, product, foreign_product
):
    client = api_as(outsider)

    assert _ids(client.get("/api/v1/products/")) == {foreign_product.pk}
    assert client.get(f"/api/v1/products/{product.pk}/").status_code == 404
    response = client.patch(f"/api/v1/products/{product.pk}/", {"name": "Mine"}, format="json")
    assert response.status_code == 404


def test_tenant_admin_adds_a_product(api_as, tenant_admin, tenant, in_tenant):
    response = api_as(tenant_admin).post(
        "/api/v1/products/",
        {
            "sku": " ST-9 ",
            "name": "Storage",
            "category": "Hardware",
            "list_price": "99.5",
            "currency": "eur",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sku"] == "ST-9"
    assert body["list_price"] == "99.50"
    assert body["currency"] == "EUR"
    assert body["active"] is True
    with in_tenant(tenant):
        stored = Product.objects.get(pk=body["id"])
    assert stored.list_price == Decimal("99.50")
    assert stored.tenant_id == tenant.pk


def test_tenant_admin_changes_a_product_and_retires_it(api_as, tenant_admin, product):
    client = api_as(tenant_admin)

    response = client.patch(
        f"/api/v1/products/{product.pk}/", {"list_price": "1100", "active": False}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["list_price"] == "1100.00"
    assert response.json()["active"] is False
    assert response.json()["sku"] == "AN-100"


@pytest.mark.parametrize(
    "role", ["channel_manager", "finance", "analyst", "partner_admin", "partner_rep"]
)
def test_roles_without_catalog_rights_cannot_write_products(
    request, api_as, product, tenant, in_tenant, role
):
    client = api_as(request.getfixturevalue(role))
    body = {"sku": "NEW-1", "name": "New", "list_price": "1", "currency": "USD"}

    created = client.post("/api/v1/products/", body, format="json")
    changed = client.patch(f"/api/v1/products/{product.pk}/", {"name": "X"}, format="json")

    assert created.status_code == 403
    assert changed.status_code == 403
    with in_tenant(tenant):
        assert list(Product.objects.values_list("sku", "name")) == [("AN-100", "Analytics Suite")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No SKU", "list_price": "1", "currency": "USD"}, "sku"),
        ({"sku": "A-1", "list_price": "1", "currency": "USD"}, "name"),
        ({"sku": "A-1", "name": "A", "currency": "USD"}, "list_price"),
        ({"sku": "A-1", "name": "A", "list_price": "-1", "currency": "USD"}, "list_price"),
        ({"sku": "A-1", "name": "A", "list_price": "1e15", "currency": "USD"}, "list_price"),
        ({"sku": "A-1", "name": "A", "list_price": "1.001", "currency": "USD"}, "list_price"),
        ({"sku": "A-1", "name": "A", "list_price": "cheap", "currency": "USD"}, "list_price"),
        ({"sku": "A-1", "name": "A", "list_price": "1", "currency": "US"}, "currency"),
        ({"sku": "A-1", "name": "A", "list_price": "1", "currency": "U$D"}, "currency"),
        (
            {"sku": "A-1", "name": "A", "list_price": "1", "currency": "USD", "active": "perhaps"},
            "active",
        ),
        ({"sku": "AN-100", "name": "Dup", "list_price": "1", "currency": "USD"}, "sku"),
        ({"sku": "   ", "name": "A", "list_price": "1", "currency": "USD"}, "sku"),
    ],
)
def test_bad_product_input_answers_400_and_writes_nothing(
    api_as, tenant_admin, product, tenant, in_tenant, body, field
):
    response = api_as(tenant_admin).post("/api/v1/products/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    with in_tenant(tenant):
        assert Product.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"list_price": "-5"}, "list_price"),
        ({"currency": "1234"}, "currency"),
        ({"sku": "OLD-1"}, "sku"),
    ],
)
def test_bad_product_changes_answer_400_and_change_nothing(
    api_as, tenant_admin, product, retired_product, tenant, in_tenant, body, field
):
    response = api_as(tenant_admin).patch(f"/api/v1/products/{product.pk}/", body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    with in_tenant(tenant):
        stored = Product.objects.get(pk=product.pk)
    assert (stored.sku, stored.list_price, stored.currency) == ("AN-100", Decimal("1000"), "USD")


def test_products_have_no_put_or_delete(api_as, tenant_admin, product):
    client = api_as(tenant_admin)

    assert client.delete(f"/api/v1/products/{product.pk}/").status_code == 405
    assert client.put(f"/api/v1/products/{product.pk}/", {}, format="json").status_code == 405
