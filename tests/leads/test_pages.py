"""The lead pages: who may open each one (every role, and the outsider of another tenant),
another partner's offer and another tenant's lead answering 404, bad input answering 400 with
nothing written, and the journeys: create, route again, accept, decline."""

from __future__ import annotations

import pytest
from django.utils import timezone

from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus
from partners.tenancy import tenant_context
from tests.factories import MembershipFactory
from tests.partners.html import main_nav, text

pytestmark = pytest.mark.django_db

STAFF_WITH_LEADS = ["tenant_admin", "channel_manager", "marketing"]
STAFF_WITHOUT_LEADS = ["finance", "analyst"]
PARTNER_ROLES = ["partner_admin", "partner_rep"]


@pytest.fixture
def northwind(partner, tenant):
    """The fixture partner, serving Germany: it gets the leads of these tests first."""
    with tenant_context(tenant):
        partner.countries = ["DE"]
        partner.save(update_fields=["countries"])
    return partner


@pytest.fixture
def contoso(northwind, routing_partner):
    """A second partner serving Germany, younger than Northwind (so second in a tie)."""
    return routing_partner("Contoso", ["DE"])


@pytest.fixture
def acme_member(tenant, northwind):
    """A member of Acme with any role (partner roles belong to Northwind)."""

    def _member(role):
        return MembershipFactory(
            tenant=tenant,
            role=role,
            partner=northwind if role.startswith("partner") else None,
            user__email=f"{role}@acme.test",
        )

    return _member


@pytest.fixture
def offered(northwind, contoso, make_lead, pending_offer):
    """A lead offered to Northwind (the oldest of two equal partners)."""
    lead = make_lead("Initech", contact_email="peter@initech.example")
    offer = pending_offer(lead)
    assert offer.partner_id == northwind.pk
    return lead, offer


def staff_urls(lead):
    return [
        "/t/acme/leads/",
        "/t/acme/leads/new/",
        "/t/acme/leads/import/",
        "/t/acme/leads/import/leads.csv",
        f"/t/acme/leads/{lead.pk}/",
    ]


def partner_urls(offer):
    return ["/t/acme/leads/offered/", f"/t/acme/leads/offered/{offer.pk}/"]


def lead_state(lead):
    with tenant_context(lead.tenant):
        return (
            Lead.objects.count(),
            Lead.objects.get(pk=lead.pk).status,
            list(LeadOffer.objects.order_by("pk").values_list("partner_id", "status")),
        )


# ---------------------------------------------------------------- who may open what


@pytest.mark.parametrize("role", STAFF_WITH_LEADS)
def test_lead_managers_open_every_staff_page(role, acme_member, login, offered):
    client = login(acme_member(role))

    for url in staff_urls(offered[0]):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", STAFF_WITHOUT_LEADS + PARTNER_ROLES)
def test_other_roles_are_refused_the_staff_pages(role, acme_member, login, offered, client):
    lead, _offer = offered
    before = lead_state(lead)
    client = login(acme_member(role))

    for url in staff_urls(lead):
        assert client.get(url).status_code == 403, url
    for url in ["/t/acme/leads/new/", "/t/acme/leads/import/", "/t/acme/leads/import/commit/",
                f"/t/acme/leads/{lead.pk}/reroute/"]:  # fmt: skip
        assert client.post(url, {"company_name": "X", "country": "DE"}).status_code == 403, url

    assert lead_state(lead) == before


@pytest.mark.parametrize("role", PARTNER_ROLES)
def test_partner_users_open_the_offered_leads(role, acme_member, login, offered):
    client = login(acme_member(role))

    for url in partner_urls(offered[1]):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", STAFF_WITH_LEADS + STAFF_WITHOUT_LEADS)
def test_vendor_staff_are_refused_the_partner_pages(role, acme_member, login, offered):
    lead, offer = offered
    client = login(acme_member(role))

    for url in partner_urls(offer):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/t/acme/leads/offered/{offer.pk}/accept/").status_code == 403
    assert lead_state(lead)[1] == LeadStatus.OFFERED


def test_an_outsider_of_another_tenant_gets_404_on_every_lead_page(outsider, login, offered):
    lead, offer = offered
    before = lead_state(lead)
    client = login(outsider)

    for url in staff_urls(lead) + partner_urls(offer):
        assert client.get(url).status_code == 404, url
    for url in [f"/t/acme/leads/{lead.pk}/reroute/", f"/t/acme/leads/offered/{offer.pk}/accept/",
                f"/t/acme/leads/offered/{offer.pk}/decline/", "/t/acme/leads/new/"]:  # fmt: skip
        assert client.post(url, {"reason": "x", "company_name": "X"}).status_code == 404, url

    assert lead_state(lead) == before


