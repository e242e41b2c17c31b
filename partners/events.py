"""The transactional outbox of domain events.

A service records an event with :func:`record` inside its own transaction; the event row
commits (or rolls back) with the change it announces. After commit, ``dispatch_event`` is
enqueued; it runs every handler registered for the event's name that has not acknowledged
it yet. A handler's work and its acknowledgement (an ``EventDelivery`` row, unique per event
and handler) commit together, so a retried dispatch never runs a handler twice. Events whose
dispatch was lost (a worker died, Redis was down) are picked up by the ``sweep_outbox``
beat job.

Higher apps register handlers in their ``AppConfig.ready``::

    events.register("deal.won", "revenue.accrue_commission", accrue_commission)

so a lower app never imports a higher one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from partners.models import EventDelivery, OutboxEvent, Tenant
from partners.tenancy import tenant_context

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]


@dataclass(frozen=True)
class Registration:
    name: str
    handler: Handler


_registry: dict[str, list[Registration]] = {}


def register(event_name: str, handler_name: str, handler: Handler) -> None:
    """Subscribe ``handler`` (known by the stable ``handler_name``) to ``event_name``."""
    registrations = _registry.setdefault(event_name, [])
    registrations[:] = [r for r in registrations if r.name != handler_name]
    registrations.append(Registration(name=handler_name, handler=handler))


def unregister(event_name: str, handler_name: str) -> None:
    _registry[event_name] = [r for r in _registry.get(event_name, []) if r.name != handler_name]


def handlers_for(event_name: str) -> list[Registration]:
    return list(_registry.get(event_name, [])) + list(_registry.get("*", []))


def record(*, tenant: Tenant, name: str, payload: dict | None = None) -> OutboxEvent:
    """Write an event in the caller's transaction and dispatch it once that commits."""
    event = OutboxEvent.objects.create(tenant=tenant, name=name, payload=payload or {})
    from partners.tasks import dispatch_event

    tenant_id, event_id = tenant.pk, event.pk
    # robust: if the broker is down the change still stands; sweep_outbox enqueues it later.
    transaction.on_commit(lambda: dispatch_event.delay(tenant_id, event_id), robust=True)
    return event


#: Events per dispatch message of :func:`record_many`.
DISPATCH_BATCH = 500


def record_many(*, tenant: Tenant, name: str, payloads: list[dict]) -> list[int]:
    """Write one event per payload in the caller's transaction, in one statement however
    many, and dispatch them once that commits, ``DISPATCH_BATCH`` events per message
    (``partners.tasks.dispatch_events``). Returns the events' ids, in the payloads' order."""
    if not payloads:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {OutboxEvent._meta.db_table}
                (tenant_id, name, payload, created_at, attempts, last_error)
            SELECT %s, %s, payload::jsonb, now(), 0, ''
            FROM unnest(%s::text[]) WITH ORDINALITY AS v(payload, n)
            ORDER BY v.n
            RETURNING id
            """,
            [tenant.pk, name, [json.dumps(payload) for payload in payloads]],
        )
        event_ids = sorted(row[0] for row in cursor.fetchall())
    from partners.tasks import dispatch_events

    tenant_id = tenant.pk
    for start in range(0, len(event_ids), DISPATCH_BATCH):
        batch = event_ids[start : start + DISPATCH_BATCH]
        transaction.on_commit(
            lambda batch=batch: dispatch_events.delay(tenant_id, batch), robust=True
        )
    return event_ids


MAX_ATTEMPTS = 9


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 5, 10, 20 ... up to 10 min."""
    return min(2 ** max(attempts - 1, 0) * 5, 600)


class HandlerFailed(Exception):
    def __init__(self, message: str, *, retry_in: int, gave_up: bool) -> None:
        super().__init__(message)
        self.retry_in = retry_in
        self.gave_up = gave_up


def deliver(*, tenant: Tenant, event_id: int) -> list[str]:
    """Run the pending handlers of one event of ``tenant``. Returns the names run.

    Each handler runs in its own transaction in the tenant, together with its
    acknowledgement. Call this outside a transaction (``dispatch_event`` does): wrapped in an
    outer one, a failing handler would roll back the work and acknowledgements of the
    handlers that succeeded, and the retry would run them again.

    Raises HandlerFailed if any handler raised (after the others ran); the failed ones stay
    pending and run again on the next attempt.
    """
    with tenant_context(tenant):
        event = OutboxEvent.objects.filter(pk=event_id).first()
        if event is None or event.dispatched_at is not None:
            return []
        done = set(EventDelivery.objects.filter(event=event).values_list("handler", flat=True))
    ran: list[str] = []
    failures: list[str] = []
    for registration in handlers_for(event.name):
        if registration.name in done:
            continue
        try:
            with tenant_context(tenant):
                try:
                    # The acknowledgement goes first: a concurrent delivery of the same event
                    # blocks here on the unique key and then skips, instead of running twice.
                    with transaction.atomic():
                        EventDelivery.objects.create(
                            tenant_id=event.tenant_id, event=event, handler=registration.name
                        )
                except IntegrityError:
                    continue
                registration.handler(event)
            ran.append(registration.name)
        except Exception as exc:
            logger.exception("event handler %s failed on %s", registration.name, event)
            failures.append(f"{registration.name}: {exc!r}")
    attempts = event.attempts + 1
    now = timezone.now()
    with tenant_context(tenant):
        attempt = {"attempts": F("attempts") + 1, "last_error": "\n".join(failures)}
        if failures:
            gave_up = attempts >= MAX_ATTEMPTS
            OutboxEvent.objects.filter(pk=event.pk).update(
                **attempt,
                next_attempt_at=None if gave_up else now + timedelta(seconds=retry_delay(attempts)),
                gave_up_at=now if gave_up else None,
            )
        else:
            OutboxEvent.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(
                **attempt, dispatched_at=now, next_attempt_at=None
            )
    if failures:
        raise HandlerFailed(
            "; ".join(failures), retry_in=retry_delay(attempts), gave_up=attempts >= MAX_ATTEMPTS
        )
    return ran
