"""The transactional outbox: events commit with their change and reach each handler once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from partners import events, services
from partners.events import HandlerFailed
from partners.models import AutomationRun, EventDelivery, OutboxEvent, Partner
from partners.tasks import dispatch_event, sweep_outbox
from partners.tenancy import tenant_context
from tests.jobs.conftest import QueuedTask


class MailServerDown(ConnectionError):
    pass


class Handler:
    """An outbox handler that writes a side-effect row in the handler's transaction and can
    be told to fail its first calls (after writing, so the row must roll back with it)."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.failures = failures
        self.calls = 0

    def __call__(self, event: OutboxEvent) -> None:
        self.calls += 1
        AutomationRun.objects.create(
            tenant_id=event.tenant_id, job=self.name, detail={"event_id": event.pk}
        )
        if self.calls <= self.failures:
            raise MailServerDown(f"{self.name}: mail server unavailable")

    def side_effects(self, event: OutboxEvent) -> int:
        return AutomationRun.objects.filter(job=self.name, detail__event_id=event.pk).count()


def create_partner(tenant, name="Fabrikam", domain="fabrikam.test") -> OutboxEvent:
    """A service change that records a `partner.created` event; returns the event."""
    with tenant_context(tenant):
        partner = services.partner_create(actor=None, name=name, domain=domain)
        return OutboxEvent.objects.get(name="partner.created", payload__partner_id=partner.pk)


@pytest.mark.django_db
def test_an_event_recorded_in_a_rolled_back_transaction_does_not_exist(
    tenant, broker_queue, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        tenant_context(tenant),
    ):
        services.partner_create(actor=None, name="Fabrikam", domain="fabrikam.test")
        raise RuntimeError("the request failed after the service ran")

    assert callbacks == []
    with tenant_context(tenant):
        assert not Partner.objects.exists()
        assert not OutboxEvent.objects.exists()
    assert broker_queue.tasks() == []


@pytest.mark.django_db
def test_an_event_is_delivered_exactly_once_when_its_handler_is_retried(tenant, outbox_handlers):
    welcome = Handler("tests.send_partner_welcome", failures=1)
    outbox_handlers("partner.created", welcome.name, welcome)
    event = create_partner(tenant)

    # Eagerly, Celery runs the retry at once: attempt one fails, attempt two delivers.
    first = dispatch_event.apply(args=(tenant.pk, event.pk))
    again = dispatch_event.apply(args=(tenant.pk, event.pk))

    assert first.get() == [welcome.name]
    assert again.get() == []
    assert welcome.calls == 2
    with tenant_context(tenant):
        assert welcome.side_effects(event) == 1
        assert EventDelivery.objects.filter(event=event).count() == 1
        event.refresh_from_db()
        assert events.deliver(tenant=tenant, event_id=event.pk) == []
    assert event.dispatched_at is not None
    assert event.attempts == 2
    assert event.last_error == ""
    assert welcome.calls == 2


@pytest.mark.django_db
def test_a_handler_that_succeeded_is_not_run_again_when_another_one_fails(tenant, outbox_handlers):
    crm_sync = Handler("tests.sync_partner_to_crm", failures=1)
    welcome = Handler("tests.send_partner_welcome")
    outbox_handlers("partner.created", crm_sync.name, crm_sync)
    outbox_handlers("partner.created", welcome.name, welcome)
    event = create_partner(tenant)

    with pytest.raises(HandlerFailed, match=r"tests\.sync_partner_to_crm"):
        events.deliver(tenant=tenant, event_id=event.pk)

    with tenant_context(tenant):
        event.refresh_from_db()
        assert set(EventDelivery.objects.values_list("handler", flat=True)) == {welcome.name}
        assert crm_sync.side_effects(event) == 0
        assert welcome.side_effects(event) == 1
    assert event.dispatched_at is None
    assert event.attempts == 1
    assert "mail server unavailable" in event.last_error

    retried = dispatch_event.apply(args=(tenant.pk, event.pk))

    assert retried.get() == [crm_sync.name]
    assert (welcome.calls, crm_sync.calls) == (1, 2)
    with tenant_context(tenant):
        event.refresh_from_db()
        assert EventDelivery.objects.filter(event=event).count() == 2
        assert crm_sync.side_effects(event) == 1
        assert welcome.side_effects(event) == 1
    assert event.dispatched_at is not None
    assert event.attempts == 2


