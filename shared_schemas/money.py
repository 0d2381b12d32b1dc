"""Money: exact decimals, stored as strings, shown with their currency."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
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


# --- Precision and the one rounding rule of the ledger ------------------------------------------
# Fiat amounts have cents; crypto amounts have the 8 decimals NowPayments reports them with.
FIAT_CURRENCIES = frozenset({"usd", "eur", "gbp"})
CRYPTO_PLACES = 8


def quantum(currency: str) -> Decimal:
    """The smallest unit TelePay books in this currency: 0.01 for fiat, 1e-8 for crypto."""
    return CENT if currency.lower() in FIAT_CURRENCIES else Decimal(1).scaleb(-CRYPTO_PLACES)


def round_fee(amount: Decimal, currency: str) -> Decimal:
    """The ledger's rounding rule: a fee is rounded once, half up, to the currency's smallest unit;
    the net is then gross minus that fee, exactly (so gross == fee + net, always)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def round_payout(amount: Decimal, currency: str) -> Decimal:
    """A converted payout amount is rounded down to the smallest unit: never send more than owed."""
    return amount.quantize(quantum(currency), rounding=ROUND_DOWN)
