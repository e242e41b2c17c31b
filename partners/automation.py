"""The automation run log: every automated job records when it ran and how it ended."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

from django.utils import timezone

from partners.models import AutomationOutcome, AutomationRun, Tenant
from partners.tenancy import tenant_context


class AutomationRecorder:
    """Handed to the job so it can add detail or mark that a person had to step in."""

    def __init__(self, run: AutomationRun) -> None:
        self.run = run
        self.detail: dict = {}
        self.needed_person = False
        self.outcome = AutomationOutcome.SUCCEEDED

    def skip(self, reason: str) -> None:
        self.outcome = AutomationOutcome.SKIPPED
        self.detail["skipped"] = reason


@contextlib.contextmanager
def automation_run(*, tenant: Tenant, job: str) -> Iterator[AutomationRecorder]:
    """Log a run of ``job`` in ``tenant``. The log row is written in its own transactions,
    so a failed job (whose own writes roll back) still leaves its failed run in the log."""
    with tenant_context(tenant):
        run = AutomationRun.objects.create(tenant=tenant, job=job)
    recorder = AutomationRecorder(run)
    try:
        yield recorder
    except BaseException as exc:
        from celery.exceptions import Retry

        outcome = AutomationOutcome.RETRYING if isinstance(exc, Retry) else AutomationOutcome.FAILED
        with tenant_context(tenant):
            AutomationRun.objects.filter(pk=run.pk).update(
                finished_at=timezone.now(),
                outcome=outcome,
                error="".join(traceback.format_exception(exc))[-4000:],
                detail=recorder.detail,
                needed_person=recorder.needed_person,
            )
        raise
    else:
        with tenant_context(tenant):
            AutomationRun.objects.filter(pk=run.pk).update(
                finished_at=timezone.now(),
                outcome=recorder.outcome,
                detail=recorder.detail,
                needed_person=recorder.needed_person,
            )
