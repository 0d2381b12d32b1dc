"""The payment decision, over random payment histories (Hypothesis): a payment's status never goes
backwards, a settled order never settles twice, an extension always starts from max(now, current
end), and money is copied exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.documents import (
    OrderDoc,
    OrderStatus,
    PaymentStatus,
    SubscriptionDoc,
    SubscriptionStatus,
)
from shared_schemas.ids import OrderKind
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.nowpayments import Payment
from telepay.payments.settlement import SettlementPolicy, decide, rank
from tests.conftest import demo_channel

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CHANNEL = demo_channel()
POLICY = SettlementPolicy()

statuses = st.sampled_from(list(PaymentStatus))
money = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000"), places=8)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)


def _order(
    kind: OrderKind = OrderKind.SUBSCRIPTION, price: Decimal = Decimal("5.00"), **changes: Any
) -> OrderDoc:
    fields: dict[str, Any] = {
        "order_id": "tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa",
        "kind": kind,
        "user_id": 7,
        "chat_id": 7,
        "channel_token": CHANNEL.token,
        "tier_id": "t1",
        "days": 30,
        "price_amount": price,
        "price_currency": "USD",
        "status": OrderStatus.INVOICED,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return OrderDoc.model_validate(fields | changes)


def _payment(status: PaymentStatus, price: Decimal, paid: Decimal, expected: Decimal) -> Payment:
    return Payment(
        payment_id=55,
        payment_status=status.value,
        order_id="tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa",
        price_amount=price,
        price_currency="usd",
        pay_amount=expected,
        actually_paid=paid,
        pay_currency="btc",
    )


def _apply(order: OrderDoc, updates: dict[str, Any]) -> OrderDoc:
    return order.model_copy(update={k: v for k, v in updates.items() if k in OrderDoc.model_fields})


@given(st.lists(st.tuples(statuses, money, money), min_size=1, max_size=12), prices)
def test_status_only_moves_forward_and_a_settled_order_settles_once(
    history: list[Any], price: Decimal
) -> None:
    order = _order(price=price)
    settlements = 0
    for status, paid, expected in history:
        before = order
        decision = decide(order, _payment(status, price, paid, expected), None, CHANNEL, NOW, POLICY)
        order = _apply(order, decision.order_updates)
        assert rank(order.payment_status) >= rank(before.payment_status)
        if before.status in (OrderStatus.SETTLED, OrderStatus.REFUNDED):
            # The same payment again changes nothing, unless it is its refund (once).
            assert decision.event is None or decision.event.event_id.endswith("payment.refunded")
            assert order.status is not OrderStatus.SETTLED or decision.order_updates == {}
        if order.status is OrderStatus.SETTLED and before.status is not OrderStatus.SETTLED:
            settlements += 1
    assert settlements <= 1


@given(
    st.one_of(st.none(), st.integers(min_value=-400, max_value=400)),
    st.booleans(),
    st.integers(min_value=1, max_value=3650),
)
def test_an_extension_starts_from_the_later_of_now_and_the_current_end(
    end_in_days: int | None, active: bool, days: int
) -> None:
    current = None
    if end_in_days is not None:
        current = SubscriptionDoc(
            channel_token=CHANNEL.token,
            user_id=7,
            closed_channel_id=CHANNEL.closed_channel_id,
            status=SubscriptionStatus.ACTIVE if active else SubscriptionStatus.EXPIRED,
            expires_at=NOW + timedelta(days=end_in_days),
            started_at=NOW - timedelta(days=500),
            last_order_id="earlier",
            updated_at=NOW,
        )
    payment = _payment(PaymentStatus.FINISHED, Decimal("5.00"), Decimal("0.001"), Decimal("0.001"))
    decision = decide(_order(days=days), payment, current, CHANNEL, NOW, POLICY)
    assert decision.subscription is not None
    base = NOW if current is None else max(NOW, current.expires_at)
    assert decision.subscription.expires_at == base + timedelta(days=days)
    assert decision.subscription.started_at == (current.started_at if current else NOW)
    assert decision.order_updates["subscription_expires_at"] == decision.subscription.expires_at


@given(prices, money, money, st.sampled_from([OrderKind.SUBSCRIPTION, OrderKind.DONATION]))
def test_money_is_copied_exactly_and_settles_only_when_covered(
    price: Decimal, paid: Decimal, expected: Decimal, kind: OrderKind
) -> None:
    payment = _payment(PaymentStatus.FINISHED, price, paid, expected)
    decision = decide(_order(kind, price), payment, None, CHANNEL, NOW, POLICY)
    assert decision.order_updates["actually_paid"] == paid
    assert decision.order_updates["pay_amount"] == expected
    covered = paid >= expected * (1 - POLICY.tolerance_percent / 100)
    assert (decision.order_updates["status"] is OrderStatus.SETTLED) == covered
    assert (decision.subscription is not None) == (covered and kind is OrderKind.SUBSCRIPTION)
    assert decision.event is not None
    event = Envelope[PaymentEvent].model_validate(decision.event.envelope).data
    assert (event.price_amount, event.actually_paid, event.pay_amount) == (price, paid, expected)


@given(prices)
def test_a_price_that_differs_from_the_order_never_settles(price: Decimal) -> None:
    payment = _payment(PaymentStatus.FINISHED, price + Decimal("0.01"), Decimal("1"), Decimal("1"))
    decision = decide(_order(price=price), payment, None, CHANNEL, NOW, POLICY)
    assert decision.order_updates["status"] is OrderStatus.PARTIALLY_PAID and decision.subscription is None


def test_a_late_finished_after_a_refund_is_stale() -> None:
    """Found by the property above: the settling status used to bypass the forward-only rule."""
    order = _order(payment_id=55, payment_status=PaymentStatus.REFUNDED, status=OrderStatus.FAILED)
    payment = _payment(PaymentStatus.FINISHED, Decimal("5.00"), Decimal("1"), Decimal("1"))
    decision = decide(order, payment, None, CHANNEL, NOW, POLICY)
    assert decision.outcome.startswith("stale") and decision.order_updates == {}


def test_another_payment_after_a_refunded_one_is_not_stale() -> None:
    """Forward-only is per payment: payment 56 starts from nothing, whatever 55 reached."""
    order = _order(payment_id=55, payment_status=PaymentStatus.REFUNDED, status=OrderStatus.FAILED)
    payment = _payment(PaymentStatus.FINISHED, Decimal("5.00"), Decimal("1"), Decimal("1"))
    decision = decide(order, payment.model_copy(update={"payment_id": 56}), None, CHANNEL, NOW, POLICY)
    assert (
        decision.order_updates["status"] is OrderStatus.SETTLED and decision.order_updates["payment_id"] == 56
    )


def test_an_unknown_status_changes_nothing() -> None:
    payment = _payment(PaymentStatus.FINISHED, Decimal("5.00"), Decimal("1"), Decimal("1"))
    decision = decide(
        _order(), payment.model_copy(update={"payment_status": "hold"}), None, CHANNEL, NOW, POLICY
    )
    assert decision.order_updates == {} and decision.event is None
