"""A promo code's use, counted in the transaction that settles the payment made with it (a settlement
extra, `telepay.payments.ipn.SETTLEMENT_EXTRAS`): the code's uses and revenue (USD apart from
Stars) and the buyer's `promo_uses` record, once per order (a re-delivered IPN, a further payment of
a settled order and a refund count nothing). An order created before the code ran out is honoured
(the buyer saw its price): it is counted, beyond the limit, and its event says so to the owner
(`promo_used_up`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared_schemas.documents import OrderDoc, OrderStatus, PromoUseDoc
from shared_schemas.ids import promo_code_id, promo_use_id
from telepay.core.i18n import STARS
from telepay.core.store import Store, Tx
from telepay.payments.settlement import Decision


def count_promo_use(
    tx: Tx, store: Store, order: OrderDoc, decision: Decision, now: datetime
) -> Callable[[], None] | None:
    if not order.promo_code or decision.order_updates.get("status") is not OrderStatus.SETTLED:
        return None
    code_id = promo_code_id(order.channel_token, order.promo_code)
    use_id = promo_use_id(order.channel_token, order.promo_code, order.user_id)
    code = tx.get(store.promo_codes, code_id)
    use = tx.get(store.promo_uses, use_id)
    if code is None or (use is not None and order.order_id in use.order_ids):
        return None
    used_up = (code.max_uses is not None and code.uses >= code.max_uses) or (
        code.max_uses_per_buyer is not None and use is not None and use.uses >= code.max_uses_per_buyer
    )
    if used_up and decision.event is not None:  # the event is written after the extras' reads
        data = decision.event.envelope["data"]
        assert isinstance(data, dict)
        data["promo_used_up"] = True

    def write() -> None:
        updates: dict[str, object] = {"uses": code.uses + 1, "updated_at": now}
        if order.price_currency == STARS:
            updates["revenue_stars"] = code.revenue_stars + int(order.price_amount)
        else:
            updates["revenue"] = code.revenue + order.price_amount
        tx.update(store.promo_codes, code_id, updates)
        counted = PromoUseDoc(
            channel_token=order.channel_token,
            code=code.code,
            user_id=order.user_id,
            uses=(use.uses if use else 0) + 1,
            order_ids=[*(use.order_ids if use else []), order.order_id][-100:],
            updated_at=now,
        )
        tx.set(store.promo_uses, use_id, counted)

    return write
