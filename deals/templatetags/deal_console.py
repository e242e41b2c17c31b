"""Template filters of the staff console's deal pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from partners.money import minor_units

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5|money:"EUR"`` -> "1,234.50 EUR" in the active locale, Decimal all the way."""
    if amount is None:
        return ""
    digits = minor_units(currency or "")
    return f"{number_format(amount, decimal_pos=digits, force_grouping=True)} {currency}"


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
