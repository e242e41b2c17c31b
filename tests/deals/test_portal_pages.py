"""The partner portal's deal pages through the HTTP client: register a deal (lines, hints,
validation), My deals (visibility, search, filters, sort, pages), the deal page (timeline,
what a partner may and may not read) and its actions (submit, answer, won, lost, extension).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals import services
from deals.models import Deal, DealLine, DealStatus, DealTransition, ExtensionStatus
from deals.services import LineInput
from deals.urls_portal import urlpatterns
from partners import grants
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory
from tests.partners.html import parse, text

pytestmark = pytest.mark.django_db

BASE = "/t/acme/deals/"
TODAY = timezone.localdate


def url(name: str, deal: Deal | None = None) -> str:
    paths = {
        "list": "",
        "register": "new/",
        "customer-hint": "customer-hint/",
        "detail": "{pk}/",
        "edit": "{pk}/edit/",
        "submit": "{pk}/submit/",
        "won": "{pk}/won/",
        "lost": "{pk}/lost/",
        "extension": "{pk}/extension/",
    }
    return BASE + paths[name].format(pk=deal.pk if deal else 0)


DEAL_URLS = ["detail", "edit", "submit", "won", "lost", "extension"]


def deal_of(actor, catalog, **kwargs) -> Deal:
    """A deal of ``actor`` through the services, one line of the Analytics Suite."""
    kwargs.setdefault("lines", [LineInput(product_id=catalog["suite"].pk, quantity=1)])
    kwargs.setdefault("currency", "USD")
    return DealFactory(actor=actor, **kwargs)


def timeline_of(deal: Deal) -> list[tuple[str, str]]:
    with tenant_context(deal.tenant):
        return list(
            DealTransition.objects.filter(deal=deal)
            .order_by("at", "id")
            .values_list("from_status", "to_status")
        )


def listed_customers(response) -> list[str]:
    page = parse(response)
    names = []
    for tag, attrs in page.tags:
        href = attrs.get("href", "") if tag == "a" else ""
        if href.startswith(BASE) and href[len(BASE) :].rstrip("/").isdigit():
            names.append(int(href[len(BASE) :].rstrip("/")))
    return names


# ---------------------------------------------------------------- register a deal


def test_partner_rep_registers_a_draft_with_two_lines_and_sees_the_total(
    login, partner_rep, catalog, deal_post, reload
):
    client = login(partner_rep)
    form = client.get(url("register"))
    assert form.status_code == 200
    data = deal_post(
        lines=[
            {"product": catalog["suite"].pk, "quantity": 2},
            {"product": catalog["support"].pk, "quantity": 3, "unit_price": "199.99"},
        ]
    )
    response = client.post(url("register"), data)
    assert response.status_code == 302
    with tenant_context(partner_rep.tenant):
        deal = Deal.objects.get()
        amounts = sorted(DealLine.objects.filter(deal=deal).values_list("amount", flat=True))
    assert response["Location"] == url("detail", deal)
    assert deal.status == DealStatus.DRAFT
    assert deal.partner_id == partner_rep.partner_id
    assert deal.registered_by_id == partner_rep.user_id
    assert amounts == [Decimal("599.97"), Decimal("2000.00")]
    assert deal.total == Decimal("2599.97")
    page = text(client.get(url("detail", deal)))
    assert "Blue Harbor Logistics" in page
    assert "2,599.97" in page
    assert "Draft" in page


def test_registering_and_submitting_at_once_puts_the_deal_under_review(
    login, partner_rep, deal_post, reload
):
    client = login(partner_rep)
    response = client.post(url("register"), deal_post(action="submit"), follow=True)
    assert response.status_code == 200
    with tenant_context(partner_rep.tenant):
        deal = Deal.objects.get()
    assert deal.status == DealStatus.SUBMITTED
    assert "Under review" in text(response)
    assert timeline_of(deal) == [("", "draft"), ("draft", "submitted")]


def test_register_form_offers_the_tenants_active_products_and_allowed_currencies(
    login, partner_rep, catalog, currencies
):
    response = login(partner_rep).get(url("register"))
    html = response.content.decode()
    assert "Analytics Suite" in html
    assert "Euro Edition" in html
    assert "Retired Box" not in html
    assert "Globex Widget" not in html
    options = [
        attrs.get("value")
        for tag, attrs in parse(response).tags
        if tag == "option" and attrs.get("value") in {"USD", "EUR", "GBP"}
    ]
    assert options == ["USD", "EUR"]


def test_add_line_button_shows_one_more_line_and_saves_nothing(
    login, partner_rep, catalog, deal_post, deal_count
):
    client = login(partner_rep)
    response = client.post(url("register"), deal_post(action="add_line"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lines-1-product"' in html
    assert 'name="lines-2-product"' not in html
    assert 'value="Blue Harbor Logistics"' in html  # what was typed stays
    assert deal_count() == 0


def test_remove_line_button_drops_that_line_and_keeps_the_others(
    login, partner_rep, catalog, deal_post
):
    client = login(partner_rep)
    data = deal_post(
        action="remove_line:0",
        lines=[
            {"product": catalog["suite"].pk, "quantity": 2},
            {"product": catalog["support"].pk, "quantity": 7},
        ],
    )
    response = client.post(url("register"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lines-1-product"' not in html
    assert 'name="lines-0-quantity" value="7"' in html


def test_an_untouched_blank_line_is_ignored_when_saving(login, partner_rep, catalog, deal_post):
    client = login(partner_rep)
    data = deal_post(
        lines=[{"product": catalog["suite"].pk, "quantity": 1}, {"product": "", "quantity": 1}]
    )
    assert client.post(url("register"), data).status_code == 302
    with tenant_context(partner_rep.tenant):
        assert DealLine.objects.count() == 1


def test_lines_are_added_with_htmx_too(login, partner_rep, deal_post):
    client = login(partner_rep)
    response = client.post(url("register"), deal_post(action="add_line"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="deal-lines"' in response.content.decode()


BAD_REGISTRATIONS = {
    "missing customer": ({"customer_name": None}, "customer_name"),
    "blank customer": ({"customer_name": "   "}, "customer_name"),
    "missing country": ({"country": None}, "country"),
    "country not a code": ({"country": "U1"}, "country"),
    "missing close date": ({"expected_close_date": None}, "expected_close_date"),
    "malformed close date": ({"expected_close_date": "next week"}, "expected_close_date"),
    "close date in the past": (
        {"expected_close_date": (TODAY() - timedelta(days=1)).isoformat()},
        "expected_close_date",
    ),
    "unknown currency": ({"currency": "XYZ"}, "currency"),
    "currency not allowed": ({"currency": "GBP"}, "currency"),
    "unknown stage": ({"stage": "won-already"}, "stage"),
    "bad email": ({"contact_email": "not-an-email"}, "contact_email"),
    "bad domain": ({"customer_domain": "not a domain"}, "customer_domain"),
    "customer name too long": ({"customer_name": "x" * 201}, "customer_name"),
    "notes too long": ({"notes": "x" * 5001}, "notes"),
}


@pytest.mark.parametrize("case", sorted(BAD_REGISTRATIONS))
def test_bad_deal_fields_answer_400_with_a_field_error_and_write_nothing(
    login, partner_rep, deal_post, deal_count, case
):
    fields, field = BAD_REGISTRATIONS[case]
    response = login(partner_rep).post(url("register"), deal_post(action="submit", **fields))
    assert response.status_code == 400, case
    form = response.context["entry"].form
    assert field in form.errors, (case, form.errors)
    assert deal_count() == 0


BAD_LINES = {
    "no line": ([], None),
    "zero quantity": ([{"product": "suite", "quantity": 0}], "quantity"),
    "negative quantity": ([{"product": "suite", "quantity": -3}], "quantity"),
    "huge quantity": ([{"product": "suite", "quantity": 10**12}], "quantity"),
    "quantity not a number": ([{"product": "suite", "quantity": "lots"}], "quantity"),
    "negative price": ([{"product": "suite", "quantity": 1, "unit_price": "-1"}], "unit_price"),
    "huge price": ([{"product": "suite", "quantity": 1, "unit_price": "1e20"}], "unit_price"),
    "price not finite": ([{"product": "suite", "quantity": 1, "unit_price": "NaN"}], "unit_price"),
    "price too precise": (
        [{"product": "suite", "quantity": 1, "unit_price": "1.001"}],
        "unit_price",
    ),
    "product of another tenant": ([{"product": "foreign", "quantity": 1}], "product"),
    "retired product": ([{"product": "retired", "quantity": 1}], "product"),
    "product missing": ([{"product": "", "quantity": 2, "unit_price": "5"}], "product"),
    "other currency without a price": ([{"product": "euro", "quantity": 1}], "unit_price"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_lines_answer_400_with_an_error_on_the_line_and_write_nothing(
    login, partner_rep, catalog, deal_post, deal_count, case
):
    rows, field = BAD_LINES[case]
    lines = [
        {**row, "product": catalog[row["product"]].pk if row["product"] else ""} for row in rows
    ]
    response = login(partner_rep).post(url("register"), deal_post(action="submit", lines=lines))
    assert response.status_code == 400, case
    formset = response.context["entry"].lines
    if field is None:
        assert formset.non_form_errors(), case
    else:
        assert field in formset.forms[0].errors, (case, formset.errors)
    assert deal_count() == 0


def test_a_deal_total_beyond_the_largest_amount_is_refused_by_the_service_as_a_form_error(
    login, partner_rep, catalog, deal_post, deal_count
):
    lines = [{"product": catalog["suite"].pk, "quantity": 1_000_000, "unit_price": "999999999"}]
    response = login(partner_rep).post(url("register"), deal_post(lines=lines))
    assert response.status_code == 400
    assert "The deal total is too large." in text(response)
    assert deal_count() == 0


def test_more_lines_than_a_deal_may_have_is_a_400(
    login, partner_rep, catalog, deal_post, deal_count
):
    lines = [{"product": catalog["suite"].pk, "quantity": 1}] * (services.MAX_LINES + 1)
    response = login(partner_rep).post(url("register"), deal_post(lines=lines))
    assert response.status_code == 400
    assert response.context["entry"].lines.non_form_errors()
    assert deal_count() == 0


def test_a_suspended_partner_gets_the_reason_as_a_form_error(
    login, partner, partner_rep, deal_post, deal_count
):
    partner.status = "suspended"
    with tenant_context(partner.tenant):
        partner.save(update_fields=["status"])
    response = login(partner_rep).post(url("register"), deal_post(action="submit"))
    assert response.status_code == 400
    assert "suspended" in text(response)
    assert deal_count() == 0


def test_a_missing_management_form_is_a_400_not_a_500(login, partner_rep, deal_post, deal_count):
    data = {k: v for k, v in deal_post().items() if not k.startswith("lines-")}
    response = login(partner_rep).post(url("register"), data)
    assert response.status_code == 400
    assert deal_count() == 0


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager", "finance", "analyst"])
def test_staff_without_register_deal_get_403_on_the_partner_deal_pages(
    login, tenant, role, deal_post, deal_count
):
    from tests.factories import MembershipFactory

    staff = MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test")
    client = login(staff)
    assert client.get(url("register")).status_code == 403
    assert client.post(url("register"), deal_post()).status_code == 403
    assert client.get(url("list")).status_code == 403
    assert deal_count() == 0


# ---------------------------------------------------------------- the same-customer hint


def test_typing_a_customer_already_registered_shows_a_hint_with_htmx(login, partner_rep, catalog):
    earlier = deal_of(
        partner_rep, catalog, customer_name="Initech Inc", customer_domain="initech.example",
        status="submitted",
    )  # fmt: skip
    client = login(partner_rep)
    by_name = client.get(
        url("customer-hint"), {"customer_name": "INITECH", "customer_domain": ""},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert by_name.status_code == 200
    assert "You already have a registration for this customer." in text(by_name)
    assert url("detail", earlier) in by_name.content.decode()
    by_domain = client.get(
        url("customer-hint"),
        {"customer_name": "", "customer_domain": "https://www.initech.example/"},
    )
    assert url("detail", earlier) in by_domain.content.decode()
    nothing = client.get(url("customer-hint"), {"customer_name": "Umbrella", "customer_domain": ""})
    assert nothing.status_code == 200
    assert text(nothing) == ""


def test_the_hint_never_reveals_another_partners_registration(
    login, partner_rep, contoso_rep, catalog
):
    deal_of(
        contoso_rep, catalog, customer_name="Initech", customer_domain="initech.example",
        status="approved",
    )  # fmt: skip
    response = login(partner_rep).get(
        url("customer-hint"), {"customer_name": "Initech", "customer_domain": "initech.example"}
    )
    assert response.status_code == 200
    assert text(response) == ""


def test_the_hint_is_shown_after_submitting_too(login, partner_rep, catalog, deal_post):
    earlier = deal_of(partner_rep, catalog, customer_domain="blueharbor.example")
    client = login(partner_rep)
    # On a form sent back with errors...
    invalid = client.post(url("register"), deal_post(country="??"))
    assert invalid.status_code == 400
    assert url("detail", earlier) in invalid.content.decode()
    # ...and on the page of the deal once saved: a hint, never a block.
    saved = client.post(url("register"), deal_post(action="submit"), follow=True)
    assert saved.status_code == 200
    assert "You already have a registration for this customer." in text(saved)
    assert url("detail", earlier) in saved.content.decode()


# ---------------------------------------------------------------- My deals


@pytest.fixture
def northwind_deals(partner_rep, colleague_rep, contoso_rep, catalog):
    return {
        "mine": deal_of(partner_rep, catalog, customer_name="Alpha Mine"),
        "colleague": deal_of(colleague_rep, catalog, customer_name="Bravo Colleague"),
        "shared": deal_of(colleague_rep, catalog, customer_name="Charlie Shared"),
        "contoso": deal_of(contoso_rep, catalog, customer_name="Delta Contoso"),
    }


def test_partner_admin_sees_every_deal_of_the_organization_and_a_rep_their_own_and_shared(
    login, tenant, partner_admin, partner_rep, northwind_deals
):
    deals = northwind_deals
    with tenant_context(tenant):
        grants.grant(user=partner_rep.user, perm="deals.view_deal", obj=deals["shared"])
    as_admin = listed_customers(login(partner_admin).get(url("list")))
    assert set(as_admin) == {deals[k].pk for k in ("mine", "colleague", "shared")}
    as_rep = listed_customers(login(partner_rep).get(url("list")))
    assert set(as_rep) == {deals["mine"].pk, deals["shared"].pk}


def test_a_rep_cannot_open_a_colleagues_deal_on_any_deal_url(
    login, partner_rep, northwind_deals, reload
):
    colleague_deal = northwind_deals["colleague"]
    client = login(partner_rep)
    for name in DEAL_URLS:
        assert client.get(url(name, colleague_deal)).status_code == 404, name
        assert client.post(url(name, colleague_deal), {}).status_code == 404, name
    assert reload(colleague_deal).status == DealStatus.DRAFT


def test_a_partner_admin_opens_a_reps_deal_and_may_act_on_it(login, partner_admin, northwind_deals):
    client = login(partner_admin)
    response = client.get(url("detail", northwind_deals["colleague"]))
    assert response.status_code == 200
    assert "Submit for review" in text(response)


def test_another_partners_deal_is_a_404_on_every_deal_url(
    login, partner_admin, northwind_deals, reload
):
    contoso_deal = northwind_deals["contoso"]
    client = login(partner_admin)
    for name in DEAL_URLS:
        assert client.get(url(name, contoso_deal)).status_code == 404, name
        assert client.post(url(name, contoso_deal), {}).status_code == 404, name
    assert reload(contoso_deal).status == DealStatus.DRAFT


def test_a_member_of_another_tenant_gets_404_on_every_deals_portal_url(
    login, outsider, partner_rep, catalog, deal_post, deal_count
):
    deal = deal_of(partner_rep, catalog, status="approved")
    urls = {name: url(name, deal) for name in ["list", "register", "customer-hint", *DEAL_URLS]}
    assert {pattern.name for pattern in urlpatterns} == set(urls)
    before = deal_count()
    client = login(outsider)
    for name, address in urls.items():
        assert client.get(address).status_code == 404, name
        assert client.post(address, deal_post()).status_code == 404, name
    assert deal_count() == before
    assert timeline_of(deal)[-1] == ("submitted", "approved")


@pytest.fixture
def many_deals(partner_rep, catalog):
    made = []
    for n in range(27):
        made.append(
            deal_of(
                partner_rep, catalog,
                customer_name=f"Customer {n:02d}",
                stage="proposal" if n % 3 == 0 else "qualification",
                status="submitted" if n % 2 == 0 else "draft",
            )
        )  # fmt: skip
    return made


def test_my_deals_are_paginated_by_25_and_page_links_keep_the_filters(
    login, partner_rep, many_deals
):
    client = login(partner_rep)
    first = client.get(url("list"))
    assert len(listed_customers(first)) == 25
    assert "Page 1 of 2" in text(first)
    second = client.get(url("list"), {"page": 2})
    assert len(listed_customers(second)) == 2
    filtered = client.get(url("list"), {"status": "submitted", "sort": "customer"})
    assert len(listed_customers(filtered)) == 14
    assert "Page 1 of" not in text(filtered)  # 14 fit on one page: no pager
    paged = client.get(url("list"), {"sort": "customer", "q": "customer"})
    links = [a.get("href") for tag, a in parse(paged).tags if tag == "a" and a.get("rel") == "next"]
    assert links == ["?sort=customer&q=customer&page=2"]
    last = client.get(url("list") + links[0])
    assert len(listed_customers(last)) == 2
    back = [a.get("href") for tag, a in parse(last).tags if tag == "a" and a.get("rel") == "prev"]
    assert back == ["?sort=customer&q=customer&page=1"]


def test_my_deals_search_filters_and_sorts(login, partner_rep, catalog):
    deal_of(partner_rep, catalog, customer_name="Zeta Freight", customer_domain="zeta.example")
    deal_of(partner_rep, catalog, customer_name="Alpha Foods", stage="proposal", status="submitted")
    deal_of(
        partner_rep, catalog, customer_name="Mid Mills", status="submitted",
        lines=[LineInput(product_id=catalog["suite"].pk, quantity=9)],
    )  # fmt: skip
    client = login(partner_rep)

    def names(**query):
        response = client.get(url("list"), query)
        assert response.status_code == 200
        return [
            line for line in ("Alpha Foods", "Mid Mills", "Zeta Freight") if line in text(response)
        ], text(response)

    assert names(q="freight")[0] == ["Zeta Freight"]
    assert names(q="https://www.zeta.example")[0] == ["Zeta Freight"]
    assert names(status="submitted")[0] == ["Alpha Foods", "Mid Mills"]
    assert names(stage="proposal")[0] == ["Alpha Foods"]
    _found, page = names(sort="customer")
    assert page.index("Alpha Foods") < page.index("Mid Mills") < page.index("Zeta Freight")
    _found, page = names(sort="total")
    assert page.index("Mid Mills") < page.index("Alpha Foods")
    assert "Under review" in names(status="submitted")[1]


@pytest.mark.parametrize(
    "query", [{"status": "bogus"}, {"stage": "nope"}, {"sort": "password"}, {"q": "x" * 300}]
)
def test_an_unknown_filter_value_is_a_400_with_the_reason(login, partner_rep, query):
    response = login(partner_rep).get(url("list"), query)
    assert response.status_code == 400
    assert response.context["form"].errors


def test_the_query_count_of_my_deals_does_not_grow_with_the_number_of_deals(
    login, partner_admin, partner_rep, colleague_rep, catalog, django_assert_max_num_queries
):
    for n in range(2):
        deal_of(partner_rep, catalog, customer_name=f"Few {n}")
    client = login(partner_admin)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("list"), {"sort": "total"}).status_code == 200
    for n in range(30):
        deal_of(colleague_rep if n % 2 else partner_rep, catalog, customer_name=f"Many {n}")
    with django_assert_max_num_queries(len(few)):
        response = client.get(url("list"), {"sort": "total"})
    assert len(listed_customers(response)) == 25


# ---------------------------------------------------------------- the deal page


def test_a_submitted_deal_reads_under_review_and_never_names_the_conflicting_partner(
    login, partner_rep, contoso_rep, channel_manager, catalog, deal_post, act, reload
):
    rival = deal_of(
        contoso_rep, catalog, customer_name="Initech", customer_domain="initech.example",
        status="approved",
    )  # fmt: skip
    client = login(partner_rep)
    client.post(
        url("register"),
        deal_post(action="submit", customer_name="Initech Inc.", customer_domain="initech.example"),
    )
    with tenant_context(partner_rep.tenant):
        deal = Deal.objects.get(partner=partner_rep.partner)
    assert deal.status == DealStatus.SUBMITTED
    assert deal.conflict_count == 1  # the reviewer sees it; the partner must not

    def assert_nothing_leaks(response):
        page = text(response)
        for secret in ("Contoso", "Carla", "rep@contoso.test", "onflict", str(rival.pk)):
            assert secret not in page, secret

    page = client.get(url("detail", deal))
    assert "Under review" in text(page)
    assert_nothing_leaks(page)
    assert_nothing_leaks(client.get(url("list")))

    # Approved over the rival with an override reason naming it: still nothing leaks.
    act(
        channel_manager, services.deal_approve, deal=deal,
        override_reason="Contoso's registration is stale; Carla agreed.",
    )  # fmt: skip
    approved = client.get(url("detail", deal))
    assert "Approved" in text(approved)
    assert_nothing_leaks(approved)


def test_the_timeline_shows_who_did_what_and_the_reviewers_questions(
    login, partner_rep, channel_manager, catalog, act
):
    deal = deal_of(partner_rep, catalog, status="submitted")
    act(channel_manager, services.deal_request_info, deal=deal, question="Which edition exactly?")
    page = text(login(partner_rep).get(url("detail", deal)))
    assert "Draft created" in page
    assert "Submitted for review" in page
    assert "More information requested" in page
    assert "Which edition exactly?" in page
    assert partner_rep.user.get_full_name() in page
    assert channel_manager.user.get_full_name() in page


def test_the_full_partner_journey_from_draft_to_won(
    login, partner_rep, channel_manager, catalog, deal_post, act, reload
):
    client = login(partner_rep)
    client.post(url("register"), deal_post(action="draft"))
    with tenant_context(partner_rep.tenant):
        deal = Deal.objects.get()
    draft_page = text(client.get(url("detail", deal)))
    assert "Submit for review" in draft_page
    assert "Mark as won" not in draft_page

    response = client.post(url("submit", deal), {"submit-comment": "Signed NDA last week."})
    assert response.status_code == 302
    assert reload(deal).status == DealStatus.SUBMITTED
    under_review = text(client.get(url("detail", deal)))
    assert "Under review" in under_review
    assert "Mark as won" not in under_review
    assert "Edit" not in under_review.split("Details")[0]

    act(channel_manager, services.deal_approve, deal=deal, comment="Welcome aboard.")
    approved = text(client.get(url("detail", deal)))
    assert "Protected until" in approved
    assert "Mark as won" in approved
    assert "Ask for more time" in approved

    response = client.post(
        url("won", deal),
        {"won-final_amount": "2100.50", "won-closed_on": TODAY().isoformat()},
    )
    assert response.status_code == 302
    won = reload(deal)
    assert won.status == DealStatus.WON
    assert won.won_amount == Decimal("2100.50")
    assert won.closed_on == TODAY()
    page = text(client.get(url("detail", deal)))
    assert "Marked won" in page
    assert "2,100.50" in page
    assert "Mark as won" not in page
    assert timeline_of(deal) == [
        ("", "draft"), ("draft", "submitted"), ("submitted", "approved"), ("approved", "won"),
    ]  # fmt: skip


def test_answering_a_more_info_request_sends_the_deal_back_under_review(
    login, partner_rep, channel_manager, catalog, act, reload
):
    deal = deal_of(partner_rep, catalog, status="submitted")
    act(channel_manager, services.deal_request_info, deal=deal, question="Who is the buyer?")
    client = login(partner_rep)
    page = client.get(url("detail", deal))
    assert "Who is the buyer?" in text(page)
    assert "Send the answer" in text(page)

    empty = client.post(url("submit", deal), {"submit-comment": "  "})
    assert empty.status_code == 400
    assert "Answer the reviewer" in text(empty)
    assert reload(deal).status == DealStatus.MORE_INFO

    answered = client.post(url("submit", deal), {"submit-comment": "The CFO, Ms. Ito."})
    assert answered.status_code == 302
    assert reload(deal).status == DealStatus.SUBMITTED
    page = text(client.get(url("detail", deal)))
    assert "Answer sent, back under review" in page
    assert "The CFO, Ms. Ito." in page


def test_a_more_info_answer_can_come_with_edits_from_the_edit_page(
    login, partner_rep, channel_manager, catalog, deal_post, act, reload
):
    deal = deal_of(partner_rep, catalog, status="more_info")
    client = login(partner_rep)
    form = client.get(url("edit", deal))
    assert form.status_code == 200
    assert "Save and send your answer" in text(form)
    data = deal_post(
        action="submit", customer_name=deal.customer_name, stage="negotiation",
        lines=[{"product": catalog["suite"].pk, "quantity": 5}],
    )  # fmt: skip
    missing_answer = client.post(url("edit", deal), data)
    assert missing_answer.status_code == 400
    assert reload(deal).stage == "qualification"  # nothing written
    data["submit-comment"] = "Five seats, not one."
    assert client.post(url("edit", deal), data).status_code == 302
    updated = reload(deal)
    assert updated.status == DealStatus.SUBMITTED
    assert updated.stage == "negotiation"
    assert updated.total == Decimal("5000.00")


def test_an_extension_can_be_requested_once_only(
    login, partner_rep, channel_manager, catalog, act, reload
):
    deal = deal_of(partner_rep, catalog, status="approved")
    client = login(partner_rep)
    no_reason = client.post(url("extension", deal), {"extension-reason": ""})
    assert no_reason.status_code == 400
    assert reload(deal).extension_status == ExtensionStatus.NONE

    asked = client.post(url("extension", deal), {"extension-reason": "Budget moves to Q3."})
    assert asked.status_code == 302
    assert reload(deal).extension_status == ExtensionStatus.REQUESTED
    page = text(client.get(url("detail", deal)))
    assert "Ask for more time" not in page
    assert "Requested" in page

    again = client.post(url("extension", deal), {"extension-reason": "Please, again."})
    assert again.status_code == 400
    assert "only once" in text(again)

    act(channel_manager, services.deal_decide_extension, deal=deal, approve=False)
    assert reload(deal).extension_status == ExtensionStatus.DECLINED
    after_decline = client.post(url("extension", deal), {"extension-reason": "Third try."})
    assert after_decline.status_code == 400
    assert reload(deal).extension_status == ExtensionStatus.DECLINED


FORGED = {
    # status of the deal: actions the page does not offer, posted anyway
    "draft": {
        "won": {"won-final_amount": "10", "won-closed_on": TODAY().isoformat()},
        "lost": "reason",
        "extension": {"extension-reason": "More time"},
    },
    "submitted": {
        "submit": {"submit-comment": "again"},
        "won": {"won-final_amount": "10", "won-closed_on": TODAY().isoformat()},
        "extension": {"extension-reason": "More time"},
    },
    "approved": {"submit": {"submit-comment": "again"}},
    "won": {
        "submit": {"submit-comment": "again"},
        "lost": "reason",
        "extension": {"extension-reason": "More time"},
    },
}


@pytest.mark.parametrize(
    "status,action", [(s, a) for s, actions in FORGED.items() for a in actions]
)
def test_an_action_the_status_does_not_allow_is_not_offered_and_a_forged_post_is_a_400(
    login, partner_rep, catalog, lost_reasons, reload, status, action
):
    deal = deal_of(partner_rep, catalog, status=status)
    client = login(partner_rep)
    labels = {
        "submit": "Submit for review",
        "won": "Mark as won",
        "lost": "Mark as lost",
        "extension": "Request an extension",
    }
    page = client.get(url("detail", deal))
    assert labels[action] not in text(page)
    data = FORGED[status][action]
    if data == "reason":
        data = {"lost-reason": lost_reasons["price"].pk}
    before = timeline_of(deal)
    response = client.post(url(action, deal), data)
    assert response.status_code == 400
    assert response.context["refused"] or response.context.get(f"{action}_form")
    after = reload(deal)
    assert after.status == status
    assert after.extension_status == ExtensionStatus.NONE
    assert timeline_of(deal) == before


@pytest.mark.parametrize(
    "data,field",
    [
        ({"won-closed_on": "today"}, "final_amount"),
        ({"won-final_amount": "", "won-closed_on": "2020-01-01"}, "final_amount"),
        ({"won-final_amount": "-5", "won-closed_on": "2020-01-01"}, "final_amount"),
        ({"won-final_amount": "1e15", "won-closed_on": "2020-01-01"}, "final_amount"),
        ({"won-final_amount": "abc", "won-closed_on": "2020-01-01"}, "final_amount"),
        ({"won-final_amount": "100"}, "closed_on"),
        ({"won-final_amount": "100", "won-closed_on": "2999-01-01"}, "closed_on"),
    ],
)
def test_marking_won_with_bad_input_is_a_400_and_changes_nothing(
    login, partner_rep, catalog, reload, data, field
):
    deal = deal_of(partner_rep, catalog, status="approved")
    response = login(partner_rep).post(url("won", deal), data)
    assert response.status_code == 400
    assert field in response.context["won_form"].errors
    assert reload(deal).status == DealStatus.APPROVED


def test_marking_lost_needs_an_active_reason_of_the_tenant(
    login, partner_rep, catalog, lost_reasons, reload
):
    deal = deal_of(partner_rep, catalog, status="approved")
    client = login(partner_rep)
    page = text(client.get(url("detail", deal)))
    assert "Chose a competitor" in page
    assert "Old reason" not in page
    assert "Globex reason" not in page
    for reason in ("", lost_reasons["retired"].pk, lost_reasons["foreign"].pk, "x"):
        response = client.post(url("lost", deal), {"lost-reason": reason})
        assert response.status_code == 400, reason
        assert "reason" in response.context["lost_form"].errors
    assert reload(deal).status == DealStatus.APPROVED
    done = client.post(url("lost", deal), {"lost-reason": lost_reasons["competitor"].pk})
    assert done.status_code == 302
    lost = reload(deal)
    assert lost.status == DealStatus.LOST
    assert lost.lost_reason_id == lost_reasons["competitor"].pk


# ---------------------------------------------------------------- editing


def test_editing_an_approved_deal_updates_stage_lines_and_close_date_but_keeps_the_customer(
    login, partner_rep, catalog, deal_post, reload
):
    deal = deal_of(partner_rep, catalog, status="approved", customer_name="Keep Me Corp")
    client = login(partner_rep)
    form = client.get(url("edit", deal))
    assert form.status_code == 200
    new_close = TODAY() + timedelta(days=80)
    data = deal_post(
        action="save",
        customer_name="Somebody Else",  # a disabled field: ignored
        country="DE",
        stage="closing",
        expected_close_date=new_close.isoformat(),
        lines=[
            {"product": catalog["suite"].pk, "quantity": 3},
            {"product": catalog["support"].pk, "quantity": 1},
        ],
    )
    response = client.post(url("edit", deal), data)
    assert response.status_code == 302
    updated = reload(deal)
    assert updated.customer_name == "Keep Me Corp"
    assert updated.country == "US"
    assert updated.stage == "closing"
    assert updated.expected_close_date == new_close
    assert updated.total == Decimal("3250.00")
    assert updated.status == DealStatus.APPROVED


def test_editing_with_bad_input_is_a_400_and_changes_nothing(
    login, partner_rep, catalog, deal_post, reload
):
    deal = deal_of(partner_rep, catalog, customer_name="Stay Same")
    client = login(partner_rep)
    for data in (
        deal_post(customer_name=None),
        deal_post(lines=[{"product": catalog["suite"].pk, "quantity": -1}]),
        deal_post(lines=[{"product": catalog["foreign"].pk, "quantity": 1}]),
        deal_post(expected_close_date=(TODAY() - timedelta(days=3)).isoformat()),
        deal_post(currency="XYZ"),
    ):
        assert client.post(url("edit", deal), data).status_code == 400
    unchanged = reload(deal)
    assert unchanged.customer_name == "Stay Same"
    assert unchanged.total == Decimal("1000.00")


def test_a_closed_deal_cannot_be_edited(login, partner_rep, catalog, deal_post, reload):
    deal = deal_of(partner_rep, catalog, status="won")
    client = login(partner_rep)
    assert "Edit" not in text(client.get(url("detail", deal))).split("Details")[0]
    assert client.get(url("edit", deal)).status_code == 302
    response = client.post(url("edit", deal), deal_post(customer_name=deal.customer_name))
    assert response.status_code == 400
    assert "cannot be edited" in text(response)
    assert reload(deal).status == DealStatus.WON


def test_editing_keeps_the_further_partners_the_partner_cannot_choose(
    login, partner_rep, contoso, catalog, deal_post, reload
):
    deal = deal_of(partner_rep, catalog, further_partners=[(contoso.pk, "co_sell")])
    client = login(partner_rep)
    assert "Contoso" in text(client.get(url("detail", deal)))
    response = client.post(url("edit", deal), deal_post(customer_name=deal.customer_name))
    assert response.status_code == 302
    with tenant_context(deal.tenant):
        assert list(reload(deal).further_partners.values_list("partner_id", "role")) == [
            (contoso.pk, "co_sell")
        ]


def test_a_further_partners_admin_reads_the_deal_but_cannot_act_on_it(
    login, partner_rep, contoso_admin, catalog, reload
):
    deal = deal_of(
        partner_rep, catalog, status="approved",
        further_partners=[(contoso_admin.partner_id, "co_sell")],
    )  # fmt: skip
    client = login(contoso_admin)
    page = client.get(url("detail", deal))
    assert page.status_code == 200
    assert "Mark as won" not in text(page)
    won = {"won-final_amount": "10", "won-closed_on": TODAY().isoformat()}
    assert client.post(url("won", deal), won).status_code == 403
    assert client.post(url("extension", deal), {"extension-reason": "x"}).status_code == 403
    assert client.get(url("edit", deal)).status_code == 403
    assert reload(deal).status == DealStatus.APPROVED


def test_a_rep_reads_a_deal_shared_with_them(login, tenant, partner_rep, colleague_rep, catalog):
    deal = deal_of(colleague_rep, catalog, customer_name="Shared Co")
    client = login(partner_rep)
    assert client.get(url("detail", deal)).status_code == 404
    with tenant_context(tenant):
        grants.grant(user=partner_rep.user, perm="deals.view_deal", obj=deal)
    assert client.get(url("detail", deal)).status_code == 200
