"""The deals summary on the staff console's partner page (a panel of ``partners.panels``,
registered by ``DealsConfig.ready``, since partners may not import deals).

Only deals the partner registered count (``Deal.partner``), as in the tier metrics. Money is
summed in the tenant's default currency only, never converted: deals in other currencies are
counted and shown as left out. "Won in the trailing 12 months" uses the same window and
amount as the ``won_revenue_12m`` metric (closed in the last 365 days, the won amount or else
the total), so the panel and the tier engine agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from deals import selectors
from deals.models import OPEN_STATUSES, DealStatus
from partners.models import Partner
from partners.money import quantize

TEMPLATE = "deals/console/_partner_deals.html"
RECENT = 5

_MONEY = DecimalField(max_digits=20, decimal_places=2)


@dataclass
class StatusCount:
    status: str
    label: str
    count: int


def partner_deals_panel(request: HttpRequest, partner: Partner) -> tuple[str, dict] | None:
    """Counts by status, open pipeline and trailing-12-month won value, the latest deals."""
    if not request.user.has_perm("deals.view_deal"):
        return None
    currency = request.tenant.default_currency
    today = timezone.localdate()
    year_ago = today - timedelta(days=365)
    deals = selectors.deal_list(actor=request.membership).filter(partner=partner)
    open_ = Q(status__in=OPEN_STATUSES)
    won = Q(status=DealStatus.WON, closed_on__gte=year_ago)
    same_currency = Q(currency=currency)
    won_amount = Coalesce("won_amount", "total", output_field=_MONEY)
    totals = deals.order_by().aggregate(
        deal_count=Count("id"),
        open_value=Sum("total", filter=open_ & same_currency),
        open_other=Count("id", filter=open_ & ~same_currency),
        won_value=Sum(won_amount, filter=won & same_currency),
        won_other=Count("id", filter=won & ~same_currency),
        **{f"n_{status}": Count("id", filter=Q(status=status)) for status in DealStatus.values},
    )
    by_status = [
        StatusCount(status=status, label=label, count=totals[f"n_{status}"])
        for status, label in DealStatus.choices
        if totals[f"n_{status}"]
    ]
    context = {
        "deal_total": totals["deal_count"],
        "by_status": by_status,
        "currency": currency,
        "open_value": quantize(totals["open_value"] or Decimal("0"), currency),
        "open_other": totals["open_other"],
        "won_value": quantize(totals["won_value"] or Decimal("0"), currency),
        "won_other": totals["won_other"],
        "won_since": year_ago,
        "recent_deals": list(deals.order_by("-created_at", "-id")[:RECENT]),
    }
    return TEMPLATE, context
