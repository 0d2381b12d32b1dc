"""ipn_handler's logic: verify, re-read the payment from NowPayments, decide what it does to the
order (`telepay.payments.settlement`) and write that in one transaction with an outbox event, then publish
the outbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shared_schemas.config import IpnHandlerSettings, PubSubSettings, SettlementSettings
from shared_schemas.documents import (
    OUTBOX_PUBLISHED_RETENTION,
    ChannelDoc,
    OrderDoc,
    OutboxDoc,
    PaymentStatus,
    SubscriptionDoc,
    UnknownIpnDoc,
)
from shared_schemas.ids import OrderKind, parse_order_id, subscription_id
from shared_schemas.names import ClaimPurpose, Topic
from shared_schemas.nowpayments import Payment
from shared_schemas.queries import ORDER_OUTBOX, STUCK_OUTBOX
from telepay.adapters.nowpayments_api import NowPaymentsRejected, NowPaymentsUnavailable
from telepay.channels.day_counts import set_subscription
from telepay.channels.lookup import load_channel
from telepay.core import concurrently
from telepay.core.claims import Claim
from telepay.core.errors import RetryLater
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.payments import gifts as gift_settlement
from telepay.payments import signature as ipn_signature
from telepay.payments.day_sales import count_sale
from telepay.payments.promo_uses import count_promo_use
from telepay.payments.settlement import Decision, SettlementPolicy, decide, rank
from telepay.payments.trial_conversion import convert_trial
from telepay.payouts import ipn as payout_ipn
from telepay.payouts import ledger
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


def handle_ipn(body: bytes, signature: str | None, rt: Runtime[IpnHandlerSettings]) -> IpnResult:
    secret = rt.settings.nowpayments_ipn_secret.get_secret_value()
    if not signature:
        return IpnResult(401, "unsigned")
    if not ipn_signature.verify(body, signature, secret):
        return IpnResult(401, "bad signature")
    try:
        raw = json.loads(body)
        # A lone surrogate (\\ud800) parses but is no text Firestore can keep: malformed, not a 500.
        json.dumps(raw, ensure_ascii=False).encode()
        if payout_ipn.is_payout_ipn(raw):
            return IpnResult(*payout_ipn.handle_payout_ipn(raw, rt))
        ipn = IpnBody.model_validate(raw)
    except (ValueError, ValidationError):
        return IpnResult(400, "malformed body")
    ids = {"payment_id": ipn.payment_id, "order_id": ipn.order_id}

    # The order, its channel and NowPayments' own account of the payment are read at once: none
    # needs another (the channel's token is in the order id), so the IPN waits for the slowest.
    token = _channel_token_of(ipn.order_id)
    order_read, payment_read, channel_read = concurrently.run(
        lambda: _load_order(rt.store, ipn.order_id),
        lambda: rt.nowpayments.get_payment(ipn.payment_id),
        lambda: load_channel(rt.store, token) if token else None,
    )
    order = order_read.value()
    if order is None:  # what NowPayments says of the payment no longer matters
        _record_unknown(rt, raw, ipn, "unknown order")
        log.warning("IPN for an unknown order", extra=ids)
        return IpnResult(200, "unknown order")

    # Never grant on the IPN alone: its signature has no timestamp, so it may be a replay.
    try:
        payment = payment_read.value()
    except NowPaymentsUnavailable as error:
        raise RetryLater(f"payment re-read failed: {error}") from error
    except NowPaymentsRejected as error:
        if error.status != 404:  # our key refused, or the like: the payment may well be real
            raise RetryLater(f"payment re-read refused: {error}") from error
        _record_unknown(rt, raw, ipn, f"payment not confirmed by the API ({error.status})")
        return IpnResult(200, "payment unknown to the API")
    channel = channel_read.value() if token == order.channel_token else None
    if payment.order_id != order.order_id:
        _record_unknown(rt, raw, ipn, "API payment belongs to another order")
        return IpnResult(200, "order mismatch")

    # What changed makes the work new: a top-up of an underpaid payment keeps its status.
    key = f"{payment.payment_id}:{payment.payment_status}:{payment.actually_paid}"
    fresh: OutboxDoc | None = None
    with rt.claims.hold(ClaimPurpose.IPN, key, lease=timedelta(seconds=30)) as claim:
        if claim.done_before:
            outcome = "duplicate (done)"
        else:  # the claim is marked done in the settling transaction
            outcome, fresh = settle_payment(
                rt, order.order_id, payment, loaded=order, claim=claim, channel=channel
            )
    # The event this IPN wrote is published at once; any other IPN (a duplicate, a re-sent one)
    # flushes what this order still has in the outbox: an earlier event whose publish failed was
    # answered 503, so its IPN comes again (and the every-minute sweep publishes it too).
    published = _publish(rt, fresh) if fresh is not None else flush_outbox(rt, order.order_id)
    if not published:
        raise RetryLater("publishing the payment event failed; it stays in the outbox")
    if api_is_behind(ipn.payment_status, payment.payment_status):
        # Applied what the API confirms; answering 503 makes NowPayments send the later status
        # again, by when the API will confirm it too.
        raise RetryLater(f"the API shows {payment.payment_status}, the IPN {ipn.payment_status}")
    log.info("IPN %s: %s", payment.payment_status, outcome, extra=ids)
    return IpnResult(200, outcome)


def api_is_behind(claimed: str, confirmed: str) -> bool:
    try:
        return rank(PaymentStatus(confirmed)) < rank(PaymentStatus(claimed))
    except ValueError:
        return False


def _channel_token_of(order_id: str | None) -> str | None:
    """The channel token an order id names (an order's id is made from its channel's token)."""
    try:
        return parse_order_id(order_id).channel_token if order_id else None
    except ValueError:
        return None


def _load_order(store: Store, order_id: str | None) -> OrderDoc | None:
    if not order_id or "/" in order_id or len(order_id) > 200:
        return None
    return store.orders.get(order_id)


def _record_unknown(rt: Runtime[IpnHandlerSettings], raw: Any, ipn: IpnBody, reason: str) -> None:
    doc = UnknownIpnDoc(
        received_at=rt.clock.now(),
        order_id=ipn.order_id,
        payment_id=ipn.payment_id,
        payment_status=ipn.payment_status,
        reason=reason,
        body=raw if isinstance(raw, dict) else {"body": raw},
    )
    rt.store.unknown_ipns.set(f"{ipn.payment_id}-{ipn.payment_status}", doc)


# What else a payment decision does, in the same transaction, on either rail: each extra reads what
# it needs (before any write of the transaction) and returns its writes (made after the settlement's
# own), or None. The growth tools hang here: a trial converted, a promo code's use counted, a gift's
# code made.
SettlementExtra = Callable[[Tx, Store, OrderDoc, Decision, datetime], Callable[[], None] | None]
SETTLEMENT_EXTRAS: tuple[SettlementExtra, ...] = (
    # -- gifts --
    gift_settlement.settled_or_refunded,
    # -- promo codes --
    count_promo_use,
    # -- free trials --
    convert_trial,
    # -- dashboard --
    count_sale,
)


def apply_payment(
    rt: Runtime[SettlementSettings], order_id: str, payment: Payment, loaded: OrderDoc | None = None
) -> str:
    """One transaction: read the order and the buyer's subscription, decide, write the decision.
    `loaded`: the order as the caller already read it (only its channel is taken from it)."""
    return settle_payment(rt, order_id, payment, loaded)[0]


def settle_payment(
    rt: Runtime[SettlementSettings],
    order_id: str,
    payment: Payment,
    loaded: OrderDoc | None = None,
    claim: Claim | None = None,
    held_until: datetime | None = None,
    adjust: Callable[[OrderDoc, Decision], Decision] | None = None,
    also: Callable[[Tx, OrderDoc, Decision], None] | None = None,
    channel: ChannelDoc | None = None,
) -> tuple[str, OutboxDoc | None]:
    """`apply_payment`, also returning the event it wrote; `claim` is marked done in the same
    transaction. A Telegram Stars charge comes with the end of Telegram's hold (`held_until`, put on
    its ledger entry), `adjust` (what the decision also does to a Star subscription) and `also`
    (the charge's own record, written in the same transaction). `channel`: the order's channel as
    the caller already read it (read here otherwise)."""
    store, settings = rt.store, rt.settings
    policy = SettlementPolicy(settings.settle_on_confirmed, settings.payment_tolerance_percent)
    first = loaded or store.orders.get(order_id)
    if channel is None or first is None or channel.token != first.channel_token:
        channel = load_channel(store, first.channel_token) if first else None

    def buys_days(order: OrderDoc) -> bool:
        return order.kind is OrderKind.SUBSCRIPTION and not order.gift  # a gift's days are not the buyer's

    def run(tx: Tx) -> tuple[str, OutboxDoc | None]:
        current: SubscriptionDoc | None = None
        if first is not None and buys_days(first):
            # Who bought what never changes: the order and the buyer's subscription in one read.
            order, current = tx.get_two(
                (store.orders, order_id),
                (store.subscriptions, subscription_id(first.channel_token, first.user_id)),
            )
        else:
            order = tx.get(store.orders, order_id)
        if order is None:
            return "order gone", None
        sub_id = subscription_id(order.channel_token, order.user_id)
        if first is None and buys_days(order):
            current = tx.get(store.subscriptions, sub_id)
        now = rt.clock.now()
        decision = decide(order, payment, current, channel, now, policy)
        if adjust is not None:
            decision = adjust(order, decision)
        booked = tx.get(store.ledger, decision.refunded_entry_id) if decision.refunded_entry_id else None
        extras = [extra(tx, store, order, decision, now) for extra in SETTLEMENT_EXTRAS]  # reads first
        if booked is not None:  # a refund: what the payment owed the owner is taken back, in this transaction
            entry_updates, offset = ledger.refund(booked, now)
            if entry_updates:
                tx.update(store.ledger, booked.entry_id, entry_updates)
            if offset is not None:
                tx.set(store.ledger, offset.entry_id, offset)
        if decision.ledger_entry_id is not None and channel is not None:
            entry = ledger.book(
                order,
                payment,
                channel,
                settings.platform_fee_percent,
                now,
                decision.ledger_entry_id,
                held_until,
            )
            tx.set(store.ledger, entry.entry_id, entry)
        if decision.order_updates:
            tx.update(store.orders, order_id, decision.order_updates)
        if decision.subscription is not None:
            set_subscription(tx, store, sub_id, current, decision.subscription)
        if decision.event is not None:
            tx.set(store.outbox, decision.event.event_id, decision.event)
        if also is not None:
            also(tx, order, decision)
        for write in extras:
            if write is not None:
                write()
        return decision.outcome, decision.event

    if claim is not None:
        return rt.claims.transaction_finishing(claim, run)
    return store.transaction(run)


def publish_event(rt: Runtime[PubSubSettings], doc: OutboxDoc) -> None:
    """Publish one outbox event (the same id every time, so each subscriber sees a repeat as one)."""
    rt.publisher.publish(
        Topic(doc.topic),
        json.dumps(doc.envelope).encode(),
        event_id=doc.event_id,
        event_type=str(doc.envelope.get("type")),
    )


def flush_outbox(
    rt: Runtime[PubSubSettings], order_id: str | None = None, older_than: timedelta | None = None
) -> bool:
    """Publish unpublished outbox events (of one order, or all older than a delay). True if all went."""
    outbox = rt.store.outbox
    if order_id is not None:
        events = outbox.find(ORDER_OUTBOX, limit=200, order_id=order_id, published=False)
    else:
        cutoff = rt.clock.now() - (older_than or timedelta(0))
        events = outbox.find(STUCK_OUTBOX, limit=200, published=False, below=cutoff)
    return all([_publish(rt, doc) for doc in events])


def _publish(rt: Runtime[PubSubSettings], doc: OutboxDoc) -> bool:
    """Publish one unpublished outbox event and mark it published. False if publishing failed."""
    outbox = rt.store.outbox
    try:
        publish_event(rt, doc)
    except Exception as error:  # publishing failed: the event stays in the outbox
        log.warning("publish failed, event kept in the outbox: %s", error, extra={"event_id": doc.event_id})
        outbox.update(doc.event_id, {"publish_attempts": doc.publish_attempts + 1})
        return False
    now = rt.clock.now()
    outbox.update(
        doc.event_id,
        {"published": True, "published_at": now, "expire_at": now + OUTBOX_PUBLISHED_RETENTION},
    )
    return True
