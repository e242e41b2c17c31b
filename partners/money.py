"""Money: Decimal amounts with a currency, rounded to the currency's minor unit. No floats."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor units that differ from 2 (the rest use 2).
_MINOR_UNITS = {
    "BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3,
    "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0, "XPF": 0, "HUF": 2, "TWD": 2,
}  # fmt: skip

#: The largest amount we accept anywhere (a sanity bound far beyond any real deal).
MAX_AMOUNT = Decimal("999999999999.99")


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round to the currency's minor unit, half to even (banker's rounding)."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"Not an amount: {amount!r}") from exc
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(exponent, rounding=ROUND_HALF_EVEN)


def format_money(
    amount: Decimal | int | str | None, currency: str, *, empty: str = "", html: bool = True
) -> str:
    """``1234.5, "EUR"`` -> ``1,234.50 EUR``: the currency's minor unit and the active
    locale's separators, Decimal all the way (no float). In HTML a no-break space keeps the
    currency on the amount's line; plain text (emails) gets an ordinary space."""
    from django.utils.formats import number_format

    if amount is None or amount == "":
        return empty
    value = number_format(
        Decimal(amount), decimal_pos=minor_units(currency or ""), use_l10n=True,
        force_grouping=True,
    )  # fmt: skip
    space = "\N{NO-BREAK SPACE}" if html else " "
    return f"{value}{space}{currency}" if currency else value
