"""NowPayments' minimum payment in each coin buyers can use, read for the prices an owner sets (the
rule is `telepay.channels.price_rules`). NowPayments unreachable or refusing never blocks an owner:
the minimums are then unknown (None) and the owner is told the check was not made."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from telepay.adapters.nowpayments_api import NowPaymentsApi, NowPaymentsRejected, NowPaymentsUnavailable
from telepay.channels.price_rules import PriceCheck, check_price
from telepay.core.logs import get_logger

log = get_logger("telepay.channels")


def coin_minimums(api: NowPaymentsApi, currency: str) -> dict[str, Decimal] | None:
    """Each coin buyers may pay with → the least NowPayments takes in it, in `currency` (the
    channel's price currency); None when NowPayments cannot say right now."""
    try:
        return api.payment_minimums(currency)
    except (NowPaymentsUnavailable, NowPaymentsRejected) as error:
        log.warning("minimum payments not checked: %s", error)
        return None


def check_prices(
    api: NowPaymentsApi, prices: Sequence[tuple[str, Decimal]], currency: str
) -> list[tuple[str, PriceCheck]]:
    """Each (field, price) checked against the minimums, read once (not at all without a price)."""
    if not prices:
        return []
    minimums = coin_minimums(api, currency)
    return [(field, check_price(price, minimums, currency)) for field, price in prices]
