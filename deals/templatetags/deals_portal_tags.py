"""Template filters of the deal pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from partners.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5|money:"EUR"`` -> ``1,234.50 EUR`` (partners.money.format_money)."""
    return format_money(amount, currency, empty="—")
