"""The payment decision, as a pure function: what one NowPayments payment state does to an order.

Plain values in (the order, the API's payment, the buyer's current subscription, the channel, now,
the policy), plain values out (the order's field updates, the subscription to write, the event to
publish). `telepay.payments.ipn` only reads, calls `decide` and writes, in one transaction.

Rules:
- A payment's status only moves forward (`PAYMENT_STATUS_RANK`), per payment id; a settled order
  never settles again.
- A payment settles when its status is a settling one (`finished`, and `confirmed` if configured),
  the API's `price_amount`/`price_currency` match the order's exactly, and
  `actually_paid >= pay_amount * (1 - tolerance/100)` (the tolerance absorbs network-fee rounding
  on the payer's side).
- A subscription is extended from max(now, current expiry): a renewal never loses paid days.
- A gift order (`OrderDoc.gift`) extends no subscription: its days are the gift's
  (`telepay.payments.gifts`, a settlement extra), and its refund shortens nobody's here.
- Money stays `Decimal` and is copied, never recomputed: what NowPayments reported is what is
  stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared_schemas.documents import (
    PAYMENT_STATUS_RANK,
    ChannelDoc,
    OrderDoc,
    OrderStatus,
    OutboxDoc,
    PaymentStatus,
    SubscriptionDoc,
    SubscriptionStatus,
)
from shared_schemas.ids import OrderKind
from shared_schemas.messages import EVENT_TOPICS, Envelope, EventType, PaymentEvent
from shared_schemas.nowpayments import Payment
from telepay.subscriptions.free_access import extend
from telepay.subscriptions.gift_rules import gift_code_of


@dataclass(frozen=True)
class SettlementPolicy:
    settle_on_confirmed: bool = False
    tolerance_percent: Decimal = Decimal("0.5")

    def settles(self, status: PaymentStatus) -> bool:
        return status is PaymentStatus.FINISHED or (
            self.settle_on_confirmed and status is PaymentStatus.CONFIRMED
        )


@dataclass(frozen=True)
class Decision:
    outcome: str
    order_updates: dict[str, Any] = field(default_factory=dict)
    subscription: SubscriptionDoc | None = None
    event: OutboxDoc | None = None
    ledger_entry_id: str | None = None  # a settled payment books the ledger under this id
    refunded_entry_id: str | None = None  # a refunded payment takes back the entry it booked
    joined: bool = False  # the buyer had no active subscription: a member again (the dashboard counts it)


def rank(status: PaymentStatus | None) -> int:
    return -1 if status is None else PAYMENT_STATUS_RANK[status]


def covers_price(order: OrderDoc, payment: Payment, tolerance_percent: Decimal) -> bool:
    if payment.price_amount is not None and payment.price_amount != order.price_amount:
        return False
    if payment.price_currency and payment.price_currency.lower() != order.price_currency.lower():
        return False
    if payment.pay_amount is None or payment.actually_paid is None:
        return False
    return payment.actually_paid >= payment.pay_amount * (1 - tolerance_percent / 100)


def decide(
    order: OrderDoc,
    payment: Payment,
    current: SubscriptionDoc | None,
    channel: ChannelDoc | None,
    now: datetime,
    policy: SettlementPolicy,
) -> Decision:
    try:
        new_status = PaymentStatus(payment.payment_status)
    except ValueError:
        return Decision(f"ignored unknown status {payment.payment_status!r}")
    if order.status in (OrderStatus.SETTLED, OrderStatus.REFUNDED):
        return _after_settlement(order, payment, new_status, current, channel, now, policy)
    # Forward only, per payment: another payment of the order (the buyer paid again after an
    # underpaid one was refunded) starts from nothing. The same settling status may come again (an
    # underpayment topped up).
    old = order.payment_status if payment.payment_id == order.payment_id else None
    if rank(new_status) < rank(old) or (rank(new_status) == rank(old) and not policy.settles(new_status)):
        return Decision(f"stale {new_status.value} (order at {old})")

    updates: dict[str, Any] = {
        "payment_id": payment.payment_id,
        "payment_status": new_status,
        "actually_paid": payment.actually_paid,
        "pay_amount": payment.pay_amount,
        "pay_currency": payment.pay_currency,
        "updated_at": now,
    }
    grant = Grant()
    if policy.settles(new_status) and covers_price(order, payment, policy.tolerance_percent):
        event_type = EventType.PAYMENT_SETTLED
        updates |= {"status": OrderStatus.SETTLED, "settled_at": now}
        if order.kind is OrderKind.SUBSCRIPTION and not order.gift:
            grant = granted(order, current, channel, now)
            updates["subscription_expires_at"] = grant.expires_at
    elif policy.settles(new_status) or new_status is PaymentStatus.PARTIALLY_PAID:
        event_type = EventType.PAYMENT_PARTIALLY_PAID
        updates["status"] = OrderStatus.PARTIALLY_PAID
    elif new_status is PaymentStatus.EXPIRED:
        event_type = EventType.PAYMENT_EXPIRED
        updates["status"] = OrderStatus.EXPIRED
    elif new_status in (PaymentStatus.FAILED, PaymentStatus.REFUNDED):
        event_type = EventType.PAYMENT_FAILED
        updates["status"] = OrderStatus.FAILED
    else:
        return Decision(f"advanced to {new_status.value}", updates)
    entry_id = order.order_id if event_type is EventType.PAYMENT_SETTLED else None
    event = payment_event(order, channel, payment, event_type, grant, now, entry_id=entry_id)
    outcome = f"{new_status.value}: {event_type.value}"
    return Decision(
        outcome,
        updates,
        grant.subscription,
        event,
        entry_id,
        joined=grant.joined,
    )


@dataclass(frozen=True)
class Grant:
    """What a settled subscription payment does to the buyer's subscription."""

    subscription: SubscriptionDoc | None = None
    expires_at: datetime | None = None
    previous_expires_at: datetime | None = None
    was_active: bool = False
    joined: bool = False  # no subscription, or an expired one, became active


