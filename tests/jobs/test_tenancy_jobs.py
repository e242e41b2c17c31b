"""tenant_task and enqueueing: tasks run in their tenant, skip a vanished one, and are sent
to the broker only once the transaction that asked for them has committed."""

from __future__ import annotations

import pytest
from django.db import transaction

from partners import services
from partners.models import AutomationRun, OutboxEvent, Tenant
from partners.tasks import dispatch_event
from partners.tenancy import dangerously_all_tenants, tenant_context
from tests.factories import TenantFactory
from tests.jobs.conftest import QueuedTask
from tests.jobs.tasks_for_tests import record_what_the_task_sees


def automation_runs_everywhere() -> int:
    with dangerously_all_tenants():
        return AutomationRun.objects.count()


@pytest.mark.django_db
def test_a_tenant_task_with_a_missing_tenant_id_returns_quietly(tenant):
    missing_id = Tenant.objects.order_by("-pk").values_list("pk", flat=True).first() + 1

    result = record_what_the_task_sees.apply(args=(missing_id,))

    assert result.successful()
    assert result.get() is None
    assert automation_runs_everywhere() == 0


@pytest.mark.django_db
def test_a_tenant_task_for_a_deactivated_tenant_returns_quietly():
    closed = TenantFactory(slug="closed", is_active=False)

    result = record_what_the_task_sees.apply(args=(closed.pk,))

    assert result.successful()
    assert result.get() is None
    assert automation_runs_everywhere() == 0


@pytest.mark.django_db
def test_dispatching_an_event_of_a_missing_tenant_returns_quietly(tenant):
    result = dispatch_event.apply(args=(tenant.pk + 1000, 1))

    assert result.successful()
    assert result.get() == []


@pytest.mark.django_db
def test_a_tenant_task_runs_inside_its_tenant(tenant, other_tenant):
    result = record_what_the_task_sees.apply(args=(other_tenant.pk,))

    assert result.get()["db_tenant"] == str(other_tenant.pk)
    with tenant_context(other_tenant):
        run = AutomationRun.objects.get(job=record_what_the_task_sees.name)
    assert run.outcome == "succeeded"
    assert run.detail["tenant"] == "globex"
    with tenant_context(tenant):
        assert not AutomationRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_inside_a_transaction_is_not_sent_before_commit(tenant, broker_queue):
    with transaction.atomic():
        record_what_the_task_sees.delay_on_commit(tenant.pk)
        assert broker_queue.tasks() == []

    assert broker_queue.tasks() == [
        QueuedTask(record_what_the_task_sees.name, [tenant.pk], {}),
    ]


@pytest.mark.django_db(transaction=True)
def test_an_event_is_sent_for_dispatch_only_after_its_transaction_commits(tenant, broker_queue):
    with tenant_context(tenant):
        partner = services.partner_create(actor=None, name="Fabrikam", domain="fabrikam.test")
        event = OutboxEvent.objects.get(payload__partner_id=partner.pk)
        assert broker_queue.tasks() == []

    assert broker_queue.tasks() == [
        QueuedTask("partners.dispatch_event", [tenant.pk, event.pk], {}),
    ]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_transaction_rolls_back_is_never_sent(tenant, broker_queue):
    with pytest.raises(RuntimeError), tenant_context(tenant):
        services.partner_create(actor=None, name="Fabrikam", domain="fabrikam.test")
        raise RuntimeError("rolled back")

    assert broker_queue.tasks() == []
    with tenant_context(tenant):
        assert not OutboxEvent.objects.exists()
