"""A partner's tier, its benefits and progress toward the next tier, as the portal shows them.

The numbers come from ``selectors.partner_tier_progress``; this module only turns them into
words: money in the tenant's default currency, fractions as percentages, "program default"
for an empty benefit, and the width of each progress bar (computed here, not in a template).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partners.money import format_money, quantize
from partners.selectors import CriterionProgress, TierProgress
from partners.tiers import Operator, Tier

#: Metric units (``partners.metrics.Metric.unit``) shown as money and as percentages.
CURRENCY = "currency"
FRACTION = "fraction"


@dataclass(frozen=True)
class BenefitRow:
    label: str
    value: str
    #: True when the tier leaves the benefit empty and the program's own rule applies.
    is_default: bool


@dataclass(frozen=True)
class CriterionRow:
    metric: str
    label: str
    operator_label: str
    value: str
    threshold: str
    met: bool
    missing: str
    #: 0-100, the width of the progress bar.
    percent: int


def _plain_number(value: Decimal) -> str:
    value = Decimal(value)
    places = (
        0 if value == value.to_integral_value() else max(-value.normalize().as_tuple().exponent, 0)
    )
    return number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)


def format_metric_value(
    value: Decimal | int | None, unit: str, currency: str, *, difference: bool = False
) -> str:
    """A metric value in words: money for "currency", a percentage for "fraction" (a gap
    between two fractions is in percentage points), else the number."""
    if value is None:
        return _("no value yet")
    value = Decimal(value)
    if unit == CURRENCY:
        return format_money(quantize(value, currency), currency)
    if unit == FRACTION:
        points = _plain_number((value * 100).quantize(Decimal("0.1")))
        if difference:
            return _("%(points)s percentage points") % {"points": points}
        return f"{points}\N{NO-BREAK SPACE}%"
    return _plain_number(value)


def progress_percent(operator: str, value: Decimal | None, threshold: Decimal, met: bool) -> int:
    """How far a value has come toward its threshold, 0-100. A criterion that holds is 100;
    one that does not never shows a full bar (at most 99), so the bar never claims a pass."""
    if met:
        return 100
    if value is None:
        return 0
    value, threshold = Decimal(value), Decimal(threshold)
    if operator in (Operator.GTE, Operator.GT):
        if threshold <= 0:
            return 0
        ratio = value / threshold
    elif operator in (Operator.LTE, Operator.LT):
        if value <= 0:
            return 0
        ratio = threshold / value
    else:
        return 0
    percent = int((ratio * 100).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(percent, 99))


def criterion_rows(progress: TierProgress, currency: str) -> list[CriterionRow]:
    return [_criterion_row(c, currency) for c in progress.criteria]


def _criterion_row(c: CriterionProgress, currency: str) -> CriterionRow:
    if c.met:
        missing = ""
    elif c.missing is not None:
        missing = format_metric_value(c.missing, c.unit, currency, difference=True)
        if c.operator == Operator.GT:  # reaching the threshold is not enough
            missing = _("more than %(amount)s") % {"amount": missing}
    else:
        missing = _("must be %(operator)s %(threshold)s") % {
            "operator": c.operator_label,
            "threshold": format_metric_value(c.threshold, c.unit, currency),
        }
    return CriterionRow(
        metric=c.metric,
        label=c.label,
        operator_label=c.operator_label,
        value=format_metric_value(c.value, c.unit, currency),
        threshold=format_metric_value(c.threshold, c.unit, currency),
        met=c.met,
        missing=missing,
        percent=progress_percent(c.operator, c.value, c.threshold, c.met),
    )


def tier_benefits(tier: Tier, currency: str) -> list[BenefitRow]:
    """The tier's benefits; an empty one is the program's default (the tenant's rule)."""

    def shown(value, render) -> str | None:
        return None if value is None else render(value)

    def days(n: int) -> str:
        return ngettext("%(count)d day", "%(count)d days", n) % {"count": n}

    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    def times(factor: Decimal) -> str:
        return f"\N{MULTIPLICATION SIGN}\N{NO-BREAK SPACE}{_plain_number(factor)}"

    rows = [
        (_("Deal protection"), shown(tier.deal_protection_days, days)),
        (_("Auto-approve registrations up to"), shown(tier.auto_approve_max_total, money)),
        (_("Commission multiplier"), shown(tier.commission_multiplier, times)),
        (_("MDF allowance"), shown(tier.mdf_allowance, money)),
        (_("Lead-routing priority"), shown(tier.lead_routing_priority, str)),
    ]
    return [
        BenefitRow(label=label, value=value or _("program default"), is_default=value is None)
        for label, value in rows
    ]
