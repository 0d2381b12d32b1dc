"""What a gift order's payment does besides the sale, in the transaction that settles it (a
settlement extra of `telepay.payments.ipn`, on either rail):

- settled: the gift is written (`gifts/<code>`; the code comes with the order, so a transaction run
  again writes the same one, and an existing gift is never written over);
- refunded: an unredeemed gift is voided; a redeemed one's days come off the redeemer's
  subscription (not before now: the expiry sweep removes them when nothing is left).

The ledger books the sale as for any subscription; the buyer's own subscription is not touched
(`telepay.payments.settlement`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared_schemas.documents import GiftDoc, GiftState, OrderDoc, SubscriptionDoc
from shared_schemas.ids import subscription_id
from telepay.channels.day_counts import set_subscription
from telepay.core.store import Store, Tx
from telepay.payments.settlement import Decision
from telepay.subscriptions.free_access import with_days_taken
from telepay.subscriptions.gift_rules import gift_code_of, new_gift


def settled_or_refunded(
    tx: Tx, store: Store, order: OrderDoc, decision: Decision, now: datetime
) -> Callable[[], None] | None:
    """Reads now (before the transaction writes), returns the writes (made after the settlement's)."""
    if not order.gift:
        return None
    if decision.ledger_entry_id is not None:
        gift = new_gift(order, decision.ledger_entry_id, now)
        if gift is None or tx.get(store.gifts, gift.code) is not None:
            return None
        made = gift
        return lambda: tx.set(store.gifts, made.code, made)
    if decision.refunded_entry_id is not None:
        code = gift_code_of(order, decision.refunded_entry_id)
        found = tx.get(store.gifts, code) if code else None
        if found is None or found.state is GiftState.VOIDED:
            return None
        return _refunded(tx, store, found, now)
    return None


def _refunded(tx: Tx, store: Store, gift: GiftDoc, now: datetime) -> Callable[[], None]:
    if gift.state is GiftState.READY or gift.redeemed_by is None:

        def void() -> None:
            tx.update(store.gifts, gift.code, {"state": GiftState.VOIDED, "voided_at": now})

        return void
    sub_id = subscription_id(gift.channel_token, gift.redeemed_by)
    current: SubscriptionDoc | None = tx.get(store.subscriptions, sub_id)

    def take_back() -> None:
        tx.update(store.gifts, gift.code, {"state": GiftState.VOIDED, "voided_at": now})
        if current is not None:
            set_subscription(tx, store, sub_id, current, with_days_taken(current, gift.days, now))

    return take_back
