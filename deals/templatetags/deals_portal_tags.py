"""Template filters of the deal pages."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils import formats

from partners.money import minor_units

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5|money:"EUR"`` -> ``1,234.50 EUR``: the currency's minor unit, the locale's
    separators. No float on the way."""
    if amount is None or amount == "":
        return "—"
    value = formats.number_format(
        Decimal(amount),
        decimal_pos=minor_units(currency or ""),
        use_l10n=True,
        force_grouping=True,
    )
    return f"{value}\N{NO-BREAK SPACE}{currency}" if currency else value
