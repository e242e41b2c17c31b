"""/tiers/: every member reads the ladder; tenant admins write it through
partners.tier_services, criteria checked against the metric registry; /tiers/evaluate/ runs
the engine or previews it."""

from decimal import Decimal

import pytest

from partners import metrics
from partners.models import OutboxEvent, Partner
from partners.tenancy import tenant_context
from partners.tiers import APPROVAL_SETTING, Tier, TierChange, TierCriterion, TierProposal
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/tiers/"
SCORE = "api_tier_score"
RATE = "api_tier_rate"


@pytest.fixture
def scores():
    values: dict[int, Decimal] = {}

    def compute(tenant, now, partner_ids=None):
        return metrics.MetricResult(
            values={k: v for k, v in values.items() if partner_ids is None or k in partner_ids}
        )

    metrics.register(SCORE, "API tier score", compute)
    metrics.register(
        RATE, "API tier rate", lambda *a: metrics.MetricResult(values={}), unit="fraction"
    )
    yield values
    metrics.unregister(SCORE)
    metrics.unregister(RATE)


def make_tier(tenant, rank, name, criteria=(), **benefits):
    with tenant_context(tenant):
        tier = Tier.objects.create(tenant=tenant, rank=rank, name=name, **benefits)
        for metric, operator, threshold in criteria:
            TierCriterion.objects.create(
                tenant=tenant, tier=tier, metric=metric, operator=operator,
                threshold=Decimal(threshold),
            )  # fmt: skip
        return tier


@pytest.fixture
def ladder(tenant, scores):
    return {
        "registered": make_tier(tenant, 1, "Registered"),
        "gold": make_tier(
            tenant, 3, "Gold", [(SCORE, ">=", "50")], deal_protection_days=120,
            mdf_allowance=Decimal("5000"),
        ),
    }  # fmt: skip


def _snapshot(tenant):
    """Every tier with its criteria, to show a refused write changed nothing."""
    with tenant_context(tenant):
        return sorted(
            (t.rank, t.name, t.description, t.mdf_allowance,
             sorted((c.metric, c.operator, c.threshold) for c in t.criteria.all()))
            for t in Tier.objects.prefetch_related("criteria")
        )  # fmt: skip


def _fields(response):
    assert response.status_code == 400, response.json()
    return set(response.json()["fields"])


# ---------------------------------------------------------------- read


@pytest.mark.parametrize(
    "actor", ["tenant_admin", "channel_manager", "partner_admin", "partner_rep", "analyst"]
)
def test_every_member_reads_the_ladder_best_first(api_as, request, ladder, actor):
    body = api_as(request.getfixturevalue(actor)).get(URL).json()
    assert [t["name"] for t in body["results"]] == ["Gold", "Registered"]
    gold = body["results"][0]
    assert gold["criteria"] == [
        {
            "id": gold["criteria"][0]["id"],
            "metric": SCORE,
            "label": "API tier score",
            "unit": "",
            "operator": ">=",
            "threshold": "50.0000",
        }
    ]
    assert gold["deal_protection_days"] == 120
    assert gold["mdf_allowance"] == "5000.00"
    assert gold["commission_multiplier"] == "1.000"


def test_another_tenants_member_sees_only_their_own_tiers(api_as, outsider, other_tenant, ladder):
    make_tier(other_tenant, 1, "Bronze")
    client = api_as(outsider)
    assert [t["name"] for t in client.get(URL).json()["results"]] == ["Bronze"]
    assert client.get(f"{URL}{ladder['gold'].pk}/").status_code == 404


def test_the_metric_registry_is_listed(api_as, partner_rep, scores):
    rows = api_as(partner_rep).get(f"{URL}metrics/").json()
    by_key = {r["key"]: r for r in rows}
    assert by_key[RATE] == {"key": RATE, "label": "API tier rate", "unit": "fraction"}
    assert "active_partner_users" in by_key


# ---------------------------------------------------------------- create