def test_a_lead_of_another_tenant_is_404_in_ones_own_console(outsider, login, offered):
    lead, _offer = offered
    client = login(outsider)

    assert client.get(f"/t/globex/leads/{lead.pk}/").status_code == 404
    assert client.post(f"/t/globex/leads/{lead.pk}/reroute/").status_code == 404
    assert "Initech" not in text(client.get("/t/globex/leads/"))


def test_another_partners_offer_is_404_and_stays_untouched(tenant, contoso, login, offered):
    lead, offer = offered
    intruder = MembershipFactory(
        tenant=tenant, role="partner_admin", partner=contoso, user__email="admin@contoso.test"
    )
    before = lead_state(lead)
    client = login(intruder)

    assert client.get(f"/t/acme/leads/offered/{offer.pk}/").status_code == 404
    assert client.post(f"/t/acme/leads/offered/{offer.pk}/accept/").status_code == 404
    response = client.post(f"/t/acme/leads/offered/{offer.pk}/decline/", {"reason": "Mine now"})
    assert response.status_code == 404
    assert "Initech" not in text(client.get("/t/acme/leads/offered/"))
    assert lead_state(lead) == before


def test_the_navigation_shows_each_role_its_lead_pages(acme_member, login, client):
    expectations = {
        "channel_manager": ("Leads", True, "Offered leads", False),
        "marketing": ("Leads", True, "Offered leads", False),
        "analyst": ("Leads", False, "Offered leads", False),
        "partner_rep": ("Leads", False, "Offered leads", True),
    }
    for role, (staff_label, staff_shown, partner_label, partner_shown) in expectations.items():
        client.logout()
        home = login(acme_member(role)).get("/t/acme/", follow=True)
        nav = main_nav(home)
        assert (nav.get(staff_label) == "/t/acme/leads/") is staff_shown, role
        assert (nav.get(partner_label) == "/t/acme/leads/offered/") is partner_shown, role


# ---------------------------------------------------------------- staff journeys


def test_a_manager_creates_a_lead_and_sees_where_it_went(
    northwind, contoso, channel_manager, login, tenant
):
    client = login(channel_manager)

    response = client.post(
        "/t/acme/leads/new/",
        {"company_name": "Initech", "country": "de", "currency": "USD", "competency": ""},
    )

    with tenant_context(tenant):
        lead = Lead.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/t/acme/leads/{lead.pk}/"
    page = text(client.get(response["Location"]))
    assert "Northwind" in page and "Waiting for the partner" in page
    assert "Win rate" in page and "assumed: no closed deal yet" in page
    listing = text(client.get("/t/acme/leads/"))
    assert "Initech" in listing and "Northwind" in listing


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"company_name": ""}, "company_name"),
        ({"country": "Germany"}, "country"),
        ({"country": "1X"}, "country"),
        ({"currency": "XXX"}, "currency"),
        ({"estimated_value": "-1"}, "estimated_value"),
        ({"estimated_value": "12.345"}, "estimated_value"),
        ({"estimated_value": "99999999999999999"}, "estimated_value"),
        ({"estimated_value": "abc"}, "estimated_value"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"company_domain": "not a domain"}, "company_domain"),
        ({"contact_phone": "call me maybe"}, "contact_phone"),
    ],
)
def test_bad_input_on_the_lead_form_is_a_400_and_writes_nothing(
    northwind, channel_manager, login, tenant, fields, error_field
):
    data = {"company_name": "Initech", "country": "DE", "currency": "USD", **fields}

    response = login(channel_manager).post("/t/acme/leads/new/", data)

    assert response.status_code == 400
    assert response.context["form"].errors[error_field]
    with tenant_context(tenant):
        assert not Lead.objects.exists()
        assert not LeadOffer.objects.exists()


def test_a_lead_nobody_can_take_shows_why(channel_manager, login, make_lead):
    lead = make_lead(country="JP")

    page = text(login(channel_manager).get(f"/t/acme/leads/{lead.pk}/"))

    assert "No partner available" in page
    assert "Why no partner can take it" in page


