"""Access that must not be lost, and reconciliation: a join link the bot cannot create delays the
access instead of dropping it (the buyer and owner are told), and the five-minute reconciliation
settles payments whose IPN never came, publishes stuck events, sends delayed access, and makes
members past their end due for removal."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from shared_schemas.config import ExpireSubscriptionsSettings, IpnHandlerSettings, NotifySettings
from shared_schemas.documents import OrderDoc, OrderStatus, PaymentStatus
from shared_schemas.ids import OrderKind, subscription_id, subscription_order_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.names import RECONCILIATION_DISCREPANCIES_FIELD, RECONCILIATION_SUMMARY_MESSAGE
from shared_schemas.queries import ORDER_OUTBOX
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramUnavailable
from telepay.channels.lookup import save_channel
from telepay.payments import signature as ipn_signature
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.payments.reconcile import EVENT_MAX_REDELIVERIES, OUTBOX_MAX_ATTEMPTS, reconcile
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001
SUB_ID = subscription_id("DemoChannel01", BUYER)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def _order(store: MemoryStore, payment_id: int | None = None, **changes: object) -> OrderDoc:
    order = OrderDoc.model_validate(
        {
            "order_id": subscription_order_id("DemoChannel01", BUYER, "t1"),
            "kind": OrderKind.SUBSCRIPTION,
            "user_id": BUYER,
            "chat_id": BUYER,
            "channel_token": "DemoChannel01",
            "tier_id": "t1",
            "days": 30,
            "price_amount": Decimal("5.00"),
            "price_currency": "USD",
            "status": OrderStatus.INVOICED,
            "payment_id": payment_id,
            "created_at": NOW,
            "updated_at": NOW,
        }
        | changes
    )
    store.orders.set(order.order_id, order)
    return order


def _settle(store: MemoryStore) -> bytes:
    order = _order(store)
    rt = runtime(IpnHandlerSettings, store)
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(71, order.order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": order.order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt).http_status == 200
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    return publisher.published[0][1]


def test_a_join_link_the_bot_cannot_create_delays_the_access_and_reconciliation_sends_it(
    store: MemoryStore,
) -> None:
    event = Envelope[PaymentEvent].model_validate_json(_settle(store))
    rt = runtime(NotifySettings, store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["create_join_request_link"] = [
        TelegramBadRequest("not enough rights to manage chat invite link")
    ]
    handle_event(event, rt)
    handle_event(event, rt)  # Pub/Sub redelivers: nothing is told twice

    [buyer] = telegram.to(BUYER)
    assert "I'll send it here as soon as I can" in buyer.text and "Payment received" in buyer.text
    owner = [m.text for m in telegram.to(OWNER)]
    assert len(owner) == 2 and any("invite users via link" in text for text in owner)  # + the sale notice
    assert store.users.get(str(BUYER)) is None  # not taken for a user who blocked the bot
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and not sub.access_sent and "invite link" in (sub.access_problem or "")

    later = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=5))
    counts = reconcile(later, "r1")
    assert counts["access_resent"] == 1 and counts[RECONCILIATION_DISCREPANCIES_FIELD] >= 1
    reconciled_telegram, _, _ = fakes(later)
    [granted] = reconciled_telegram.to(BUYER)
    assert "Tap Join" in granted.text and granted.button_urls()
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and sub.access_sent and sub.access_problem is None
    assert (
        reconcile(runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=10)), "r2")[
            "access_resent"
        ]
        == 0
    )


def test_a_payment_whose_ipn_never_came_is_settled_by_reconciliation(store: MemoryStore) -> None:
    order = _order(store, payment_id=71, payment_status=PaymentStatus.CONFIRMING)
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=30))
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(71, order.order_id, "finished", "5.00")
    counts = reconcile(rt, "r1")
    assert (counts["rechecked"], counts["settled_late"]) == (1, 1)
    settled = store.orders.get(order.order_id)
    assert settled is not None and settled.status is OrderStatus.SETTLED
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher) and len(publisher.published) == 1
    assert reconcile(rt, "r1") == {"duplicate": 1}  # the same scheduled run again


def test_old_or_paymentless_orders_are_not_rechecked(store: MemoryStore) -> None:
    _order(store, payment_id=None)
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(days=3))
    assert reconcile(rt, "r1")["rechecked"] == 0


def test_stuck_events_are_published_and_hopeless_ones_counted(store: MemoryStore) -> None:
    rt = runtime(IpnHandlerSettings, store)
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    publisher.fail_next = 1
    order = _order(store)
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(71, order.order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": order.order_id}).encode()
    with pytest.raises(Exception, match="outbox"):
        handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt)
    later = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=5))
    counts = reconcile(later, "r1")
    assert counts["outbox_stuck"] == 1
    published = later.publisher
    assert isinstance(published, RecordingPublisher) and len(published.published) == 1

    [event] = store.outbox.find(ORDER_OUTBOX, order_id=order.order_id, published=True)
    store.outbox.update(event.event_id, {"published": False, "publish_attempts": OUTBOX_MAX_ATTEMPTS})
    assert (
        reconcile(runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=10)), "r2")[
            "outbox_given_up"
        ]
        == 1
    )


def test_a_member_past_their_end_with_nothing_scheduled_is_made_due(store: MemoryStore) -> None:
    stale = active_subscription(BUYER, days=1).model_copy(update={"next_action_at": None})
    store.subscriptions.set(SUB_ID, stale)
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(days=1, minutes=30))
    assert reconcile(rt, "r1")["removals_scheduled"] == 1
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and sub.next_action_at == NOW + timedelta(days=1, minutes=30)


def test_each_run_logs_one_summary_with_its_discrepancies(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telepay.reconcile")
    reconcile(runtime(ExpireSubscriptionsSettings, store), "r1")
    [record] = [r for r in caplog.records if r.getMessage() == RECONCILIATION_SUMMARY_MESSAGE]
    fields = record.__dict__["fields"]
    assert fields[RECONCILIATION_DISCREPANCIES_FIELD] == 0 and fields["rechecked"] == 0


def test_an_event_that_arrives_after_reconciliation_sent_the_access_sends_no_second_receipt(
    store: MemoryStore,
) -> None:
    """Found by the Pub/Sub drill: the event waited in Pub/Sub past the grace, reconciliation sent
    the receipt, then the event came and notify sent a second receipt and join link."""
    event = Envelope[PaymentEvent].model_validate_json(_settle(store))
    later = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=5))
    assert reconcile(later, "r1")["access_resent"] == 1
    reconciled_telegram, _, _ = fakes(later)
    [receipt] = reconciled_telegram.to(BUYER)
    assert "Payment received" in receipt.text

    rt = runtime(NotifySettings, store, now=NOW + timedelta(minutes=6))
    telegram, _, _ = fakes(rt)
    handle_event(event, rt)
    assert [m.text for m in telegram.to(BUYER)] == []  # the buyer already has it
    assert any("New payment" in m.text for m in telegram.to(OWNER))  # the owner is still told


def test_an_event_notify_never_handled_is_published_again_and_the_owner_told_once(
    store: MemoryStore,
) -> None:
    """Found by the Telegram drill: notify failed on a 502 storm, answered 500 for Pub/Sub to retry,
    and the event was never pushed again; the buyer got their access through reconciliation but the
    owner was never told of the sale."""
    event = Envelope[PaymentEvent].model_validate_json(_settle(store))
    failing = runtime(NotifySettings, store)
    telegram, _, _ = fakes(failing)
    telegram.fail_next = [TelegramUnavailable("502 Bad Gateway")]
    with pytest.raises(TelegramUnavailable):
        handle_event(event, failing)  # Pub/Sub is asked to retry, and never pushes it again

    too_soon = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=5))
    counts = reconcile(too_soon, "r1")
    assert (counts["access_resent"], counts["events_redelivered"]) == (1, 0)  # Pub/Sub may yet retry
    later = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=20))
    counts = reconcile(later, "r2")
    assert counts["events_redelivered"] == 1 and counts[RECONCILIATION_DISCREPANCIES_FIELD] >= 1
    republished = later.publisher
    assert isinstance(republished, RecordingPublisher)
    [(_, data, _)] = republished.published
    assert Envelope[PaymentEvent].model_validate_json(data).event_id == event.event_id

    rt = runtime(NotifySettings, store, now=NOW + timedelta(minutes=21))
    delivered, _, _ = fakes(rt)
    handle_event(Envelope[PaymentEvent].model_validate_json(data), rt)
    assert [m.text for m in delivered.to(BUYER)] == []  # the receipt is not sent twice
    assert ["New payment" in m.text for m in delivered.to(OWNER)] == [True]
    # Handled now: never published again.
    again = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(hours=2))
    assert reconcile(again, "r3")["events_redelivered"] == 0


def test_an_event_never_handled_after_every_redelivery_is_left_for_the_operator(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    _settle(store)
    caplog.set_level(logging.ERROR, logger="telepay.reconcile")
    minutes = 20
    for run in range(EVENT_MAX_REDELIVERIES):
        rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=minutes))
        assert reconcile(rt, f"r{run}")["events_redelivered"] == 1
        minutes += 20
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=minutes))
    counts = reconcile(rt, "last")
    assert (counts["events_redelivered"], counts["events_given_up"]) == (0, 1)
    assert counts[RECONCILIATION_DISCREPANCIES_FIELD] >= 1
    assert any("never handled" in r.getMessage() for r in caplog.records)
    published = rt.publisher
    assert isinstance(published, RecordingPublisher) and published.published == []


def test_a_second_payment_on_a_settled_order_leaves_reconciliation_nothing_to_count(
    store: MemoryStore,
) -> None:
    """A wallet's double send on a settled order: the buyer is told the new end date once, and
    reconciliation finds nothing undone (it counted a discrepancy every five minutes for the
    invoice's two weeks while the access claim was one per order)."""
    first = Envelope[PaymentEvent].model_validate_json(_settle(store))
    handle_event(first, runtime(NotifySettings, store))
    order_id = first.data.order_id
    rt = runtime(IpnHandlerSettings, store, now=NOW + timedelta(minutes=1))
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(72, order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 72, "payment_status": "finished", "order_id": order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt).http_status == 200
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    [(_, data, _)] = publisher.published
    notify_rt = runtime(NotifySettings, store, now=NOW + timedelta(minutes=2))
    handle_event(Envelope[PaymentEvent].model_validate_json(data), notify_rt)
    [receipt] = fakes(notify_rt)[0].to(BUYER)
    assert "Access until Monday, 25 January 2027, 12:00 UTC." in receipt.text  # 30 + 30 days from NOW
    for minutes in (10, 30, 120):
        counts = reconcile(
            runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=minutes)), f"r{minutes}"
        )
        assert counts[RECONCILIATION_DISCREPANCIES_FIELD] == 0, counts
        assert counts["access_resent"] == 0


# -- support --
def test_a_buyer_who_blocked_the_bot_before_reconciliation_resent_the_access_is_named_to_the_owner_once(
    store: MemoryStore,
) -> None:
    from telepay.adapters.telegram_api import TelegramForbidden

    event = Envelope[PaymentEvent].model_validate_json(_settle(store))
    rt = runtime(NotifySettings, store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["create_join_request_link"] = [TelegramBadRequest("not enough rights")]
    handle_event(event, rt)  # the access is delayed; the buyer then blocks the bot
    later = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=5))
    later_telegram, _, _ = fakes(later)
    later_telegram.fail_method["send_message"] = [TelegramForbidden("Forbidden: bot was blocked by the user")]
    reconcile(later, "r1")
    [notice] = [m.text for m in later_telegram.to(OWNER) if "has blocked the bot" in m.text]
    assert f"order {event.data.order_id}" in notice and "$5.00" in notice and "Monthly" in notice
    again = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=10))
    reconcile(again, "r2")
    assert not any("has blocked the bot" in m.text for m in fakes(again)[0].sent)
