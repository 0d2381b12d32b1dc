"""ipn_handler's logic: verify, re-read the payment from NowPayments, advance it monotonically and
settle it in one Firestore transaction with an outbox event, then publish the outbox.

Tolerance: a payment settles when `actually_paid >= pay_amount * (1 - PAYMENT_TOLERANCE_PERCENT/100)`
(default 0.5 %, which absorbs network-fee rounding on the payer's side), and the API's
`price_amount`/`price_currency` match the order's exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shared_schemas.documents import (
    OUTBOX_PUBLISHED_RETENTION,
    PAYMENT_STATUS_RANK,
    OrderDoc,
    OrderStatus,
    OutboxDoc,
    PaymentStatus,
    SubscriptionDoc,
    SubscriptionStatus,
    UnknownIpnDoc,
)
from shared_schemas.ids import OrderKind, subscription_id
from shared_schemas.messages import EVENT_TOPICS, Envelope, EventType, PaymentEvent
from shared_schemas.names import Collection, Topic
from shared_schemas.queries import ORDER_OUTBOX, STUCK_OUTBOX
from telepay import ipn_signature
from telepay.adapters.nowpayments_api import NowPaymentsRejected, NowPaymentsUnavailable, Payment
from telepay.channels import load_channel
from telepay.logs import get_logger
from telepay.queries import build

if TYPE_CHECKING:
    from google.cloud.firestore import Client, Transaction

    from shared_schemas.documents import ChannelDoc
    from telepay.runtime import Runtime

log = get_logger("telepay.payments")


class IpnBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    payment_id: int
    payment_status: str
    order_id: str | None = None


@dataclass
class IpnResult:
    http_status: int
    outcome: str


class RetryLater(Exception):
    """Answer 5xx so NowPayments re-sends the IPN (NowPayments API down, publish failed)."""


def handle_ipn(body: bytes, signature: str | None, rt: Runtime) -> IpnResult:
    secret = rt.settings.nowpayments_ipn_secret.get_secret_value()
    if not signature:
        return IpnResult(401, "unsigned")
    if not ipn_signature.verify(body, signature, secret):
        return IpnResult(401, "bad signature")
    try:
        raw = json.loads(body)
        ipn = IpnBody.model_validate(raw)
    except (ValueError, ValidationError):
        return IpnResult(400, "malformed body")
    ids = {"payment_id": ipn.payment_id, "order_id": ipn.order_id}

    order = _load_order(rt.db, ipn.order_id)
    if order is None:
        _record_unknown(rt, raw, ipn, "unknown order")
        log.warning("IPN for an unknown order", extra=ids)
        return IpnResult(200, "unknown order")

    # Never grant on the IPN alone: its signature has no timestamp, so it may be a replay.
    try:
        payment = rt.nowpayments.get_payment(ipn.payment_id)
    except NowPaymentsUnavailable as error:
        raise RetryLater(f"payment re-read failed: {error}") from error
    except NowPaymentsRejected as error:
        _record_unknown(rt, raw, ipn, f"payment not confirmed by the API ({error.status})")
        return IpnResult(200, "payment unknown to the API")
    if payment.order_id != order.order_id:
        _record_unknown(rt, raw, ipn, "API payment belongs to another order")
        return IpnResult(200, "order mismatch")

    claim = rt.claims.claim(
        "ipn", f"{payment.payment_id}:{payment.payment_status}", lease=timedelta(seconds=30)
    )
    if claim.acquired:
        try:
            outcome = apply_payment(rt, order.order_id, payment)
        except Exception:
            claim.release()
            raise
        claim.done(outcome)
    else:
        outcome = f"duplicate ({claim.outcome.value})"
    # Every IPN (duplicates too) flushes what this order still has in the outbox.
    if not flush_outbox(rt, order.order_id):
        raise RetryLater("publishing the payment event failed; it stays in the outbox")
    log.info("IPN %s: %s", payment.payment_status, outcome, extra=ids)
    return IpnResult(200, outcome)


def _load_order(db: Client, order_id: str | None) -> OrderDoc | None:
    if not order_id or "/" in order_id or len(order_id) > 200:
        return None
    snapshot = db.collection(Collection.ORDERS.value).document(order_id).get()
    return OrderDoc.model_validate(snapshot.to_dict()) if snapshot.exists else None


def _record_unknown(rt: Runtime, raw: Any, ipn: IpnBody, reason: str) -> None:
    doc = UnknownIpnDoc(
        received_at=rt.clock.now(),
        order_id=ipn.order_id,
        payment_id=ipn.payment_id,
        payment_status=ipn.payment_status,
        reason=reason,
        body=raw if isinstance(raw, dict) else {"body": raw},
    )
    rt.db.collection(Collection.UNKNOWN_IPNS.value).document(f"{ipn.payment_id}-{ipn.payment_status}").set(
        doc.to_firestore()
    )


def _rank(status: PaymentStatus | None) -> int:
    return -1 if status is None else PAYMENT_STATUS_RANK[status]


def covers_price(order: OrderDoc, payment: Payment, tolerance_percent: Decimal) -> bool:
    if payment.price_amount is not None and payment.price_amount != order.price_amount:
        return False
    if payment.price_currency and payment.price_currency.lower() != order.price_currency.lower():
        return False
    if payment.pay_amount is None or payment.actually_paid is None:
        return False
    return payment.actually_paid >= payment.pay_amount * (1 - tolerance_percent / 100)


def apply_payment(rt: Runtime, order_id: str, payment: Payment) -> str:
    """One transaction: advance the payment, settle (extend from max(now, expiry)), record events."""
    from google.cloud import firestore

    db = rt.db
    settings = rt.settings
    order_ref = db.collection(Collection.ORDERS.value).document(order_id)

    try:
        new_status = PaymentStatus(payment.payment_status)
    except ValueError:
        return f"ignored unknown status {payment.payment_status!r}"
    settle_on = {PaymentStatus.FINISHED} | (
        {PaymentStatus.CONFIRMED} if settings.settle_on_confirmed else set()
    )

    @firestore.transactional
    def run(transaction: Transaction) -> str:
        order = OrderDoc.model_validate(order_ref.get(transaction=transaction).to_dict())
        channel = load_channel(db, order.channel_token)
        sub_ref = db.collection(Collection.SUBSCRIPTIONS.value).document(
            subscription_id(order.channel_token, order.user_id)
        )
        sub_snapshot = (
            sub_ref.get(transaction=transaction) if order.kind == OrderKind.SUBSCRIPTION.value else None
        )
        now = rt.clock.now()

        if order.status is OrderStatus.SETTLED:
            return "already settled"
        if _rank(new_status) <= _rank(order.payment_status) and new_status not in settle_on:
            return f"stale {new_status.value} (order at {order.payment_status})"

        updates: dict[str, Any] = {
            "payment_id": payment.payment_id,
            "payment_status": new_status.value,
            "actually_paid": str(payment.actually_paid) if payment.actually_paid is not None else None,
            "pay_amount": str(payment.pay_amount) if payment.pay_amount is not None else None,
            "pay_currency": payment.pay_currency,
            "updated_at": now,
        }
        event_type: EventType | None = None
        previous_expiry = None
        new_expiry = None
        was_active = False
        if new_status in settle_on and covers_price(order, payment, settings.payment_tolerance_percent):
            event_type = EventType.PAYMENT_SETTLED
            updates |= {"status": OrderStatus.SETTLED.value, "settled_at": now}
            if order.kind == OrderKind.SUBSCRIPTION.value:
                previous = (
                    SubscriptionDoc.model_validate(sub_snapshot.to_dict())
                    if sub_snapshot is not None and sub_snapshot.exists
                    else None
                )
                new_expiry, previous_expiry, was_active = _extend(previous, order, now)
                sub = SubscriptionDoc(
                    channel_token=order.channel_token,
                    user_id=order.user_id,
                    closed_channel_id=channel.closed_channel_id if channel else 0,
                    status=SubscriptionStatus.ACTIVE,
                    expires_at=new_expiry,
                    started_at=previous.started_at if previous else now,
                    renewed_at=now,
                    tier_id=order.tier_id,
                    last_order_id=order.order_id,
                    # Still in the channel unless the removal already ran (it sets status expired).
                    in_channel=bool(
                        previous and previous.in_channel and previous.status is SubscriptionStatus.ACTIVE
                    ),
                    reminders_sent=previous.reminders_sent if previous else [],
                    next_action_at=now,  # the sweep works out the reminders and removal from here
                    updated_at=now,
                )
                transaction.set(sub_ref, sub.to_firestore())
                updates["subscription_expires_at"] = new_expiry
        elif new_status in settle_on or new_status is PaymentStatus.PARTIALLY_PAID:
            event_type = EventType.PAYMENT_PARTIALLY_PAID
            updates["status"] = OrderStatus.PARTIALLY_PAID.value
        elif new_status is PaymentStatus.EXPIRED:
            event_type = EventType.PAYMENT_EXPIRED
            updates["status"] = OrderStatus.EXPIRED.value
        elif new_status in (PaymentStatus.FAILED, PaymentStatus.REFUNDED):
            event_type = EventType.PAYMENT_FAILED
            updates["status"] = OrderStatus.FAILED.value
        transaction.update(order_ref, updates)

        if event_type is not None:
            outbox = _outbox_doc(
                rt, order, channel, payment, event_type, new_expiry, previous_expiry, was_active, now
            )
            outbox_ref = db.collection(Collection.OUTBOX.value).document(outbox.event_id)
            transaction.set(outbox_ref, outbox.to_firestore())
            return f"{new_status.value}: {event_type.value}"
        return f"advanced to {new_status.value}"

    return str(run(db.transaction()))


def _extend(previous: SubscriptionDoc | None, order: OrderDoc, now: Any) -> tuple[Any, Any, bool]:
    """A renewal never loses paid days: extend from max(now, current expiry)."""
    days = timedelta(days=order.days or 0)
    if previous is None:
        return now + days, None, False
    active = previous.status is SubscriptionStatus.ACTIVE and previous.expires_at > now
    base = max(now, previous.expires_at)
    return base + days, previous.expires_at, active


def _outbox_doc(
    rt: Runtime,
    order: OrderDoc,
    channel: ChannelDoc | None,
    payment: Payment,
    event_type: EventType,
    new_expiry: Any,
    previous_expiry: Any,
    was_active: bool,
    now: Any,
) -> OutboxDoc:
    event_id = f"{order.order_id}.{event_type.value}"
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
        subscription_expires_at=new_expiry,
        previous_expires_at=previous_expiry,
        was_active=was_active,
    )
    envelope = Envelope[PaymentEvent](event_id=event_id, type=event_type, occurred_at=now, data=data)
    return OutboxDoc(
        event_id=event_id,
        topic=EVENT_TOPICS[event_type].value,
        order_id=order.order_id,
        envelope=envelope.model_dump(mode="json"),
        created_at=now,
    )


def flush_outbox(rt: Runtime, order_id: str | None = None, older_than: timedelta | None = None) -> bool:
    """Publish unpublished outbox events (of one order, or all older than a delay). True if all went."""
    if order_id is not None:
        query = build(rt.db, ORDER_OUTBOX, order_id=order_id, published=False)
    else:
        cutoff = rt.clock.now() - (older_than or timedelta(0))
        query = build(rt.db, STUCK_OUTBOX, published=False, below=cutoff)
    ok = True
    for snapshot in query.limit(200).stream():
        doc = OutboxDoc.model_validate(snapshot.to_dict())
        try:
            rt.publisher.publish(
                Topic(doc.topic),
                json.dumps(doc.envelope).encode(),
                event_id=doc.event_id,
                event_type=str(doc.envelope.get("type")),
            )
        except Exception as error:  # publishing failed: the event stays in the outbox
            log.warning(
                "publish failed, event kept in the outbox: %s", error, extra={"event_id": doc.event_id}
            )
            snapshot.reference.update({"publish_attempts": doc.publish_attempts + 1})
            ok = False
            continue
        snapshot.reference.update(
            {
                "published": True,
                "published_at": rt.clock.now(),
                "expire_at": rt.clock.now() + OUTBOX_PUBLISHED_RETENTION,
            }
        )
    return ok
