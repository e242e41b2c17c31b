"""The leads API: /api/v1/leads/ for lead managers, /api/v1/lead-offers/ for partner users.
Permissions for every role, the three actors (owner, lesser role, outsider of another tenant),
another partner's offer answering 404, and bad input answering 400 with nothing written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind(partner, tenant):
    with tenant_context(tenant):
        partner.countries = ["DE"]
        partner.save(update_fields=["countries"])
    return partner


@pytest.fixture
def contoso(northwind, routing_partner):
    return routing_partner("Contoso", ["DE"])


@pytest.fixture
def contoso_admin(tenant, contoso):
    return MembershipFactory(
        tenant=tenant, role="partner_admin", partner=contoso, user__email="admin@contoso.test"
    )


@pytest.fixture
def offered(northwind, contoso, make_lead, pending_offer):
    lead = make_lead("Initech", contact_email="peter@initech.example")
    return lead, pending_offer(lead)


@pytest.fixture
def member(tenant, northwind):
    def _member(role):
        return MembershipFactory(
            tenant=tenant,
            role=role,
            partner=northwind if role.startswith("partner") else None,
            user__email=f"{role}@acme.test",
        )

    return _member


def snapshot(tenant):
    with tenant_context(tenant):
        return (
            list(Lead.objects.order_by("pk").values_list("pk", "status", "deal_id")),
            list(LeadOffer.objects.order_by("pk").values_list("pk", "status", "partner_id")),
        )


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "marketing"])
def test_lead_managers_list_create_and_read_leads(role, member, api_as, northwind, offered):
    client = api_as(member(role))

    listed = client.get("/api/v1/leads/")
    created = client.post("/api/v1/leads/", {"company_name": "Hooli", "country": "DE"})
    detail = client.get(f"/api/v1/leads/{offered[0].pk}/")

    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [offered[0].pk]
    assert created.status_code == 201
    assert detail.status_code == 200
    assert detail.json()["offers"][0]["partner"]["name"] == "Northwind"


@pytest.mark.parametrize("role", ["finance", "analyst", "partner_admin", "partner_rep"])
def test_other_roles_are_refused_the_leads_endpoints(role, member, api_as, offered, tenant):
    lead, _offer = offered
    before = snapshot(tenant)
    client = api_as(member(role))

    assert client.get("/api/v1/leads/").status_code == 403
    assert client.get(f"/api/v1/leads/{lead.pk}/").status_code == 403
    assert client.post("/api/v1/leads/", {"company_name": "X", "country": "DE"}).status_code == 403
    assert client.post(f"/api/v1/leads/{lead.pk}/reroute/").status_code == 403
    assert snapshot(tenant) == before


@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
def test_partner_users_list_and_read_their_offers(role, member, api_as, offered):
    _lead, offer = offered
    client = api_as(member(role))

    listed = client.get("/api/v1/lead-offers/")
    detail = client.get(f"/api/v1/lead-offers/{offer.pk}/")

    assert [row["id"] for row in listed.json()["results"]] == [offer.pk]
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "pending"
    assert body["lead"]["company_name"] == "Initech"


@pytest.mark.parametrize(
    "role", ["tenant_admin", "channel_manager", "marketing", "finance", "analyst"]
)
def test_vendor_staff_are_refused_the_offer_endpoints(role, member, api_as, offered, tenant):
    _lead, offer = offered
    before = snapshot(tenant)
    client = api_as(member(role))

    assert client.get("/api/v1/lead-offers/").status_code == 403
    assert client.post(f"/api/v1/lead-offers/{offer.pk}/accept/").status_code == 403
    assert snapshot(tenant) == before


# ---------------------------------------------------------------- isolation


def test_an_outsider_of_another_tenant_never_reaches_acmes_leads(
    outsider, api_as, offered, tenant, routing_partner, other_tenant
):
    lead, offer = offered
    routing_partner("Umbrella", ["DE"], tenant_=other_tenant)
    before = snapshot(tenant)
    client = api_as(outsider)

    assert client.get(f"/api/v1/leads/{lead.pk}/").status_code == 404
    assert client.post(f"/api/v1/leads/{lead.pk}/reroute/").status_code == 404
    assert client.get("/api/v1/leads/").json()["results"] == []
    # The outsider holds no partner role there: the offers endpoint is refused outright.
    assert client.post(f"/api/v1/lead-offers/{offer.pk}/accept/").status_code == 403
    assert snapshot(tenant) == before


def test_a_partner_user_of_another_tenant_gets_404_for_an_offer(
    api_as, offered, tenant, other_tenant, routing_partner
):
    _lead, offer = offered
    umbrella = routing_partner("Umbrella", ["DE"], tenant_=other_tenant)
    stranger = MembershipFactory(
        tenant=other_tenant, role="partner_admin", partner=umbrella, user__email="a@umbrella.test"
    )
    before = snapshot(tenant)
    client = api_as(stranger)

    assert client.get(f"/api/v1/lead-offers/{offer.pk}/").status_code == 404
    assert client.post(f"/api/v1/lead-offers/{offer.pk}/accept/").status_code == 404
    response = client.post(f"/api/v1/lead-offers/{offer.pk}/decline/", {"reason": "x"})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}
    assert client.get("/api/v1/lead-offers/").json()["results"] == []
    assert snapshot(tenant) == before


def test_another_partners_offer_is_404_and_not_listed(api_as, offered, contoso_admin, tenant):
    _lead, offer = offered
    before = snapshot(tenant)
    client = api_as(contoso_admin)

    assert client.get(f"/api/v1/lead-offers/{offer.pk}/").status_code == 404
    assert client.post(f"/api/v1/lead-offers/{offer.pk}/accept/").status_code == 404
    assert (
        client.post(f"/api/v1/lead-offers/{offer.pk}/decline/", {"reason": "x"}).status_code == 404
    )
    assert client.get("/api/v1/lead-offers/").json()["results"] == []
    assert snapshot(tenant) == before


def test_the_session_api_under_the_tenant_prefix_works_too(channel_manager, offered):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(channel_manager.user, backend="partners.permissions.MembershipBackend")

    response = client.get(f"/t/acme/api/v1/leads/{offered[0].pk}/")

    assert response.status_code == 200


# ---------------------------------------------------------------- leads: create and read


def test_creating_a_lead_routes_it_and_answers_with_the_reason(channel_manager, api_as, northwind):
    response = api_as(channel_manager).post(
        "/api/v1/leads/",
        {"company_name": "Initech", "country": "de", "estimated_value": "25000.00",
         "competency": "", "contact_email": "peter@initech.example"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == LeadStatus.OFFERED
    assert body["country"] == "DE"
    assert body["estimated_value"] == "25000.00"
    assert body["current_offer"]["partner"]["name"] == "Northwind"
    assert body["current_offer"]["reason"]["country"] == "match"
    assert body["current_offer"]["score"] == "0.7500"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": "DE"}, "company_name"),
        ({"company_name": "Initech"}, "country"),
        ({"company_name": "Initech", "country": "Germany"}, "country"),
        ({"company_name": "Initech", "country": "DE", "currency": "XXX"}, "currency"),
        ({"company_name": "Initech", "country": "DE", "estimated_value": "-1"}, "estimated_value"),
        (
            {"company_name": "Initech", "country": "DE", "estimated_value": "1e20"},
            "estimated_value",
        ),
        (
            {"company_name": "Initech", "country": "DE", "estimated_value": "1.234"},
            "estimated_value",
        ),
        ({"company_name": "Initech", "country": "DE", "estimated_value": "NaN"}, "estimated_value"),
        ({"company_name": "Initech", "country": "DE", "contact_email": "nope"}, "contact_email"),
        ({"company_name": "Initech", "country": "DE", "company_domain": "a b"}, "company_domain"),
        ({"company_name": "x" * 201, "country": "DE"}, "company_name"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_writes_nothing(
    channel_manager, api_as, northwind, tenant, body, field
):
    response = api_as(channel_manager).post("/api/v1/leads/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert snapshot(tenant) == ([], [])


def test_a_json_body_that_is_not_an_object_is_a_400(channel_manager, api_as, tenant):
    response = api_as(channel_manager).post("/api/v1/leads/", [1, 2], format="json")

    assert response.status_code == 400
    assert snapshot(tenant) == ([], [])


def test_leads_filter_by_status_and_country(channel_manager, api_as, offered, make_lead):
    unrouted = make_lead("Nowhere", country="JP")
    client = api_as(channel_manager)

    by_status = client.get("/api/v1/leads/?status=unrouted").json()["results"]
    by_country = client.get("/api/v1/leads/?country=jp").json()["results"]

    assert [row["id"] for row in by_status] == [unrouted.pk]
    assert [row["id"] for row in by_country] == [unrouted.pk]
    assert client.get("/api/v1/leads/?status=bogus").status_code == 400


def test_an_unrouted_lead_says_why(channel_manager, api_as, make_lead):
    lead = make_lead("Nowhere", country="JP")

    body = api_as(channel_manager).get(f"/api/v1/leads/{lead.pk}/").json()

    assert body["status"] == "unrouted"
    assert body["routing_gaps"]["serving_geography"] == 0


def test_rerouting_offers_the_lead_to_the_next_partner(channel_manager, api_as, offered, contoso):
    lead, _offer = offered

    response = api_as(channel_manager).post(f"/api/v1/leads/{lead.pk}/reroute/")

    assert response.status_code == 200
    body = response.json()
    assert [o["status"] for o in body["offers"]] == ["withdrawn", "pending"]
    assert body["current_offer"]["partner"]["id"] == contoso.pk
    assert body["current_offer"]["reason"]["trigger"] == "manual"


@pytest.mark.parametrize("lead_id", ["0", "abc", "99999999999999999999"])
def test_a_lead_id_that_cannot_exist_is_404(channel_manager, api_as, lead_id):
    assert api_as(channel_manager).get(f"/api/v1/leads/{lead_id}/").status_code == 404


# ---------------------------------------------------------------- offers: answer


def test_a_partner_sees_no_score_reason_or_contact_before_accepting(partner_rep, api_as, offered):
    _lead, offer = offered

    body = api_as(partner_rep).get(f"/api/v1/lead-offers/{offer.pk}/").json()

    assert "reason" not in body and "score" not in body
    assert body["lead"]["contact_email"] is None
    assert body["deal_id"] is None


def test_accepting_answers_with_the_registration_and_the_contact(
    partner_rep, api_as, offered, tenant, northwind
):
    lead, offer = offered

    response = api_as(partner_rep).post(f"/api/v1/lead-offers/{offer.pk}/accept/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted"
    assert body["lead"]["contact_email"] == "peter@initech.example"
    with tenant_context(tenant):
        deal = Lead.objects.select_related("deal").get(pk=lead.pk).deal
    assert body["deal_id"] == deal.pk
    assert (deal.status, deal.partner_id) == ("approved", northwind.pk)
    assert deal.protection_ends_at is not None


def test_accepting_an_answered_offer_is_a_400(partner_rep, api_as, offered, tenant):
    _lead, offer = offered
    client = api_as(partner_rep)
    client.post(f"/api/v1/lead-offers/{offer.pk}/decline/", {"reason": "Busy"})
    before = snapshot(tenant)

    response = client.post(f"/api/v1/lead-offers/{offer.pk}/accept/")

    assert response.status_code == 400
    assert "no longer open" in response.json()["message"]
    assert snapshot(tenant) == before


def test_an_offer_past_its_time_shows_expired_and_cannot_be_accepted(
    partner_rep, api_as, offered, tenant
):
    _lead, offer = offered
    with tenant_context(tenant):
        LeadOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now())
    before = snapshot(tenant)
    client = api_as(partner_rep)

    assert client.get(f"/api/v1/lead-offers/{offer.pk}/").json()["status"] == "expired"
    assert client.post(f"/api/v1/lead-offers/{offer.pk}/accept/").status_code == 400
    assert snapshot(tenant) == before


def test_declining_moves_the_lead_on(partner_rep, api_as, offered, contoso, pending_offer):
    lead, offer = offered

    response = api_as(partner_rep).post(
        f"/api/v1/lead-offers/{offer.pk}/decline/", {"reason": "Not our market"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == OfferStatus.DECLINED
    assert response.json()["decline_reason"] == "Not our market"
    assert pending_offer(lead).partner_id == contoso.pk


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
def test_declining_without_a_reason_is_a_400_and_changes_nothing(
    partner_rep, api_as, offered, tenant, body
):
    _lead, offer = offered
    before = snapshot(tenant)

    response = api_as(partner_rep).post(
        f"/api/v1/lead-offers/{offer.pk}/decline/", body, format="json"
    )

    assert response.status_code == 400
    assert "reason" in response.json()["fields"]
    assert snapshot(tenant) == before


def test_offers_filter_by_status(partner_rep, api_as, offered, make_lead):
    _lead, offer = offered
    client = api_as(partner_rep)
    client.post(f"/api/v1/lead-offers/{offer.pk}/decline/", {"reason": "Busy"})

    declined = client.get("/api/v1/lead-offers/?status=declined").json()["results"]

    assert [row["id"] for row in declined] == [offer.pk]
    assert client.get("/api/v1/lead-offers/?status=nope").status_code == 400


def test_the_schema_documents_the_lead_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()

    for path in [
        "/api/v1/leads/",
        "/api/v1/leads/{id}/",
        "/api/v1/leads/import/",
        "/api/v1/leads/{id}/reroute/",
        "/api/v1/lead-offers/",
        "/api/v1/lead-offers/{id}/accept/",
        "/api/v1/lead-offers/{id}/decline/",
    ]:
        assert path in schema["paths"], path
