"""The subscription flow handler by handler, on the in-memory store and fakes: the offer, the tier
button, the invoice, the IPN, the buyer's access and the owner's notice, the join request, a
renewal; and what each handler does when work is busy elsewhere or a service is down."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import OrderStatus, SubscriptionStatus
from shared_schemas.ids import subscription_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.names import ClaimPurpose
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core.errors import ClaimBusy, RetryLater
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from tests import updates
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, fakes, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001
CLOSED = -1001000000002


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def _buy(store: MemoryStore, update_id: int, tier: str = "t1") -> CreateInvoiceTask:
    """Offer, tier button: the task the webhook queues."""
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, tasks = fakes(rt)
    assert handle_update(updates.start(update_id, "/start DemoChannel01", BUYER), rt).endswith("offer shown")
    assert "buy:DemoChannel01:t1" in telegram.sent[-1].callbacks()
    assert (
        handle_update(updates.press(update_id + 1, f"buy:DemoChannel01:{tier}", BUYER), rt)
        == "payment choice shown"
    )
    choice = telegram.sent[-1]
    assert choice.callbacks() == [f"pay:DemoChannel01:{tier}:s", f"pay:DemoChannel01:{tier}:c"]
    assert "⭐" in choice.text and "$" in choice.text  # the price in Stars and in USD
    assert handle_update(updates.press(update_id + 500, f"pay:DemoChannel01:{tier}:c", BUYER), rt) == "invoice queued"
    [(queue, _, payload, _)] = tasks.created
    assert queue == "create-invoice" and isinstance(payload, CreateInvoiceTask)
    return payload


def _invoice(store: MemoryStore, task: CreateInvoiceTask) -> str:
    rt = runtime(CreateInvoiceSettings, store)
    telegram, nowpayments, _ = fakes(rt)
    assert create_invoice(task, 1, rt) == "invoiced"
    [pay] = telegram.to(BUYER)
    assert "$5.00" in pay.text and pay.button_urls() == ["https://pay.example/4001"]
    assert nowpayments.invoices[0]["price_amount"] == Decimal("5.00")  # from the channel, not the client
    return task.order_id


def _pay(
    store: MemoryStore, order_id: str, payment_id: int, status: str = "finished", now_offset_days: int = 0
) -> bytes:
    """NowPayments' IPN: handled, and the event it published."""
    rt = runtime(IpnHandlerSettings, store, now=NOW + timedelta(days=now_offset_days))
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(payment_id, order_id, status, "5.00")
    body = json.dumps({"payment_id": payment_id, "payment_status": status, "order_id": order_id}).encode()
    result = handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt)
    assert result.http_status == 200, result.outcome
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    [(_, data, _)] = publisher.published
    return data


def _notify(store: MemoryStore, data: bytes) -> tuple[list[str], list[str]]:
    rt = runtime(NotifySettings, store)
    telegram, _, _ = fakes(rt)
    handle_event(Envelope[PaymentEvent].model_validate_json(data), rt)
    return [m.text for m in telegram.to(BUYER)], [m.text for m in telegram.to(OWNER)]


def test_a_purchase_from_offer_to_access(store: MemoryStore) -> None:
    order_id = _invoice(store, _buy(store, 1))
    buyer, owner = _notify(store, _pay(store, order_id, 71))

    assert len(buyer) == 1 and "until Saturday, 26 December 2026" in buyer[0]
    assert len(owner) == 1 and "New payment" in owner[0] and "$5.00" in owner[0]
    order = store.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.SETTLED
    sub = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert (
        sub is not None
        and sub.status is SubscriptionStatus.ACTIVE
        and sub.expires_at == NOW + timedelta(days=30)
    )

    rt = runtime(TelegramWebhookSettings, store)
    assert handle_update(updates.join_request(10, CLOSED, BUYER), rt) == "join approved"
    assert handle_update(updates.join_request(11, CLOSED, 999), rt) == "join declined"
    telegram, _, _ = fakes(rt)
    assert ("approve_join_request", (CLOSED, BUYER)) in telegram.calls
    assert ("decline_join_request", (CLOSED, 999)) in telegram.calls
    joined = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert joined is not None and joined.in_channel


