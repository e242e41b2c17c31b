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
from django.utils import timezone

from partners.automation import automation_run
from partners.models import OutboxEvent, Tenant
from partners.tenancy import tenant_context

logger = logging.getLogger(__name__)


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
            tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if tenant is None:
                logger.info("task %s: tenant %s is gone, nothing to do", name, tenant_id)
                return None
            if not log:
                with tenant_context(tenant):
                    return func(self, tenant, *args, **kwargs)
            with automation_run(tenant=tenant, job=name) as recorder:
                with tenant_context(tenant):
                    return func(self, tenant, *args, recorder=recorder, **kwargs)

        return run

    if task_args and callable(task_args[0]):
        return decorator(task_args[0])
    return decorator


@tenant_task(name="partners.dispatch_event", max_retries=8, log=False)
def dispatch_event(self, tenant: Tenant, event_id: int) -> list[str]:
    """Deliver one outbox event to its pending handlers; retry failures with backoff."""
    from partners.events import HandlerFailed, deliver

    try:
        return deliver(event_id)
    except HandlerFailed as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 600)) from exc


@shared_task(name="partners.sweep_outbox", acks_late=True)
def sweep_outbox() -> int:
    """Re-enqueue events whose dispatch was lost. Runs on beat; walks tenants one by one."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_SWEEP_SECONDS)
    enqueued = 0
    for tenant in Tenant.objects.filter(is_active=True).only("pk"):
        with tenant_context(tenant):
            pending = list(
                OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lt=cutoff)
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
