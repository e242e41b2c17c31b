"""Tasks used by the job tests. Imported by the test modules, so they are registered on the
project's Celery app before a test worker starts."""

from __future__ import annotations

from django.db import connection

from partners import services
from partners.automation import AutomationRecorder
from partners.models import Partner, Tenant
from partners.tasks import tenant_task


@tenant_task(name="tests.jobs.record_what_the_task_sees")
def record_what_the_task_sees(self, tenant: Tenant, *, recorder: AutomationRecorder) -> dict:
    """Write into the run log which database role, tenant setting and partners the task saw."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('app.tenant_id', true)")
        db_role, db_tenant = cursor.fetchone()
        # Deliberately unfiltered: only row-level security keeps other tenants out.
        cursor.execute("SELECT name FROM partners_partner ORDER BY name")
        partners_by_sql = [name for (name,) in cursor.fetchall()]
    recorder.detail.update(
        tenant=tenant.slug,
        db_role=db_role,
        db_tenant=db_tenant,
        partners_by_sql=partners_by_sql,
        partners_by_orm=list(Partner.objects.order_by("name").values_list("name", flat=True)),
    )
    return recorder.detail


class CrmUnavailable(RuntimeError):
    pass


@tenant_task(name="tests.jobs.import_partner_then_fail")
def import_partner_then_fail(
    self, tenant: Tenant, name: str, domain: str, *, recorder: AutomationRecorder
) -> None:
    """Create a partner, then fail: the partner must roll back, the failed run must stay."""
    services.partner_create(actor=None, name=name, domain=domain)
    recorder.detail["imported"] = domain
    raise CrmUnavailable("the CRM answered 503")
