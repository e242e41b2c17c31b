"""The staff console's tier approval queue: who sees and decides which proposals."""

from __future__ import annotations

import pytest

from partners.models import Partner
from partners.tenancy import tenant_context
from partners.tiers import TierChange, TierProposal, TierProposalStatus
from tests.tier_queue.conftest import make_proposal

pytestmark = pytest.mark.django_db

QUEUE = "/t/acme/console/tiers/proposals/"
PENDING = TierProposalStatus.PENDING


def _approve_url(proposal):
    return f"{QUEUE}{proposal.pk}/approve/"


def _reject_url(proposal):
    return f"{QUEUE}{proposal.pk}/reject/"


def _tier_of(partner):
    with tenant_context(partner.tenant):
        return Partner.objects.get(pk=partner.pk).tier_id


def _changes(tenant):
    with tenant_context(tenant):
        return TierChange.objects.count()


# ---------------------------------------------------------------- the list


def test_a_tenant_admin_sees_every_pending_proposal_with_its_evidence(
    login, tenant_admin, northwind_proposal, contoso_proposal
):
    response = login(tenant_admin).get(QUEUE)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Northwind" in content and "Contoso" in content
    assert "Gold" in content and "Silver" in content
    assert "Promoted: meets the criteria of Gold." in content
    assert "Active partner users" in content or "active_partner_users" in content
    assert [row.proposal.pk for row in response.context["rows"]] == [
        northwind_proposal.pk,
        contoso_proposal.pk,
    ]


def test_a_channel_manager_sees_only_the_proposals_of_assigned_partners(
    login, channel_manager, northwind_proposal, contoso_proposal
):
    response = login(channel_manager).get(QUEUE)

    assert response.status_code == 200
    assert [row.proposal.pk for row in response.context["rows"]] == [northwind_proposal.pk]
    assert b"Contoso" not in response.content


def test_recently_decided_proposals_are_listed_below(
    login, tenant_admin, northwind_proposal, contoso_proposal
):
    client = login(tenant_admin)
    client.post(_reject_url(contoso_proposal), {"note": "Not this quarter."})

    response = client.get(QUEUE)

    assert [p.pk for p in response.context["decided"]] == [contoso_proposal.pk]
    assert b"Not this quarter." in response.content


def test_the_queue_says_when_changes_apply_automatically(login, tenant_admin, tenant):
    response = login(tenant_admin).get(QUEUE)
    assert response.status_code == 200
    assert b"apply automatically" in response.content


# ---------------------------------------------------------------- deciding one


def test_approving_applies_the_change(login, tenant_admin, northwind_proposal, partner, gold):
    response = login(tenant_admin).post(_approve_url(northwind_proposal))

    assert response.status_code == 302
    assert response["Location"].endswith("/console/tiers/proposals/")
    assert _tier_of(partner) == gold.pk
    with tenant_context(partner.tenant):
        change = TierChange.objects.get(partner=partner)
        proposal = TierProposal.objects.get(pk=northwind_proposal.pk)
    assert proposal.status == TierProposalStatus.APPROVED and proposal.change_id == change.pk
    assert change.metrics["values"] == {"active_partner_users": "60"}


def test_an_assigned_manager_decides_their_partners_proposal(
    login, channel_manager, northwind_proposal, partner, gold
):
    response = login(channel_manager).post(_approve_url(northwind_proposal))
    assert response.status_code == 302
    assert _tier_of(partner) == gold.pk


def test_a_rejection_without_a_note_is_a_form_error(
    login, tenant_admin, northwind_proposal, partner, status_of
):
    response = login(tenant_admin).post(_reject_url(northwind_proposal), {"note": "  "})

    assert response.status_code == 400
    (row,) = [r for r in response.context["rows"] if r.proposal.pk == northwind_proposal.pk]
    assert "note" in row.reject_form.errors
    assert status_of(northwind_proposal) == PENDING
    assert _tier_of(partner) is None


def test_a_rejection_with_a_note_is_kept(login, tenant_admin, northwind_proposal, status_of):
    response = login(tenant_admin).post(
        _reject_url(northwind_proposal), {"note": "Wait for the audit."}
    )

    assert response.status_code == 302
    assert status_of(northwind_proposal) == TierProposalStatus.REJECTED
    with tenant_context(northwind_proposal.tenant):
        assert TierProposal.objects.get(pk=northwind_proposal.pk).note == "Wait for the audit."


def test_a_stale_proposal_is_refused_with_a_message(
    login, tenant_admin, northwind_proposal, partner, silver
):
    with tenant_context(partner.tenant):
        Partner.objects.filter(pk=partner.pk).update(tier=silver)

    response = login(tenant_admin).post(_approve_url(northwind_proposal))

    assert response.status_code == 400
    assert b"changed since this was proposed" in response.content
    assert _tier_of(partner) == silver.pk
    assert _changes(partner.tenant) == 0


