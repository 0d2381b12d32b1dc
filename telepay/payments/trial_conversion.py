"""A purchase converts the buyer's free trial: a settlement extra (`telepay.payments.ipn`'s
`SETTLEMENT_EXTRAS`), so the trial is marked converted in the very transaction that settles the
subscription order, on either rail (Telegram Stars settle through the same `settle_payment`): a
replayed payment converts nothing twice, and a trial is converted by the first purchase only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared_schemas.documents import OrderDoc
from shared_schemas.ids import OrderKind, trial_id
from shared_schemas.messages import EventType
from telepay.channels.day_counts import add
from telepay.core.store import Store, Tx
from telepay.payments.settlement import Decision


def convert_trial(
    tx: Tx, store: Store, order: OrderDoc, decision: Decision, now: datetime
) -> Callable[[], None] | None:
    """Reads the buyer's trial when a subscription order settles; the write, if it is unconverted."""
    if order.kind is not OrderKind.SUBSCRIPTION or decision.subscription is None:
        return None
    if decision.event is None or decision.event.envelope.get("type") != EventType.PAYMENT_SETTLED.value:
        return None
    tid = trial_id(order.channel_token, order.user_id)
    trial = tx.get(store.trials, tid)
    if trial is None or trial.converted_order_id is not None:
        return None

    def write() -> None:
        tx.update(store.trials, tid, {"converted_order_id": order.order_id, "converted_at": now})
        add(tx, store, order.channel_token, now, {"trials_converted": 1})
        add(tx, store, order.channel_token, trial.ends_at, {"trials_ending": -1})  # no trial member now

    return write
