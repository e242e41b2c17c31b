import pytest
from deals.models import LeadOffer
from partners.tenancy import tenant_context

pytestmark = pytest.mark.django_db


def test_smoke(tenant, routing_partner, make_lead, track_record):
    a = routing_partner("Alpha", ["DE"])
    b = routing_partner("Beta", ["DE"], competencies=["Security"])
    track_record(a, won=1, lost=1)
    lead = make_lead(competency="security")
    with tenant_context(tenant):
        offer = LeadOffer.objects.get(lead=lead)
        print(offer.partner.name, offer.score, offer.reason)
    assert offer.partner_id == b.pk
