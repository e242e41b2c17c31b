"""GET /api/v1/deals/export.csv: the filtered deals list as CSV, for deals.export_deal."""

import csv
import io
from decimal import Decimal

import pytest

from deals.services import LineInput

pytestmark = pytest.mark.django_db

URL = "/api/v1/deals/export.csv"


def _rows(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "finance", "analyst"])
def test_staff_export_every_deal_of_the_program(request, api_as, acme_deals, role):
    response = api_as(request.getfixturevalue(role)).get(URL)

    rows = _rows(response)
    expected = {deal.pk for name, deal in acme_deals.items() if name != "globex"}
    assert {int(row["id"]) for row in rows} == expected
    assert response["Content-Disposition"].startswith('attachment; filename="deals-acme-')


def test_the_export_has_the_deals_fields_with_amounts_as_decimal_text(
    api_as, channel_manager, partner_rep, make_deal, product
):
    deal = make_deal(
        partner_rep,
        status="won",
        customer_name="Papa Foods",
        customer_domain="papa.example",
        country="FR",
        lines=[LineInput(product_id=product.pk, quantity=3, unit_price=Decimal("333.33"))],
        won_amount=Decimal("999.99"),
        external_id="SF-77",
    )

    (row,) = _rows(api_as(channel_manager).get(URL))

    assert row["id"] == str(deal.pk)
    assert row["external_id"] == "SF-77"
    assert row["status"] == "won"
    assert row["customer_name"] == "Papa Foods"
    assert row["country"] == "FR"
    assert (row["currency"], row["total"], row["won_amount"]) == ("USD", "999.99", "999.99")
    assert row["partner"] == "Northwind"
    assert row["registered_by"] == "rep@northwind.test"
    assert row["direct"] == "false"
    assert row["closed_on"] == deal.closed_on.isoformat()
    assert row["created_at"].startswith(deal.created_at.date().isoformat())


def test_the_export_applies_the_lists_filters_and_ordering(
    api_as, channel_manager, acme_deals, contoso
):
    client = api_as(channel_manager)

    approved = _rows(client.get(f"{URL}?status=approved&ordering=created"))
    by_partner = _rows(client.get(f"{URL}?partner={contoso.pk}"))
    direct = _rows(client.get(f"{URL}?direct=true"))

    assert [int(row["id"]) for row in approved] == [
        acme_deals[name].pk for name in ("shared", "contoso", "direct")
    ]
    assert {int(row["id"]) for row in by_partner} == {
        acme_deals["contoso"].pk,
        acme_deals["cosell"].pk,
    }
    assert [(row["partner"], row["direct"]) for row in direct] == [("", "true")]


def test_cells_a_spreadsheet_would_run_are_defused(api_as, channel_manager, partner_rep, make_deal):
    make_deal(partner_rep, customer_name="=HYPERLINK(evil) Corp", contact_name="@SUM(A1)")

    (row,) = _rows(api_as(channel_manager).get(URL))

    assert row["customer_name"] == "'=HYPERLINK(evil) Corp"
    assert row["contact_name"] == "'@SUM(A1)"


def test_an_accept_header_asking_for_csv_is_honoured(api_as, channel_manager, acme_deals):
    response = api_as(channel_manager).get(URL, HTTP_ACCEPT="text/csv")

    assert len(_rows(response)) == 6


@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
def test_partner_users_without_export_deal_get_403(request, api_as, acme_deals, role):
    response = api_as(request.getfixturevalue(role)).get(URL)

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "permission_denied"


def test_an_outsiders_export_holds_only_their_own_tenants_deals(api_as, outsider, acme_deals):
    rows = _rows(api_as(outsider).get(URL))

    assert [int(row["id"]) for row in rows] == [acme_deals["globex"].pk]


def test_an_invalid_filter_answers_400_in_json(api_as, channel_manager):
    response = api_as(channel_manager).get(f"{URL}?status=open", HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response.json()["fields"]["status"]


def test_an_empty_export_has_the_header_row(api_as, channel_manager):
    response = api_as(channel_manager).get(URL)

    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,external_id,status,customer_name")
    assert len(text.splitlines()) == 1
