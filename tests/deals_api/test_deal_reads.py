"""GET /api/v1/deals/ and /api/v1/deals/{id}/: visibility exactly as deals.selectors.deal_list,
filters, ordering, cursor pagination, and what partner users never see in a payload."""

import pytest

pytestmark = pytest.mark.django_db

STAFF = ["tenant_admin", "channel_manager", "finance", "analyst"]

VISIBLE = {
    **{role: {"rep", "colleague", "shared", "contoso", "cosell", "direct"} for role in STAFF},
    "partner_admin": {"rep", "colleague", "shared", "cosell"},
    "partner_rep": {"rep", "shared"},
    "colleague_rep": {"colleague", "shared"},
    "contoso_admin": {"contoso", "cosell"},
    "contoso_rep": {"contoso", "cosell"},
    "outsider": {"globex"},
}


def _names(acme_deals, response):
    assert response.status_code == 200, response.json()
    by_id = {deal.pk: name for name, deal in acme_deals.items()}
    return {by_id[row["id"]] for row in response.json()["results"]}


@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_the_list_holds_exactly_the_deals_the_member_may_see(request, api_as, acme_deals, role):
    client = api_as(request.getfixturevalue(role))

    assert _names(acme_deals, client.get("/api/v1/deals/")) == VISIBLE[role]


@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_a_deal_outside_the_members_view_answers_404(request, api_as, acme_deals, role):
    client = api_as(request.getfixturevalue(role))

    for name, deal in acme_deals.items():
        response = client.get(f"/api/v1/deals/{deal.pk}/")
        expected = 200 if name in VISIBLE[role] else 404
        assert response.status_code == expected, (name, response.json())
        if expected == 404:
            assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_partner_rep_cannot_see_a_colleagues_deal(api_as, partner_rep, acme_deals):
    response = api_as(partner_rep).get(f"/api/v1/deals/{acme_deals['colleague'].pk}/")

    assert response.status_code == 404


def test_the_detail_has_lines_further_partners_and_timeline_with_amounts_as_text(
    api_as, channel_manager, acme_deals, product, partner
):
    response = api_as(channel_manager).get(f"/api/v1/deals/{acme_deals['cosell'].pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "submitted"
    assert body["total"] == "2000.00"
    assert body["currency"] == "USD"
    assert body["partner"] == {"id": acme_deals["cosell"].partner_id, "name": "Contoso"}
    assert body["registered_by"]["email"] == "rep@contoso.test"
    assert body["conflict_count"] == 0
    assert body["lines"] == [
        {
            "id": body["lines"][0]["id"],
            "product": {"id": product.pk, "sku": "AN-100", "name": "Analytics Suite"},
            "quantity": 2,
            "unit_price": "1000.00",
            "amount": "2000.00",
        }
    ]
    assert body["further_partners"] == [
        {"partner": {"id": partner.pk, "name": "Northwind"}, "role": "co_sell"}
    ]
    assert [(t["from_status"], t["to_status"]) for t in body["timeline"]] == [
        ("", "draft"),
        ("draft", "submitted"),
    ]
    assert body["timeline"][1]["actor"]["email"] == "rep@contoso.test"


def test_a_further_partner_sees_neither_the_registrant_nor_other_partners_names(
    api_as, partner_admin, acme_deals, partner
):
    response = api_as(partner_admin).get(f"/api/v1/deals/{acme_deals['cosell'].pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["partner"] is None
    assert body["registered_by"] is None
    assert body["conflict_count"] is None
    assert body["further_partners"] == [
        {"partner": {"id": partner.pk, "name": "Northwind"}, "role": "co_sell"}
    ]
    assert all(entry["actor"] is None for entry in body["timeline"])
    assert "Contoso" not in response.content.decode()
    assert "contoso.test" not in response.content.decode()


def test_the_registering_partner_sees_its_further_partners_without_their_names(
    api_as, contoso_admin, acme_deals, partner
):
    response = api_as(contoso_admin).get(f"/api/v1/deals/{acme_deals['cosell'].pk}/")

    body = response.json()
    assert body["partner"]["name"] == "Contoso"
    assert body["further_partners"] == [
        {"partner": {"id": partner.pk, "name": None}, "role": "co_sell"}
    ]
    assert "Northwind" not in response.content.decode()


def test_partner_users_never_see_conflicts_or_the_other_registrant(
    api_as, make_deal, partner_rep, contoso_rep, channel_manager
):
    first = make_deal(
        contoso_rep,
        status="submitted",
        customer_name="Hotel Group",
        customer_domain="hotel.example",
    )
    mine = make_deal(
        partner_rep,
        status="submitted",
        customer_name="Hotel Group Inc",
        customer_domain="www.hotel.example",
    )
    staff = api_as(channel_manager).get(f"/api/v1/deals/{mine.pk}/").json()
    assert staff["conflict_count"] == 1

    client = api_as(partner_rep)
    detail = client.get(f"/api/v1/deals/{mine.pk}/")
    listing = client.get("/api/v1/deals/")

    assert detail.json()["conflict_count"] is None
    assert [row["conflict_count"] for row in listing.json()["results"]] == [None]
    for response in (detail, listing):
        text = response.content.decode()
        assert "Contoso" not in text
        assert "rep@contoso.test" not in text
        assert "hotel.example" not in text.replace("www.hotel.example", "")
    assert first.pk not in {row["id"] for row in listing.json()["results"]}


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=approved", {"shared", "contoso", "direct"}),
        ("status=draft", {"colleague"}),
        ("stage=proposal", {"rep"}),
        ("deal_type=co_sell", {"cosell"}),
        ("direct=true", {"direct"}),
        ("direct=false", {"rep", "colleague", "shared", "contoso", "cosell"}),
        ("q=delta", {"contoso"}),
        ("q=ALPHA%20corp", {"rep"}),
        ("q=https://www.echo.example/about", {"cosell"}),
        ("status=submitted&deal_type=resell", {"rep"}),
        ("created_after=2000-01-01T00:00:00Z", VISIBLE["channel_manager"]),
        ("created_before=2000-01-01T00:00:00Z", set()),
        ("created_after=2999-01-01", set()),
    ],
)
def test_deal_filters(api_as, channel_manager, acme_deals, query, expected):
    response = api_as(channel_manager).get(f"/api/v1/deals/?{query}")

    assert _names(acme_deals, response) == expected


