"""Reconciliation, every five minutes (Cloud Scheduler → expire_subscriptions `/reconcile`): finds
what the event-driven paths left undone and does it, so money and access are never silently lost.

1. Orders still `invoiced` or `partially_paid` with a known payment, updated within the invoice
   lifetime, are re-read from NowPayments and settled exactly as an IPN would (an IPN that never
   came, or came while the API was down).
2. Outbox events still unpublished a few minutes on are published; one that failed
   `OUTBOX_MAX_ATTEMPTS` times is left for the operator (counted, and alerted through the log line).
3. Events published but never handled by notify (Pub/Sub gave up pushing them, or stopped trying)
   `EVENT_REDELIVERY_AFTER_SECONDS` after publishing are published again, at most
   `EVENT_MAX_REDELIVERIES` times; then left for the operator (counted, and logged as an error).
   notify's claims make a repeat tell nobody twice.
4. Active subscriptions whose buyer never got their access (the join link failed, e.g. the bot had
   lost its rights) get it now.
5. Members still in a channel well past their end (a removal that was never scheduled) are made due,
   so the expiry sweep removes them.

Each run logs one line, `RECONCILIATION_SUMMARY_MESSAGE`, with every count and the number of
discrepancies found; Terraform alerts on a non-zero count.
"""

from __future__ import annotations

from datetime import timedelta

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import OUTBOX_PUBLISHED_RETENTION, OrderStatus, SubscriptionStatus
from shared_schemas.names import (
    RECONCILIATION_DISCREPANCIES_FIELD,
    RECONCILIATION_SUMMARY_MESSAGE,
    ClaimPurpose,
)
from shared_schemas.queries import (
    MEMBERS_PAST_END,
    ORDERS_TO_RECHECK,
    STUCK_OUTBOX,
    SUBSCRIPTIONS_ACCESS_PENDING,
    UNHANDLED_EVENTS,
)
from telepay.adapters.nowpayments_api import NowPaymentsRejected
from telepay.adapters.telegram_api import TelegramForbidden
from telepay.channels.lookup import load_channel
from telepay.core.errors import ClaimBusy, Transient
from telepay.core.logs import get_logger
from telepay.core.users import mark_blocked
from telepay.payments.ipn import apply_payment, flush_outbox, publish_event
from telepay.runtime import Runtime
from telepay.subscriptions.access import Paid, deliver_access

log = get_logger("telepay.reconcile")
Rt = Runtime[ExpireSubscriptionsSettings]
OUTBOX_GRACE = timedelta(minutes=3)  # ipn_handler and the sweep publish sooner than this
OUTBOX_MAX_ATTEMPTS = 20  # then the event waits for the operator
EVENT_MAX_REDELIVERIES = 5  # published again this often without notify handling it: the operator's
ACCESS_GRACE = timedelta(minutes=2)  # notify sends access within seconds of settling
REMOVAL_GRACE = timedelta(minutes=10)  # the sweep removes within a minute or two of the end
PAGE = 200


def reconcile(rt: Rt, scheduled: str) -> dict[str, int]:
    key = scheduled or rt.clock.now().isoformat()
    counts = rt.claims.scheduled_run(
        ClaimPurpose.RECONCILE, key, timedelta(minutes=4), lambda: _reconcile(rt)
    )
    if "duplicate" in counts:
        return counts
    discrepancies = sum(counts[name] for name in DISCREPANCIES)
    log.info(
        RECONCILIATION_SUMMARY_MESSAGE,
        extra={"fields": {**counts, RECONCILIATION_DISCREPANCIES_FIELD: discrepancies}},
    )
    return counts | {RECONCILIATION_DISCREPANCIES_FIELD: discrepancies}


# What counts as a discrepancy: something the event-driven paths should have done by now.
DISCREPANCIES = (
    "settled_late",
    "outbox_stuck",
    "outbox_given_up",
    "events_redelivered",
    "events_given_up",
    "access_resent",
    "access_still_pending",
    "removals_scheduled",
)


def _reconcile(rt: Rt) -> dict[str, int]:
    counts = dict.fromkeys(("rechecked", "paid_but_not_granted_over_10_min", *DISCREPANCIES), 0)
    _recheck_orders(rt, counts)
    _outbox(rt, counts)
    _unhandled_events(rt, counts)
    _pending_access(rt, counts)
    _members_past_end(rt, counts)
    return counts


def _recheck_orders(rt: Rt, counts: dict[str, int]) -> None:
    now = rt.clock.now()
    since = now - timedelta(hours=rt.settings.invoice_lifetime_hours)
    for status in (OrderStatus.INVOICED, OrderStatus.PARTIALLY_PAID):
        for page in rt.store.orders.pages(
            ORDERS_TO_RECHECK, page_size=PAGE, status=status, below=now, above=since
        ):
            for stored in page:
                order = stored.doc
                if not isinstance(order.payment_id, int):
                    continue  # no payment made yet (NowPayments tells us of one by IPN), or Stars
                counts["rechecked"] += 1
                try:
                    payment = rt.nowpayments.get_payment(order.payment_id)
                except (Transient, NowPaymentsRejected) as error:
                    log.warning("re-check failed: %s", error, extra={"order_id": order.order_id})
                    continue
                if payment.order_id != order.order_id:
                    continue
                outcome = apply_payment(rt, order.order_id, payment, loaded=order)
                if "payment.settled" in outcome:
                    counts["settled_late"] += 1
                    flush_outbox(rt, order.order_id)


