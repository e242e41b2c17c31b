"""The lists and figures under one partner: status history, tier history, metrics and
tier progress, people. Each is read through the partner, so whoever cannot see the partner
gets 404."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from partners import metrics, services
from partners.tenancy import tenant_context
from partners.tier_engine import tier_pin
from partners.tiers import Tier, TierCriterion
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"
SCORE = "api_test_score"


@pytest.fixture
def scores():
    """``scores[partner.pk] = Decimal(...)``: the values of the ``api_test_score`` metric."""
    values: dict[int, Decimal] = {}

    def compute(tenant, now, partner_ids=None):
        return metrics.MetricResult(
            values={k: v for k, v in values.items() if partner_ids is None or k in partner_ids},
            warnings={
                k: ["an estimate"] for k in values if partner_ids is None or k in partner_ids
            },
        )

    metrics.register(SCORE, "API test score", compute)
    yield values
    metrics.unregister(SCORE)


@pytest.fixture
def ladder(tenant, scores):
    with tenant_context(tenant):
        silver = Tier.objects.create(tenant=tenant, rank=2, name="Silver")
        gold = Tier.objects.create(tenant=tenant, rank=3, name="Gold")
        TierCriterion.objects.create(
            tenant=tenant, tier=gold, metric=SCORE, operator=">=", threshold=Decimal("50")
        )
    return {"silver": silver, "gold": gold}


def _results(response):
    assert response.status_code == 200, response.json()
    return response.json()["results"]


# ---------------------------------------------------------------- status history


def test_staff_read_the_status_history_newest_first(api_as, tenant, tenant_admin, partner):
    with tenant_context(tenant, tenant_admin):
        suspended = services.partner_suspend(actor=tenant_admin, partner=partner, reason="Unpaid")
        services.partner_reactivate(actor=tenant_admin, partner=suspended)

    rows = _results(api_as(tenant_admin).get(f"{URL}{partner.pk}/status-history/"))

    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        ("suspended", "active"),
        ("active", "suspended"),
    ]
    assert rows[1]["reason"] == "Unpaid"
    assert rows[1]["changed_by"]["email"] == "admin@acme.test"


def test_the_status_history_pages(api_as, tenant, tenant_admin, partner):
    with tenant_context(tenant, tenant_admin):
        for n in range(3):
            suspended = services.partner_suspend(
                actor=tenant_admin, partner=partner, reason=f"#{n}"
            )
            services.partner_reactivate(actor=tenant_admin, partner=suspended)
    client = api_as(tenant_admin)
    first = client.get(f"{URL}{partner.pk}/status-history/?page_size=4").json()
    second = client.get(first["next"]).json()
    assert len(first["results"]) == 4 and len(second["results"]) == 2
    assert second["next"] is None


@pytest.mark.parametrize("actor", ["partner_admin", "partner_rep"])
def test_partner_users_do_not_read_the_status_history(api_as, request, partner, actor):
    response = api_as(request.getfixturevalue(actor)).get(f"{URL}{partner.pk}/status-history/")
    assert response.status_code == 403


# ---------------------------------------------------------------- tier history


def test_the_tier_history_holds_from_to_kind_reason_and_metrics(
    api_as, tenant, tenant_admin, partner_admin, partner, ladder
):
    with tenant_context(tenant):
        tier_pin(partner=partner, tier=ladder["gold"], until=date.today() + timedelta(days=30))

    for client in (api_as(tenant_admin), api_as(partner_admin)):
        rows = _results(client.get(f"{URL}{partner.pk}/tier-history/"))
        assert len(rows) == 1
        row = rows[0]
        assert row["partner"]["id"] == partner.pk
        assert row["from_tier"] is None
        assert row["to_tier"] == {"id": ladder["gold"].pk, "rank": 3, "name": "Gold"}
        assert row["kind"] == "pin"
        assert "Pinned until" in row["reason"]
        assert row["metrics"] == {} and row["warnings"] == []


def test_the_tier_history_shows_the_deciding_metric_values(
    api_as, tenant, tenant_admin, partner, ladder, scores
):
    from partners.tier_engine import tiers_evaluate

    scores[partner.pk] = Decimal("75")
    tiers_evaluate(tenant=tenant, dry_run=False)

    (row,) = _results(api_as(tenant_admin).get(f"{URL}{partner.pk}/tier-history/"))
    assert row["kind"] == "promotion"
    assert row["to_tier"]["name"] == "Gold"
    assert row["metrics"] == {SCORE: "75"}
    assert row["warnings"] == ["an estimate"]


# ---------------------------------------------------------------- metrics and progress


def test_metrics_list_every_registered_metric_and_the_progress_to_the_next_tier(
    api_as, tenant, partner_rep, partner_admin, partner, ladder, scores
):
    scores[partner.pk] = Decimal("20.5")
    with tenant_context(tenant):
        partner.tier = ladder["silver"]
        partner.save()

    body = api_as(partner_rep).get(f"{URL}{partner.pk}/metrics/").json()

    values = {m["key"]: m for m in body["metrics"]}
    assert set(values) == {m.key for m in metrics.all_metrics()}
    assert values[SCORE] == {"key": SCORE, "label": "API test score", "unit": "", "value": "20.5"}
    assert values["active_partner_users"]["value"] == "2"  # the admin and the rep
    assert body["warnings"] == ["an estimate"]
    progress = body["progress"]
    assert progress["tier"]["name"] == "Silver"
    assert progress["next_tier"]["name"] == "Gold"
    assert progress["criteria"] == [
        {
            "metric": SCORE,
            "label": "API test score",
            "unit": "",
            "operator": ">=",
            "threshold": "50.0000",
            "value": "20.5",
            "met": False,
            "missing": "29.5000",
        }
    ]


def test_metrics_of_a_partner_at_the_top_have_no_next_tier(
    api_as, tenant, tenant_admin, partner, ladder
):
    with tenant_context(tenant):
        partner.tier = ladder["gold"]
        partner.save()
    progress = api_as(tenant_admin).get(f"{URL}{partner.pk}/metrics/").json()["progress"]
    assert progress["next_tier"] is None and progress["criteria"] == []


def test_every_staff_role_reads_a_partners_metrics(api_as, tenant, partner):
    member = MembershipFactory(tenant=tenant, role="marketing")
    assert api_as(member).get(f"{URL}{partner.pk}/metrics/").status_code == 200


# ---------------------------------------------------------------- people


def test_staff_and_the_partners_own_users_read_its_people(
    api_as, tenant_admin, partner_admin, partner_rep, contoso_admin, partner
):
    expected = sorted([partner_admin.pk, partner_rep.pk])
    for member in (tenant_admin, partner_admin, partner_rep):
        rows = _results(api_as(member).get(f"{URL}{partner.pk}/people/"))
        assert [r["id"] for r in rows] == expected
        assert {r["partner"]["id"] for r in rows} == {partner.pk}


def test_a_role_without_people_reads_gets_403(api_as, tenant, partner):
    marketing = MembershipFactory(tenant=tenant, role="marketing")
    assert api_as(marketing).get(f"{URL}{partner.pk}/people/").status_code == 403
