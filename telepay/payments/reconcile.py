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
6. Telegram Stars (`_stars`): the bot's Star transactions (`getStarTransactions`, read from the
   offset stored in `reconcile_state/stars`, re-reading `STARS_REREAD_MARGIN` before it) are
   compared with `star_payments`. A payment from a user with no record (its `successful_payment`
   update was lost) is settled from its invoice payload, as the update would have
   (`stars_settled_late`); a refund to a user whose record is not refunded (Telegram's
   `refunded_payment` update was lost, or an operator's refund stopped half way) is applied
   (`stars_refunds_applied`); a payment whose payload is no TelePay order is kept in
   `unknown_ipns` as `stars-<transaction id>` (`stars_unknown`: refund it by hand). A transaction
   younger than `STARS_GRACE` is left for the next run (its update may be in flight). Telegram down
   or a step failing is counted (`stars_unread`) and the offset stays where it failed, never failing
   the run.

7. The dashboard's finished days (`telepay.channels.day_counts.fold_finished_days`): each day's
   shards are folded into one document, `DAYS_FOLDED_PER_RUN` days a run (the next run goes on).
   Housekeeping, not a discrepancy.

Each run logs one line, `RECONCILIATION_SUMMARY_MESSAGE`, with every count and the number of
discrepancies found; Terraform alerts on a non-zero count.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import (
    OUTBOX_PUBLISHED_RETENTION,
    OrderStatus,
    ReconcileStateDoc,
    SubscriptionStatus,
    UnknownIpnDoc,
)
from shared_schemas.ids import PayRail
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
from telepay.channels.day_counts import fold_finished_days
from telepay.channels.lookup import load_channel
from telepay.core.errors import ClaimBusy, TelePayError, Transient
from telepay.core.logs import get_logger
from telepay.core.users import mark_blocked
from telepay.payments.ipn import apply_payment, flush_outbox, publish_event
from telepay.payments.stars import StarCharge, apply_star_charge, apply_star_refund
from telepay.runtime import Runtime
from telepay.subscriptions.access import Paid, deliver_access
from telepay.support import unreachable  # -- support --

log = get_logger("telepay.reconcile")
Rt = Runtime[ExpireSubscriptionsSettings]
OUTBOX_GRACE = timedelta(minutes=3)  # ipn_handler and the sweep publish sooner than this
OUTBOX_MAX_ATTEMPTS = 20  # then the event waits for the operator
EVENT_MAX_REDELIVERIES = 5  # published again this often without notify handling it: the operator's
ACCESS_GRACE = timedelta(minutes=2)  # notify sends access within seconds of settling
REMOVAL_GRACE = timedelta(minutes=10)  # the sweep removes within a minute or two of the end
PAGE = 200
STARS_STATE = "stars"  # reconcile_state/stars
STARS_PAGE = 100  # getStarTransactions takes at most 100 a call
STARS_REREAD_MARGIN = 100  # transactions before the stored offset read again each run
STARS_GRACE = timedelta(minutes=5)  # younger: its update may still be on its way
STARS_MAX_PAGES = 50  # a run reads at most this many pages; the next run goes on
DAYS_FOLDED_PER_RUN = 500  # one transaction each; a busy day of 10,000 channels folds in 20 runs


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
    "stars_settled_late",
    "stars_refunds_applied",
    "stars_unknown",
)


def _reconcile(rt: Rt) -> dict[str, int]:
    counts = dict.fromkeys(
        ("rechecked", "paid_but_not_granted_over_10_min", "stars_read", "stars_unread", *DISCREPANCIES), 0
    )
    _recheck_orders(rt, counts)
    _stars(rt, counts)
    _outbox(rt, counts)
    _unhandled_events(rt, counts)
    _pending_access(rt, counts)
    _members_past_end(rt, counts)
    counts |= fold_finished_days(rt.store, rt.clock.now().date(), DAYS_FOLDED_PER_RUN)
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
                unreachable.tell_owner(rt, order.order_id)  # -- support --: once per order
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


# -- Telegram Stars --------------------------------------------------------------------------------
def _stars(rt: Rt, counts: dict[str, int]) -> None:
    """Compare the bot's Star transactions since the stored offset (less the margin) with
    `star_payments`; the offset moves to the first transaction not yet judged."""
    now = rt.clock.now()
    state = rt.store.reconcile_state.get(STARS_STATE)
    stored = state.offset if state else 0
    start = offset = max(0, stored - STARS_REREAD_MARGIN)
    done = False
    for _ in range(STARS_MAX_PAGES):
        try:
            page = rt.telegram.get_star_transactions(offset, STARS_PAGE)
        except TelePayError as error:
            counts["stars_unread"] += 1
            log.warning("Star transactions not read: %s", error)
            break
        for transaction in page:
            counts["stars_read"] += 1
            if not _star_transaction(rt, transaction, now, counts):
                done = True  # judged next run from here
                break
            offset += 1
        if done or len(page) < STARS_PAGE:
            break
    if offset > stored or state is None:
        rt.store.reconcile_state.set(
            STARS_STATE, ReconcileStateDoc(offset=max(offset, stored), updated_at=now)
        )
    log.info("Star transactions compared", extra={"fields": {"from": start, "to": offset}})