def test_a_renewal_extends_from_the_current_end_and_tells_a_member_the_new_date(store: MemoryStore) -> None:
    first = _invoice(store, _buy(store, 1))
    _notify(store, _pay(store, first, 71))
    store.subscriptions.update(subscription_id("DemoChannel01", BUYER), {"in_channel": True})

    second = _buy(store, 20)
    rt = runtime(CreateInvoiceSettings, store)
    assert create_invoice(second, 1, rt) == "invoiced"
    buyer, _ = _notify(store, _pay(store, second.order_id, 72, now_offset_days=10))

    sub = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=60)
    assert "now runs until Monday, 25 January 2027" in buyer[0]


def test_a_replayed_ipn_settles_nothing_twice(store: MemoryStore) -> None:
    order_id = _invoice(store, _buy(store, 1))
    _pay(store, order_id, 71)
    rt = runtime(IpnHandlerSettings, store)
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(71, order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt).outcome == "duplicate (done)"
    order = store.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.SETTLED
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher) and publisher.published == []  # nothing new to publish


def test_an_ipn_while_nowpayments_is_down_asks_for_a_retry(store: MemoryStore) -> None:
    order_id = _invoice(store, _buy(store, 1))
    rt = runtime(IpnHandlerSettings, store)
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(71, order_id, "finished", "5.00")
    nowpayments.unavailable = 1
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": order_id}).encode()
    with pytest.raises(RetryLater):
        handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt)
    order = store.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.INVOICED


def test_work_held_by_another_instance_is_retried_not_dropped(store: MemoryStore) -> None:
    """A busy claim is not a success: the webhook answers 503 (Telegram redelivers), an IPN 503
    (NowPayments retries), a notice is redelivered by Pub/Sub."""
    rt = runtime(TelegramWebhookSettings, store)

    def holder_fails() -> None:
        with rt.claims.hold(ClaimPurpose.UPDATE, "1"):
            with pytest.raises(ClaimBusy):
                handle_update(updates.start(1, "/start DemoChannel01", BUYER), rt)
            raise RuntimeError("the holder failed")

    with pytest.raises(RuntimeError):
        holder_fails()
    # The holder gave the work back (it failed): the redelivery does it.
    assert handle_update(updates.start(1, "/start DemoChannel01", BUYER), rt) == "offer shown"

    order_id = _invoice(store, _buy(store, 5))
    ipn_rt = runtime(IpnHandlerSettings, store)
    _, nowpayments, _ = fakes(ipn_rt)
    nowpayments.set_payment(71, order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": order_id}).encode()
    with ipn_rt.claims.hold(ClaimPurpose.IPN, "71:finished:0.001"), pytest.raises(ClaimBusy):
        handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), ipn_rt)
    order = store.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.INVOICED


def test_a_claim_whose_holder_died_is_taken_over_after_its_lease(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    clock = rt.clock
    claims = rt.claims
    holder = claims.hold(ClaimPurpose.UPDATE, "1", lease=timedelta(seconds=60))
    holder.__enter__()  # a holder that never comes back
    with pytest.raises(ClaimBusy):
        handle_update(updates.start(1, "/start DemoChannel01", BUYER), rt)
    clock.advance(seconds=61)  # type: ignore[attr-defined]
    assert handle_update(updates.start(1, "/start DemoChannel01", BUYER), rt) == "offer shown"


def test_crafted_buttons_and_links_never_set_a_price(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, tasks = fakes(rt)
    assert handle_update(updates.press(1, "buy:DemoChannel01:t9", BUYER), rt) == "stale offer"
    assert handle_update(updates.press(2, "buy:DemoChannel01", BUYER), rt) == "unknown button"
    assert handle_update(updates.start(3, "/start NoSuchChannel1-t1", BUYER), rt) == "stale offer"
    assert tasks.created == []
    assert (
        telegram.answers[0][1]
        == "This offer has changed. Please open the channel's link again to see the current prices."
    )
