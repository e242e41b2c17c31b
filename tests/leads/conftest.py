"""Fixtures of the lead tests: partners built by hand for routing, leads made through the
services, partner users of two organizations, and won/lost registrations for win rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from deals import leads
from deals.leads import LeadInput
from deals.models import DealStatus
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
def decimal():
    return Decimal
