"""The lifecycle is an explicit state machine: every legal move works and is on the timeline,
every illegal one is refused with InvalidTransition and changes nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from deals import services
from deals.models import Deal, DealStatus, DealTransition
from deals.services import InvalidTransition
from partners.models import OutboxEvent
from partners.tenancy import tenant_context
from tests.deals.factories import DealFactory

pytestmark = pytest.mark.django_db

S = DealStatus
# The lifecycle of issue 3, written out rather than read from the code under test.
LEGAL = {
    (S.DRAFT, S.SUBMITTED),
    (S.SUBMITTED, S.APPROVED),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.MORE_INFO),
    (S.MORE_INFO, S.SUBMITTED),
    (S.APPROVED, S.WON),
    (S.APPROVED, S.LOST),
    (S.APPROVED, S.EXPIRED),
}
ALL_PAIRS = list(itertools.product(S.values, S.values))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]
# Who moves a deal to each status: the partner's rep, or the vendor's reviewer.
REVIEWER_MOVES = {S.APPROVED, S.REJECTED, S.MORE_INFO}


def _pair_id(pair):
    return f"{pair[0]}->{pair[1]}"


def _snapshot(deal: Deal) -> dict:
    with tenant_context(deal.tenant):
        row = Deal.objects.get(pk=deal.pk)
        return {
            "status": row.status,
            "updated_at": row.updated_at,
            "decided_at": row.decided_at,
            "decided_by": row.decided_by_id,
            "protection_ends_at": row.protection_ends_at,
            "won_amount": row.won_amount,
            "closed_on": row.closed_on,
            "lost_reason": row.lost_reason_id,
            "transitions": DealTransition.objects.filter(deal=deal).count(),
            "events": OutboxEvent.objects.count(),
        }


def _move(deal, to_status, *, rep, manager, lost_reason):
    """Ask the services to move ``deal`` to ``to_status`` the way the pages and API do."""
    actor = manager if to_status in REVIEWER_MOVES else rep
    with tenant_context(actor.tenant, actor):
        return services.deal_transition(
            actor=actor,
            deal=deal,
            to_status=to_status,
            comment="Because the customer asked.",
            final_amount=Decimal("2500.00"),
            closed_on=timezone.localdate(),
            lost_reason=lost_reason,
        )


def test_the_table_covers_every_status_pair():
    assert len(ALL_PAIRS) == 64
    assert len(LEGAL) + len(ILLEGAL) == 64
    assert {(a, b) for a, targets in services.TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize("pair", sorted(LEGAL - {(S.APPROVED, S.EXPIRED)}), ids=_pair_id)
def test_each_legal_transition_moves_the_deal_and_is_on_the_timeline(
    pair, partner_rep, channel_manager, lost_reason
):
    from_status, to_status = pair
    deal = DealFactory(actor=partner_rep, status=from_status)
    before = _snapshot(deal)
    started = timezone.now()

    moved = _move(
        deal, to_status, rep=partner_rep, manager=channel_manager, lost_reason=lost_reason
    )

    assert moved.status == to_status
    after = _snapshot(deal)
    assert after["status"] == to_status
    assert after["transitions"] == before["transitions"] + 1
    assert after["events"] == before["events"] + 1
    with tenant_context(deal.tenant):
        last = DealTransition.objects.filter(deal=deal).order_by("-at", "-id").first()
        event = OutboxEvent.objects.order_by("-id").first()
    expected_actor = channel_manager if to_status in REVIEWER_MOVES else partner_rep
    assert (last.from_status, last.to_status) == (from_status, to_status)
    assert last.actor_id == expected_actor.user_id
    assert last.automatic is False
    assert started <= last.at <= timezone.now()
    expected_comment = "" if to_status == S.WON else "Because the customer asked."
    assert last.comment == expected_comment
    assert event.name == f"deal.{to_status}"
    assert event.payload["deal_id"] == deal.pk


def test_approved_to_expired_is_the_expiry_jobs_move(partner_rep, tenant):
    deal = DealFactory(actor=partner_rep, status=S.APPROVED)
    before = _snapshot(deal)

    with tenant_context(tenant):
        expired = services.deals_expire_due(now=deal.protection_ends_at + timedelta(seconds=1))
        last = DealTransition.objects.filter(deal=deal).order_by("-at", "-id").first()

    assert expired == 1
    after = _snapshot(deal)
    assert after["status"] == S.EXPIRED
    assert after["transitions"] == before["transitions"] + 1
    assert (last.from_status, last.to_status, last.actor_id, last.automatic) == (
        S.APPROVED,
        S.EXPIRED,
        None,
        True,
    )
    assert last.comment


@pytest.mark.parametrize("pair", ILLEGAL, ids=_pair_id)
def test_each_illegal_transition_is_refused_and_changes_nothing(
    pair, partner_rep, channel_manager, lost_reason
):
    from_status, to_status = pair
    deal = DealFactory(actor=partner_rep, status=from_status)
    before = _snapshot(deal)

    with pytest.raises(InvalidTransition) as refused:
        _move(deal, to_status, rep=partner_rep, manager=channel_manager, lost_reason=lost_reason)

    assert refused.value.messages  # a sentence the page or the API can show
    assert _snapshot(deal) == before


@pytest.mark.parametrize("from_status", [s for s in S.values if s != S.APPROVED])
def test_the_expiry_job_never_expires_a_deal_that_is_not_approved(from_status, partner_rep, tenant):
    deal = DealFactory(actor=partner_rep, status=from_status)
    before = _snapshot(deal)

    with tenant_context(tenant):
        services.deals_expire_due(now=timezone.now() + timedelta(days=3650))

    assert _snapshot(deal) == before


def test_the_refusal_says_which_move_is_not_allowed(partner_rep, channel_manager):
    deal = DealFactory(actor=partner_rep, status=S.WON)

    with (
        pytest.raises(InvalidTransition, match="won cannot become approved"),
        tenant_context(channel_manager.tenant, channel_manager),
    ):
        services.deal_approve(actor=channel_manager, deal=deal)


def test_the_timeline_of_a_full_journey_records_who_when_from_to_and_why(
    partner_rep, channel_manager, tenant, act
):
    deal = DealFactory(actor=partner_rep)
    act(partner_rep, services.deal_submit, deal=deal)
    act(channel_manager, services.deal_request_info, deal=deal, question="Who is the buyer?")
    act(partner_rep, services.deal_submit, deal=deal, comment="The CFO, Dana Whitfield.")
    act(channel_manager, services.deal_approve, deal=deal, comment="Looks good.")
    act(
        partner_rep,
        services.deal_mark_won,
        deal=deal,
        final_amount=Decimal("900.50"),
        closed_on=timezone.localdate(),
    )

    with tenant_context(tenant):
        timeline = list(DealTransition.objects.filter(deal=deal).order_by("at", "id"))
    rep, manager = partner_rep.user_id, channel_manager.user_id
    assert [(t.from_status, t.to_status, t.actor_id, t.comment) for t in timeline] == [
        ("", S.DRAFT, rep, ""),
        (S.DRAFT, S.SUBMITTED, rep, ""),
        (S.SUBMITTED, S.MORE_INFO, manager, "Who is the buyer?"),
        (S.MORE_INFO, S.SUBMITTED, rep, "The CFO, Dana Whitfield."),
        (S.SUBMITTED, S.APPROVED, manager, "Looks good."),
        (S.APPROVED, S.WON, rep, ""),
    ]
    times = [t.at for t in timeline]
    assert times == sorted(times)
    assert not any(t.automatic for t in timeline)
