"""The deal metrics of the tier engine, registered in ``partners.metrics`` by
``DealsConfig.ready`` (partners may not import deals, so deals plugs them in).

All four come from one ``GROUP BY partner_id`` query over the tenant's deals (a metric
source, see ``partners.metrics``). Only the registering partner (``Deal.partner``) is
credited; further partners on a deal are not.

Currency: revenue counts only won deals in the tenant's default currency. Won deals in other
currencies are left out (there is no rate table; Trellis never converts money implicitly),
and each partner with such deals gets a warning in the result saying how many were left out,
which the engine keeps with the tier change.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
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
#: The source that computes the four in one query.
SOURCE = "deals"

#: Registrations a reviewer approved, whatever happened to them afterwards.
APPROVED_OR_LATER = (DealStatus.APPROVED, DealStatus.WON, DealStatus.LOST, DealStatus.EXPIRED)
DECIDED = (*APPROVED_OR_LATER, DealStatus.REJECTED)


def _year_ago(now: datetime):
    return timezone.localdate(now) - timedelta(days=365)


def deal_metrics(
    tenant: Tenant, now: datetime, partner_ids: Collection[int] | None = None
) -> dict[str, metrics.MetricResult]:
    """All four deal metrics in one pass over the tenant's deals (``GROUP BY partner_id``
    with one filtered aggregate per figure), instead of one scan per metric:

    - won revenue: won value (``won_amount``, else ``total``) of deals closed in the last
      365 days, in the tenant's default currency; won deals in other currencies are left out
      with a warning;
    - won deals: deals won (closed) in the last 365 days, whatever their currency;
    - deals registered: registrations submitted in the last 90 days (drafts never submitted
      do not count);
    - approval rate: approved-or-later / decided, over registrations decided in the last
      365 days, as a fraction 0-1 (4 places); a partner with no decided registration has no
      value.
    """
    currency = tenant.default_currency
    won = Q(status=DealStatus.WON, closed_on__gte=_year_ago(now))
    registered = Q(submitted_at__gte=now - timedelta(days=90))
    decided = Q(status__in=DECIDED, decided_at__gte=now - timedelta(days=365))
    amount = Coalesce(
        "won_amount", "total", output_field=DecimalField(max_digits=20, decimal_places=2)
    )
    deals = Deal.objects.filter(partner__isnull=False)
    if partner_ids is not None:
        deals = deals.filter(partner_id__in=list(partner_ids))
    # Counting partner_id (never null here), not id: every column the query reads can then
    # come from one covering index (an index-only scan), should the deals table get one.
    rows = (
        # Only rows some figure counts: the older deals are skipped before the grouping.
        deals.filter(won | registered | decided)
        .order_by()
        .values("partner_id")
        .annotate(
            revenue=Sum(amount, filter=won & Q(currency=currency)),
            won=Count("partner_id", filter=won),
            excluded=Count("partner_id", filter=won & ~Q(currency=currency)),
            registered=Count("partner_id", filter=registered),
            decided=Count("partner_id", filter=decided),
            approved=Count("partner_id", filter=decided & Q(status__in=APPROVED_OR_LATER)),
        )
        .values_list(
            "partner_id", "revenue", "won", "excluded", "registered", "decided", "approved"
        )
    )
    # The ORM writes the query; the rows come straight from the cursor (the driver already
    # gives Decimals and ints: Django's per-value converters cost more than the loop below
    # at 20,000 partners).
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    revenue_values: dict[int, Decimal | None] = {}
    revenue_warnings: dict[int, list[str]] = {}
    won_values: dict[int, Decimal | None] = {}
    registered_values: dict[int, Decimal | None] = {}
    rates: dict[int, Decimal | None] = {}
    rate_places = Decimal("0.0001")
    # Translated once, not once per partner.
    left_out = gettext("%(count)d won deal(s) in other currencies than %(currency)s left out.")
    for partner_id, revenue, won_n, excluded, registered_n, decided_n, approved_n in rows:
        if won_n:
            revenue_values[partner_id] = quantize(revenue or 0, currency)
            won_values[partner_id] = Decimal(won_n)
        if excluded:
            revenue_warnings[partner_id] = [left_out % {"count": excluded, "currency": currency}]
        if registered_n:
            registered_values[partner_id] = Decimal(registered_n)
        if decided_n:
            rates[partner_id] = (Decimal(approved_n) / Decimal(decided_n)).quantize(rate_places)
    return {
        WON_REVENUE_12M: metrics.MetricResult(values=revenue_values, warnings=revenue_warnings),
        WON_DEALS_12M: metrics.MetricResult(values=won_values),
        DEALS_REGISTERED_90D: metrics.MetricResult(values=registered_values),
        APPROVAL_RATE: metrics.MetricResult(values=rates),
    }


def register_metrics() -> None:
    metrics.register_source(SOURCE, deal_metrics)
    metrics.register(
        WON_REVENUE_12M, _("Won revenue, trailing 12 months"), source=SOURCE, unit="currency"
    )
    metrics.register(WON_DEALS_12M, _("Won deals, trailing 12 months"), source=SOURCE)
    metrics.register(DEALS_REGISTERED_90D, _("Deals registered in the last 90 days"), source=SOURCE)
    metrics.register(
        APPROVAL_RATE, _("Approval rate of registrations (0-1)"), source=SOURCE, default=None,
        unit="fraction",
    )  # fmt: skip