def test_tenant_admins_add_a_tier_with_criteria(api_as, tenant, tenant_admin, scores):
    body = {
        "rank": 2,
        "name": " Silver ",
        "description": "Growing partners",
        "criteria": [
            {"metric": SCORE, "operator": ">=", "threshold": "10"},
            {"metric": RATE, "operator": ">", "threshold": "0.5"},
        ],
        "deal_protection_days": 90,
        "auto_approve_max_total": "25000.00",
        "commission_multiplier": "1.1",
        "lead_routing_priority": 5,
    }

    response = api_as(tenant_admin).post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["name"] == "Silver"
    assert [(c["metric"], c["operator"], c["threshold"]) for c in created["criteria"]] == [
        (SCORE, ">=", "10.0000"),
        (RATE, ">", "0.5000"),
    ]
    assert created["commission_multiplier"] == "1.100"
    with tenant_context(tenant):
        assert OutboxEvent.objects.filter(name="tier.created").count() == 1


def test_a_tier_without_criteria_is_an_entry_tier(api_as, tenant_admin):
    response = api_as(tenant_admin).post(URL, {"rank": 0, "name": "Registered"}, format="json")
    assert response.status_code == 201
    assert response.json()["criteria"] == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "Silver"}, {"rank"}),
        ({"rank": 2}, {"name"}),
        ({"rank": -1, "name": "Silver"}, {"rank"}),
        ({"rank": 3, "name": "Silver"}, {"rank"}),
        ({"rank": 2, "name": "gold"}, {"name"}),
        ({"rank": 2, "name": "Silver", "mdf_allowance": "-5"}, {"mdf_allowance"}),
        ({"rank": 2, "name": "Silver", "deal_protection_days": 0}, {"deal_protection_days"}),
        ({"rank": 2, "name": "Silver", "commission_multiplier": "-1"}, {"commission_multiplier"}),
        ({"rank": 2, "name": "Silver", "partners": []}, {"partners"}),
        ({"rank": 2, "name": "Silver", "criteria": "many"}, {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": "karma", "threshold": "1"}]},
         {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": "", "threshold": "1"}]},
         {"criteria"}),
        ({"rank": 2, "name": "Silver",
          "criteria": [{"metric": SCORE, "operator": "~=", "threshold": "1"}]}, {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": SCORE, "threshold": "-1"}]},
         {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": SCORE, "threshold": "lots"}]},
         {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": SCORE}]}, {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [{"metric": RATE, "threshold": "80"}]},
         {"criteria"}),
        ({"rank": 2, "name": "Silver", "criteria": [
            {"metric": SCORE, "threshold": "1"}, {"metric": SCORE, "threshold": "2"}]},
         {"criteria"}),
    ],
)  # fmt: skip
def test_bad_tiers_answer_400_naming_the_field_and_write_nothing(
    api_as, tenant, tenant_admin, ladder, body, fields
):
    before = _snapshot(tenant)
    assert _fields(api_as(tenant_admin).post(URL, body, format="json")) == fields
    assert _snapshot(tenant) == before


def test_an_unknown_metric_is_named_in_the_message(api_as, tenant_admin, scores):
    body = {
        "rank": 2,
        "name": "Silver",
        "criteria": [
            {"metric": SCORE, "threshold": "1"},
            {"metric": "karma", "threshold": "1"},
        ],
    }
    response = api_as(tenant_admin).post(URL, body, format="json")
    assert response.json()["fields"]["criteria"] == ["Criterion 2: karma is not a known metric."]


@pytest.mark.parametrize("actor", ["channel_manager", "analyst", "partner_admin"])
def test_only_tenant_admins_write_tiers(api_as, request, tenant, ladder, actor):
    client = api_as(request.getfixturevalue(actor))
    before = _snapshot(tenant)
    gold = ladder["gold"].pk
    assert client.post(URL, {"rank": 2, "name": "Silver"}, format="json").status_code == 403
    assert client.patch(f"{URL}{gold}/", {"name": "Au"}, format="json").status_code == 403
    assert client.delete(f"{URL}{gold}/").status_code == 403
    assert client.post(f"{URL}evaluate/", {}, format="json").status_code == 403
    assert _snapshot(tenant) == before


# ---------------------------------------------------------------- change and delete


def test_a_change_keeps_the_criteria_unless_it_sends_them(api_as, tenant, tenant_admin, ladder):
    client = api_as(tenant_admin)
    url = f"{URL}{ladder['gold'].pk}/"

    renamed = client.patch(url, {"name": "Platinum", "mdf_allowance": None}, format="json")
    assert renamed.status_code == 200, renamed.json()
    assert renamed.json()["name"] == "Platinum" and renamed.json()["mdf_allowance"] is None
    assert len(renamed.json()["criteria"]) == 1

    replaced = client.patch(
        url, {"criteria": [{"metric": SCORE, "operator": ">", "threshold": "75"}]}, format="json"
    )
    assert [(c["operator"], c["threshold"]) for c in replaced.json()["criteria"]] == [
        (">", "75.0000")
    ]
    cleared = client.patch(url, {"criteria": []}, format="json")
    assert cleared.json()["criteria"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"rank": 1}, "rank"),
        ({"name": "REGISTERED"}, "name"),
        ({"criteria": [{"metric": "karma", "threshold": "1"}]}, "criteria"),
        ({"criteria": [{"metric": SCORE}]}, "criteria"),
        ({"criteria": [{"threshold": "3"}]}, "criteria"),
        ({"criteria": [{"metric": SCORE, "threshold": "1", "operator": "!"}]}, "criteria"),
    ],
)
def test_a_bad_change_answers_400_and_changes_nothing(
    api_as, tenant, tenant_admin, ladder, body, field
):
    before = _snapshot(tenant)
    response = api_as(tenant_admin).patch(f"{URL}{ladder['gold'].pk}/", body, format="json")
    assert _fields(response) == {field}
    assert _snapshot(tenant) == before


