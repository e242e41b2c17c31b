"""POST /api/v1/deals/ and PATCH /api/v1/deals/{id}/: partner users register deals, staff
record direct deals, and bad input answers 400 with the fields and writes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import Deal

pytestmark = pytest.mark.django_db


def _yesterday() -> str:
    return (timezone.localdate() - timedelta(days=1)).isoformat()


# ---------------------------------------------------------------- create


@pytest.mark.parametrize("role", ["partner_rep", "partner_admin"])
def test_a_partner_user_registers_a_draft(
    request, api_as, deal_body, partner, tenant, in_tenant, role
):
    member = request.getfixturevalue(role)

    response = api_as(member).post("/api/v1/deals/", deal_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["partner"] == {"id": partner.pk, "name": "Northwind"}
    assert body["registered_by"]["id"] == member.user_id
    assert body["direct"] is False
    assert body["total"] == "2000.00"
    assert body["currency"] == "USD"
    assert [entry["to_status"] for entry in body["timeline"]] == ["draft"]
    with in_tenant(tenant):
        stored = Deal.objects.get(pk=body["id"])
    assert stored.total == Decimal("2000.00")
    assert stored.customer_domain_normalized == "initrode.example"


def test_a_partner_user_registers_and_submits_at_once(api_as, partner_rep, deal_body):
    response = api_as(partner_rep).post("/api/v1/deals/", deal_body(submit=True), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "submitted"
    assert response.json()["submitted_at"]


def test_a_conflict_free_submission_within_the_limit_is_approved_at_once(
    api_as, partner_rep, deal_body, tenant, in_tenant
):
    with in_tenant(tenant):
        rules = services.engagement_rules()
        rules.auto_approve_max_total = Decimal("5000")
        rules.save()

    response = api_as(partner_rep).post("/api/v1/deals/", deal_body(submit=True), format="json")

    body = response.json()
    assert body["status"] == "approved"
    assert body["auto_approved"] is True
    assert body["protection_ends_at"]
    assert body["timeline"][-1]["automatic"] is True


def test_a_unit_price_overrides_the_list_price(api_as, partner_rep, deal_body, product):
    body = deal_body(lines=[{"product": product.pk, "quantity": 3, "unit_price": "899.99"}])

    response = api_as(partner_rep).post("/api/v1/deals/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "2699.97"
    assert response.json()["lines"][0]["unit_price"] == "899.99"


@pytest.mark.parametrize("role", ["channel_manager", "tenant_admin"])
def test_staff_record_a_direct_deal(request, api_as, deal_body, role):
    response = api_as(request.getfixturevalue(role)).post(
        "/api/v1/deals/", deal_body(direct=True), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["direct"] is True
    assert body["partner"] is None
    assert body["status"] == "approved"


def test_staff_without_direct_get_403_telling_them_how(
    api_as, channel_manager, deal_body, tenant, snapshot
):
    client = api_as(channel_manager)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", deal_body(), format="json")

    assert response.status_code == 403
    assert "direct" in response.json()["message"]
    assert snapshot(tenant) == before


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        ("partner_rep", {"direct": True}),
        ("partner_admin", {"direct": True}),
        ("finance", {"direct": True}),
        ("analyst", {}),
        ("finance", {}),
    ],
)
def test_roles_that_may_not_create_such_a_deal_get_403(
    request, api_as, deal_body, tenant, snapshot, role, extra
):
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", deal_body(**extra), format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "permission_denied"
    assert snapshot(tenant) == before


def test_a_direct_deal_cannot_be_submitted(api_as, channel_manager, deal_body, tenant, snapshot):
    client = api_as(channel_manager)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", deal_body(direct=True, submit=True), format="json")

    assert response.status_code == 400
    assert "submit" in response.json()["fields"]
    assert snapshot(tenant) == before


def _without(field):
    def change(body, **fixtures):
        body.pop(field)
        return body

    return change


def _set(**values):
    def change(body, **fixtures):
        body.update(values)
        return body

    return change


def _line(**values):
    def change(body, product, **fixtures):
        body["lines"] = [{"product": product.pk, "quantity": 1, **values}]
        return body

    return change


def _product(name):
    def change(body, **fixtures):
        body["lines"] = [{"product": fixtures[name].pk, "quantity": 1}]
        return body

    return change


BAD_INPUT = {
    "missing customer": (_without("customer_name"), "customer_name"),
    "blank customer": (_set(customer_name="   "), "customer_name"),
    "punctuation-only customer": (_set(customer_name="!!!"), "customer_name"),
    "missing country": (_without("country"), "country"),
    "country name": (_set(country="Germany"), "country"),
    "country digits": (_set(country="1A"), "country"),
    "missing currency": (_without("currency"), "currency"),
    "unknown currency": (_set(currency="XYZ"), "currency"),
    "currency not of the program": (_set(currency="EUR"), "currency"),
    "missing close date": (_without("expected_close_date"), "expected_close_date"),
    "close date in the past": (_set(expected_close_date=_yesterday()), "expected_close_date"),
    "close date not a date": (_set(expected_close_date="next week"), "expected_close_date"),
    "close date a number": (_set(expected_close_date=20300101), "expected_close_date"),
    "unknown stage": (_set(stage="won"), "stage"),
    "unknown type": (_set(deal_type="barter"), "deal_type"),
    "bad email": (_set(contact_email="not-an-email"), "contact_email"),
    "bad domain": (_set(customer_domain="not a domain"), "customer_domain"),
    "customer name too long": (_set(customer_name="x" * 201), "customer_name"),
    "missing lines": (_without("lines"), "lines"),
    "no lines": (_set(lines=[]), "lines"),
    "lines not a list": (_set(lines="AN-100 x 2"), "lines"),
    "line not an object": (_set(lines=[7]), "lines"),
    "line without product": (_set(lines=[{"quantity": 1}]), "lines"),
    "zero quantity": (_line(quantity=0), "lines"),
    "negative quantity": (_line(quantity=-2), "lines"),
    "huge quantity": (_line(quantity=10**9), "lines"),
    "quantity a word": (_line(quantity="two"), "lines"),
    "quantity a fraction": (_line(quantity=1.5), "lines"),
    "negative price": (_line(unit_price="-1.00"), "lines"),
    "huge price": (_line(unit_price="1000000000000000"), "lines"),
    "price in exponent": (_line(unit_price="1e20"), "lines"),
    "price with three decimals": (_line(unit_price="10.005"), "lines"),
    "price a word": (_line(unit_price="cheap"), "lines"),
    "price not a number": (_line(unit_price="NaN"), "lines"),
    "total too large": (_line(quantity=1_000_000, unit_price="999999999.00"), "lines"),
    "product of another tenant": (_product("foreign_product"), "lines"),
    "retired product": (_product("retired_product"), "lines"),
    "unknown product": (_set(lines=[{"product": 987654321, "quantity": 1}]), "lines"),
    "huge product id": (_set(lines=[{"product": 2**70, "quantity": 1}]), "lines"),
    "product id a string": (_set(lines=[{"product": "AN-100", "quantity": 1}]), "lines"),
    "unknown further partner": (
        _set(further_partners=[{"partner": 987654321, "role": "co_sell"}]),
        "further_partners",
    ),
    "own organization as further partner": (
        lambda body, partner, **f: {
            **body,
            "further_partners": [{"partner": partner.pk, "role": "co_sell"}],
        },
        "further_partners",
    ),
    "another tenant's partner": (
        lambda body, globex_rep, **f: {
            **body,
            "further_partners": [{"partner": globex_rep.partner_id, "role": "co_sell"}],
        },
        "further_partners",
    ),
    "unknown partner role": (
        lambda body, contoso, **f: {
            **body,
            "further_partners": [{"partner": contoso.pk, "role": "owner"}],
        },
        "further_partners",
    ),
    "submit not a boolean": (_set(submit="soon"), "submit"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_answers_400_with_the_field_and_writes_nothing(
    api_as,
    partner_rep,
    deal_body,
    product,
    retired_product,
    foreign_product,
    partner,
    contoso,
    globex_rep,
    tenant,
    snapshot,
    case,
):
    change, field = BAD_INPUT[case]
    body = change(
        deal_body(submit=True),
        product=product,
        retired_product=retired_product,
        foreign_product=foreign_product,
        partner=partner,
        contoso=contoso,
        globex_rep=globex_rep,
    )
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"], response.json()
    assert all(response.json()["fields"][field])
    assert snapshot(tenant) == before


def test_every_invalid_field_is_reported_at_once(api_as, partner_rep, deal_body):
    body = deal_body(country="1A", currency="XYZ", expected_close_date=_yesterday())

    response = api_as(partner_rep).post("/api/v1/deals/", body, format="json")

    assert response.status_code == 400
    assert {"country", "currency", "expected_close_date"} <= set(response.json()["fields"])


@pytest.mark.parametrize(
    ("payload", "content_type", "status", "code"),
    [
        ('{"customer_name": "Initrode", ', "application/json", 400, "parse_error"),
        ("[]", "application/json", 400, "invalid"),
        ('"a string"', "application/json", 400, "invalid"),
        ("customer_name=Initrode", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_a_body_that_is_not_a_deal_answers_an_error_and_writes_nothing(
    api_as, partner_rep, tenant, snapshot, payload, content_type, status, code
):
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.generic("POST", "/api/v1/deals/", payload, content_type=content_type)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert snapshot(tenant) == before


def test_an_external_id_of_another_partners_deal_answers_400(
    api_as, partner_rep, contoso_rep, make_deal, deal_body, tenant, snapshot
):
    make_deal(contoso_rep, external_id="SF-0001")
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", deal_body(external_id="SF-0001"), format="json")

    assert response.status_code == 400
    assert "external_id" in response.json()["fields"]
    assert "Contoso" not in response.content.decode()
    assert snapshot(tenant) == before


def test_an_outsider_registers_only_in_their_own_tenant(
    api_as, globex_rep, deal_body, tenant, snapshot
):
    client = api_as(globex_rep)
    before = snapshot(tenant)

    response = client.post("/api/v1/deals/", deal_body(currency="USD"), format="json")

    # Acme's product is unknown in Globex: a 400 on the lines, and Acme is untouched.
    assert response.status_code == 400
    assert "lines" in response.json()["fields"]
    assert snapshot(tenant) == before


# ---------------------------------------------------------------- partial update


def test_a_rep_changes_some_fields_of_their_draft(api_as, partner_rep, make_deal):
    deal = make_deal(partner_rep, stage="qualification", notes="")

    response = api_as(partner_rep).patch(
        f"/api/v1/deals/{deal.pk}/", {"stage": "proposal", "notes": "Pilot agreed."}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["stage"], body["notes"]) == ("proposal", "Pilot agreed.")
    assert body["customer_name"] == deal.customer_name
    assert body["total"] == "2000.00"
    assert len(body["lines"]) == 1


def test_sent_lines_replace_the_stored_lines(api_as, partner_rep, make_deal, product):
    deal = make_deal(partner_rep)
    lines = [
        {"product": product.pk, "quantity": 1},
        {"product": product.pk, "quantity": 4, "unit_price": "500.00"},
    ]

    response = api_as(partner_rep).patch(
        f"/api/v1/deals/{deal.pk}/", {"lines": lines}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["total"] == "3000.00"
    assert [line["amount"] for line in response.json()["lines"]] == ["1000.00", "2000.00"]


def test_a_partner_answers_a_more_info_request_by_editing_and_submitting(
    api_as, partner_rep, make_deal
):
    deal = make_deal(partner_rep, status="more_info")
    client = api_as(partner_rep)

    edited = client.patch(f"/api/v1/deals/{deal.pk}/", {"notes": "Two sites."}, format="json")
    submitted = client.post(
        f"/api/v1/deals/{deal.pk}/submit/", {"comment": "Both sites."}, format="json"
    )

    assert edited.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["timeline"][-1]["comment"] == "Both sites."


def test_a_reviewer_may_edit_a_partners_deal(api_as, channel_manager, partner_rep, make_deal):
    deal = make_deal(partner_rep, status="approved")

    response = api_as(channel_manager).patch(
        f"/api/v1/deals/{deal.pk}/", {"stage": "negotiation"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "negotiation"


def test_an_approved_registration_keeps_its_customer(
    api_as, partner_rep, make_deal, tenant, snapshot
):
    deal = make_deal(partner_rep, status="approved")
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}/", {"customer_name": "Someone Else"}, format="json"
    )

    assert response.status_code == 400
    assert "customer_name" in response.json()["fields"]
    assert snapshot(tenant) == before


@pytest.mark.parametrize("status", ["submitted", "rejected", "won", "lost", "expired"])
def test_a_deal_in_review_or_closed_cannot_be_edited(
    api_as, partner_rep, make_deal, tenant, snapshot, status
):
    deal = make_deal(partner_rep, status=status)
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.patch(f"/api/v1/deals/{deal.pk}/", {"notes": "late change"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "cannot be edited" in response.json()["message"]
    assert snapshot(tenant) == before


def test_a_further_partner_cannot_edit_the_registrants_deal(
    api_as, partner_admin, acme_deals, tenant, snapshot
):
    deal = acme_deals["cosell"]
    client = api_as(partner_admin)
    before = snapshot(tenant)

    response = client.patch(f"/api/v1/deals/{deal.pk}/", {"notes": "ours now"}, format="json")

    assert response.status_code == 403
    assert snapshot(tenant) == before


@pytest.mark.parametrize(
    ("role", "status"),
    [("partner_rep", 404), ("contoso_rep", 404), ("outsider", 404), ("analyst", 403)],
)
def test_who_may_not_edit_a_deal_gets_404_or_403(
    request, api_as, colleague_rep, make_deal, tenant, snapshot, role, status
):
    deal = make_deal(colleague_rep)
    client = api_as(request.getfixturevalue(role))
    before = snapshot(tenant)

    response = client.patch(f"/api/v1/deals/{deal.pk}/", {"notes": "mine"}, format="json")

    assert response.status_code == status
    assert snapshot(tenant) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"expected_close_date": "2001-01-01"}, "expected_close_date"),
        ({"currency": "XYZ"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"product": 1, "quantity": -1}]}, "lines"),
        ({"stage": None}, "stage"),
        ({"customer_name": ""}, "customer_name"),
    ],
)
def test_bad_changes_answer_400_and_change_nothing(
    api_as, partner_rep, make_deal, tenant, snapshot, body, field
):
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.patch(f"/api/v1/deals/{deal.pk}/", body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert snapshot(tenant) == before


def test_a_product_of_another_tenant_cannot_be_patched_in(
    api_as, partner_rep, make_deal, foreign_product, tenant, snapshot
):
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.patch(
        f"/api/v1/deals/{deal.pk}/",
        {"lines": [{"product": foreign_product.pk, "quantity": 1}]},
        format="json",
    )

    assert response.status_code == 400
    assert "lines" in response.json()["fields"]
    assert snapshot(tenant) == before


def test_malformed_json_in_a_patch_changes_nothing(
    api_as, partner_rep, make_deal, tenant, snapshot
):
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)
    before = snapshot(tenant)

    response = client.generic(
        "PATCH", f"/api/v1/deals/{deal.pk}/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert snapshot(tenant) == before


def test_deals_have_no_put_or_delete_by_id(api_as, partner_rep, make_deal):
    deal = make_deal(partner_rep)
    client = api_as(partner_rep)

    assert client.delete(f"/api/v1/deals/{deal.pk}/").status_code == 405
    assert client.put(f"/api/v1/deals/{deal.pk}/", {}, format="json").status_code == 405
