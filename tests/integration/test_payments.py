"""ipn_handler's logic against the real Firestore and Pub/Sub emulators."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.documents import OrderDoc, OrderStatus, PaymentStatus, SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import subscription_id, subscription_order_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.names import Collection, Topic
from telepay.adapters.pubsub_publisher import Publisher
from telepay.channels.lookup import save_channel
from telepay.core.errors import RetryLater
from telepay.payments import signature as ipn_signature
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.payments.reconcile import reconcile
from tests.conftest import demo_channel
from tests.harness import nowpayments_of, telegram_of
from tests.integration.conftest import PROJECT, PubSub
from tests.integration.helpers import IPN_SECRET, NOW, runtime, store_of

pytestmark = pytest.mark.integration
USER = 777


def _order(
    db: Any, token: str = "DemoChannel01", tier: str = "t1", price: str = "5.00", days: int = 30
) -> OrderDoc:
    order = OrderDoc(
        order_id=subscription_order_id(token, USER, tier),
        kind="sub",
        user_id=USER,
        chat_id=USER,
        channel_token=token,
        tier_id=tier,
        days=days,
        price_amount=Decimal(price),
        price_currency="USD",
        status=OrderStatus.INVOICED,
        invoice_id="4001",
        created_at=NOW,
        updated_at=NOW,
    )
    db.collection(Collection.ORDERS.value).document(order.order_id).set(order.to_firestore())
    return order


def _ipn(order_id: str, payment_id: int, status: str, secret: str = IPN_SECRET) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "payment_id": payment_id,
            "payment_status": status,
            "order_id": order_id,
            "pay_amount": 0.00005,
            "actually_paid": 0.00005,
            "fee": {"currency": "btc", "depositFee": 0, "serviceFee": 0.0000081},
        }
    ).encode()
    return body, ipn_signature.sign(body, secret)


def _subscription(db: Any, token: str = "DemoChannel01") -> SubscriptionDoc | None:
    snapshot = db.collection(Collection.SUBSCRIPTIONS.value).document(subscription_id(token, USER)).get()
    return SubscriptionDoc.model_validate(snapshot.to_dict()) if snapshot.exists else None


def _outbox(db: Any) -> list[dict[str, Any]]:
    return [s.to_dict() for s in db.collection(Collection.OUTBOX.value).stream()]


def test_finished_payment_settles_once_and_publishes(firestore_db: Any, pubsub: PubSub) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(11, order.order_id, "finished", "5.00")
    pulled_from = pubsub.subscribe(Topic.PAYMENT_EVENTS, "test-settled")

    result = handle_ipn(*_ipn(order.order_id, 11, "finished"), rt)
    again = handle_ipn(*_ipn(order.order_id, 11, "finished"), rt)

    assert result.http_status == 200 and "payment.settled" in result.outcome
    assert again.outcome.startswith("duplicate")
    subscription = _subscription(firestore_db)
    assert subscription is not None and subscription.status is SubscriptionStatus.ACTIVE
    assert subscription.expires_at == NOW + timedelta(days=30)
    messages = pubsub.pull(pulled_from)
    assert [m["type"] for m in messages] == ["payment.settled"]
    assert messages[0]["data"]["subscription_expires_at"].startswith("2026-12-26T12:00")
    assert all(doc["published"] for doc in _outbox(firestore_db))


def test_late_confirming_never_overwrites_finished(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(12, order.order_id, "finished", "5.00")
    handle_ipn(*_ipn(order.order_id, 12, "finished"), rt)
    # The API answers with the payment's current state; a stale status cannot be replayed.
    nowpayments_of(rt).set_payment(12, order.order_id, "confirming", "5.00")
    late = handle_ipn(*_ipn(order.order_id, 12, "confirming"), rt)

    stored = OrderDoc.model_validate(
        firestore_db.collection("orders").document(order.order_id).get().to_dict()
    )
    assert stored.status is OrderStatus.SETTLED and stored.payment_status is PaymentStatus.FINISHED
    assert "already settled" in late.outcome
    assert _subscription(firestore_db).expires_at == NOW + timedelta(days=30)  # type: ignore[union-attr]


def test_renewal_extends_from_the_current_expiry(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    first = _order(firestore_db)
    nowpayments_of(rt).set_payment(21, first.order_id, "finished", "5.00")
    handle_ipn(*_ipn(first.order_id, 21, "finished"), rt)
    second = _order(firestore_db, tier="t2", price="12.50", days=90)
    nowpayments_of(rt).set_payment(22, second.order_id, "finished", "12.50")
    handle_ipn(*_ipn(second.order_id, 22, "finished"), rt)

    assert _subscription(firestore_db).expires_at == NOW + timedelta(days=120)  # type: ignore[union-attr]


def test_underpaid_finished_grants_nothing(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(31, order.order_id, "finished", "5.00", paid="0.0009", expected="0.001")

    result = handle_ipn(*_ipn(order.order_id, 31, "finished"), rt)

    assert "partially_paid" in result.outcome
    assert _subscription(firestore_db) is None


def test_price_mismatch_with_the_api_grants_nothing(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(32, order.order_id, "finished", "0.50")  # paid for a cheaper invoice

    handle_ipn(*_ipn(order.order_id, 32, "finished"), rt)

    assert _subscription(firestore_db) is None


def test_unknown_order_is_recorded_without_effect(firestore_db: Any) -> None:
    rt = runtime(firestore_db)
    result = handle_ipn(*_ipn("tp1-sub-Nobody0000-1-t1-aaaaaaaaaa", 41, "finished"), rt)

    assert result.http_status == 200 and result.outcome == "unknown order"
    recorded = [s.to_dict() for s in firestore_db.collection(Collection.UNKNOWN_IPNS.value).stream()]
    assert [r["reason"] for r in recorded] == ["unknown order"]
    assert list(firestore_db.collection(Collection.SUBSCRIPTIONS.value).stream()) == []


@pytest.mark.parametrize("secret", ["wrong-secret", None])
def test_bad_or_missing_signature_writes_nothing(firestore_db: Any, secret: str | None) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(51, order.order_id, "finished", "5.00")
    body, signature = _ipn(order.order_id, 51, "finished", secret or "x")

    result = handle_ipn(body, signature if secret else None, rt)

    assert result.http_status == 401
    assert _subscription(firestore_db) is None
    assert list(firestore_db.collection(Collection.CLAIMS.value).stream()) == []


class _FailingOnce(Publisher):
    def __init__(self, project: str) -> None:
        super().__init__(project)
        self.failures = 1

    def publish(self, topic: Topic, data: bytes, **attributes: str) -> str:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("injected: publishing failed right after the commit")
        return super().publish(topic, data, **attributes)


def test_event_survives_a_publish_failure_after_commit(firestore_db: Any, pubsub: PubSub) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    rt.replace(publisher=_FailingOnce(PROJECT))
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(61, order.order_id, "finished", "5.00")
    pulled_from = pubsub.subscribe(Topic.PAYMENT_EVENTS, "test-outbox")

    with pytest.raises(RetryLater):
        handle_ipn(*_ipn(order.order_id, 61, "finished"), rt)
    assert _subscription(firestore_db) is not None  # settled and committed
    assert [d["published"] for d in _outbox(firestore_db)] == [False]

    # NowPayments re-sends the IPN (we answered 503): the duplicate flushes the outbox.
    retry = handle_ipn(*_ipn(order.order_id, 61, "finished"), rt)

    assert retry.http_status == 200
    assert [m["type"] for m in pubsub.pull(pulled_from)] == ["payment.settled"]
    assert [d["published"] for d in _outbox(firestore_db)] == [True]
    assert _subscription(firestore_db).expires_at == NOW + timedelta(days=30)  # type: ignore[union-attr]


def test_an_event_notify_never_handled_is_published_again(firestore_db: Any, pubsub: PubSub) -> None:
    """Pub/Sub stopped pushing an event notify failed on: reconciliation publishes it again (same
    event id), notify tells the owner, and the event is marked handled, so it is published no more."""
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db)
    order = _order(firestore_db)
    nowpayments_of(rt).set_payment(81, order.order_id, "finished", "5.00")
    pulled_from = pubsub.subscribe(Topic.PAYMENT_EVENTS, "test-unhandled")
    assert handle_ipn(*_ipn(order.order_id, 81, "finished"), rt).http_status == 200
    [first] = pubsub.pull(pulled_from)
    assert [d["handled"] for d in _outbox(firestore_db)] == [False]

    later = runtime(firestore_db, "expiry", now=NOW + timedelta(minutes=20))
    assert reconcile(later, "r1")["events_redelivered"] == 1
    [again] = pubsub.pull(pulled_from)
    assert again["event_id"] == first["event_id"]

    notify = runtime(firestore_db, "notify", now=NOW + timedelta(minutes=21))
    handle_event(Envelope[PaymentEvent].model_validate(again), notify)
    assert any("New payment" in m.text for m in telegram_of(notify).to(demo_channel().owner_user_id))
    [outbox] = _outbox(firestore_db)
    assert outbox["handled"] and outbox["redeliveries"] == 1
    assert (
        reconcile(runtime(firestore_db, "expiry", now=NOW + timedelta(hours=2)), "r2")["events_redelivered"]
        == 0
    )
    assert pubsub.pull(pulled_from, expect=0) == []


def test_reconciliation_settles_a_stars_payment_and_keeps_its_place_in_firestore(
    firestore_db: Any, pubsub: PubSub
) -> None:
    """On Firestore: a Stars payment whose update was lost is settled from getStarTransactions, the
    cursor is stored (reconcile_state/stars), a payment for no order is kept in unknown_ipns."""
    from shared_schemas.ids import PayRail
    from tests.unit.payments.test_reconcile_stars import payment

    store = store_of(firestore_db)
    save_channel(store, demo_channel())
    order = _order(firestore_db, tier="t2", price="625", days=90).model_copy(
        update={"price_currency": "XTR", "rail": PayRail.STARS, "invoice_id": None}
    )
    firestore_db.collection(Collection.ORDERS.value).document(order.order_id).set(order.to_firestore())
    rt = runtime(firestore_db, "expiry", now=NOW + timedelta(minutes=10))
    telegram_of(rt).star_transactions = [
        payment("stxInt1", order.order_id, 625, NOW, user=USER),
        payment("stxInt2", "someone-elses-bot-payload", 50, NOW, user=USER),
    ]
    counts = reconcile(rt, "r1")
    assert (counts["stars_settled_late"], counts["stars_unknown"]) == (1, 1)
    charge = firestore_db.collection(Collection.STAR_PAYMENTS.value).document("stxInt1").get().to_dict()
    assert charge["source"] == "reconciliation" and charge["order_id"] == order.order_id
    state = firestore_db.collection(Collection.RECONCILE_STATE.value).document("stars").get().to_dict()
    assert state["offset"] == 2
    kept = firestore_db.collection(Collection.UNKNOWN_IPNS.value).document("stars-stxInt2").get().to_dict()
    assert kept["body"]["source"]["invoice_payload"] == "someone-elses-bot-payload"
    settled = _subscription(firestore_db)
    assert settled is not None and settled.status is SubscriptionStatus.ACTIVE
