"""`telepay payments refund` on the in-memory store with a fake Telegram: a Stars payment refunded by
its order id or its charge id (Telegram gives the Stars back, the days come off, the owner's entry is
reversed, who and why are recorded), a crypto order refused with where to refund it, an unknown id
refused, and a Stars payment for no TelePay order refunded through Telegram."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import EntryState, OrderStatus
from shared_schemas.ids import subscription_id
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram
from tests.harness import NOW, RecordingPublisher, present, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.payments.test_reconcile_stars import BUYER, payment, star_order

ENV = {"TELEGRAM_BOT_TOKEN": "123456:cli-test-token", "GOOGLE_CLOUD_PROJECT": "telepay-test"}


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def paid_in_stars(store: MemoryStore, charge_id: str = "stxCharge1") -> str:
    """The buyer pays the quarterly tier in Stars (625): Telegram's successful_payment, settled."""
    order_id = star_order(store)
    paid = updates.start(90, "", BUYER)
    paid["message"].pop("text")
    paid["message"]["successful_payment"] = {
        "currency": "XTR",
        "total_amount": 625,
        "invoice_payload": order_id,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    handle_update(paid, runtime(TelegramWebhookSettings, store))
    assert present(store.orders.get(order_id)).status is OrderStatus.SETTLED
    return order_id


def refund(
    store: MemoryStore, target: str, *options: str, reason: str = "double purchase, ticket 311"
) -> Any:
    telegram, publisher = FakeTelegram(), RecordingPublisher()
    result = run(
        store,
        *options,
        "payments",
        "refund",
        target,
        "--reason",
        reason,
        env=ENV,
        adapters_={"telegram": telegram, "publisher": publisher},
    )
    return result, telegram, publisher


def test_a_stars_payment_is_refunded_by_its_order_id_and_recorded(store: MemoryStore) -> None:
    order_id = paid_in_stars(store)
    result, telegram, publisher = refund(store, order_id)
    ok(result)
    assert "⭐625 back to user 4242 (charge stxCharge1" in result.output
    assert "recorded as operator ops@example.test: double purchase, ticket 311" in result.output
    assert telegram.refunded == ["stxCharge1"]  # Telegram gave the Stars back
    record = present(store.star_payments.get("stxCharge1"))
    assert (record.refunded_at, record.refund_source, record.refund_reason) == (
        NOW,
        "operator ops@example.test",
        "double purchase, ticket 311",
    )
    assert present(store.orders.get(order_id)).status is OrderStatus.REFUNDED
    assert present(store.ledger.get(order_id)).state is EntryState.REVERSED  # the owner is owed nothing
    sub = present(store.subscriptions.get(subscription_id("DemoChannel01", BUYER)))
    assert sub.expires_at <= NOW  # its 90 days came off
    assert len(publisher.published) == 1  # the refund's event: buyer and owner are told by notify

    # The same refund again, by the charge id: Telegram is not asked twice, nothing changes.
    again, telegram, _ = refund(store, "stxCharge1", "--json")
    assert json.loads(ok(again).output)["outcome"] == "already refunded"
    assert telegram.refunded == []
    by_order, _, _ = refund(store, order_id)
    assert by_order.exit_code != 0 and "refunded already" in by_order.output


def test_a_crypto_order_is_not_refunded_here(store: MemoryStore) -> None:
    from tests.unit.payments.test_reconcile import _order

    order = _order(store, payment_id=71, status=OrderStatus.SETTLED)
    result, telegram, publisher = refund(store, order.order_id)
    assert result.exit_code != 0
    assert "paid in crypto through NowPayments" in result.output and "Nothing was changed" in result.output
    assert telegram.calls == [] and publisher.published == []
    assert present(store.orders.get(order.order_id)).status is OrderStatus.SETTLED


def test_an_unknown_id_is_a_clear_error(store: MemoryStore) -> None:
    result, telegram, _ = refund(store, "tp1-nothing-like-it")
    assert result.exit_code != 0 and "no order or Stars payment tp1-nothing-like-it" in result.output
    assert telegram.calls == []
    empty, _, _ = refund(store, "stxCharge1", reason="  ")
    assert empty.exit_code != 0 and "--reason must not be empty" in empty.output


def test_a_renewed_subscription_asks_which_payment(store: MemoryStore) -> None:
    order_id = paid_in_stars(store)
    record = present(store.star_payments.get("stxCharge1"))
    renewal = record.model_copy(
        update={"charge_id": "stxRenew2", "recurring": True, "paid_at": NOW + timedelta(days=30)}
    )
    store.star_payments.set("stxRenew2", renewal)
    store.orders.update(order_id, {"extra_payment_ids": ["stxRenew2"]})
    result, telegram, _ = refund(store, order_id)
    assert result.exit_code != 0 and "has 2 Stars payments" in result.output
    assert "stxCharge1 (⭐625, 26 November 2026)" in result.output and "stxRenew2" in result.output
    assert telegram.calls == []


def test_a_stars_payment_for_no_telepay_order_is_refunded_through_telegram(store: MemoryStore) -> None:
    from telepay.payments.reconcile import reconcile
    from tests.unit.payments.test_reconcile_stars import later

    reconcile(later(store, 10, [payment("stxOdd9", "another-bots-payload", 40, NOW)]), "r1")
    result, telegram, _ = refund(store, "stxOdd9")
    ok(result)
    assert ("refund_star_payment", (BUYER, "stxOdd9")) in telegram.calls
    assert "refunded (no TelePay order): ⭐40 back to user 4242" in result.output
    kept = present(store.unknown_ipns.get("stars-stxOdd9"))
    assert "refunded by operator ops@example.test: double purchase" in kept.reason
