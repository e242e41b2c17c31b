"""The staff console's deal pages through the HTTP client: the review queue, the review page
with the conflict candidates side by side, the decisions, bulk approval, the deals list with
its CSV export, direct deals, and who may open what."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals.models import Deal, DealStatus, DealTransition, EngagementRules, ExtensionStatus
from deals.services import LineInput
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory, LostReasonFactory, ProductFactory
from tests.factories import MembershipFactory, PartnerFactory
from tests.partners.html import parse, text

pytestmark = pytest.mark.django_db

BASE = "/t/acme/console/deals/"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def member(tenant):
    """A membership of Acme with any role: ``member("analyst")``."""

    def _member(role: str, **kwargs):
        email = kwargs.pop("email", f"{role}@acme.test")
        return MembershipFactory(tenant=tenant, role=role, user__email=email, **kwargs)

    return _member


@pytest.fixture
def contoso(tenant):
    return PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")


@pytest.fixture
def contoso_rep(tenant, contoso):
    return MembershipFactory(
        tenant=tenant,
        role="partner_rep",
        partner=contoso,
        user__email="rep@contoso.test",
        user__full_name="Carla Contoso",
    )


@pytest.fixture
def northwind_rep(partner_rep):
    user = partner_rep.user
    user.full_name = "Nora Northwind"
    user.save(update_fields=["full_name"])
    return partner_rep


def reload(deal: Deal) -> Deal:
    with tenant_context(deal.tenant):
        return Deal.objects.select_related("partner").get(pk=deal.pk)


def waiting_since(deal: Deal, hours: float) -> Deal:
    """Pretend the registration was submitted ``hours`` ago (the SLA clock)."""
    with tenant_context(deal.tenant):
        Deal.objects.filter(pk=deal.pk).update(submitted_at=timezone.now() - timedelta(hours=hours))
    return reload(deal)


def timeline(deal: Deal) -> list[tuple[str, str, str]]:
    with tenant_context(deal.tenant):
        return list(
            DealTransition.objects.filter(deal_id=deal.pk)
            .order_by("at", "id")
            .values_list("from_status", "to_status", "comment")
        )


def queue_ids(response) -> list[int]:
    return [
        int(attrs["data-deal-id"])
        for tag, attrs in parse(response).tags
        if tag == "tr" and "data-deal-id" in attrs
    ]


def rows_text(response) -> list[str]:
    """The text of each table row that shows a deal, in order."""
    html = response.content.decode()
    chunks = html.split("data-deal-id=")[1:]
    return [" ".join(chunk.split("</tr>")[0].split()) for chunk in chunks]


def tickable_ids(response) -> list[int]:
    return [
        int(attrs["value"])
        for tag, attrs in parse(response).tags
        if tag == "input" and attrs.get("name") == "deal_ids" and "disabled" not in attrs
    ]


# ---------------------------------------------------------------- the review queue


def test_review_queue_shows_submissions_before_info_requests_each_oldest_first(
    login, channel_manager, northwind_rep, contoso_rep
):
    newer = waiting_since(DealFactory(actor=northwind_rep, status="submitted"), 2)
    older = waiting_since(DealFactory(actor=contoso_rep, status="submitted"), 10)
    asked = waiting_since(DealFactory(actor=northwind_rep, status="more_info"), 50)
    DealFactory(actor=northwind_rep, status="approved")  # decided: not in the queue
    DealFactory(actor=northwind_rep)  # a draft: not in the queue

    response = login(channel_manager).get(f"{BASE}queue/")

    assert response.status_code == 200
    assert queue_ids(response) == [older.pk, newer.pk, asked.pk]
    assert "3 registrations waiting" in text(response)


def test_review_queue_marks_submissions_waiting_longer_than_the_sla_overdue(
    login, tenant, channel_manager, northwind_rep
):
    with tenant_context(tenant):
        EngagementRules.objects.update_or_create(tenant=tenant, defaults={"review_sla_hours": 24})
    late = waiting_since(DealFactory(actor=northwind_rep, status="submitted"), 30)
    fresh = waiting_since(DealFactory(actor=northwind_rep, status="submitted"), 3)
    # The clock stops while the partner owes the answer.
    asked = waiting_since(DealFactory(actor=northwind_rep, status="more_info"), 100)

    response = login(channel_manager).get(f"{BASE}queue/")

    rows = {
        int(attrs["data-deal-id"]): "is-overdue" in attrs.get("class", "")
        for tag, attrs in parse(response).tags
        if tag == "tr" and "data-deal-id" in attrs
    }
    assert rows == {late.pk: True, fresh.pk: False, asked.pk: False}
    page = text(response)
    assert "review within 24 hours" in page
    assert "1 overdue" in page
    assert "1 day" in page and "3 hours" in page


def test_review_queue_shows_conflict_badges_and_conflicted_rows_cannot_be_ticked(
    login, channel_manager, northwind_rep, contoso_rep
):
    first = DealFactory(actor=northwind_rep, status="submitted", customer_domain="fabrikam.com")
    rival = DealFactory(actor=contoso_rep, status="submitted", customer_domain="fabrikam.com")
    clear = DealFactory(actor=contoso_rep, status="submitted")
    asked = DealFactory(actor=contoso_rep, status="more_info")
    assert reload(rival).conflict_count == 1

    response = login(channel_manager).get(f"{BASE}queue/")

    badges = {
        deal_id: "1 conflict" in row
        for deal_id, row in zip(queue_ids(response), rows_text(response), strict=True)
    }
    # The earlier registration conflicts with the later one that found it, too.
    assert badges == {first.pk: True, rival.pk: True, clear.pk: False, asked.pk: False}
    assert tickable_ids(response) == [clear.pk]


def test_review_queue_is_paginated(login, channel_manager, northwind_rep):
    deals = [DealFactory(actor=northwind_rep, status="submitted") for _ in range(27)]
    client = login(channel_manager)

    first = client.get(f"{BASE}queue/")
    second = client.get(f"{BASE}queue/?page=2")

    assert len(queue_ids(first)) == 25
    assert len(queue_ids(second)) == 2
    assert set(queue_ids(first)) | set(queue_ids(second)) == {d.pk for d in deals}
    assert "Page 1 of 2" in text(first)


def test_an_empty_review_queue_says_so(login, channel_manager):
    response = login(channel_manager).get(f"{BASE}queue/")
    assert response.status_code == 200
    assert "Nothing is waiting for a review." in text(response)


# ---------------------------------------------------------------- the review page


def test_review_page_shows_every_conflict_candidate_side_by_side(
    login, tenant, channel_manager, northwind_rep, contoso_rep, member
):
    approved = DealFactory(
        actor=northwind_rep,
        status="approved",
        customer_name="Fabrikam Holdings",
        customer_domain="fabrikam.com",
        country="DE",
    )
    staff = member("tenant_admin", email="boss@acme.test")
    direct = DealFactory(
        actor=staff,
        direct=True,
        customer_name="Fabrikam GmbH",
        customer_domain="fabrikam-group.de",
        country="DE",
        lines=[LineInput(product_id=ProductFactory(tenant=tenant).pk, quantity=3)],
    )
    deal = DealFactory(
        actor=contoso_rep,
        status="submitted",
        customer_name="Fabrikam",
        customer_domain="www.fabrikam.com",
        country="DE",
    )

    response = login(channel_manager).get(f"{BASE}{deal.pk}/")

    assert response.status_code == 200
    page = text(response)
    assert "2 conflicts" in page
    assert "This registration" in page and "Candidate 1" in page and "Candidate 2" in page
    # Both candidates, each with partner, registrant, status, customer, domain, country,
    # total, match type and score.
    assert "Northwind" in page and "Nora Northwind" in page and "Approved" in page
    assert "fabrikam.com" in page and "Fabrikam Holdings" in page
    assert "Same customer domain" in page and "1.000" in page
    assert "Direct" in page and "Fabrikam GmbH" in page and "fabrikam-group.de" in page
    assert "Similar company name" in page
    assert "3,000.00 USD" in page
    links = {attrs.get("href") for tag, attrs in parse(response).tags if tag == "a"}
    assert f"{BASE}{approved.pk}/" in links and f"{BASE}{direct.pk}/" in links
    # The approved rival means approving needs an override: the field is shown at once.
    assert 'name="override_reason"' in response.content.decode()


def test_review_page_shows_the_timeline(login, channel_manager, northwind_rep):
    deal = DealFactory(actor=northwind_rep, status="more_info")
    response = login(channel_manager).get(f"{BASE}{deal.pk}/")
    page = text(response)
    assert "Timeline" in page
    assert "Draft → Submitted" in page
    assert "Which products exactly?" in page
    assert "Waiting for the partner to answer" in page
    assert f'action="{BASE}{deal.pk}/approve/"' not in response.content.decode()


def test_approving_records_the_decision_and_the_comment(login, channel_manager, northwind_rep):
    deal = DealFactory(actor=northwind_rep, status="submitted")

    response = login(channel_manager).post(
        f"{BASE}{deal.pk}/approve/", {"comment": "Welcome aboard."}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{BASE}{deal.pk}/"
    deal = reload(deal)
    assert deal.status == DealStatus.APPROVED
    assert deal.decided_by_id == channel_manager.user_id
    assert deal.protection_ends_at is not None
    assert timeline(deal)[-1] == ("submitted", "approved", "Welcome aboard.")


def test_approving_while_a_conflicting_registration_is_approved_is_refused_without_a_reason(
    login, channel_manager, northwind_rep, contoso_rep
):
    DealFactory(actor=northwind_rep, status="approved", customer_domain="fabrikam.com")
    deal = DealFactory(actor=contoso_rep, status="submitted", customer_domain="fabrikam.com")
    before = timeline(deal)

    response = login(channel_manager).post(f"{BASE}{deal.pk}/approve/", {"comment": "ok"})

    assert response.status_code == 400
    assert "first approved wins" in text(response)
    assert 'name="override_reason"' in response.content.decode()
    assert reload(deal).status == DealStatus.SUBMITTED
    assert timeline(deal) == before


def test_approving_over_an_approved_rival_with_an_override_reason_records_the_reason(
    login, channel_manager, northwind_rep, contoso_rep
):
    DealFactory(actor=northwind_rep, status="approved", customer_domain="fabrikam.com")
    deal = DealFactory(actor=contoso_rep, status="submitted", customer_domain="fabrikam.com")

    response = login(channel_manager).post(
        f"{BASE}{deal.pk}/approve/",
        {"comment": "", "override_reason": "Different division of the customer."},
    )

    assert response.status_code == 302
    assert reload(deal).status == DealStatus.APPROVED
    comment = timeline(deal)[-1][2]
    assert "Override" in comment and "Different division of the customer." in comment


def test_rejecting_without_a_reason_is_a_400_form_error_and_changes_nothing(
    login, channel_manager, northwind_rep
):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    before = timeline(deal)

    response = login(channel_manager).post(f"{BASE}{deal.pk}/reject/", {"reason": "   "})

    assert response.status_code == 400
    assert "Give the partner a reason for the rejection." in text(response)
    assert reload(deal).status == DealStatus.SUBMITTED
    assert timeline(deal) == before


def test_rejecting_with_a_reason_tells_the_partner_why(login, channel_manager, northwind_rep):
    deal = DealFactory(actor=northwind_rep, status="submitted")

    response = login(channel_manager).post(
        f"{BASE}{deal.pk}/reject/", {"reason": "Existing direct customer."}
    )

    assert response.status_code == 302
    assert reload(deal).status == DealStatus.REJECTED
    assert timeline(deal)[-1] == ("submitted", "rejected", "Existing direct customer.")


def test_requesting_information_needs_a_question(login, channel_manager, northwind_rep):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    client = login(channel_manager)

    refused = client.post(f"{BASE}{deal.pk}/request-info/", {"question": ""})
    assert refused.status_code == 400
    assert "Say what information you need." in text(refused)
    assert reload(deal).status == DealStatus.SUBMITTED

    asked = client.post(f"{BASE}{deal.pk}/request-info/", {"question": "Which seats?"})
    assert asked.status_code == 302
    assert reload(deal).status == DealStatus.MORE_INFO
    assert timeline(deal)[-1] == ("submitted", "more_info", "Which seats?")


def test_a_decision_on_a_deal_no_longer_waiting_is_refused_with_the_reason(
    login, channel_manager, northwind_rep
):
    deal = DealFactory(actor=northwind_rep, status="rejected")
    response = login(channel_manager).post(f"{BASE}{deal.pk}/approve/", {"comment": ""})
    assert response.status_code == 400
    assert "cannot become approved" in text(response)
    assert reload(deal).status == DealStatus.REJECTED


def test_a_pending_extension_request_is_approved_from_the_review_page(
    login, channel_manager, northwind_rep
):
    from deals import services

    deal = DealFactory(actor=northwind_rep, status="approved")
    with tenant_context(deal.tenant, northwind_rep):
        services.deal_request_extension(actor=northwind_rep, deal=deal, reason="Budget freeze.")
    ends_before = reload(deal).protection_ends_at
    client = login(channel_manager)

    page = client.get(f"{BASE}{deal.pk}/")
    assert "Budget freeze." in text(page)
    assert "Approve the extension" in text(page)

    response = client.post(f"{BASE}{deal.pk}/extension/", {"decision": "approve"})
    assert response.status_code == 302
    deal = reload(deal)
    assert deal.extension_status == ExtensionStatus.APPROVED
    assert deal.protection_ends_at > ends_before


def test_a_pending_extension_request_can_be_declined(login, channel_manager, northwind_rep):
    from deals import services

    deal = DealFactory(actor=northwind_rep, status="approved")
    with tenant_context(deal.tenant, northwind_rep):
        services.deal_request_extension(actor=northwind_rep, deal=deal, reason="Budget freeze.")
    client = login(channel_manager)

    bad = client.post(f"{BASE}{deal.pk}/extension/", {"decision": "maybe"})
    assert bad.status_code == 400
    assert reload(deal).extension_status == ExtensionStatus.REQUESTED

    response = client.post(
        f"{BASE}{deal.pk}/extension/", {"decision": "decline", "comment": "Not this time."}
    )
    assert response.status_code == 302
    assert reload(deal).extension_status == ExtensionStatus.DECLINED
    # Only one extension per registration: the form is gone.
    assert "Approve the extension" not in text(client.get(f"{BASE}{deal.pk}/"))


def test_staff_marks_an_approved_deal_won_on_behalf_of_the_partner(
    login, channel_manager, northwind_rep
):
    deal = DealFactory(actor=northwind_rep, status="approved")
    client = login(channel_manager)
    assert "Close the deal on the partner's behalf" in text(client.get(f"{BASE}{deal.pk}/"))

    missing = client.post(f"{BASE}{deal.pk}/won/", {"final_amount": "", "closed_on": ""})
    assert missing.status_code == 400
    assert reload(deal).status == DealStatus.APPROVED

    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    refused = client.post(f"{BASE}{deal.pk}/won/", {"final_amount": "900", "closed_on": future})
    assert refused.status_code == 400
    assert "cannot be in the future" in text(refused)

    response = client.post(
        f"{BASE}{deal.pk}/won/",
        {"final_amount": "1234.56", "closed_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    deal = reload(deal)
    assert deal.status == DealStatus.WON
    assert deal.won_amount == Decimal("1234.56")


def test_staff_marks_an_approved_deal_lost_with_a_configured_reason(
    login, tenant, channel_manager, northwind_rep
):
    deal = DealFactory(actor=northwind_rep, status="approved")
    reason = LostReasonFactory(tenant=tenant, name="Went with a competitor")
    client = login(channel_manager)

    missing = client.post(f"{BASE}{deal.pk}/lost/", {"reason": ""})
    assert missing.status_code == 400
    assert "Choose why the deal was lost." in text(missing)

    response = client.post(f"{BASE}{deal.pk}/lost/", {"reason": reason.pk, "comment": ""})
    assert response.status_code == 302
    deal = reload(deal)
    assert deal.status == DealStatus.LOST
    assert deal.lost_reason_id == reason.pk


# ---------------------------------------------------------------- bulk approval


def test_bulk_approve_approves_the_ticked_conflict_free_submissions_and_skips_the_rest(
    login, channel_manager, northwind_rep, contoso_rep
):
    DealFactory(actor=northwind_rep, status="submitted", customer_domain="fabrikam.com")
    rival = DealFactory(actor=contoso_rep, status="submitted", customer_domain="fabrikam.com")
    clear = DealFactory(actor=contoso_rep, status="submitted")
    also_clear = DealFactory(actor=northwind_rep, status="submitted")
    asked = DealFactory(actor=contoso_rep, status="more_info")

    # A crafted request may name any id: the conflicted and the waiting ones are left alone.
    response = login(channel_manager).post(
        f"{BASE}queue/approve/", {"deal_ids": [rival.pk, clear.pk, also_clear.pk, asked.pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{BASE}queue/"
    assert reload(clear).status == DealStatus.APPROVED
    assert reload(also_clear).status == DealStatus.APPROVED
    assert timeline(clear)[-1] == ("submitted", "approved", "Bulk approval.")
    assert reload(rival).status == DealStatus.SUBMITTED
    assert reload(asked).status == DealStatus.MORE_INFO
    followed = login(channel_manager).get(response["Location"])
    assert "Approved 2 registrations." in text(followed)
    assert "2 registrations were left for a review of their own" in text(followed)


def test_bulk_approve_leaves_a_registration_whose_later_rival_was_approved_first(
    login, channel_manager, northwind_rep, contoso_rep
):
    """The earlier registration had no conflict when it was submitted, but a later one naming
    the same customer was approved since: first approved wins, so it needs a review with an
    override of its own. The rest of the batch is still approved."""
    earlier = DealFactory(actor=northwind_rep, status="submitted", customer_domain="fabrikam.com")
    later = DealFactory(actor=contoso_rep, status="submitted", customer_domain="fabrikam.com")
    clear = DealFactory(actor=contoso_rep, status="submitted")
    client = login(channel_manager)
    assert client.post(f"{BASE}{later.pk}/approve/", {"comment": ""}).status_code == 302

    response = client.post(f"{BASE}queue/approve/", {"deal_ids": [earlier.pk, clear.pk]})

    assert response.status_code == 302
    assert reload(clear).status == DealStatus.APPROVED
    assert reload(earlier).status == DealStatus.SUBMITTED
    followed = text(client.get(response["Location"]))
    assert "Approved 1 registration." in followed
    assert "1 registration was left for a review of its own" in followed
    # Its review page shows the later rival, and why approving it now needs an override.
    review = client.get(f"{BASE}{earlier.pk}/")
    page = text(review)
    assert "1 conflict" in page and "submitted later" in page and "Contoso" in page
    assert 'name="override_reason"' in review.content.decode()


def test_bulk_approve_with_nothing_ticked_is_a_400(login, channel_manager, northwind_rep):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    client = login(channel_manager)

    for data in ({}, {"deal_ids": ["abc"]}):
        response = client.post(f"{BASE}queue/approve/", data)
        assert response.status_code == 400
    assert "Tick at least one registration to approve." in text(
        client.post(f"{BASE}queue/approve/")
    )
    assert reload(deal).status == DealStatus.SUBMITTED


# ---------------------------------------------------------------- the deals list and export


@pytest.fixture
def program(tenant, member, northwind_rep, contoso_rep):
    """Deals of two partners and one direct deal, in several states."""
    staff = member("channel_manager", email="seller@acme.test")
    return {
        "nw_submitted": DealFactory(
            actor=northwind_rep, status="submitted", customer_name="Alpine Outfitters",
            stage="proposal", deal_type="resell",
        ),
        "nw_won": DealFactory(
            actor=northwind_rep, status="won", customer_name="Bayside Dental",
            customer_domain="bayside.example", stage="closing", deal_type="referral",
        ),
        "co_approved": DealFactory(
            actor=contoso_rep, status="approved", customer_name="Cedar Logistics",
            stage="negotiation", deal_type="co_sell",
            lines=[LineInput(product_id=ProductFactory(tenant=tenant).pk, quantity=2,
                             unit_price=Decimal("1234.50"))],
        ),
        "direct": DealFactory(
            actor=staff, direct=True, customer_name="=Delta Foods", stage="prospecting",
        ),
        "staff": staff,
    }  # fmt: skip


def listed(response) -> set[int]:
    return {
        int(attrs["data-deal-id"])
        for tag, attrs in parse(response).tags
        if tag == "tr" and "data-deal-id" in attrs
    }


def test_deals_list_shows_every_partners_deals_and_direct_deals(login, channel_manager, program):
    response = login(channel_manager).get(BASE)
    assert response.status_code == 200
    deals = [v for k, v in program.items() if k != "staff"]
    assert listed(response) == {d.pk for d in deals}
    page = text(response)
    assert "Northwind" in page and "Contoso" in page and "Direct" in page
    assert "2,469.00 USD" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=won", ["nw_won"]),
        ("stage=negotiation", ["co_approved"]),
        ("deal_type=referral", ["nw_won"]),
        ("direct=yes", ["direct"]),
        ("direct=no", ["nw_submitted", "nw_won", "co_approved"]),
        ("q=bayside", ["nw_won"]),
        ("q=bayside.example", ["nw_won"]),
        ("q=logistics&status=approved", ["co_approved"]),
    ],
)
def test_deals_list_filters(login, channel_manager, program, query, expected):
    response = login(channel_manager).get(f"{BASE}?{query}")
    assert response.status_code == 200
    assert listed(response) == {program[name].pk for name in expected}


def test_deals_list_filters_by_partner_and_by_who_registered(
    login, channel_manager, program, contoso, northwind_rep
):
    client = login(channel_manager)
    by_partner = client.get(f"{BASE}?partner={contoso.pk}")
    assert listed(by_partner) == {program["co_approved"].pk}
    by_owner = client.get(f"{BASE}?owner={northwind_rep.user_id}")
    assert listed(by_owner) == {program["nw_submitted"].pk, program["nw_won"].pk}
    by_staff = client.get(f"{BASE}?owner={program['staff'].user_id}")
    assert listed(by_staff) == {program["direct"].pk}


def test_deals_list_sorts(login, channel_manager, program):
    client = login(channel_manager)

    def order(query: str) -> list[int]:
        response = client.get(f"{BASE}?direct=no&{query}")
        return [
            int(attrs["data-deal-id"])
            for tag, attrs in parse(response).tags
            if tag == "tr" and "data-deal-id" in attrs
        ]

    by_name = [program[k].pk for k in ("nw_submitted", "nw_won", "co_approved")]
    assert order("sort=customer") == by_name  # Alpine, Bayside, Cedar
    assert order("sort=total")[0] == program["co_approved"].pk  # the largest total first
    assert order("sort=newest") == list(reversed(order("sort=oldest")))


def test_deals_list_answers_400_to_an_unknown_filter_value(
    login, channel_manager, program, other_tenant
):
    foreign_partner = PartnerFactory(tenant=other_tenant, name="Initech", domain="initech.test")
    client = login(channel_manager)
    for query in ("status=bogus", "sort=random", f"partner={foreign_partner.pk}", "owner=abc"):
        response = client.get(f"{BASE}?{query}")
        assert response.status_code == 400, query
        assert listed(response) == set(), query


def test_deals_list_htmx_request_gets_only_the_results(login, channel_manager, program):
    response = login(channel_manager).get(
        f"{BASE}?status=won", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="deal-results"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="deal-results"')
    assert listed(response) == {program["nw_won"].pk}


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def test_csv_export_has_the_filtered_deals_with_exact_decimal_totals(
    login, channel_manager, program, northwind_rep
):
    response = login(channel_manager).get(f"{BASE}export.csv?direct=no&sort=customer")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [row["customer_name"] for row in rows] == [
        "Alpine Outfitters", "Bayside Dental", "Cedar Logistics",
    ]  # fmt: skip
    cedar = rows[2]
    assert cedar["total"] == "2469.00"  # the Decimal's text, never a float like 2469.0
    assert cedar["partner"] == "Contoso"
    assert cedar["registered_by"] == "rep@contoso.test"
    assert cedar["status"] == "approved"
    assert cedar["stage"] == "negotiation"
    assert cedar["deal_type"] == "co_sell"
    assert cedar["currency"] == "USD"
    assert cedar["decided_at"] and cedar["protection_ends_at"] and cedar["submitted_at"]
    # One format for the console and the API export.
    from deals.export import COLUMNS

    assert list(rows[0]) == COLUMNS
    assert rows[1]["customer_domain"] == "bayside.example"
    assert rows[0]["id"] == str(program["nw_submitted"].pk)


def test_csv_export_neutralizes_spreadsheet_formulas(login, channel_manager, program):
    rows = read_csv(login(channel_manager).get(f"{BASE}export.csv?direct=yes"))
    assert [row["customer_name"] for row in rows] == ["'=Delta Foods"]
    assert rows[0]["partner"] == ""


def test_csv_export_with_a_bad_filter_is_a_400(login, channel_manager, program):
    assert login(channel_manager).get(f"{BASE}export.csv?status=bogus").status_code == 400


def test_deals_list_links_to_the_export_with_the_current_filters(login, channel_manager, program):
    response = login(channel_manager).get(f"{BASE}?status=won&page=1")
    links = {attrs.get("href") for tag, attrs in parse(response).tags if tag == "a"}
    assert f"{BASE}export.csv?status=won" in links


# ---------------------------------------------------------------- direct deals


def _direct_post(product, **overrides) -> dict:
    data = {
        "customer_name": "Evergreen Systems",
        "customer_domain": "evergreen.example",
        "country": "us",
        "contact_name": "",
        "contact_email": "",
        "contact_phone": "",
        "currency": "USD",
        "expected_close_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "stage": "proposal",
        "deal_type": "resell",
        "notes": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": "4",
        "lines-0-unit_price": "250.25",
        "partners-TOTAL_FORMS": "0",
        "partners-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_channel_manager_records_a_direct_deal(login, tenant, channel_manager):
    product = ProductFactory(tenant=tenant)
    client = login(channel_manager)
    assert client.get(f"{BASE}direct/new/").status_code == 200

    response = client.post(f"{BASE}direct/new/", _direct_post(product))

    assert response.status_code == 302
    with tenant_context(tenant):
        deal = Deal.objects.get(customer_name="Evergreen Systems")
    assert response["Location"] == f"{BASE}{deal.pk}/"
    assert deal.partner_id is None
    assert deal.status == DealStatus.APPROVED
    assert deal.country == "US"
    assert deal.total == Decimal("1001.00")
    assert deal.registered_by_id == channel_manager.user_id
    detail = text(client.get(response["Location"]))
    assert "Direct deal" in detail and "Direct deal recorded." in detail


@pytest.mark.parametrize(
    "overrides",
    [
        {"customer_name": ""},
        {"currency": "XYZ"},
        {"expected_close_date": "2001-01-01"},
        {"lines-0-quantity": "-1"},
        {"lines-0-unit_price": "-5"},
        {"lines-0-unit_price": "99999999999999999"},
        {"lines-0-product": ""},
    ],
)
def test_recording_a_direct_deal_with_bad_input_is_a_400_and_writes_nothing(
    login, tenant, channel_manager, overrides
):
    product = ProductFactory(tenant=tenant)
    response = login(channel_manager).post(f"{BASE}direct/new/", _direct_post(product, **overrides))
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Deal.objects.exists()


def test_a_product_of_another_tenant_cannot_be_on_a_direct_deal(
    login, tenant, other_tenant, channel_manager
):
    foreign = ProductFactory(tenant=other_tenant)
    response = login(channel_manager).post(f"{BASE}direct/new/", _direct_post(foreign))
    assert response.status_code == 400
    with tenant_context(tenant):
        assert not Deal.objects.exists()


def test_adding_a_product_line_keeps_what_was_typed(login, tenant, channel_manager):
    product = ProductFactory(tenant=tenant)
    response = login(channel_manager).post(
        f"{BASE}direct/new/", _direct_post(product, action="add_line")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Evergreen Systems"' in html
    assert 'name="lines-1-product"' in html
    with tenant_context(tenant):
        assert not Deal.objects.exists()


# ---------------------------------------------------------------- who may open what


def console_urls(deal_id: int) -> list[tuple[str, str]]:
    """(method, URL) of every console deals page, with a real deal id."""
    return [
        ("get", BASE),
        ("get", f"{BASE}export.csv"),
        ("get", f"{BASE}queue/"),
        ("post", f"{BASE}queue/approve/"),
        ("get", f"{BASE}direct/new/"),
        ("post", f"{BASE}direct/new/"),
        ("get", f"{BASE}{deal_id}/"),
        ("post", f"{BASE}{deal_id}/approve/"),
        ("post", f"{BASE}{deal_id}/reject/"),
        ("post", f"{BASE}{deal_id}/request-info/"),
        ("post", f"{BASE}{deal_id}/extension/"),
        ("post", f"{BASE}{deal_id}/won/"),
        ("post", f"{BASE}{deal_id}/lost/"),
    ]


def test_the_permission_tests_cover_every_console_deals_url():
    from django.urls import resolve

    from deals.urls_console import urlpatterns

    covered = {resolve(url[len("/t/acme") :]).url_name for _method, url in console_urls(1)}
    assert covered == {pattern.name for pattern in urlpatterns}


@pytest.mark.parametrize("role", ["finance", "analyst", "marketing"])
def test_read_only_staff_list_export_and_read_deals_but_cannot_review(
    login, member, northwind_rep, role
):
    deal = DealFactory(actor=northwind_rep, status="submitted", customer_domain="fabrikam.com")
    DealFactory(actor=northwind_rep, status="submitted", customer_domain="fabrikam.com")
    client = login(member(role))

    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}export.csv").status_code == 200
    detail = client.get(f"{BASE}{deal.pk}/")
    assert detail.status_code == 200
    assert "Conflict candidates" not in text(detail)  # candidates are for reviewers
    assert "/approve/" not in detail.content.decode()
    for method, url in console_urls(deal.pk):
        if url in (BASE, f"{BASE}export.csv", f"{BASE}{deal.pk}/"):
            continue
        response = getattr(client, method)(url, {"reason": "x", "comment": "x"})
        assert response.status_code == 403, (role, method, url)
    assert reload(deal).status == DealStatus.SUBMITTED


@pytest.mark.parametrize("role", ["tenant_admin", "channel_manager"])
def test_reviewers_open_every_console_deals_page(login, member, northwind_rep, role):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    client = login(member(role))
    for url in (BASE, f"{BASE}export.csv", f"{BASE}queue/", f"{BASE}direct/new/",
                f"{BASE}{deal.pk}/"):  # fmt: skip
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", ["partner_admin", "partner_rep"])
def test_partner_users_get_403_on_every_console_deals_url(
    login, request, northwind_rep, partner_admin, role
):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    membership = request.getfixturevalue(role)
    client = login(membership)
    for method, url in console_urls(deal.pk):
        response = getattr(client, method)(url, {"reason": "x", "question": "x"})
        assert response.status_code == 403, (role, method, url)
    assert reload(deal).status == DealStatus.SUBMITTED


def test_a_member_of_another_tenant_gets_404_on_every_console_deals_url(
    login, outsider, northwind_rep
):
    deal = DealFactory(actor=northwind_rep, status="submitted")
    before = timeline(deal)
    client = login(outsider)
    for method, url in console_urls(deal.pk):
        response = getattr(client, method)(url, {"reason": "x", "deal_ids": [deal.pk]})
        assert response.status_code == 404, (method, url)
    assert reload(deal).status == DealStatus.SUBMITTED
    assert timeline(deal) == before


def test_another_tenants_deal_id_is_a_404_for_a_reviewer(
    login, tenant_admin, other_tenant, channel_manager
):
    globex_rep = MembershipFactory(
        tenant=other_tenant,
        role="partner_rep",
        partner=PartnerFactory(tenant=other_tenant, name="Initech", domain="initech.test"),
        user__email="rep@initech.test",
    )
    foreign = DealFactory(actor=globex_rep, status="submitted")
    client = login(channel_manager)
    for method, url in console_urls(foreign.pk):
        if str(foreign.pk) not in url:
            continue
        response = getattr(client, method)(url, {"reason": "x", "comment": "x", "question": "x"})
        assert response.status_code == 404, (method, url)
    bulk = client.post(f"{BASE}queue/approve/", {"deal_ids": [foreign.pk]})
    assert bulk.status_code == 302
    assert reload(foreign).status == DealStatus.SUBMITTED
    rows = read_csv(client.get(f"{BASE}export.csv"))
    assert str(foreign.pk) not in {row["id"] for row in rows}


# ---------------------------------------------------------------- query counts


def _count_queries(client, url) -> int:
    client.get(url)  # warm the caches (role permissions, rules of engagement)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    # The role-permission cache lives in Redis, which a concurrent test process may flush:
    # its reload is not the page's work.
    return len([q for q in captured if "auth_group_permissions" not in q["sql"]])


@pytest.mark.parametrize("url", [f"{BASE}queue/", BASE, f"{BASE}?status=submitted&sort=oldest"])
def test_queue_and_list_query_counts_do_not_grow_with_the_number_of_deals(
    login, tenant, channel_manager, url
):
    def add(count: int) -> None:
        for _ in range(count):
            DealFactory(actor__tenant=tenant, status="submitted")

    add(2)
    client = login(channel_manager)
    baseline = _count_queries(client, url)

    add(12)

    assert _count_queries(client, url) <= baseline