def test_the_list_filters_by_status(channel_manager, login, offered, make_lead):
    make_lead("Nowhere Inc", country="JP")
    client = login(channel_manager)

    unrouted = text(client.get("/t/acme/leads/?status=unrouted"))
    offered_only = text(client.get("/t/acme/leads/?status=offered"))

    assert "Nowhere Inc" in unrouted and "Initech" not in unrouted
    assert "Initech" in offered_only and "Nowhere Inc" not in offered_only
    assert client.get("/t/acme/leads/?status=bogus").status_code == 400


def test_routing_again_offers_the_lead_to_the_next_partner(
    channel_manager, login, offered, contoso, pending_offer
):
    lead, first = offered

    response = login(channel_manager).post(f"/t/acme/leads/{lead.pk}/reroute/")

    assert response.status_code == 302
    assert pending_offer(lead).partner_id == contoso.pk
    with tenant_context(lead.tenant):
        assert LeadOffer.objects.get(pk=first.pk).status == OfferStatus.WITHDRAWN


def test_routing_an_accepted_lead_again_is_a_400(
    channel_manager, partner_rep, login, offered, client
):
    lead, offer = offered
    login(partner_rep).post(f"/t/acme/leads/offered/{offer.pk}/accept/")
    client.logout()
    before = lead_state(lead)

    response = login(channel_manager).post(f"/t/acme/leads/{lead.pk}/reroute/")

    assert response.status_code == 400
    assert lead_state(lead) == before


# ---------------------------------------------------------------- partner journeys


def test_a_rep_sees_the_offer_with_time_left_but_not_the_contact(partner_rep, login, offered):
    _lead, offer = offered
    client = login(partner_rep)

    listing = text(client.get("/t/acme/leads/offered/"))
    detail = text(client.get(f"/t/acme/leads/offered/{offer.pk}/"))

    assert "Initech" in listing and "Time left to answer:" in listing
    assert "47 hours" in listing or "1 day 23 hours" in listing
    assert "peter@initech.example" not in detail
    assert "shown once you accept" in detail


def test_a_rep_accepts_a_lead_and_it_becomes_their_registration(
    partner_rep, northwind, login, offered, tenant
):
    lead, offer = offered
    client = login(partner_rep)

    response = client.post(f"/t/acme/leads/offered/{offer.pk}/accept/")

    assert response.status_code == 302
    with tenant_context(tenant):
        lead = Lead.objects.select_related("deal").get(pk=lead.pk)
    assert lead.status == LeadStatus.ACCEPTED
    assert lead.deal.partner_id == northwind.pk and lead.deal.status == "approved"
    assert "peter@initech.example" in text(client.get(f"/t/acme/leads/offered/{offer.pk}/"))


def test_accepting_twice_is_a_400(partner_rep, login, offered):
    _lead, offer = offered
    client = login(partner_rep)
    client.post(f"/t/acme/leads/offered/{offer.pk}/accept/")

    response = client.post(f"/t/acme/leads/offered/{offer.pk}/accept/")

    assert response.status_code == 400
    assert "no longer open" in text(response)


def test_a_rep_declines_with_a_reason_and_the_lead_moves_on(
    partner_rep, contoso, login, offered, pending_offer
):
    lead, offer = offered

    response = login(partner_rep).post(
        f"/t/acme/leads/offered/{offer.pk}/decline/", {"reason": "Not our market"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/t/acme/leads/offered/"
    assert pending_offer(lead).partner_id == contoso.pk


def test_declining_without_a_reason_is_a_400_and_changes_nothing(partner_rep, login, offered):
    lead, offer = offered
    before = lead_state(lead)

    response = login(partner_rep).post(f"/t/acme/leads/offered/{offer.pk}/decline/", {})

    assert response.status_code == 400
    assert response.context["decline_form"].errors["reason"]
    assert lead_state(lead) == before


def test_an_offer_whose_time_is_up_shows_timed_out(partner_rep, login, offered):
    lead, offer = offered
    with tenant_context(lead.tenant):
        LeadOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now())
    client = login(partner_rep)

    detail = client.get(f"/t/acme/leads/offered/{offer.pk}/")
    accept = client.post(f"/t/acme/leads/offered/{offer.pk}/accept/")

    assert "Timed out" in text(detail)
    assert "Accept the lead" not in text(detail)
    assert accept.status_code == 400
    assert lead_state(lead)[1] == LeadStatus.OFFERED