def granted(
    order: OrderDoc, current: SubscriptionDoc | None, channel: ChannelDoc | None, now: datetime
) -> Grant:
    new_expiry, previous_expiry, was_active = extend(current, order.days or 0, now)
    subscription = SubscriptionDoc(
        channel_token=order.channel_token,
        user_id=order.user_id,
        closed_channel_id=channel.closed_channel_id if channel else 0,
        status=SubscriptionStatus.ACTIVE,
        expires_at=new_expiry,
        started_at=current.started_at if current else now,
        renewed_at=now,
        tier_id=order.tier_id,
        last_order_id=order.order_id,
        # Still in the channel unless the removal already ran (it sets status expired).
        in_channel=bool(current and current.in_channel and current.status is SubscriptionStatus.ACTIVE),
        reminders_sent=current.reminders_sent if current else [],
        joined_chats=current.joined_chats if current else [],
        star_renewal=current.star_renewal if current else None,  # Telegram still renews it
        next_action_at=now,  # the sweep works out the reminders and removal from here
        access_sent=False,  # until notify (or reconciliation) sends the receipt and link
        updated_at=now,
    )
    joined = current is None or current.status is not SubscriptionStatus.ACTIVE
    return Grant(subscription, new_expiry, previous_expiry, was_active, joined)


def _after_settlement(
    order: OrderDoc,
    payment: Payment,
    new_status: PaymentStatus,
    current: SubscriptionDoc | None,
    channel: ChannelDoc | None,
    now: datetime,
    policy: SettlementPolicy,
) -> Decision:
    """A settled order hears of a payment again: the same one (a replay, or its refund) or another
    one (a wallet's double send, a reused Pay button), which the buyer paid and so gets."""
    pid = payment.payment_id
    applied = pid == order.payment_id or pid in order.extra_payment_ids
    if new_status is PaymentStatus.REFUNDED and applied and pid not in order.refunded_payment_ids:
        return _refund(order, payment, current, channel, now)
    if applied:
        return Decision("already settled")
    if not (policy.settles(new_status) and covers_price(order, payment, policy.tolerance_percent)):
        return Decision(f"another payment {pid} at {new_status.value}: nothing to apply yet")
    updates: dict[str, Any] = {"extra_payment_ids": [*order.extra_payment_ids, pid], "updated_at": now}
    buys_days = order.kind is OrderKind.SUBSCRIPTION and not order.gift
    grant = granted(order, current, channel, now) if buys_days else Grant()
    entry_id = f"{order.order_id}.{pid}"
    event = payment_event(
        order, channel, payment, EventType.PAYMENT_SETTLED, grant, now, per_payment=True, entry_id=entry_id
    )
    outcome = f"{new_status.value}: another {EventType.PAYMENT_SETTLED.value}"
    return Decision(outcome, updates, grant.subscription, event, entry_id, joined=grant.joined)


