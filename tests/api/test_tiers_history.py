"""/tier-changes/ (the tenant's tier history), /tier-proposals/ (the approval queue, decided
through tier_engine.tier_proposal_decide) and /competencies/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import Competency, Partner
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChange, TierProposal
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold(tenant):
    with tenant_context(tenant):
        return Tier.objects.create(tenant=tenant, rank=3, name="Gold")


def _change(partner, to_tier, *, days_ago=0, kind="promotion"):
    with tenant_context(partner.tenant):
        return TierChange.objects.create(
            tenant=partner.tenant, partner=partner, to_tier=to_tier, kind=kind,
            at=timezone.now() - timedelta(days=days_ago), reason="Met the criteria",
            metrics={"values": {"won_deals_12m": "12"}, "warnings": []},
        )  # fmt: skip


def _proposal(partner, to_tier, *, days_ago=0, status="pending"):
    with tenant_context(partner.tenant):
        return TierProposal.objects.create(
            tenant=partner.tenant, partner=partner, to_tier=to_tier, kind="promotion",
            reason="Meets Gold", status=status,
            created_at=timezone.now() - timedelta(days=days_ago),
            metrics={"values": {"won_deals_12m": "12"}, "warnings": ["an estimate"]},
        )  # fmt: skip


def _ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# ---------------------------------------------------------------- tier changes

CHANGES = "/api/v1/tier-changes/"


def test_staff_read_the_tier_history_newest_first(api_as, tenant_admin, partner, contoso, gold):
    old = _change(partner, gold, days_ago=10)
    new = _change(contoso, gold, days_ago=1)
    client = api_as(tenant_admin)

    assert _ids(client.get(CHANGES)) == [new.pk, old.pk]
    assert _ids(client.get(f"{CHANGES}?partner={partner.pk}")) == [old.pk]
    body = client.get(f"{CHANGES}{old.pk}/").json()
    assert body["partner"]["name"] == "Northwind"
    assert body["to_tier"]["name"] == "Gold" and body["from_tier"] is None
    assert body["metrics"] == {"won_deals_12m": "12"}


def test_channel_managers_read_only_their_partners_tier_history(
    api_as, channel_manager, partner, contoso, gold
):
    mine, theirs = _change(partner, gold), _change(contoso, gold)
    client = api_as(channel_manager)
    assert _ids(client.get(CHANGES)) == [mine.pk]
    assert _ids(client.get(f"{CHANGES}?partner={contoso.pk}")) == []
    assert client.get(f"{CHANGES}{theirs.pk}/").status_code == 404


@pytest.mark.parametrize("actor", ["partner_admin", "partner_rep"])
def test_partner_users_read_their_history_through_their_partner_only(
    api_as, request, partner, gold, actor
):
    _change(partner, gold)
    assert api_as(request.getfixturevalue(actor)).get(CHANGES).status_code == 403


@pytest.mark.parametrize(("query", "field"), [("partner=abc", "partner"), ("kind=x", "kind")])
def test_a_bad_tier_history_filter_answers_400(api_as, tenant_admin, partner, query, field):
    response = api_as(tenant_admin).get(f"{CHANGES}?{query}")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_tier_history_pages_rows_of_one_engine_run(api_as, tenant, tenant_admin, gold):
    # One engine run writes every change with the same timestamp.
    at = timezone.now()
    with tenant_context(tenant):
        partners = [
            Partner.objects.create(tenant=tenant, name=f"P{n:02}", domain=f"p{n}.test")
            for n in range(9)
        ]
        rows = TierChange.objects.bulk_create(
            TierChange(tenant=tenant, partner=p, to_tier=gold, kind="promotion", at=at)
            for p in partners
        )
    client = api_as(tenant_admin)
    seen, url = [], f"{CHANGES}?page_size=4"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted((r.pk for r in rows), reverse=True)


# ---------------------------------------------------------------- tier proposals

PROPOSALS = "/api/v1/tier-proposals/"


def test_the_queue_lists_pending_proposals_oldest_first(
    api_as, tenant_admin, partner, contoso, gold
):
    newer = _proposal(partner, gold, days_ago=1)
    older = _proposal(contoso, gold, days_ago=3)
    _proposal(contoso, gold, days_ago=5, status="rejected")

    rows = api_as(tenant_admin).get(PROPOSALS).json()["results"]

    assert [r["id"] for r in rows] == [older.pk, newer.pk]
    assert rows[0]["metrics"] == {"won_deals_12m": "12"}
    assert rows[0]["warnings"] == ["an estimate"]
    assert rows[0]["status"] == "pending"


def test_approving_a_proposal_changes_the_tier_and_records_it(
    api_as, tenant, channel_manager, partner, gold
):
    proposal = _proposal(partner, gold)

    response = api_as(channel_manager).post(
        f"{PROPOSALS}{proposal.pk}/approve/", {"note": "Well earned"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["decided_by"]["email"] == "manager@acme.test"
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id == gold.pk
        change = TierChange.objects.get(partner=partner)
    assert change.metrics["values"] == {"won_deals_12m": "12"}
    assert "Well earned" in change.reason
    # Decided: out of the queue, and a second decision is refused.
    assert _ids(api_as(channel_manager).get(PROPOSALS)) == []
    again = api_as(channel_manager).post(f"{PROPOSALS}{proposal.pk}/approve/", {}, format="json")
    assert again.status_code == 400


def test_rejecting_needs_a_note_and_keeps_the_tier(api_as, tenant, tenant_admin, partner, gold):
    proposal = _proposal(partner, gold)
    client = api_as(tenant_admin)
    url = f"{PROPOSALS}{proposal.pk}/reject/"

    assert set(client.post(url, {}, format="json").json()["fields"]) == {"note"}
    with tenant_context(tenant):
        assert TierProposal.objects.get(pk=proposal.pk).status == "pending"

    rejected = client.post(url, {"note": "Numbers look off"}, format="json")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected" and rejected.json()["note"] == "Numbers look off"
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id is None
        assert not TierChange.objects.exists()


def test_a_proposal_whose_partner_moved_since_is_refused(
    api_as, tenant, tenant_admin, partner, gold
):
    proposal = _proposal(partner, gold)
    with tenant_context(tenant):
        silver = Tier.objects.create(tenant=tenant, rank=2, name="Silver")
        Partner.objects.filter(pk=partner.pk).update(tier=silver)

    response = api_as(tenant_admin).post(f"{PROPOSALS}{proposal.pk}/approve/", {}, format="json")

    assert response.status_code == 400
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id == silver.pk


def test_a_decision_with_an_unknown_field_answers_400(api_as, tenant, tenant_admin, partner, gold):
    proposal = _proposal(partner, gold)
    response = api_as(tenant_admin).post(
        f"{PROPOSALS}{proposal.pk}/approve/", {"to_tier": 1}, format="json"
    )
    assert set(response.json()["fields"]) == {"to_tier"}
    with tenant_context(tenant):
        assert TierProposal.objects.get(pk=proposal.pk).status == "pending"


def test_channel_managers_decide_only_their_partners_proposals(
    api_as, tenant, channel_manager, contoso, gold
):
    theirs = _proposal(contoso, gold)
    client = api_as(channel_manager)
    assert _ids(client.get(PROPOSALS)) == []
    assert client.get(f"{PROPOSALS}{theirs.pk}/").status_code == 404
    assert client.post(f"{PROPOSALS}{theirs.pk}/approve/", {}, format="json").status_code == 404
    with tenant_context(tenant):
        assert TierProposal.objects.get(pk=theirs.pk).status == "pending"


@pytest.mark.parametrize("actor", ["partner_admin", "partner_rep", "analyst"])
def test_roles_without_the_queue_get_403(api_as, request, tenant, partner, gold, actor):
    proposal = _proposal(partner, gold)
    client = api_as(request.getfixturevalue(actor))
    assert client.get(PROPOSALS).status_code == 403
    assert client.post(f"{PROPOSALS}{proposal.pk}/approve/", {}, format="json").status_code == 403
    with tenant_context(tenant):
        assert TierProposal.objects.get(pk=proposal.pk).status == "pending"


# ---------------------------------------------------------------- competencies

COMPETENCIES = "/api/v1/competencies/"


@pytest.mark.parametrize("actor", ["tenant_admin", "partner_rep", "channel_manager"])
def test_every_member_reads_the_competencies(api_as, request, tenant, actor):
    with tenant_context(tenant):
        Competency.objects.create(tenant=tenant, name="Security")
        Competency.objects.create(tenant=tenant, name="Cloud", description="IaaS and PaaS")
    body = api_as(request.getfixturevalue(actor)).get(COMPETENCIES).json()
    assert [(c["name"], c["description"]) for c in body["results"]] == [
        ("Cloud", "IaaS and PaaS"),
        ("Security", ""),
    ]


def test_competencies_are_the_tenants_own(api_as, tenant, other_tenant, outsider):
    with tenant_context(tenant):
        cloud = Competency.objects.create(tenant=tenant, name="Cloud")
    with tenant_context(other_tenant):
        Competency.objects.create(tenant=other_tenant, name="Retail")
    client = api_as(outsider)
    assert [c["name"] for c in client.get(COMPETENCIES).json()["results"]] == ["Retail"]
    assert client.get(f"{COMPETENCIES}{cloud.pk}/").status_code == 404


def test_a_finance_member_reads_the_history_but_not_the_queue(api_as, tenant, partner, gold):
    finance = MembershipFactory(tenant=tenant, role="finance")
    client = api_as(finance)
    assert client.get(CHANGES).status_code == 200
    assert client.get(PROPOSALS).status_code == 403


def test_money_in_metrics_stays_a_string(api_as, tenant_admin, partner, gold):
    with tenant_context(partner.tenant):
        TierChange.objects.create(
            tenant=partner.tenant, partner=partner, to_tier=gold, kind="manual",
            metrics={"values": {"won_revenue_12m": str(Decimal("1234.50"))}},
        )  # fmt: skip
    (row,) = api_as(tenant_admin).get(CHANGES).json()["results"]
    assert row["metrics"] == {"won_revenue_12m": "1234.50"} and row["warnings"] == []
