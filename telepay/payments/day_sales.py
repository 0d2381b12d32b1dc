"""A payment's sale counted on its channel's day (a settlement extra,
`telepay.payments.ipn.SETTLEMENT_EXTRAS`), on either rail: a settled payment adds a sale (new or
renewed, or a gift, or a donation) with its revenue in cents or Stars and its tier, and a member who
joined; a refund takes the sale and its revenue off the day the payment was booked. Counted once per
payment: a re-delivered IPN or update decides nothing new, so counts nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from shared_schemas.documents import OrderDoc
from shared_schemas.ids import OrderKind
from telepay.channels.day_counts import add
from telepay.core.i18n import STARS
from telepay.core.store import Store, Tx
from telepay.payments.settlement import Decision


def _amounts(order: OrderDoc) -> tuple[int, int]:
    """The order's price as (cents, Stars): one of them is 0."""
    if order.price_currency == STARS:
        return 0, int(order.price_amount)
    return int((order.price_amount * 100).to_integral_value()), 0


def count_sale(
    tx: Tx, store: Store, order: OrderDoc, decision: Decision, now: datetime
) -> Callable[[], None] | None:
    token = order.channel_token
    cents, stars = _amounts(order)
    sign = 1
    day = now
    if decision.refunded_entry_id is not None:
        booked = tx.get(store.ledger, decision.refunded_entry_id)
        if booked is None:
            return None
        sign, day = -1, booked.booked_at
    elif decision.ledger_entry_id is None:
        return None

    def write() -> None:
        if order.kind is OrderKind.DONATION:
            counts = {"donations": sign, "donation_cents": sign * cents, "donation_stars": sign * stars}
            add(tx, store, token, day, counts)
            return
        rail = (
            {"stars_sales": sign, "stars": sign * stars}
            if stars
            else {"crypto_sales": sign, "crypto_cents": sign * cents}
        )
        counts = dict(rail)
        if sign > 0:
            sub = decision.subscription
            if order.gift:
                counts["gifts"] = 1
            elif sub is not None:
                # A new subscription (or one that had lapsed) runs from the payment; a renewal extends it.
                new = sub.expires_at == now + timedelta(days=order.days or 0)
                counts["new" if new else "renewed"] = 1
                counts["joined"] = int(decision.joined)
        tier = (
            (order.tier_id, {"sales": sign, "cents": sign * cents, "stars": sign * stars})
            if order.tier_id
            else None
        )
        add(tx, store, token, day, counts, tier)

    return write