def _refund(
    order: OrderDoc,
    payment: Payment,
    current: SubscriptionDoc | None,
    channel: ChannelDoc | None,
    now: datetime,
) -> Decision:
    """The access a refunded payment bought ends: its days come off the expiry (not before now);
    the sweep removes the member when nothing is left."""
    updates: dict[str, Any] = {
        "refunded_payment_ids": [*order.refunded_payment_ids, payment.payment_id],
        "updated_at": now,
    }
    if payment.payment_id == order.payment_id:
        updates |= {"status": OrderStatus.REFUNDED, "payment_status": PaymentStatus.REFUNDED}
    grant = Grant()
    if order.kind is OrderKind.SUBSCRIPTION and not order.gift and current is not None:
        ends = max(now, current.expires_at - timedelta(days=order.days or 0))
        shortened = current.model_copy(update={"expires_at": ends, "next_action_at": now, "updated_at": now})
        grant = Grant(shortened, ends, current.expires_at, current.status is SubscriptionStatus.ACTIVE)
    # The entry this payment booked: the order's own, or `<order>.<payment>` for a further payment.
    entry_id = (
        order.order_id if payment.payment_id == order.payment_id else f"{order.order_id}.{payment.payment_id}"
    )
    event = payment_event(
        order, channel, payment, EventType.PAYMENT_REFUNDED, grant, now, per_payment=True, entry_id=entry_id
    )
    return Decision(
        f"refunded: {EventType.PAYMENT_REFUNDED.value}", updates, grant.subscription, event, None, entry_id
    )


def payment_event(
    order: OrderDoc,
    channel: ChannelDoc | None,
    payment: Payment,
    event_type: EventType,
    grant: Grant,
    now: datetime,
    per_payment: bool = False,
    entry_id: str | None = None,
) -> OutboxDoc:
    """The outbox record of one payment event (its id makes a replay publish the same event; events
    after settlement are per payment, since one order may hear of several). `entry_id`: the ledger
    entry of the payment, which names a gift order's gift."""
    event_id = (
        f"{order.order_id}.{payment.payment_id}.{event_type.value}"
        if per_payment
        else f"{order.order_id}.{event_type.value}"
    )
    data = PaymentEvent(
        order_id=order.order_id,
        kind=order.kind,
        user_id=order.user_id,
        chat_id=order.chat_id,
        buyer_name=order.buyer_name,
        channel_token=order.channel_token,
        channel_title=channel.title if channel else order.channel_token,
        owner_user_id=channel.owner_user_id if channel else 0,
        closed_channel_id=channel.closed_channel_id if channel else 0,
        tier_id=order.tier_id,
        days=order.days,
        price_amount=order.price_amount,
        price_currency=order.price_currency,
        payment_id=payment.payment_id,
        payment_status=payment.payment_status,
        actually_paid=payment.actually_paid,
        pay_amount=payment.pay_amount,
        pay_currency=payment.pay_currency,
        subscription_expires_at=grant.expires_at,
        previous_expires_at=grant.previous_expires_at,
        was_active=grant.was_active,
        gift_code=gift_code_of(order, entry_id) if order.gift and entry_id else None,
        promo_code=order.promo_code,
        full_price_amount=order.full_price_amount,
    )
    envelope = Envelope[PaymentEvent](event_id=event_id, type=event_type, occurred_at=now, data=data)
    return OutboxDoc(
        event_id=event_id,
        topic=EVENT_TOPICS[event_type].value,
        order_id=order.order_id,
        envelope=envelope.model_dump(mode="json"),
        created_at=now,
    )
