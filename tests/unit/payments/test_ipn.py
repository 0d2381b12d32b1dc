"""Payments that are signed but were not applied, and small holes around them (issue: money and
access are never silently lost). Each test failed before its fix."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shared_schemas.config import IpnHandlerSettings, NotifySettings, TelegramWebhookSettings
from shared_schemas.documents import (
    EntryState,
    OrderDoc,
    OrderStatus,
    PaymentStatus,
    PayoutStrategy,
    SubscriptionStatus,
)
from shared_schemas.ids import OrderKind, subscription_id, subscription_order_id
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from telepay.adapters.nowpayments_api import NowPaymentsApi, NowPaymentsRejected, NowPaymentsUnavailable
from telepay.channels.lookup import save_channel
from telepay.core.errors import RetryLater, Transient
from telepay.payments import signature as ipn_signature
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.payouts import rules as payout_rules
from telepay.payouts.balance import owner_balance
from telepay.subscriptions.broadcast import owner_repost
from telepay.subscriptions.expiry_rules import next_action, parse_offsets
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def _order(store: MemoryStore, kind: OrderKind = OrderKind.SUBSCRIPTION) -> OrderDoc:
    order = OrderDoc(
        order_id=subscription_order_id("DemoChannel01", BUYER, "t1"),
        kind=kind,
        user_id=BUYER,
        chat_id=BUYER,
        channel_token="DemoChannel01",
        tier_id="t1",
        days=30,
        price_amount=Decimal("5.00"),
        price_currency="USD",
        status=OrderStatus.INVOICED,
        created_at=NOW,
        updated_at=NOW,
    )
    store.orders.set(order.order_id, order)
    return order


def _ipn(
    store: MemoryStore,
    order: OrderDoc,
    payment_id: int,
    claimed: str,
    api_status: str | None = None,
    paid: str = "0.001",
    now: timedelta = timedelta(0),
    api_error: Exception | None = None,
) -> tuple[int, str, list[bytes]]:
    """An IPN claiming `claimed`, with the API answering `api_status` (or `api_error`)."""
    rt = runtime(IpnHandlerSettings, store, now=NOW + now)
    _, nowpayments, _ = fakes(rt)
    nowpayments.set_payment(payment_id, order.order_id, api_status or claimed, "5.00", paid=paid)
    if api_error is not None:
        nowpayments.fail_next.append(api_error)
    body = json.dumps(
        {"payment_id": payment_id, "payment_status": claimed, "order_id": order.order_id}
    ).encode()
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    try:
        result = handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt)
    except Transient as error:
        return 503, str(error), [data for _, data, _ in publisher.published]
    return result.http_status, result.outcome, [data for _, data, _ in publisher.published]


def _told(store: MemoryStore, events: list[bytes]) -> tuple[list[str], list[str]]:
    rt = runtime(NotifySettings, store)
    for data in events:
        handle_event(Envelope[PaymentEvent].model_validate_json(data), rt)
    telegram, _, _ = fakes(rt)
    return [m.text for m in telegram.to(BUYER)], [m.text for m in telegram.to(OWNER)]


@pytest.mark.parametrize("status", [429, 401, 403])
def test_a_refused_recheck_other_than_not_found_asks_for_a_retry(store: MemoryStore, status: int) -> None:
    order = _order(store)
    code, _, _ = _ipn(store, order, 71, "finished", api_error=NowPaymentsRejected(status, "no"))
    assert code == 503
    assert store.unknown_ipns.get("71-finished") is None
    # NowPayments sends the IPN again and the re-check answers: access is granted.
    assert _ipn(store, order, 71, "finished")[0] == 200
    settled = store.orders.get(order.order_id)
    assert settled is not None and settled.status is OrderStatus.SETTLED


def test_only_a_not_found_payment_is_unknown_to_the_api(store: MemoryStore) -> None:
    order = _order(store)
    code, outcome, _ = _ipn(store, order, 71, "finished", api_error=NowPaymentsRejected(404, "not found"))
    assert (code, outcome) == (200, "payment unknown to the API")
    assert store.unknown_ipns.get("71-finished") is not None


def test_the_adapter_treats_rate_limits_as_transient() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"message": "Too many requests"})

    api = NowPaymentsApi("http://np.test", "key", 1.0)
    api._client = httpx.Client(base_url="http://np.test", transport=httpx.MockTransport(answer))
    with pytest.raises(NowPaymentsUnavailable):
        api.get_payment(71)


def test_an_api_behind_the_ipn_moves_the_order_and_asks_for_the_later_status_again(
    store: MemoryStore,
) -> None:
    order = _order(store)
    code, _, _ = _ipn(store, order, 71, "finished", api_status="confirming")
    assert code == 503
    moved = store.orders.get(order.order_id)
    assert moved is not None and moved.payment_status is PaymentStatus.CONFIRMING
    assert _ipn(store, order, 71, "finished")[0] == 200
    settled = store.orders.get(order.order_id)
    assert settled is not None and settled.status is OrderStatus.SETTLED


def test_an_underpayment_topped_up_later_settles(store: MemoryStore) -> None:
    order = _order(store)
    assert _ipn(store, order, 71, "finished", paid="0.0005")[0] == 200
    partial = store.orders.get(order.order_id)
    assert partial is not None and partial.status is OrderStatus.PARTIALLY_PAID
    code, outcome, events = _ipn(store, order, 71, "finished", paid="0.001")
    assert code == 200 and "payment.settled" in outcome
    settled = store.orders.get(order.order_id)
    assert settled is not None and settled.status is OrderStatus.SETTLED
    buyer, owner = _told(store, events)
    assert any("Payment received" in text for text in buyer) and len(owner) == 1


def test_a_second_payment_on_a_settled_order_is_applied_and_told(store: MemoryStore) -> None:
    order = _order(store)
    _ipn(store, order, 71, "finished")
    code, outcome, events = _ipn(store, order, 72, "finished", now=timedelta(days=1))
    assert code == 200 and "payment.settled" in outcome
    sub = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=60)  # paid twice: 60 days
    again = _ipn(store, order, 72, "finished", now=timedelta(days=1))
    assert again[1].startswith("duplicate")
    sub_again = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert sub_again is not None and sub_again.expires_at == NOW + timedelta(days=60)
    buyer, owner = _told(store, events)
    assert len(buyer) == 1 and "Monday, 25 January 2027" in buyer[0]
    assert len(owner) == 1 and "$5.00" in owner[0]


def test_a_second_donation_payment_is_booked_as_a_donation(store: MemoryStore) -> None:
    order = _order(store, OrderKind.DONATION)
    _ipn(store, order, 71, "finished")
    code, _, events = _ipn(store, order, 72, "finished")
    assert code == 200
    envelope = Envelope[PaymentEvent].model_validate_json(events[-1])
    assert envelope.type is EventType.PAYMENT_SETTLED and envelope.data.payment_id == 72
    booked = [store.ledger.get(order.order_id), store.ledger.get(f"{order.order_id}.72")]
    assert [entry.payment_id if entry else None for entry in booked] == [71, 72]  # each payment booked once
    buyer, owner = _told(store, events)
    assert len(buyer) == 1 and len(owner) == 1


def test_a_refund_after_settlement_ends_the_access_it_paid_for(store: MemoryStore) -> None:
    order = _order(store)
    _ipn(store, order, 71, "finished")
    code, outcome, events = _ipn(store, order, 71, "refunded", now=timedelta(days=2))
    assert code == 200 and "payment.refunded" in outcome
    sub = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=2)  # ends now: the sweep removes
    assert sub.next_action_at == NOW + timedelta(days=2) and sub.status is SubscriptionStatus.ACTIVE
    refunded = store.orders.get(order.order_id)
    assert refunded is not None and refunded.status is OrderStatus.REFUNDED
    buyer, owner = _told(store, events)
    assert len(owner) == 1 and "refunded" in owner[0].lower()
    assert len(buyer) == 1 and "refunded" in buyer[0].lower()


def test_no_reminder_for_an_offset_as_long_as_the_tier() -> None:
    sub = active_subscription(1, days=1)
    due = next_action(sub, parse_offsets("72,24"), timedelta(0), NOW + timedelta(minutes=1))
    assert due is not None and due.action.value == "remove"


def test_the_broadcast_cooldown_is_checked_and_set_in_one_transaction(store: MemoryStore) -> None:
    """Two /broadcast at once: exactly one re-post is queued."""
    answers: list[str] = []
    shared = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(shared)

    def ask(update_id: int) -> None:
        rt = runtime(TelegramWebhookSettings, store)
        rt.replace(tasks=tasks)
        answers.append(owner_repost(rt, OWNER, update_id))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tasks.created) == 1
    assert sum(answer.startswith("📣") for answer in answers) == 1


def test_a_failed_queueing_leaves_the_cooldown_unset(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)

    def down(*args: Any, **kwargs: Any) -> str:
        raise RetryLater("Cloud Tasks unavailable")

    tasks.enqueue = down  # type: ignore[method-assign]
    with pytest.raises(RetryLater):
        owner_repost(rt, OWNER, 1)
    channel = store.channels.get("DemoChannel01")
    assert channel is not None and channel.broadcast.last_manual_at is None


def _available(store: MemoryStore) -> dict[str, Decimal]:
    return owner_balance(store, OWNER).available


def test_a_sale_refunded_before_its_payout_is_owed_nothing(store: MemoryStore) -> None:
    order = _order(store)
    _ipn(store, order, 71, "finished")
    entry = store.ledger.get(order.order_id)
    assert entry is not None and entry.state is EntryState.AVAILABLE and sum(_available(store).values()) > 0
    _ipn(store, order, 71, "refunded", now=timedelta(days=2))
    reversed_entry = store.ledger.get(order.order_id)
    assert reversed_entry is not None and reversed_entry.state is EntryState.REVERSED
    assert sum(_available(store).values(), Decimal(0)) == 0  # nothing left to pay out for it
    # A refund heard again changes nothing more.
    _ipn(store, order, 71, "refunded", now=timedelta(days=3))
    assert store.ledger.get(f"{order.order_id}.refund") is None  # no offset for a sale never paid out
    assert sum(_available(store).values(), Decimal(0)) == 0


def test_a_sale_refunded_after_its_payout_is_netted_against_the_next_one(store: MemoryStore) -> None:
    order = _order(store)
    _ipn(store, order, 71, "finished")
    paid = store.ledger.get(order.order_id)
    assert paid is not None
    store.ledger.update(order.order_id, {"state": EntryState.PAID, "payout_id": "po-x"})  # paid out
    _ipn(store, order, 71, "refunded", now=timedelta(days=2))
    offset = store.ledger.get(f"{order.order_id}.refund")
    assert offset is not None and offset.reverses == order.order_id
    assert offset.state is EntryState.AVAILABLE and offset.settled_net == -paid.settled_net
    assert _available(store) == {paid.settled_currency: -paid.settled_net}  # owed back, never paid out
    # The offset alone is never a payout; with the next sale the two are paid net, together.
    assert payout_rules.plan(PayoutStrategy.INSTANT, [offset], Decimal(0), Decimal(0), Decimal(0)) == []
    later = paid.model_copy(update={"entry_id": "next", "settled_net": paid.settled_net * 3})
    groups = payout_rules.plan(PayoutStrategy.INSTANT, [later, offset], Decimal(0), Decimal(0), Decimal(0))
    assert [sorted(e.entry_id for e in g) for g in groups] == [sorted(["next", offset.entry_id])]
    assert sum(e.settled_net for e in groups[0]) == paid.settled_net * 2


def test_a_new_payment_after_a_refunded_partial_one_settles_the_order(store: MemoryStore) -> None:
    """Statuses move forward per payment: the buyer's second payment is not 'stale' because the
    first one, underpaid, was refunded."""
    order = _order(store)
    _ipn(store, order, 71, "partially_paid")
    _ipn(store, order, 71, "refunded", now=timedelta(hours=1))
    code, outcome, events = _ipn(store, order, 72, "finished", now=timedelta(hours=2))
    assert code == 200 and "payment.settled" in outcome, outcome
    settled = store.orders.get(order.order_id)
    assert settled is not None and settled.status is OrderStatus.SETTLED and settled.payment_id == 72
    buyer, owner = _told(store, events)
    assert len(buyer) == 1 and len(owner) == 1


def test_a_second_payment_on_a_settled_subscription_tells_the_buyer_their_access_was_extended(
    store: MemoryStore,
) -> None:
    order = _order(store)
    _, _, first = _ipn(store, order, 71, "finished")
    buyer, _ = _told(store, first)
    assert len(buyer) == 1
    _, outcome, events = _ipn(store, order, 72, "finished", now=timedelta(hours=1))
    assert "another payment.settled" in outcome
    buyer, owner = _told(store, events)
    assert len(buyer) == 1 and len(owner) == 1, buyer  # a receipt for the payment that extended it
    sub = store.subscriptions.get(subscription_id("DemoChannel01", BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=60)
    assert "25 January 2027" in buyer[0], buyer[0]  # the new end, with the date written out
