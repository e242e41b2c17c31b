"""Tiers in the tenant admin: configured per tenant, previewed in a dry run, applied on demand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from partners import metrics
from partners.models import Partner
from partners.tenancy import tenant_context
from partners.tiers import Tier, TierChange, TierCriterion

pytestmark = pytest.mark.django_db

ADMIN = "/t/acme/admin"
SCORE = "test_admin_score"


@pytest.fixture
def scores():
    """``scores[partner.pk] = Decimal(...)``: the values of the ``test_admin_score`` metric."""
    values: dict[int, Decimal] = {}
    metrics.register(
        SCORE,
        "Admin test score",
        lambda tenant, now, partner_ids=None: metrics.MetricResult(dict(values)),
    )
    yield values
    metrics.unregister(SCORE)


def _tier(tenant, rank, name, criteria=()):
    with tenant_context(tenant):
        tier = Tier.objects.create(tenant=tenant, rank=rank, name=name)
        for metric, operator, threshold in criteria:
            TierCriterion.objects.create(
                tenant=tenant, tier=tier, metric=metric, operator=operator,
                threshold=Decimal(threshold),
            )  # fmt: skip
        return tier


@pytest.fixture
def gold(tenant, scores):
    return _tier(tenant, 3, "Gold", [(SCORE, ">=", "50")])


@pytest.fixture
def globex_tier(other_tenant):
    return _tier(other_tenant, 1, "Globex Elite")


def _tier_form(**fields):
    data = {
        "rank": "5",
        "name": "Platinum",
        "description": "",
        "commission_multiplier": "1.000",
        "lead_routing_priority": "0",
        "criteria-TOTAL_FORMS": "1",
        "criteria-INITIAL_FORMS": "0",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "criteria-0-metric": metrics.ACTIVE_USERS,
        "criteria-0-operator": ">=",
        "criteria-0-threshold": "3",
    }
    data.update(fields)
    return data


def _counts(tenant):
    with tenant_context(tenant):
        return Tier.objects.count(), TierCriterion.objects.count()


def test_a_tenant_admin_lists_only_their_tenants_tiers(as_acme_admin, gold, globex_tier):
    response = as_acme_admin.get(f"{ADMIN}/partners/tier/")
    assert response.status_code == 200
    assert b"Gold" in response.content
    assert b"Admin test score" in response.content  # the criteria column
    assert b"Globex Elite" not in response.content


def test_another_tenants_tier_answers_404(as_acme_admin, globex_tier):
    assert as_acme_admin.get(f"{ADMIN}/partners/tier/{globex_tier.pk}/change/").status_code == 404
    response = as_acme_admin.post(
        f"{ADMIN}/partners/tier/{globex_tier.pk}/change/", _tier_form(name="Hijacked")
    )
    assert response.status_code == 404
    with tenant_context(globex_tier.tenant):
        assert Tier.objects.get(pk=globex_tier.pk).name == "Globex Elite"


def test_the_metric_select_lists_the_registered_metrics(as_acme_admin, scores):
    response = as_acme_admin.get(f"{ADMIN}/partners/tier/add/")
    assert response.status_code == 200
    field = response.context["inline_admin_formsets"][0].formset.empty_form.fields["metric"]
    keys = {key for key, _label in field.choices}
    assert {metrics.ACTIVE_USERS, SCORE} <= keys
    assert f'value="{SCORE}"'.encode() in response.content


def test_a_tenant_admin_creates_a_tier_with_a_criterion(as_acme_admin, tenant):
    response = as_acme_admin.post(f"{ADMIN}/partners/tier/add/", _tier_form())
    assert response.status_code == 302
    with tenant_context(tenant):
        tier = Tier.objects.get(name="Platinum")
        criterion = tier.criteria.get()
    assert tier.tenant_id == tenant.pk and criterion.tenant_id == tenant.pk
    assert (criterion.metric, criterion.operator, criterion.threshold) == (
        metrics.ACTIVE_USERS,
        ">=",
        Decimal("3"),
    )


def test_a_tenant_admin_edits_their_tier(as_acme_admin, tenant, gold):
    with tenant_context(tenant):
        criterion = gold.criteria.get()
    response = as_acme_admin.post(
        f"{ADMIN}/partners/tier/{gold.pk}/change/",
        _tier_form(
            rank="3",
            name="Gold",
            deal_protection_days="120",
            **{
                "criteria-INITIAL_FORMS": "1",
                "criteria-0-id": str(criterion.pk),
                "criteria-0-tier": str(gold.pk),
                "criteria-0-metric": SCORE,
                "criteria-0-threshold": "60",
            },
        ),
    )
    assert response.status_code == 302
    with tenant_context(tenant):
        gold.refresh_from_db()
        criterion.refresh_from_db()
    assert gold.deal_protection_days == 120
    assert criterion.threshold == Decimal("60")


@pytest.mark.parametrize(
    ("fields", "field", "where"),
    [
        ({"rank": "3"}, None, "form"),  # Gold's rank
        ({"name": "Gold"}, None, "form"),
        ({"criteria-0-metric": "no_such_metric"}, "metric", "inline"),
        ({"criteria-0-threshold": "lots"}, "threshold", "inline"),
        ({"rank": "high"}, "rank", "form"),
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(
    as_acme_admin, tenant, gold, fields, field, where
):
    before = _counts(tenant)
    response = as_acme_admin.post(f"{ADMIN}/partners/tier/add/", _tier_form(**fields))
    assert response.status_code == 200
    if where == "form":
        errors = response.context["adminform"].form.errors
        assert errors if field is None else field in errors
    else:
        formset = response.context["inline_admin_formsets"][0].formset
        assert field in formset.forms[0].errors
    assert _counts(tenant) == before


def _partner_state(tenant):
    with tenant_context(tenant):
        return (
            list(Partner.objects.order_by("pk").values_list("pk", "tier_id")),
            TierChange.objects.count(),
        )


def test_the_dry_run_lists_what_would_change_and_changes_nothing(
    as_acme_admin, tenant, partner, gold, scores
):
    scores[partner.pk] = Decimal("75")
    before = _partner_state(tenant)
    response = as_acme_admin.get(f"{ADMIN}/partners/tier/preview/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Northwind" in content and "Gold" in content
    assert "Promotion" in content
    assert "Admin test score: 75" in content
    assert _partner_state(tenant) == before
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id is None


def test_re_evaluating_applies_the_changes_and_says_how_many(
    as_acme_admin, tenant, partner, gold, scores
):
    scores[partner.pk] = Decimal("75")
    response = as_acme_admin.post(f"{ADMIN}/partners/tier/reevaluate/", follow=True)
    assert response.status_code == 200
    assert any("1 partner changed tier" in str(m) for m in response.context["messages"])
    with tenant_context(tenant):
        assert Partner.objects.get(pk=partner.pk).tier_id == gold.pk
        change = TierChange.objects.get(partner=partner)
    assert change.to_tier_id == gold.pk
    assert change.metrics["values"][SCORE] == "75"


def test_re_evaluating_needs_a_post(as_acme_admin, tenant, partner, gold, scores):
    scores[partner.pk] = Decimal("75")
    assert as_acme_admin.get(f"{ADMIN}/partners/tier/reevaluate/").status_code == 405
    with tenant_context(tenant):
        assert not TierChange.objects.exists()


def test_the_tier_history_is_read_only_and_filtered(as_acme_admin, tenant, partner, gold, scores):
    scores[partner.pk] = Decimal("75")
    as_acme_admin.post(f"{ADMIN}/partners/tier/reevaluate/")
    with tenant_context(tenant):
        change = TierChange.objects.get()
    listing = as_acme_admin.get(f"{ADMIN}/partners/tierchange/", {"q": "North"})
    assert listing.status_code == 200 and b"Northwind" in listing.content
    filtered = as_acme_admin.get(f"{ADMIN}/partners/tierchange/", {"kind": "demotion"})
    assert b"Northwind" not in filtered.content.split(b'id="changelist-filter"')[0]
    by_tier = as_acme_admin.get(f"{ADMIN}/partners/tierchange/", {"to_tier__id__exact": gold.pk})
    assert by_tier.status_code == 200 and b"Northwind" in by_tier.content
    assert as_acme_admin.get(f"{ADMIN}/partners/tierchange/add/").status_code == 403
    delete = as_acme_admin.post(f"{ADMIN}/partners/tierchange/{change.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    with tenant_context(tenant):
        assert TierChange.objects.filter(pk=change.pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/partners/tier/",
        "/partners/tier/add/",
        "/partners/tier/preview/",
        "/partners/tierchange/",
    ],
)
def test_a_channel_manager_gets_no_tier_admin(login, channel_manager, gold, path):
    response = login(channel_manager).get(f"{ADMIN}{path}", follow=True)
    assert response.status_code == 403
    assert b"Gold" not in response.content


def test_a_channel_manager_cannot_re_evaluate(
    login, channel_manager, tenant, partner, gold, scores
):
    scores[partner.pk] = Decimal("75")
    response = login(channel_manager).post(f"{ADMIN}/partners/tier/reevaluate/", follow=True)
    assert response.status_code == 403
    with tenant_context(tenant):
        assert not TierChange.objects.exists()


def test_an_admin_of_another_tenant_gets_404_at_the_tier_admin(login, outsider, gold):
    client = login(outsider)
    for path in ("/partners/tier/", "/partners/tier/preview/", f"/partners/tier/{gold.pk}/change/"):
        response = client.get(f"{ADMIN}{path}")
        assert response.status_code == 404
        assert b"Gold" not in response.content


def test_a_tenant_admin_deletes_their_tier_with_its_criteria(as_acme_admin, tenant, gold):
    url = f"{ADMIN}/partners/tier/{gold.pk}/delete/"
    assert as_acme_admin.get(url).status_code == 200
    assert as_acme_admin.post(url, {"post": "yes"}).status_code == 302
    assert _counts(tenant) == (0, 0)


def test_another_tenants_tier_cannot_be_deleted(as_acme_admin, globex_tier):
    url = f"{ADMIN}/partners/tier/{globex_tier.pk}/delete/"
    assert as_acme_admin.post(url, {"post": "yes"}).status_code == 404
    assert _counts(globex_tier.tenant) == (1, 0)
