"""Fixtures of the tier approval queue: Acme in approval mode with a ladder of tiers, and
pending proposals for Northwind (assigned to the channel manager) and Contoso (unassigned)."""

from __future__ import annotations

import pytest

from partners.tenancy import tenant_context
from partners.tiers import (
    APPROVAL_SETTING,
    Tier,
    TierChangeKind,
    TierProposal,
)
from tests.factories import MembershipFactory


@pytest.fixture
def silver(tenant):
    with tenant_context(tenant):
        return Tier.objects.create(tenant=tenant, rank=2, name="Silver")


@pytest.fixture
def gold(tenant):
    with tenant_context(tenant):
        return Tier.objects.create(tenant=tenant, rank=3, name="Gold")


@pytest.fixture
def approval_mode(tenant):
    tenant.settings = {**tenant.settings, APPROVAL_SETTING: True}
    tenant.save()
    return tenant


def make_proposal(partner, to_tier, *, from_tier=None, score="60"):
    with tenant_context(partner.tenant):
        return TierProposal.objects.create(
            tenant=partner.tenant, partner=partner, from_tier=from_tier, to_tier=to_tier,
            kind=TierChangeKind.PROMOTION,
            reason=f"Promoted: meets the criteria of {to_tier.name}.",
            metrics={"values": {"active_partner_users": score}, "warnings": []},
        )  # fmt: skip


@pytest.fixture
def northwind_proposal(approval_mode, partner, gold):
    return make_proposal(partner, gold)


@pytest.fixture
def contoso_proposal(approval_mode, contoso, silver):
    return make_proposal(contoso, silver, score="12")


@pytest.fixture
def other_manager(tenant):
    """Acme's second channel manager, assigned to no partner."""
    return MembershipFactory(
        tenant=tenant, role="channel_manager", user__email="manager2@acme.test"
    )


@pytest.fixture
def status_of():
    def _status(proposal):
        with tenant_context(proposal.tenant):
            return TierProposal.objects.get(pk=proposal.pk).status

    return _status