def _outbox(rt: Rt, counts: dict[str, int]) -> None:
    cutoff = rt.clock.now() - OUTBOX_GRACE
    stuck = rt.store.outbox.find(STUCK_OUTBOX, limit=PAGE, published=False, below=cutoff)
    if not stuck:
        return
    given_up = [event for event in stuck if event.publish_attempts >= OUTBOX_MAX_ATTEMPTS]
    counts["outbox_given_up"] = len(given_up)
    for event in given_up:
        log.error("payment event keeps failing to publish", extra={"event_id": event.event_id})
    counts["outbox_stuck"] = len(stuck) - len(given_up)
    flush_outbox(rt, older_than=OUTBOX_GRACE)


def _unhandled_events(rt: Rt, counts: dict[str, int]) -> None:
    """Publish again what notify never handled: Pub/Sub keeps retrying a failed push for about
    twenty minutes and then dead-letters it, but a push that stops being retried (seen on the
    emulator after a Telegram storm) would leave the owner's notice untold for good."""
    now = rt.clock.now()
    cutoff = now - timedelta(seconds=rt.settings.event_redelivery_after_seconds)
    for page in rt.store.outbox.pages(
        UNHANDLED_EVENTS, page_size=PAGE, published=True, handled=False, below=cutoff
    ):
        for event in page:
            doc = event.doc
            if doc.redeliveries >= EVENT_MAX_REDELIVERIES:
                counts["events_given_up"] += 1
                log.error(
                    "payment event never handled after %d redeliveries; see the dead letters",
                    doc.redeliveries,
                    extra={"event_id": doc.event_id},
                )
                continue
            try:
                publish_event(rt, doc)
            except Exception as error:  # tried again on the next run
                log.warning("redelivery failed: %s", error, extra={"event_id": doc.event_id})
                continue
            rt.store.outbox.update(
                event.id,
                {
                    "published_at": now,
                    "redeliveries": doc.redeliveries + 1,
                    "expire_at": now + OUTBOX_PUBLISHED_RETENTION,
                },
            )
            counts["events_redelivered"] += 1
            log.warning("payment event not handled; published again", extra={"event_id": doc.event_id})


def _pending_access(rt: Rt, counts: dict[str, int]) -> None:
    now = rt.clock.now()
    for page in rt.store.subscriptions.pages(
        SUBSCRIPTIONS_ACCESS_PENDING,
        page_size=PAGE,
        status=SubscriptionStatus.ACTIVE,
        access_sent=False,
        below=now - ACCESS_GRACE,
    ):
        for stored in page:
            sub = stored.doc
            if sub.expires_at <= now:
                continue  # ended before the access could go out: nothing left to grant
            order = rt.store.orders.get(sub.last_order_id)
            channel = load_channel(rt.store, sub.channel_token)
            if order is None or channel is None or order.days is None:
                continue
            paid = Paid(
                user_id=sub.user_id,
                chat_id=order.chat_id,
                channel_token=sub.channel_token,
                title=channel.title,
                closed_channel_id=channel.closed_channel_id,
                expires_at=sub.expires_at,
                amount=order.price_amount,
                currency=order.price_currency,
                days=order.days,
                order_id=order.order_id,
                payment_id=order.payment_id,
            )
            try:
                outcome = deliver_access(rt, paid, in_channel=sub.in_channel)
            except ClaimBusy:  # notify is sending it right now
                counts["access_still_pending"] += 1
                continue
            except TelegramForbidden:
                mark_blocked(rt.store, rt.clock, sub.user_id)
                rt.store.subscriptions.update(
                    stored.id, {"access_sent": True, "access_problem": "blocked the bot"}
                )
                continue
            late = sub.renewed_at is not None and sub.renewed_at <= now - timedelta(minutes=10)
            if outcome == "sent":
                counts["access_resent"] += 1
            else:
                counts["access_still_pending"] += 1
                counts["paid_but_not_granted_over_10_min"] += int(late)


def _members_past_end(rt: Rt, counts: dict[str, int]) -> None:
    now = rt.clock.now()
    for status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED):
        for page in rt.store.subscriptions.pages(
            MEMBERS_PAST_END, page_size=PAGE, status=status, in_channel=True, below=now - REMOVAL_GRACE
        ):
            for stored in page:
                if stored.doc.removed_at is not None or stored.doc.next_action_at is not None:
                    continue  # removed, or the sweep has it in hand
                rt.store.subscriptions.update(stored.id, {"next_action_at": now})
                counts["removals_scheduled"] += 1
