"""The deal metrics of the tier engine, registered in ``partners.metrics`` by
``DealsConfig.ready`` (partners may not import deals, so deals plugs them in).

Each is one ``GROUP BY partner_id`` query over the tenant's deals. Only the registering
partner (``Deal.partner``) is credited; further partners on a deal are not.

Currency: revenue counts only won deals in the tenant's default currency. Won deals in other
currencies are left out (there is no rate table; Trellis never converts money implicitly),
and each partner with such deals gets a warning in the result saying how many were left out,
which the engine keeps with the tier change.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deals.models import Deal, DealStatus
from partners import metrics
from partners.models import Tenant
from partners.money import quantize

WON_REVENUE_12M = "won_revenue_12m"
WON_DEALS_12M = "won_deals_12m"
DEALS_REGISTERED_90D = "deals_registered_90d"
APPROVAL_RATE = "approval_rate"

#: Registrations a reviewer approved, whatever happened to them afterwards.
APPROVED_OR_LATER = (DealStatus.APPROVED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED)
DECIDED = (*APPROVED_OR_LATER, DealStatus.REJECTED)


def _partner_deals(partner_ids: Collection[int] | None):
    deals = Deal.objects.filter(partner__isnull=False)
    if partner_ids is not None:
        deals = deals.filter(partner_id__in=list(partner_ids))
    return deals.order_by().values("partner_id")


def _year_ago(now: datetime):
    return timezone.localdate(now) - timedelta(days=365)


def won_revenue_12m(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> metrics.MetricResult:
    """Won value (``won_amount``, else ``total``) of deals closed in the last 365 days, in the
    tenant's default currency; won deals in other currencies are excluded with a warning."""
    currency = tenant.default_currency
    won = Q(status=DealStatus.WON, closed_on__gte=_year_ago(now))
    amount = Coalesce(
        "won_amount", "total", output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    rows = (
        _partner_deals(partner_ids)
        .filter(won)
        .annotate(
            revenue=Sum(amount, filter=Q(currency=currency)),
            excluded=Count("id", filter=~Q(currency=currency)),
        )
        .values_list("partner_id", "revenue", "excluded")
    )
    values: dict[int, Decimal | None] = {}
    warnings: dict[int, list[str]] = {}
    for partner_id, revenue, excluded in rows:
        values[partner_id] = quantize(revenue or 0, currency)
        if excluded:
            warnings[partner_id] = [
                gettext("%(count)d won deal(s) in other currencies than %(currency)s left out.")
                % {"count": excluded, "currency": currency}
            ]
    return metrics.MetricResult(values=values, warnings=warnings)


def won_deals_12m(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> metrics.MetricResult:
    rows = (
        _partner_deals(partner_ids)
        .filter(status=DealStatus.WON, closed_on__gte=_year_ago(now))
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    return metrics.MetricResult(values={pid: Decimal(n) for pid, n in rows})


def deals_registered_90d(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> metrics.MetricResult:
    """Registrations submitted in the last 90 days (drafts never submitted do not count)."""
    rows = (
        _partner_deals(partner_ids)
        .filter(submitted_at__gte=now - timedelta(days=90))
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    return metrics.MetricResult(values={pid: Decimal(n) for pid, n in rows})


def approval_rate(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> metrics.MetricResult:
    """Approved-or-later / decided, over registrations decided in the last 365 days, as a
    fraction 0-1 (4 places). A partner with no decided registration has no value."""
    rows = (
        _partner_deals(partner_ids)
        .filter(status__in=DECIDED, decided_at__gte=now - timedelta(days=365))
        .annotate(
            decided=Count("id"),
            approved=Count("id", filter=Q(status__in=APPROVED_OR_LATER)),
        )
        .values_list("partner_id", "approved", "decided")
    )
    return metrics.MetricResult(
        values={
            pid: (Decimal(approved) / Decimal(decided)).quantize(Decimal("0.0001"))
            for pid, approved, decided in rows
            if decided
        }
    )


def register_metrics() -> None:
    metrics.register(
        WON_REVENUE_12M, _("Won revenue, trailing 12 months"), won_revenue_12m, unit="currency"
    )
    metrics.register(WON_DEALS_12M, _("Won deals, trailing 12 months"), won_deals_12m)
    metrics.register(
        DEALS_REGISTERED_90D, _("Deals registered in the last 90 days"), deals_registered_90d
    )
    metrics.register(
        APPROVAL_RATE, _("Approval rate of registrations (0-1)"), approval_rate, default=None
    )