def test_a_decided_proposal_cannot_be_approved_again(
    login, tenant_admin, northwind_proposal, partner
):
    client = login(tenant_admin)
    client.post(_reject_url(northwind_proposal), {"note": "No."})

    response = client.post(_approve_url(northwind_proposal))

    assert response.status_code == 400
    assert _tier_of(partner) is None


def test_deciding_answers_only_post(login, tenant_admin, northwind_proposal):
    client = login(tenant_admin)
    assert client.get(_approve_url(northwind_proposal)).status_code == 405
    assert client.get(_reject_url(northwind_proposal)).status_code == 405
    assert client.post(QUEUE).status_code == 405


# ---------------------------------------------------------------- bulk approval


def test_bulk_approval_applies_every_selected_proposal(
    login, tenant_admin, northwind_proposal, contoso_proposal, partner, contoso, gold, silver
):
    response = login(tenant_admin).post(
        f"{QUEUE}approve/", {"proposal_ids": [northwind_proposal.pk, contoso_proposal.pk]}
    )

    assert response.status_code == 302
    assert (_tier_of(partner), _tier_of(contoso)) == (gold.pk, silver.pk)
    assert _changes(partner.tenant) == 2


@pytest.mark.parametrize("ids", [[], ["abc"], ["-1"]])
def test_bulk_approval_of_nothing_or_garbage_is_a_400(
    login, tenant_admin, northwind_proposal, partner, ids
):
    response = login(tenant_admin).post(f"{QUEUE}approve/", {"proposal_ids": ids})

    assert response.status_code == 400
    assert "proposal_ids" in response.context["bulk_form"].errors
    assert _tier_of(partner) is None


def test_a_manager_cannot_bulk_approve_a_proposal_not_theirs(
    login, channel_manager, northwind_proposal, contoso_proposal, partner, contoso, status_of
):
    response = login(channel_manager).post(
        f"{QUEUE}approve/", {"proposal_ids": [northwind_proposal.pk, contoso_proposal.pk]}
    )

    assert response.status_code == 400
    # All or nothing: not even the assigned partner's proposal was approved.
    assert status_of(northwind_proposal) == status_of(contoso_proposal) == PENDING
    assert (_tier_of(partner), _tier_of(contoso)) == (None, None)


# ---------------------------------------------------------------- isolation


def test_an_unassigned_manager_neither_sees_nor_decides_a_proposal(
    login, other_manager, northwind_proposal, partner, status_of
):
    client = login(other_manager)

    assert client.get(QUEUE).context["rows"] == []
    assert client.post(_approve_url(northwind_proposal)).status_code == 404
    assert client.post(_reject_url(northwind_proposal), {"note": "No."}).status_code == 404
    assert status_of(northwind_proposal) == PENDING
    assert _tier_of(partner) is None


def test_a_member_of_another_tenant_gets_404(login, outsider, northwind_proposal, status_of):
    client = login(outsider)

    assert client.get(QUEUE).status_code == 404
    assert client.post(_approve_url(northwind_proposal)).status_code == 404
    assert client.post(_reject_url(northwind_proposal), {"note": "No."}).status_code == 404
    assert (
        client.post(f"{QUEUE}approve/", {"proposal_ids": [northwind_proposal.pk]}).status_code
        == 404
    )
    assert status_of(northwind_proposal) == PENDING


def test_another_tenants_proposal_is_a_404_for_a_tenant_admin(
    login, tenant_admin, other_tenant, status_of
):
    from tests.factories import PartnerFactory
    from tests.tier_queue.conftest import Tier

    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    with tenant_context(other_tenant):
        elite = Tier.objects.create(tenant=other_tenant, rank=1, name="Elite")
    theirs = make_proposal(umbrella, elite)
    client = login(tenant_admin)

    assert client.post(_approve_url(theirs)).status_code == 404
    assert client.post(_reject_url(theirs), {"note": "No."}).status_code == 404
    assert b"Umbrella" not in client.get(QUEUE).content
    assert status_of(theirs) == PENDING


@pytest.mark.parametrize("who", ["partner_admin", "partner_rep", "contoso_admin"])
def test_partner_users_cannot_open_the_queue(request, login, who, northwind_proposal, status_of):
    client = login(request.getfixturevalue(who))

    assert client.get(QUEUE).status_code == 403
    assert client.post(_approve_url(northwind_proposal)).status_code == 403
    assert status_of(northwind_proposal) == PENDING


def test_the_queue_is_in_the_navigation_of_those_who_decide(
    login, tenant_admin, channel_manager, partner_admin, tenant
):
    link = b'href="/t/acme/console/tiers/proposals/"'
    assert link in login(tenant_admin).get("/t/acme/console/").content
    assert link in login(channel_manager).get("/t/acme/console/").content
    assert link not in login(partner_admin).get("/t/acme/portal/").content
