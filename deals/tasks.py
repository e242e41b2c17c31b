"""Celery tasks of deal registration: thin wrappers over services, run inside their tenant
(``partners.tasks.tenant_task``: acks_late, logged in the automation run log)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from deals import services
from partners.models import Tenant
from partners.tasks import tenant_task
from partners.tenancy import dangerously_all_tenants

# ---------------------------------------------------------------- rules of engagement


@tenant_task(name="deals.expire_registrations")
def expire_registrations(self, tenant: Tenant, *, recorder) -> int:
    """Expire the tenant's approved registrations whose protection has ended."""
    expired = services.deals_expire_due()
    recorder.detail["expired"] = expired
    return expired


@tenant_task(name="deals.warn_expiring_registrations")
def warn_expiring_registrations(self, tenant: Tenant, *, recorder) -> int:
    """Warn partners (once per registration) that protection ends within the warning days."""
    warned = services.deals_warn_expiring()
    recorder.detail["warned"] = warned
    return warned


@shared_task(name="deals.run_deal_rules", acks_late=True)
def run_deal_rules() -> int:
    """Hourly (beat): enqueue the expiry and warning jobs of every active tenant.

    A platform task: it only reads the tenant list (not tenant-owned) and hands each tenant
    to its own logged tenant tasks, so one tenant's failure never stops the others."""
    tenant_ids = list(
        Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )
    for tenant_id in tenant_ids:
        warn_expiring_registrations.delay(tenant_id)
        expire_registrations.delay(tenant_id)
    return len(tenant_ids)


# ---------------------------------------------------------------- leads and routing

#: A lead still waiting for its first offer this long after creation lost its routing job.
_STALE_NEW_LEAD = timedelta(minutes=2)


@tenant_task(name="deals.route_new_leads")
def route_new_leads(self, tenant: Tenant, *, recorder) -> int:
    """Route the tenant's leads that wait for their first offer (after a CSV import)."""
    from deals import leads

    routed = leads.leads_route_new()
    recorder.detail["routed"] = routed
    if routed == leads.ROUTE_BATCH:  # more may wait: go on in a fresh transaction
        _enqueue_after_commit(route_new_leads, tenant.pk)
    return routed


@tenant_task(name="deals.expire_lead_offers")
def expire_lead_offers(self, tenant: Tenant, *, recorder) -> int:
    """Time out the tenant's lead offers past their SLA and move those leads on; also route
    leads whose routing job was lost. Idempotent: a second run finds nothing due."""
    from deals import leads

    expired = leads.offers_expire_due()
    routed = leads.leads_route_new(created_before=timezone.now() - _STALE_NEW_LEAD)
    recorder.detail.update({"expired": expired, "routed": routed})
    if expired == leads.ROUTE_BATCH or routed == leads.ROUTE_BATCH:
        _enqueue_after_commit(expire_lead_offers, tenant.pk)
    return expired


def _enqueue_after_commit(task, tenant_id: int) -> None:
    transaction.on_commit(lambda: task.delay(tenant_id), robust=True)


@shared_task(name="deals.sweep_lead_offers", acks_late=True)
def sweep_lead_offers() -> int:
    """Every 5 minutes (beat ``lead-offers``): enqueue ``expire_lead_offers`` for each active
    tenant with an offer past its SLA or a lead left unrouted by a lost job. Returns the count
    of tenants."""
    from deals.models import Lead, LeadOffer, LeadStatus, OfferStatus

    now = timezone.now()
    # Operator sweep across tenants (the escape hatch's purpose): one indexed query finds the
    # few tenants with work, instead of a transaction per tenant every few minutes.
    with dangerously_all_tenants():
        due = set(
            LeadOffer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        stale = set(
            Lead.objects.filter(status=LeadStatus.NEW, created_at__lte=now - _STALE_NEW_LEAD)
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        tenant_ids = sorted(
            Tenant.objects.filter(pk__in=due | stale, is_active=True).values_list("pk", flat=True)
        )
    for tenant_id in tenant_ids:
        expire_lead_offers.delay(tenant_id)
    return len(tenant_ids)
