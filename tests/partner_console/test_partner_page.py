"""The partner page of the staff console: profile, status and its history, people, tier and
tier history with the deciding metric values, current metrics, managers, the deals summary
(a panel of the deals app), and who may open it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners import panels, services
from partners.models import Partner
from partners.tenancy import tenant_context
from partners.tiers import TierChange, TierChangeKind
from tests.deals.factories import DealFactory
from tests.factories import PartnerFactory
from tests.partner_console.conftest import BASE
from tests.partners.html import text

pytestmark = pytest.mark.django_db


def url(partner, suffix: str = "") -> str:
    return f"{BASE}{partner.pk}/{suffix}"


def test_partner_page_shows_profile_people_managers_and_status(
    login, tenant, tenant_admin, channel_manager, partner, partner_admin, partner_rep
):
    with tenant_context(tenant, tenant_admin):
        services.partner_update(
            actor=tenant_admin, partner=partner, legal_name="Northwind Traders GmbH",
            countries=["DE", "AT"], regions=["DACH"], employee_count=120,
        )  # fmt: skip
        services.invitation_create(
            actor=tenant_admin, email="new.rep@northwind.test", role="partner_rep", partner=partner
        )
        services.partner_suspend(actor=tenant_admin, partner=partner, reason="Unpaid invoices")
    response = login(tenant_admin).get(url(partner))
    assert response.status_code == 200
    page = text(response)
    for expected in (
        "Northwind Traders GmbH", "AT, DE", "DACH", "120",
        partner_admin.user.email, partner_rep.user.email, "new.rep@northwind.test",
        channel_manager.user.email, "Suspended", "Unpaid invoices",
        "Invite a partner user", "Assign managers", "Edit profile", "Reactivate", "Offboard",
    ):  # fmt: skip
        assert expected in page, expected
    # The dated status history: created active, then suspended with its reason.
    assert page.index("Status history") < page.index(
        "Unpaid invoices", page.index("Status history")
    )


def test_partner_page_shows_tier_history_with_the_deciding_metric_values(
    login, tenant, tenant_admin, partner, tiers
):
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(
            tier=tiers["gold"],
            tier_pinned_until=timezone.localdate() + timedelta(days=30),
            tier_shortfall_since=timezone.now() - timedelta(days=3),
        )
        TierChange.objects.create(
            tenant=tenant, partner=partner, from_tier=tiers["silver"], to_tier=tiers["gold"],
            kind=TierChangeKind.PROMOTION, reason="Promoted: won revenue above 50,000.",
            metrics={
                "values": {"won_revenue_12m": "64000.00", "active_partner_users": "4"},
                "warnings": ["1 won deal(s) in other currencies than USD left out."],
            },
        )  # fmt: skip
    page = text(login(tenant_admin).get(url(partner)))
    for expected in (
        "Gold", "Promotion", "Silver", "Promoted: won revenue above 50,000.",
        "64,000.00 USD", "1 won deal(s) in other currencies than USD left out.",
        "Pinned until", "Below the tier's criteria since", "Current metrics",
        "Won revenue, trailing 12 months",
    ):  # fmt: skip
        assert expected in page, expected


def test_deals_summary_counts_by_status_and_sums_money_in_the_default_currency(
    login, tenant, tenant_admin, partner, partner_rep, currencies
):
    DealFactory(actor=partner_rep, status="won", won_amount=Decimal("1200.50"))
    DealFactory(actor=partner_rep, status="won", won_amount=Decimal("100.00"),
                closed_on=timezone.localdate() - timedelta(days=400))  # fmt: skip
    DealFactory(actor=partner_rep, status="won", currency="EUR", won_amount=Decimal("999.00"))
    submitted = DealFactory(actor=partner_rep, status="submitted")
    approved = DealFactory(actor=partner_rep, status="approved")
    DealFactory(actor=partner_rep)  # a draft: not in the pipeline
    DealFactory(actor__tenant=tenant, status="approved")  # another partner's
    response = login(tenant_admin).get(url(partner))
    html = response.content.decode()
    page = text(response)
    assert "6 deals" in page
    assert "Won: 3" in page and "Submitted: 1" in page and "Approved: 1" in page
    assert "Draft: 1" in page
    # Open pipeline: the submitted and the approved deal (1,000 each in USD).
    assert "2,000.00\N{NO-BREAK SPACE}USD" in html.split('data-metric="open-pipeline"')[1]
    # Won in 12 months: only the recent USD deal; the EUR one is left out, the old one too.
    won_cell = html.split('data-metric="won-12m"')[1].split("</dd>")[0]
    assert "1,200.50\N{NO-BREAK SPACE}USD" in won_cell
    assert "1 won deal in another currency left out" in won_cell
    assert f'href="/t/acme/console/deals/{approved.pk}/"' in html
    assert f'href="/t/acme/console/deals/{submitted.pk}/"' in html
    assert f'href="/t/acme/console/deals/?partner={partner.pk}"' in html


def test_deals_summary_shows_at_most_five_deals_newest_first(
    login, tenant_admin, partner, partner_rep
):
    deals = [DealFactory(actor=partner_rep) for _ in range(6)]
    html = login(tenant_admin).get(url(partner)).content.decode()
    assert f"/console/deals/{deals[0].pk}/" not in html
    positions = [html.index(f"/console/deals/{d.pk}/") for d in reversed(deals[1:])]
    assert positions == sorted(positions)


def test_a_partner_without_deals_says_so(login, tenant_admin, partner):
    assert "has not registered a deal yet" in text(login(tenant_admin).get(url(partner)))


def test_panels_that_return_none_are_left_out(login, tenant_admin, partner):
    def nothing(request, partner):
        return None

    panels.register(nothing)
    try:
        assert login(tenant_admin).get(url(partner)).status_code == 200
    finally:
        panels.unregister(nothing)


def test_finance_reads_the_partner_page_without_change_buttons(login, finance, partner):
    response = login(finance).get(url(partner))
    assert response.status_code == 200
    page = text(response)
    assert "Northwind" in page
    for hidden in ("Edit profile", "Assign managers", "Suspend", "Invite a partner user"):
        assert hidden not in page, hidden


def test_assigned_channel_manager_changes_but_does_not_assign(login, channel_manager, partner):
    page = text(login(channel_manager).get(url(partner)))
    assert "Edit profile" in page and "Suspend" in page
    assert "Assign managers" not in page


# ---------------------------------------------------------------- isolation


PAGES = ["", "edit/", "managers/", "status/"]


ATTEMPT = {"status": "suspended", "reason": "x", "name": "Taken over", "domain": "x.example",
           "partner_type": "reseller", "lead_capacity": "1"}  # fmt: skip


@pytest.mark.parametrize("suffix", ["", "edit/", "status/"])
def test_unassigned_channel_manager_gets_404_and_changes_nothing(
    login, other_manager, partner, stored, suffix
):
    client = login(other_manager)
    assert client.get(url(partner, suffix)).status_code == 404
    assert client.post(url(partner, suffix), ATTEMPT).status_code == 404
    assert (stored(partner).status, stored(partner).name) == ("active", "Northwind")


def test_channel_managers_may_not_assign_managers(login, channel_manager, other_manager, partner):
    # Assigning managers is a tenant admin's act: the role is refused before any look-up.
    for manager in (channel_manager, other_manager):
        client = login(manager)
        assert client.get(url(partner, "managers/")).status_code == 403
        assert client.post(url(partner, "managers/"), {"managers": [manager.pk]}).status_code == 403


@pytest.mark.parametrize("suffix", PAGES)
def test_another_tenants_member_gets_404_on_every_page(login, outsider, partner, stored, suffix):
    client = login(outsider)
    assert client.get(url(partner, suffix)).status_code == 404
    assert client.post(url(partner, suffix), ATTEMPT).status_code == 404
    assert stored(partner).status == "active"


@pytest.mark.parametrize("suffix", PAGES)
def test_partner_users_cannot_open_console_pages(
    login, partner_admin, contoso_admin, partner, stored, suffix
):
    for membership in (partner_admin, contoso_admin):
        client = login(membership)
        assert client.get(url(partner, suffix)).status_code in (403, 404)
        assert client.post(url(partner, suffix), ATTEMPT).status_code in (403, 404)
    assert stored(partner).status == "active"


def test_a_partner_of_another_tenant_is_a_404_for_the_tenant_admin(
    login, tenant_admin, other_tenant
):
    foreign = PartnerFactory(tenant=other_tenant, name="Initech", domain="initech.test")
    client = login(tenant_admin)
    for suffix in PAGES:
        assert client.get(url(foreign, suffix)).status_code == 404, suffix
        assert client.post(url(foreign, suffix), ATTEMPT).status_code == 404, suffix