def test_filters_by_partner_and_by_registrant(
    api_as, channel_manager, acme_deals, contoso, colleague_rep
):
    client = api_as(channel_manager)

    by_partner = client.get(f"/api/v1/deals/?partner={contoso.pk}")
    by_registrant = client.get(f"/api/v1/deals/?registered_by={colleague_rep.user_id}")

    assert _names(acme_deals, by_partner) == {"contoso", "cosell"}
    assert _names(acme_deals, by_registrant) == {"colleague", "shared"}


def test_a_partner_user_filtering_by_another_partner_gets_nothing(
    api_as, partner_rep, acme_deals, contoso
):
    response = api_as(partner_rep).get(f"/api/v1/deals/?partner={contoso.pk}")

    assert _names(acme_deals, response) == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=open", "status"),
        ("stage=won", "stage"),
        ("deal_type=barter", "deal_type"),
        ("direct=maybe", "direct"),
        ("partner=abc", "partner"),
        ("partner=1.5", "partner"),
        ("partner=99999999999999999999999", "partner"),
        ("registered_by=-3", "registered_by"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-45", "created_before"),
        ("ordering=customer", "ordering"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_an_invalid_filter_answers_400_with_the_field(
    api_as, channel_manager, acme_deals, query, field
):
    response = api_as(channel_manager).get(f"/api/v1/deals/?{query}")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


# ---------------------------------------------------------------- ordering and pages


@pytest.fixture
def priced_deals(make_deal, partner_rep, product):
    from datetime import timedelta

    from django.utils import timezone

    from deals.services import LineInput

    today = timezone.localdate()
    return [
        make_deal(
            partner_rep,
            customer_name=f"Priced {n}",
            lines=[LineInput(product_id=product.pk, quantity=quantity)],
            expected_close_date=today + timedelta(days=days),
        )
        for n, (quantity, days) in enumerate([(3, 20), (1, 40), (5, 10), (2, 30)])
    ]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", [3, 2, 1, 0]),
        ("-created", [3, 2, 1, 0]),
        ("created", [0, 1, 2, 3]),
        ("total", [1, 3, 0, 2]),
        ("-total", [2, 0, 3, 1]),
        ("expected_close", [2, 0, 3, 1]),
        ("-expected_close", [1, 3, 0, 2]),
    ],
)
def test_deals_are_ordered_as_asked(api_as, partner_rep, priced_deals, ordering, expected):
    response = api_as(partner_rep).get(f"/api/v1/deals/?ordering={ordering}")

    assert [row["id"] for row in response.json()["results"]] == [
        priced_deals[n].pk for n in expected
    ]


@pytest.mark.parametrize("ordering", ["-created", "total", "-expected_close"])
def test_cursor_pages_cover_every_deal_once(api_as, partner_rep, priced_deals, ordering):
    client = api_as(partner_rep)
    seen = []
    url = f"/api/v1/deals/?page_size=1&ordering={ordering}"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert len(seen) == 4
    assert set(seen) == {deal.pk for deal in priced_deals}


def test_a_cursor_of_another_ordering_answers_404_not_500(api_as, partner_rep, priced_deals):
    client = api_as(partner_rep)
    next_url = client.get("/api/v1/deals/?page_size=1&ordering=-created").json()["next"]

    for ordering in ("total", "expected_close"):
        response = client.get(next_url.replace("ordering=-created", f"ordering={ordering}"))
        assert response.status_code == 404, response.json()
        assert response.json()["code"] == "not_found"


def test_a_garbled_cursor_answers_404(api_as, partner_rep, priced_deals):
    response = api_as(partner_rep).get("/api/v1/deals/?cursor=garbage")

    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "fields"}
