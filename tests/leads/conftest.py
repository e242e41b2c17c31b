"""Fixtures of the lead tests: partners built by hand for routing, leads made through the
services, partner users of two organizations, and won/lost registrations for win rates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from deals import leads
from deals import services as deal_services
from deals.leads import LeadInput
from deals.models import DealStatus, LeadOffer, OfferStatus
from partners import services
from partners.models import OutboxEvent
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory
from tests.factories import MembershipFactory, PartnerFactory


@pytest.fixture
def routing_partner(tenant):
    """An active partner of Acme serving what it is told: ``routing_partner("A", ["DE"])``."""

    def _make(name, countries=(), regions=(), competencies=(), capacity=10, status="active",
              tenant_=None):  # fmt: skip
        return PartnerFactory(
            tenant=tenant_ or tenant,
            name=name,
            domain=f"{name.lower().replace(' ', '-')}.test",
            countries=list(countries),
            regions=list(regions),
            competencies=list(competencies),
            lead_capacity=capacity,
            status=status,
        )

    return _make


@pytest.fixture
def rep_of(tenant):
    """The partner rep of a partner organization (made on first use)."""
    made: dict[int, object] = {}

    def _rep(partner, role="partner_rep"):
        key = (partner.pk, role)
        if key not in made:
            made[key] = MembershipFactory(
                tenant=partner.tenant,
                role=role,
                partner=partner,
                user__email=f"{role}@{partner.domain}",
            )
        return made[key]

    return _rep


@pytest.fixture
def track_record(rep_of):
    """Give a partner ``won`` won and ``lost`` lost registrations (its win rate)."""

    def _record(partner, *, won=0, lost=0):
        rep = rep_of(partner)
        for _n in range(won):
            DealFactory(actor=rep, status=DealStatus.WON)
        for _n in range(lost):
            DealFactory(actor=rep, status=DealStatus.LOST)

    return _record


@pytest.fixture
def make_lead(tenant, channel_manager):
    """Create a lead through the service as the channel manager (so it is routed at once)."""

    def _make(company="Initech", country="DE", actor=None, **fields):
        actor = actor or channel_manager
        data = LeadInput(company_name=company, country=country, **fields)
        with tenant_context(actor.tenant, actor):
            return leads.lead_create(actor=actor, data=data)

    return _make


@pytest.fixture
def as_member():
    """``with as_member(membership): ...`` runs the block in its tenant as that member."""

    def _as(membership):
        return tenant_context(membership.tenant, membership)

    return _as


@pytest.fixture
def pending_offer():
    """The pending offer of a lead (None when there is none), read in its tenant."""

    def _offer(lead):
        with tenant_context(lead.tenant):
            return (
                LeadOffer.objects.select_related("partner")
                .filter(lead_id=lead.pk, status=OfferStatus.PENDING)
                .first()
            )

    return _offer


@pytest.fixture
def reload():
    """Read a row again in its tenant."""

    def _reload(row):
        with tenant_context(row.tenant):
            return type(row).objects.get(pk=row.pk)

    return _reload


@pytest.fixture
def events_named(tenant):
    """The payloads of the outbox events of Acme with this name, oldest first."""

    def _events(name, tenant_=None):
        with tenant_context(tenant_ or tenant):
            found = OutboxEvent.objects.filter(name=name).order_by("pk")
            return list(found.values_list("payload", flat=True))

    return _events


@pytest.fixture
def api_as():
    """An APIClient that sends a fresh API token of ``membership``."""

    def _as(membership):
        with tenant_context(membership.tenant, membership):
            issued = services.api_token_issue(actor=membership, name="leads tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        return client

    return _as


@pytest.fixture
def sla_hours(tenant):
    """Set Acme's lead response SLA (hours)."""

    def _set(hours):
        with tenant_context(tenant):
            rules = deal_services.engagement_rules()
            rules.lead_response_sla_hours = hours
            rules.save(update_fields=["lead_response_sla_hours"])

    return _set


@pytest.fixture
def member_of_acme(tenant):
    """A vendor staff membership of Acme with any role: ``member_of_acme("analyst")``."""

    def _member(role):
        return MembershipFactory(tenant=tenant, role=role, user__email=f"{role}@acme.test")

    return _member
