"""Template filters of the staff console's deal pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils.translation import gettext, ngettext

from partners.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5|money:"EUR"`` -> ``1,234.50 EUR`` (partners.money.format_money)."""
    return format_money(amount, currency)


@register.filter
def age(value: timedelta | None) -> str:
    """How long a registration has waited: "3 days", "5 hours", "12 minutes"."""
    if not isinstance(value, timedelta):
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 1:
        return gettext("less than a minute")
    if minutes >= 60 * 24:
        days = minutes // (60 * 24)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if minutes >= 60:
        hours = minutes // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
