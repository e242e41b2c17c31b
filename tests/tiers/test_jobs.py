"""The tier engine as a job: the per-tenant task, the nightly fan-out, and its schedule."""

from __future__ import annotations

from decimal import Decimal

from celery.schedules import crontab
from django.conf import settings

from partners.models import AutomationRun
from partners.tasks import evaluate_tiers, run_tier_engine
from partners.tenancy import tenant_context
from tests.factories import TenantFactory


def test_the_tenant_task_runs_the_engine_and_logs_the_run(
    tenant, ladder, scores, make_partner, reload
):
    partner = make_partner()
    scores[partner.pk] = Decimal("60")

    assert evaluate_tiers.apply(args=(tenant.pk,)).get() == 1

    assert reload(partner).tier == ladder["gold"]
    with tenant_context(tenant):
        [logged] = AutomationRun.objects.filter(job="partners.evaluate_tiers")
    assert (logged.outcome, logged.detail["promotions"]) == ("succeeded", 1)


def test_the_nightly_run_enqueues_the_engine_of_every_active_tenant(
    tenant, other_tenant, monkeypatch
):
    TenantFactory(slug="dormant", is_active=False)
    enqueued = []
    monkeypatch.setattr(evaluate_tiers, "delay", enqueued.append)

    assert run_tier_engine.apply().get() == 2

    assert enqueued == sorted([tenant.pk, other_tenant.pk])


def test_the_tier_engine_is_on_the_beat_schedule_nightly():
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "partners.run_tier_engine"
    ]
    assert entry["schedule"] == crontab(minute=0, hour=2)
