"""Amounts as users read them, with their currency."""

from __future__ import annotations

from decimal import Decimal

from shared_schemas.money import format_amount


def test_amounts_read_well() -> None:
    assert format_amount(Decimal("5"), "USD") == "$5.00 USD"
    assert format_amount(Decimal("1234.5"), "usd") == "$1,234.50 USD"
    assert format_amount(Decimal("0.00005000"), "btc") == "0.00005 BTC"