def test_a_tier_nobody_holds_is_deleted(api_as, tenant, tenant_admin, ladder):
    response = api_as(tenant_admin).delete(f"{URL}{ladder['gold'].pk}/")
    assert response.status_code == 204
    with tenant_context(tenant):
        assert not Tier.objects.filter(pk=ladder["gold"].pk).exists()
        assert not TierCriterion.objects.filter(tier_id=ladder["gold"].pk).exists()


def test_a_tier_partners_hold_is_not_deleted(api_as, tenant, tenant_admin, partner, ladder):
    with tenant_context(tenant):
        Partner.objects.filter(pk=partner.pk).update(tier=ladder["gold"])
    response = api_as(tenant_admin).delete(f"{URL}{ladder['gold'].pk}/")
    assert response.status_code == 400
    assert "1 partners are in this tier" in response.json()["message"]
    with tenant_context(tenant):
        assert Tier.objects.filter(pk=ladder["gold"].pk).exists()


# ---------------------------------------------------------------- the engine


def test_the_dry_run_says_what_would_change_and_writes_nothing(
    api_as, tenant, tenant_admin, partner, ladder, scores
):
    scores[partner.pk] = Decimal("60")

    response = api_as(tenant_admin).post(f"{URL}evaluate/", {"dry_run": True}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dry_run"] is True and body["changes_need_approval"] is False
    (change,) = body["changes"]
    assert change["partner"] == {"id": partner.pk, "name": "Northwind"}
    assert change["from_tier"] is None
    assert change["to_tier"]["name"] == "Gold"
    assert change["kind"] == "promotion"
    assert change["metrics"] == {SCORE: "60"}
    assert change["change"] is None
    assert "Gold" in change["reason"]
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id is None
        assert not TierChange.objects.exists()


def test_the_default_is_a_dry_run(api_as, tenant, tenant_admin, partner, ladder, scores):
    body = api_as(tenant_admin).post(f"{URL}evaluate/", {}, format="json").json()
    assert body["dry_run"] is True
    with tenant_context(tenant):
        assert not TierChange.objects.exists()


def test_running_the_engine_applies_and_records_the_changes(
    api_as, tenant, tenant_admin, partner, contoso, ladder, scores
):
    scores[partner.pk] = Decimal("60")

    body = api_as(tenant_admin).post(f"{URL}evaluate/", {"dry_run": False}, format="json").json()

    by_partner = {c["partner"]["name"]: c for c in body["changes"]}
    assert by_partner["Northwind"]["to_tier"]["name"] == "Gold"
    assert by_partner["Contoso"]["to_tier"]["name"] == "Registered"
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id == ladder["gold"].pk
        change = TierChange.objects.get(partner=partner)
    assert by_partner["Northwind"]["change"] == change.pk


def test_with_approval_the_engine_leaves_proposals(
    api_as, tenant, tenant_admin, partner, ladder, scores
):
    tenant.settings = {APPROVAL_SETTING: True}
    tenant.save()
    scores[partner.pk] = Decimal("60")

    body = api_as(tenant_admin).post(f"{URL}evaluate/", {"dry_run": False}, format="json").json()

    assert body["changes_need_approval"] is True
    (change,) = body["changes"]
    assert change["change"] is None and change["proposal"] is not None
    with tenant_context(tenant):
        assert TierProposal.objects.get(pk=change["proposal"]).partner_id == partner.pk
        assert Partner.objects.get(pk=partner.pk).tier_id is None


@pytest.mark.parametrize(
    ("body", "field"), [({"dry_run": "perhaps"}, "dry_run"), ({"now": "2020-01-01"}, "now")]
)
def test_bad_input_to_the_engine_answers_400(api_as, tenant, tenant_admin, ladder, body, field):
    response = api_as(tenant_admin).post(f"{URL}evaluate/", body, format="json")
    assert _fields(response) == {field}


def test_another_tenants_partners_never_take_part(
    api_as, tenant, other_tenant, tenant_admin, ladder, scores
):
    umbrella = PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")
    scores[umbrella.pk] = Decimal("99")
    body = api_as(tenant_admin).post(f"{URL}evaluate/", {}, format="json").json()
    assert umbrella.pk not in {c["partner"]["id"] for c in body["changes"]}


def test_a_finance_member_reads_but_does_not_run_the_engine(api_as, tenant, ladder):
    finance = MembershipFactory(tenant=tenant, role="finance")
    client = api_as(finance)
    assert client.get(URL).status_code == 200
    assert client.post(f"{URL}evaluate/", {}, format="json").status_code == 403


# ---------------------------------------------------------------- the schema


def test_the_schema_has_every_partner_and_tier_path_and_no_warning(tmp_path):
    import yaml
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())

    assert set(schema["paths"]) >= {
        "/api/v1/partners/",
        "/api/v1/partners/{id}/",
        "/api/v1/partners/{id}/managers/",
        "/api/v1/partners/{id}/suspend/",
        "/api/v1/partners/{id}/reactivate/",
        "/api/v1/partners/{id}/status/",
        "/api/v1/partners/{id}/status-history/",
        "/api/v1/partners/{id}/tier-history/",
        "/api/v1/partners/{id}/metrics/",
        "/api/v1/partners/{id}/people/",
        "/api/v1/tiers/",
        "/api/v1/tiers/{id}/",
        "/api/v1/tiers/metrics/",
        "/api/v1/tiers/evaluate/",
        "/api/v1/tier-changes/",
        "/api/v1/tier-changes/{id}/",
        "/api/v1/tier-proposals/",
        "/api/v1/tier-proposals/{id}/",
        "/api/v1/tier-proposals/{id}/approve/",
        "/api/v1/tier-proposals/{id}/reject/",
        "/api/v1/competencies/",
        "/api/v1/competencies/{id}/",
    }
    partners = schema["paths"]["/api/v1/partners/"]
    assert set(partners) == {"get", "post"}
    assert {p["name"] for p in partners["get"]["parameters"]} >= {
        "q", "tier", "partner_type", "status", "segment", "region", "country", "competency",
        "manager", "ordering", "cursor", "page_size",
    }  # fmt: skip
    assert set(schema["paths"]["/api/v1/partners/{id}/"]) == {"get", "patch"}
    assert set(schema["paths"]["/api/v1/tiers/{id}/"]) == {"get", "patch", "delete"}
    # The nested lists take only their cursor, not the directory's filters.
    history = schema["paths"]["/api/v1/partners/{id}/tier-history/"]["get"]["parameters"]
    assert {p["name"] for p in history} == {"id", "cursor", "page_size"}
