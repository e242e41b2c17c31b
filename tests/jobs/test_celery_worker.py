"""Tasks on a real Celery worker (solo pool, in a thread) over the embedded Redis."""

from __future__ import annotations

import pytest

from partners.dbroles import runtime_role
from partners.models import AutomationOutcome, AutomationRun, Partner
from partners.tasks import dispatch_event
from partners.tenancy import tenant_context
from tests.factories import PartnerFactory
from tests.jobs.tasks_for_tests import import_partner_then_fail, record_what_the_task_sees


def finished_run(tenant, job: str):
    def check():
        """a finished automation run"""
        with tenant_context(tenant):
            return AutomationRun.objects.filter(job=job, finished_at__isnull=False).first()

    return check


def test_tenant_tasks_are_registered_on_the_project_celery_app(celery_app):
    for task in (record_what_the_task_sees, import_partner_then_fail, dispatch_event):
        assert task.app is celery_app
        assert celery_app.tasks[task.name] is task._get_current_object()
    assert record_what_the_task_sees.name == "tests.jobs.record_what_the_task_sees"
    assert record_what_the_task_sees.acks_late


@pytest.mark.django_db(transaction=True)
def test_a_task_on_the_worker_sees_only_its_own_tenants_rows(
    celery_worker, wait_for, tenant, other_tenant
):
    PartnerFactory(tenant=tenant, name="Northwind", domain="northwind.test")
    PartnerFactory(tenant=tenant, name="Contoso", domain="contoso.test")
    PartnerFactory(tenant=other_tenant, name="Umbrella", domain="umbrella.test")

    record_what_the_task_sees.delay(tenant.pk)

    run = wait_for(finished_run(tenant, record_what_the_task_sees.name))
    assert run.outcome == AutomationOutcome.SUCCEEDED
    assert run.error == ""
    assert run.detail == {
        "tenant": "acme",
        "db_role": runtime_role(),
        "db_tenant": str(tenant.pk),
        "partners_by_sql": ["Contoso", "Northwind"],
        "partners_by_orm": ["Contoso", "Northwind"],
    }
    with tenant_context(other_tenant):
        assert not AutomationRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_rolls_back_its_work_and_logs_a_failed_run(celery_worker, wait_for, tenant):
    import_partner_then_fail.delay(tenant.pk, "Fabrikam", "fabrikam.test")

    run = wait_for(finished_run(tenant, import_partner_then_fail.name))
    assert run.outcome == AutomationOutcome.FAILED
    assert "CrmUnavailable: the CRM answered 503" in run.error
    assert run.detail == {"imported": "fabrikam.test"}
    with tenant_context(tenant):
        assert not Partner.objects.filter(domain="fabrikam.test").exists()
        assert AutomationRun.objects.count() == 1
