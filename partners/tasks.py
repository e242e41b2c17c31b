"""Celery tasks of the partners app, and ``tenant_task``, the decorator every task uses.

Tasks take ids (the tenant's first), look their rows up, return quietly if they are gone,
and are safe to run twice. ``tenant_task`` runs the body inside the tenant (ContextVar and
``SET LOCAL app.tenant_id``) and logs it in the automation run log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from partners.automation import automation_run
from partners.models import OutboxEvent, Tenant
from partners.tenancy import tenant_context

logger = logging.getLogger(__name__)


def _active_tenant(task_name: str, tenant_id: int) -> Tenant | None:
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        logger.info("task %s: tenant %s is gone, nothing to do", task_name, tenant_id)
    return tenant


def tenant_task(*task_args, log: bool = True, **task_options) -> Callable:
    """Declare a Celery task whose first argument is a tenant id.

    The task is ``acks_late`` (a worker that dies mid-task leaves it queued), runs inside
    ``tenant_context`` and, when ``log`` is true, writes an automation run row.
    """

    def decorator(func: Callable) -> Callable:
        options = {"acks_late": True, "bind": True, **task_options}
        name = options.pop("name", f"{func.__module__}.{func.__name__}")

        @shared_task(name=name, **options)
        @functools.wraps(func)
        def run(self, tenant_id: int, *args, **kwargs):
            tenant = _active_tenant(name, tenant_id)
            if tenant is None:
                return None
            if not log:
                with tenant_context(tenant):
                    return func(self, tenant, *args, **kwargs)
            with automation_run(tenant=tenant, job=name) as recorder, tenant_context(tenant):
                return func(self, tenant, *args, recorder=recorder, **kwargs)

        return run

    if task_args and callable(task_args[0]):
        return decorator(task_args[0])
    return decorator


# Not a tenant_task: that runs its body in one transaction, and the handlers of an event
# must each commit on their own (see partners.events.deliver).
# Attempts are counted on the event (partners.events.MAX_ATTEMPTS), not by Celery.
@shared_task(name="partners.dispatch_event", bind=True, acks_late=True, max_retries=None)
def dispatch_event(self, tenant_id: int, event_id: int) -> list[str]:
    """Deliver one outbox event to its pending handlers; retry failures with backoff."""
    from partners.events import HandlerFailed, deliver

    tenant = _active_tenant("partners.dispatch_event", tenant_id)
    if tenant is None:
        return []
    try:
        return deliver(tenant=tenant, event_id=event_id)
    except HandlerFailed as exc:
        if exc.gave_up:
            logger.error("event %s of tenant %s: giving up: %s", event_id, tenant_id, exc)
            return []
        raise self.retry(exc=exc, countdown=exc.retry_in) from exc


@shared_task(name="partners.dispatch_events", acks_late=True)
def dispatch_events(tenant_id: int, event_ids: list[int]) -> int:
    """Deliver a batch of outbox events (``events.record_many``: one message for many events,
    say a tier engine run that moved 20,000 partners). An event whose handler fails goes on
    alone, as a retry of ``dispatch_event`` with its backoff; a redelivered batch skips the
    events already dispatched. Returns the number delivered now."""
    from partners.events import HandlerFailed, deliver

    tenant = _active_tenant("partners.dispatch_events", tenant_id)
    if tenant is None:
        return 0
    delivered = 0
    for event_id in event_ids:
        try:
            deliver(tenant=tenant, event_id=event_id)
        except HandlerFailed as exc:
            if exc.gave_up:
                logger.error("event %s of tenant %s: giving up: %s", event_id, tenant_id, exc)
            else:
                dispatch_event.apply_async((tenant_id, event_id), countdown=exc.retry_in)
            continue
        delivered += 1
    return delivered


@shared_task(name="partners.sweep_outbox", acks_late=True)
def sweep_outbox() -> int:
    """Re-enqueue events whose dispatch was lost. Runs on beat; walks tenants one by one."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_SWEEP_SECONDS)
    # Never dispatched, or a retry that was due a while ago and did not happen: both lost.
    lost = Q(next_attempt_at__isnull=True, created_at__lt=cutoff) | Q(next_attempt_at__lt=cutoff)
    enqueued = 0
    for tenant in Tenant.objects.filter(is_active=True).only("pk"):
        with tenant_context(tenant):
            pending = list(
                OutboxEvent.objects.filter(
                    lost, dispatched_at__isnull=True, gave_up_at__isnull=True
                )
                .order_by("created_at")
                .values_list("pk", flat=True)[:1000]
            )
        if not pending:
            continue  # nothing to do is not worth a row in the run log
        with automation_run(tenant=tenant, job="partners.sweep_outbox") as recorder:
            for event_id in pending:
                dispatch_event.delay(tenant.pk, event_id)
            recorder.detail["enqueued"] = len(pending)
        enqueued += len(pending)
    return enqueued


