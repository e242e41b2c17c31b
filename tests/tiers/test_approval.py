"""Approval mode of the tier engine: changes wait as proposals until a manager decides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tier_engine import tier_proposal_decide
from partners.tiers import APPROVAL_SETTING, TierChange, TierProposal, TierProposalStatus
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def approval(tenant):
    tenant.settings = {**tenant.settings, APPROVAL_SETTING: True}
    tenant.save()
    return tenant


def _proposals(tenant, **filters):
    with tenant_context(tenant):
        return list(TierProposal.objects.filter(**filters).order_by("pk"))


def _decide(actor, proposal, *, approve, note=""):
    with tenant_context(actor.tenant, actor):
        return tier_proposal_decide(actor=actor, proposal=proposal, approve=approve, note=note)


def _in_tier(reload, partner, tier):
    with tenant_context(partner.tenant):
        Partner.objects.filter(pk=partner.pk).update(tier=tier)
    return reload(partner)


def test_a_promotion_waits_as_a_pending_proposal_and_leaves_the_tier(
    approval, ladder, scores, run, reload, partner
):
    scores[partner.pk] = Decimal("60")
    changed = run(approval)

    assert [p.partner_id for p in changed] == [partner.pk]
    assert reload(partner).tier is None
    (proposal,) = _proposals(approval)
    assert proposal.status == TierProposalStatus.PENDING
    assert (proposal.from_tier_id, proposal.to_tier_id) == (None, ladder["gold"].pk)
    assert proposal.kind == "promotion"
    assert proposal.metrics["values"] == {"test_score": "60"}
    assert changed[0].proposal_id == proposal.pk
    with tenant_context(approval):
        assert not TierChange.objects.exists()
        event = OutboxEvent.objects.get(name="partner.tier_proposed")
        assert not OutboxEvent.objects.filter(name="partner.tier_changed").exists()
    assert event.payload == {"proposal_ids": [proposal.pk]}


def test_running_again_keeps_the_one_pending_proposal(approval, ladder, scores, run, partner):
    scores[partner.pk] = Decimal("60")
    run(approval)
    first = _proposals(approval)
    run(approval)
    run(approval)

    assert _proposals(approval) == first
    with tenant_context(approval):
        # Nobody is told twice about the same proposal.
        assert OutboxEvent.objects.filter(name="partner.tier_proposed").count() == 1


def test_a_changed_conclusion_supersedes_the_pending_proposal(
    approval, ladder, scores, run, partner
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    scores[partner.pk] = Decimal("20")
    run(approval)

    old, new = _proposals(approval)
    assert old.status == TierProposalStatus.SUPERSEDED
    assert new.status == TierProposalStatus.PENDING
    assert new.to_tier_id == ladder["silver"].pk
    assert len(_proposals(approval, status=TierProposalStatus.PENDING)) == 1


def test_a_partner_that_no_longer_needs_a_change_has_its_proposal_superseded(
    approval, ladder, scores, run, reload, partner
):
    _in_tier(reload, partner, ladder["silver"])
    scores[partner.pk] = Decimal("60")
    run(approval)
    scores[partner.pk] = Decimal("20")  # earns Silver again: nothing to change
    run(approval)

    (proposal,) = _proposals(approval)
    assert proposal.status == TierProposalStatus.SUPERSEDED


def test_approving_applies_the_change_and_records_the_metric_values(
    approval, ladder, scores, run, reload, partner, channel_manager
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)

    decided = _decide(channel_manager, proposal, approve=True)

    assert decided.status == TierProposalStatus.APPROVED
    assert decided.decided_by_id == channel_manager.user_id
    assert reload(partner).tier == ladder["gold"]
    with tenant_context(approval):
        change = TierChange.objects.get(partner=partner)
        assert OutboxEvent.objects.filter(name="partner.tier_changed").count() == 1
    assert decided.change_id == change.pk
    assert (change.from_tier_id, change.to_tier_id, change.kind) == (
        None,
        ladder["gold"].pk,
        "promotion",
    )
    assert change.metrics["values"] == {"test_score": "60"}
    assert "manager@acme.test" in change.reason


def test_a_rejection_needs_a_note(approval, ladder, scores, run, reload, partner, tenant_admin):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)

    with pytest.raises(ValidationError) as refused:
        _decide(tenant_admin, proposal, approve=False, note="   ")
    assert "note" in refused.value.message_dict
    (unchanged,) = _proposals(approval)
    assert unchanged.status == TierProposalStatus.PENDING


def test_a_rejected_change_is_not_proposed_again_while_the_conclusion_holds(
    approval, ladder, scores, run, reload, partner, tenant_admin
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)

    rejected = _decide(tenant_admin, proposal, approve=False, note="Wait for the audit.")
    assert (rejected.status, rejected.note) == (TierProposalStatus.REJECTED, "Wait for the audit.")
    assert reload(partner).tier is None

    run(approval)
    assert len(_proposals(approval)) == 1  # the same conclusion: not raised again

    scores[partner.pk] = Decimal("20")  # a new conclusion (Silver) is proposed
    run(approval)
    pending = _proposals(approval, status=TierProposalStatus.PENDING)
    assert [p.to_tier_id for p in pending] == [ladder["silver"].pk]


def test_a_stale_proposal_is_refused(approval, ladder, scores, run, reload, partner, tenant_admin):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)
    _in_tier(reload, partner, ladder["silver"])  # changed since (a pin, another decision)

    with pytest.raises(ValidationError):
        _decide(tenant_admin, proposal, approve=True)

    assert reload(partner).tier == ladder["silver"]
    (after,) = _proposals(approval)
    assert after.status != TierProposalStatus.APPROVED
    with tenant_context(approval):
        assert not TierChange.objects.exists()


def test_a_decided_proposal_cannot_be_decided_again(
    approval, ladder, scores, run, partner, tenant_admin
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)
    _decide(tenant_admin, proposal, approve=True)

    with pytest.raises(ValidationError):
        _decide(tenant_admin, proposal, approve=False, note="Changed my mind")


def test_only_roles_that_decide_proposals_may(approval, ladder, scores, run, partner, tenant):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)
    finance = MembershipFactory(tenant=tenant, role="finance")

    with pytest.raises(PermissionDenied):
        _decide(finance, proposal, approve=True)
    assert _proposals(approval)[0].status == TierProposalStatus.PENDING


def test_a_demotion_is_proposed_only_after_the_grace_period(
    approval, ladder, scores, run, reload, partner
):
    _in_tier(reload, partner, ladder["gold"])
    scores[partner.pk] = Decimal("20")  # Silver's criteria only
    start = timezone.now()

    run(approval, now=start)
    assert reload(partner).tier_shortfall_since == start
    run(approval, now=start + timedelta(days=89))
    assert _proposals(approval) == []

    run(approval, now=start + timedelta(days=91))
    (proposal,) = _proposals(approval)
    assert (proposal.kind, proposal.to_tier_id) == ("demotion", ladder["silver"].pk)
    # Still Gold until someone approves; the first shortfall date is kept.
    after = reload(partner)
    assert after.tier == ladder["gold"] and after.tier_shortfall_since == start


def test_the_grace_period_is_the_tenants_setting(approval, ladder, scores, run, reload, partner):
    approval.settings = {**approval.settings, "tier_demotion_grace_days": 10}
    approval.save()
    _in_tier(reload, partner, ladder["gold"])
    scores[partner.pk] = Decimal("20")
    start = timezone.now()

    run(approval, now=start)
    run(approval, now=start + timedelta(days=11))

    (proposal,) = _proposals(approval)
    assert proposal.kind == "demotion"


def test_the_dry_run_writes_nothing_in_approval_mode(
    approval, ladder, scores, run, reload, partner, contoso
):
    scores[partner.pk] = Decimal("60")
    scores[contoso.pk] = Decimal("20")
    with tenant_context(approval):
        events_before = OutboxEvent.objects.count()

    preview = run(approval, dry_run=True)

    assert {p.partner_id for p in preview} == {partner.pk, contoso.pk}
    assert all(p.proposal_id is None for p in preview)
    assert _proposals(approval) == []
    assert reload(partner).tier is None and reload(contoso).tier is None
    with tenant_context(approval):
        assert OutboxEvent.objects.count() == events_before
        assert not TierChange.objects.exists()


def test_a_stale_proposal_is_marked_superseded_when_refused(
    approval, ladder, scores, run, reload, partner, tenant_admin
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)
    _in_tier(reload, partner, ladder["silver"])

    # As a page or the API does: the refusal is caught inside the request's transaction.
    with tenant_context(approval, tenant_admin), pytest.raises(ValidationError):
        tier_proposal_decide(actor=tenant_admin, proposal=proposal, approve=True)

    (after,) = _proposals(approval)
    assert after.status == TierProposalStatus.SUPERSEDED
    assert after.decided_by == tenant_admin.user


def test_a_channel_manager_decides_only_proposals_of_assigned_partners(
    approval, ladder, scores, run, partner, tenant, channel_manager
):
    scores[partner.pk] = Decimal("60")
    run(approval)
    (proposal,) = _proposals(approval)
    unassigned = MembershipFactory(tenant=tenant, role="channel_manager")

    with pytest.raises(PermissionDenied):
        _decide(unassigned, proposal, approve=True)
    assert _proposals(approval)[0].status == TierProposalStatus.PENDING

    _decide(channel_manager, proposal, approve=True)  # assigned to Northwind
    assert _proposals(approval)[0].status == TierProposalStatus.APPROVED
