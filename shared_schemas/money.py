"""Money: exact decimals, stored as strings, shown with their currency."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        # Floats only arrive from JSON numbers; their shortest repr is the text that was sent.
        return Decimal(repr(value))
    raise ValueError(f"not an amount: {value!r}")


# Stored in Firestore and JSON as a string so no binary float ever touches a price.
Money = Annotated[Decimal, BeforeValidator(to_decimal), PlainSerializer(lambda d: str(d), return_type=str)]


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_amount(amount: Decimal, currency: str) -> str:
    """`12.50 USD` style, two decimals for fiat, crypto as given."""
    code = currency.upper()
    if code in {"USD", "EUR", "GBP"}:
        symbol = {"USD": "$", "EUR": "€", "GBP": "£"}[code]
        return f"{symbol}{amount.quantize(CENT, rounding=ROUND_HALF_UP):,} {code}"
    return f"{amount.normalize():f} {code}"