def _star_transaction(rt: Rt, transaction: dict[str, Any], now: datetime, counts: dict[str, int]) -> bool:
    """Judge one transaction; False when it must be judged again next run (too young, or a step
    failed)."""
    charge_id = str(transaction.get("id", ""))
    date = datetime.fromtimestamp(int(transaction.get("date", 0)), UTC)
    source, receiver = transaction.get("source"), transaction.get("receiver")
    incoming = _user_invoice(source)
    refund = _user_invoice(receiver)
    if incoming is None and refund is None:
        return True  # a withdrawal, an ad, ...: not a buyer's payment
    if now - STARS_GRACE < date <= now + STARS_GRACE:  # (a date far ahead is a clock apart: judged now)
        return False
    try:
        if incoming is not None:
            _incoming(rt, transaction, charge_id, date, incoming, counts)
        elif rt.store.star_payments.get(charge_id) is not None:
            _refunded(rt, charge_id, counts)
    except (TelePayError, ClaimBusy) as error:
        counts["stars_unread"] += 1
        log.warning("Star transaction not compared: %s", error, extra={"fields": {"charge_id": charge_id}})
        return False
    return True


def _user_invoice(partner: object) -> dict[str, Any] | None:
    """The partner of an invoice payment by (or its refund to) a user, or None."""
    if not isinstance(partner, dict) or partner.get("type") != "user":
        return None
    if partner.get("transaction_type", "invoice_payment") != "invoice_payment":
        return None  # paid media, gifts, Premium, business transfers: not TelePay's
    return partner


def _incoming(
    rt: Rt,
    transaction: dict[str, Any],
    charge_id: str,
    date: datetime,
    partner: dict[str, Any],
    counts: dict[str, int],
) -> None:
    if rt.store.star_payments.get(charge_id) is not None:
        return  # its update settled it
    payload = str(partner.get("invoice_payload") or "")
    user = partner.get("user")
    user_id = int(user.get("id", 0)) if isinstance(user, dict) else 0
    order = rt.store.orders.get(payload) if payload else None
    if order is None or order.rail is not PayRail.STARS or order.user_id != user_id:
        _unknown_star_payment(rt, transaction, charge_id, payload, counts)
        return
    period = partner.get("subscription_period")
    recurring = bool(period)
    charge = StarCharge(
        charge_id=charge_id,
        user_id=user_id,
        payload=payload,
        stars=int(transaction.get("amount", 0)),
        recurring=recurring,
        # Telegram's first charge of a subscription settles the order; a later one renews it.
        first_recurring=recurring and order.status is not OrderStatus.SETTLED,
        expiration=date + timedelta(seconds=int(period)) if period else None,
        paid_at=date,
    )
    outcome = apply_star_charge(rt, charge, "reconciliation")
    if outcome.startswith("duplicate"):
        return
    counts["stars_settled_late"] += 1
    log.warning(
        "a Stars payment settled by reconciliation: %s",
        outcome,
        extra={"order_id": payload, "user_id": user_id},
    )


def _unknown_star_payment(
    rt: Rt, transaction: dict[str, Any], charge_id: str, payload: str, counts: dict[str, int]
) -> None:
    record_id = f"stars-{charge_id}"
    if rt.store.unknown_ipns.get(record_id) is not None:
        return  # kept and counted on an earlier run
    rt.store.unknown_ipns.set(
        record_id,
        UnknownIpnDoc(
            received_at=rt.clock.now(),
            order_id=payload[:200] or None,
            payment_id=None,
            payment_status="stars",
            reason="a Stars payment for no TelePay order: refund it (telepay payments refund)",
            body=json.loads(json.dumps(transaction, default=str)),
        ),
    )
    counts["stars_unknown"] += 1
    log.error("a Stars payment for no TelePay order", extra={"fields": {"charge_id": charge_id}})


def _refunded(rt: Rt, charge_id: str, counts: dict[str, int]) -> None:
    record = rt.store.star_payments.get(charge_id)
    if record is None or record.refunded_at is not None:
        return
    outcome = apply_star_refund(rt, charge_id, "reconciliation")
    if outcome == "already refunded":
        return
    counts["stars_refunds_applied"] += 1
    log.warning("a Stars refund applied by reconciliation: %s", outcome, extra={"order_id": record.order_id})
