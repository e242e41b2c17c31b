"""A lead offered to a partner reaches that partner's people who may answer it, and only them."""

from __future__ import annotations

import pytest

from deals import leads
from deals.leads import LeadInput
from deals.models import LeadOffer
from partners.models import Partner
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_partners(tenant, partner, contoso):
    """Northwind and Contoso both serve Germany; Northwind, the older, wins a tie."""
    with tenant_context(tenant):
        Partner.objects.filter(pk__in=[partner.pk, contoso.pk]).update(countries=["DE"])
    return partner, contoso


def _offer_to(tenant, partner) -> LeadOffer:
    with tenant_context(tenant):
        return LeadOffer.objects.select_related("lead").get(partner=partner)


def test_an_offered_lead_notifies_the_partners_admins_and_reps_only(
    everyone, german_partners, act, channel_manager, delivered, recipients_of, inbox,
    partner_rep, tenant, partner,
):  # fmt: skip
    with delivered():
        act(
            channel_manager,
            leads.lead_create,
            data=LeadInput(company_name="Fabrikam", country="DE"),
        )

    offer = _offer_to(tenant, partner)
    assert recipients_of("lead.offered") == {
        "padmin@northwind.test",
        "rep@northwind.test",
        "rep2@northwind.test",
    }
    [notice] = inbox(partner_rep, "lead.offered")
    assert notice.title == "New lead offered: Fabrikam"
    assert notice.body.startswith("Accept or decline it by ")
    assert notice.url == f"leads/offered/{offer.pk}/"


def test_a_declined_lead_moves_on_and_only_the_next_partner_hears_of_it(
    everyone, german_partners, act, channel_manager, partner_rep, contoso_rep, delivered, inbox,
    tenant, partner,
):  # fmt: skip
    with delivered():
        act(
            channel_manager,
            leads.lead_create,
            data=LeadInput(company_name="Fabrikam", country="DE"),
        )
    offer = _offer_to(tenant, partner)

    with delivered():
        act(partner_rep, leads.lead_decline, offer=offer, reason="No capacity this quarter.")

    assert len(inbox(partner_rep, "lead.offered")) == 1
    [notice] = inbox(contoso_rep, "lead.offered")
    assert notice.title == "New lead offered: Fabrikam"


def test_the_lead_offered_payload_is_what_the_handler_reads(
    german_partners, act, channel_manager, tenant, partner
):
    from partners.models import OutboxEvent

    act(channel_manager, leads.lead_create, data=LeadInput(company_name="Fabrikam", country="DE"))

    offer = _offer_to(tenant, partner)
    with tenant_context(tenant):
        payload = OutboxEvent.objects.get(name="lead.offered").payload
    assert {k: payload[k] for k in ("lead_id", "partner_id", "offer_id")} == {
        "lead_id": offer.lead_id,
        "partner_id": partner.pk,
        "offer_id": offer.pk,
    }