# SMTPException is an OSError, like a refused or timed-out connection: retry those, with
# backoff (30 s, 1 min, 2 min ... at most an hour apart). Anything else is a bug: no retry.
@tenant_task(
    name="partners.send_notification_email",
    log=False,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=False,
    max_retries=8,
)
def send_notification_email(self, tenant: Tenant, notification_id: int) -> bool:
    """Email one in-app notification to its recipient (at most once; see notifications)."""
    from partners.notifications import notification_email_send

    return notification_email_send(notification_id=notification_id)


# ---------------------------------------------------------------- tier engine


@tenant_task(name="partners.evaluate_tiers")
def evaluate_tiers(self, tenant: Tenant, *, recorder) -> int:
    """Run the tier engine over the tenant's partners; returns the number of tier changes."""
    from partners.tier_engine import tiers_evaluate

    proposals = tiers_evaluate(tenant=tenant, dry_run=False)
    recorder.detail["changes"] = len(proposals)
    recorder.detail["promotions"] = sum(p.kind == "promotion" for p in proposals)
    recorder.detail["demotions"] = sum(p.kind == "demotion" for p in proposals)
    return len(proposals)


@shared_task(name="partners.run_tier_engine", acks_late=True)
def run_tier_engine() -> int:
    """Nightly (beat, editable in admin): enqueue the tier engine of every active tenant, each
    as its own logged tenant task, so one tenant's failure never stops the others."""
    tenant_ids = list(
        Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    for tenant_id in tenant_ids:
        evaluate_tiers.delay(tenant_id)
    return len(tenant_ids)


# ---------------------------------------------------------------- partner CSV imports


# Not a tenant_task: that runs its body in one transaction, and the check saves its progress
# in short transactions of its own so the pages polling it see it move.
@shared_task(name="partners.check_partner_import", acks_late=True)
def check_partner_import(tenant_id: int, import_id: int) -> str | None:
    """Check every row of an uploaded partner CSV (``partners.imports``); returns the status."""
    from partners.imports import partner_import_check

    tenant = _active_tenant("partners.check_partner_import", tenant_id)
    if tenant is None:
        return None
    with automation_run(tenant=tenant, job="partners.check_partner_import") as recorder:
        job = partner_import_check(tenant=tenant, import_id=import_id)
        if job is None:
            recorder.skip("the import is gone")
            return None
        recorder.detail.update(import_id=job.pk, status=job.status, errors=len(job.errors))
        return job.status


@tenant_task(name="partners.commit_partner_import")
def commit_partner_import(
    self, tenant: Tenant, import_id: int, actor_id: int, *, recorder
) -> str | None:
    """Create every partner of a checked import in one transaction (all or nothing)."""
    from partners.imports import partner_import_commit

    job = partner_import_commit(tenant=tenant, import_id=import_id, actor_id=actor_id)
    if job is None:
        recorder.skip("the import is gone")
        return None
    recorder.detail.update(
        import_id=job.pk,
        status=job.status,
        created=job.created_count,
        invited=job.invited_count,
    )
    return job.status