@pytest.mark.django_db
def test_sweep_outbox_re_enqueues_an_undispatched_old_event(tenant, other_tenant, broker_queue):
    lost = create_partner(tenant, "Fabrikam", "fabrikam.test")
    fresh = create_partner(tenant, "Litware", "litware.test")
    delivered = create_partner(tenant, "Proseware", "proseware.test")
    elsewhere = create_partner(other_tenant, "Umbrella", "umbrella.test")
    long_ago = timezone.now() - timedelta(minutes=10)
    with tenant_context(tenant):
        OutboxEvent.objects.filter(pk__in=[lost.pk, delivered.pk]).update(created_at=long_ago)
        OutboxEvent.objects.filter(pk=delivered.pk).update(dispatched_at=timezone.now())
    with tenant_context(other_tenant):
        OutboxEvent.objects.filter(pk=elsewhere.pk).update(created_at=long_ago)

    result = sweep_outbox.apply()

    assert result.get() == 2
    assert sorted(broker_queue.tasks(), key=lambda task: task.args) == sorted(
        [
            QueuedTask("partners.dispatch_event", [tenant.pk, lost.pk], {}),
            QueuedTask("partners.dispatch_event", [other_tenant.pk, elsewhere.pk], {}),
        ],
        key=lambda task: task.args,
    )
    with tenant_context(tenant):
        run = AutomationRun.objects.get(job="partners.sweep_outbox")
    assert run.outcome == "succeeded"
    assert run.detail == {"enqueued": 1}
    assert fresh.pk not in {task.args[1] for task in broker_queue.tasks()}


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_a_committed_event_and_retries_a_failed_handler(
    tenant, outbox_handlers, celery_worker, wait_for
):
    welcome = Handler("tests.send_partner_welcome", failures=1)
    outbox_handlers("partner.created", welcome.name, welcome)

    event = create_partner(tenant)  # commits, and on commit enqueues dispatch_event

    def dispatched():
        """the event to be marked dispatched"""
        with tenant_context(tenant):
            return OutboxEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).first()

    # The first attempt fails; the worker's retry comes after a 5 second countdown.
    event = wait_for(dispatched, timeout=30)
    assert event.attempts == 2
    assert welcome.calls == 2
    with tenant_context(tenant):
        assert welcome.side_effects(event) == 1
        assert EventDelivery.objects.filter(event=event).count() == 1


def test_a_failed_event_waits_for_its_retry_and_is_given_up_after_the_last_attempt(
    tenant, outbox_handlers
):
    from datetime import timedelta

    from django.utils import timezone

    from partners import events
    from partners.models import OutboxEvent
    from partners.tasks import sweep_outbox
    from partners.tenancy import tenant_context

    def always_fails(event):
        raise RuntimeError("webhook endpoint down")

    events.register("test.always_fails", "tests.always_fails", always_fails)
    with tenant_context(tenant):
        event = events.record(tenant=tenant, name="test.always_fails")
        OutboxEvent.objects.filter(pk=event.pk).update(
            created_at=timezone.now() - timedelta(hours=1)
        )
    with pytest.raises(events.HandlerFailed) as failed:
        events.deliver(tenant=tenant, event_id=event.pk)
    assert failed.value.retry_in == 5 and not failed.value.gave_up
    # The retry is scheduled and not overdue: the sweeper leaves it to its own chain.
    assert sweep_outbox() == 0
    with tenant_context(tenant):
        OutboxEvent.objects.filter(pk=event.pk).update(attempts=events.MAX_ATTEMPTS - 1)
    with pytest.raises(events.HandlerFailed) as failed:
        events.deliver(tenant=tenant, event_id=event.pk)
    assert failed.value.gave_up
    with tenant_context(tenant):
        event.refresh_from_db()
    assert event.gave_up_at is not None and event.dispatched_at is None
    assert sweep_outbox() == 0
