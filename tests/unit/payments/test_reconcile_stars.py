"""Reconciliation of Telegram Stars: the bot's Star transactions (`getStarTransactions`) compared
with `star_payments` every run. A buyer pays in Stars and the `successful_payment` update never
arrives: reconciliation settles the order from the transaction (the buyer gets access, the owner's
ledger has the Stars, held); Telegram refunds it and the `refunded_payment` update is lost too: the
refund is applied; a payment for no TelePay order is kept for the operator; Telegram down never
fails the run. Each is counted as a discrepancy (the alert) once, not on every run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.config import CreateInvoiceSettings, ExpireSubscriptionsSettings, TelegramWebhookSettings
from shared_schemas.documents import EntryState, OrderStatus
from shared_schemas.ids import subscription_id
from shared_schemas.names import RECONCILIATION_DISCREPANCIES_FIELD, RECONCILIATION_SUMMARY_MESSAGE
from shared_schemas.tasks import CreateInvoiceTask
from telepay.adapters.telegram_api import TelegramUnavailable
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.payments.invoices import create_invoice
from telepay.payments.reconcile import STARS_REREAD_MARGIN, reconcile
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram
from tests.harness import NOW, RecordingPublisher, fakes, present, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def star_order(store: MemoryStore, update_id: int = 1, tier: str = "t2") -> str:
    """The buyer picks a tier and pays in Stars: the order, invoiced in Stars (the quarterly tier:
    a one-time invoice of 625 Stars)."""
    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)
    handle_update(updates.start(update_id, "/start DemoChannel01", BUYER), rt)
    handle_update(updates.press(update_id + 1, f"buy:DemoChannel01:{tier}", BUYER), rt)
    assert (
        handle_update(updates.press(update_id + 2, f"pay:DemoChannel01:{tier}:s", BUYER), rt)
        == "invoice queued"
    )
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask)
    assert create_invoice(task, 1, runtime(CreateInvoiceSettings, store)) == "invoiced in Stars"
    order = present(store.orders.get(task.order_id))
    assert (order.price_amount, order.price_currency, order.status) == (
        Decimal(625),
        "XTR",
        OrderStatus.INVOICED,
    )
    return task.order_id


def payment(
    charge_id: str, payload: str, stars: int, at: datetime, user: int = BUYER, **partner: Any
) -> dict[str, Any]:
    """An incoming StarTransaction as getStarTransactions gives it (Bot API JSON)."""
    source = {
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": {"id": user, "is_bot": False, "first_name": "Ada"},
        "invoice_payload": payload,
    } | partner
    return {"id": charge_id, "amount": stars, "date": int(at.timestamp()), "source": source}


def refund(charge_id: str, payload: str, stars: int, at: datetime) -> dict[str, Any]:
    """The outgoing refund of that payment: the same id, the user as the receiver."""
    receiver = {
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": {"id": BUYER, "is_bot": False, "first_name": "Ada"},
        "invoice_payload": payload,
    }
    return {"id": charge_id, "amount": stars, "date": int(at.timestamp()), "receiver": receiver}


def later(store: MemoryStore, minutes: float, transactions: list[dict[str, Any]]) -> Any:
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(minutes=minutes))
    telegram = fakes(rt)[0]
    telegram.star_transactions = transactions
    return rt


def stars_found(counts: dict[str, int]) -> list[int]:
    """The Stars discrepancies of a run (the other steps may find others: notify never ran here)."""
    return [counts[name] for name in ("stars_settled_late", "stars_refunds_applied", "stars_unknown")]


def test_a_stars_payment_whose_update_never_came_is_settled_once(store: MemoryStore) -> None:
    order_id = star_order(store)
    transactions = [payment("stxPaid1", order_id, 625, NOW + timedelta(minutes=1))]

    rt = later(store, 3, transactions)  # two minutes on: its update may still be on its way
    counts = reconcile(rt, "r1")
    assert (counts["stars_settled_late"], counts["stars_read"]) == (0, 1)
    assert present(store.orders.get(order_id)).status is OrderStatus.INVOICED

    rt = later(store, 10, transactions)
    counts = reconcile(rt, "r2")
    assert counts["stars_settled_late"] == 1 and counts[RECONCILIATION_DISCREPANCIES_FIELD] >= 1
    order = present(store.orders.get(order_id))
    assert (order.status, order.payment_id) == (OrderStatus.SETTLED, "stxPaid1")
    record = present(store.star_payments.get("stxPaid1"))
    assert (record.source, record.stars, record.order_id) == ("reconciliation", 625, order_id)
    sub = present(store.subscriptions.get(subscription_id("DemoChannel01", BUYER)))
    assert sub.expires_at == NOW + timedelta(minutes=10) + timedelta(days=90)  # the days bought, from now
    entry = present(store.ledger.get(order_id))
    assert (entry.gross_amount, entry.gross_currency, entry.settled_currency) == (Decimal(625), "xtr", "usd")
    assert entry.held_until == NOW + timedelta(minutes=1) + timedelta(days=21)  # Telegram's hold
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher) and len(publisher.published) == 1  # buyer, owner told

    # The next runs re-read it (the margin) and change nothing, count nothing.
    counts = reconcile(later(store, 15, transactions), "r3")
    assert stars_found(counts) == [0, 0, 0]
    assert present(store.reconcile_state.get("stars")).offset == 1


def test_a_payment_its_update_settled_is_not_counted(store: MemoryStore) -> None:
    order_id = star_order(store)
    webhook = runtime(TelegramWebhookSettings, store)
    paid = updates.start(50, "", BUYER)
    paid["message"].pop("text")
    paid["message"]["successful_payment"] = {
        "currency": "XTR",
        "total_amount": 625,
        "invoice_payload": order_id,
        "telegram_payment_charge_id": "stxPaid2",
        "provider_payment_charge_id": "",
    }
    handle_update(paid, webhook)
    assert present(store.star_payments.get("stxPaid2")).source == "update"
    counts = reconcile(later(store, 10, [payment("stxPaid2", order_id, 625, NOW)]), "r1")
    stars = [
        counts[name]
        for name in ("stars_read", "stars_settled_late", "stars_refunds_applied", "stars_unknown")
    ]
    assert stars == [1, 0, 0, 0]


def test_a_refund_whose_update_never_came_is_applied_once(store: MemoryStore) -> None:
    order_id = star_order(store)
    paid = payment("stxPaid3", order_id, 625, NOW)
    reconcile(later(store, 10, [paid]), "r1")
    entry = present(store.ledger.get(order_id))
    assert entry.state is EntryState.AVAILABLE

    transactions = [paid, refund("stxPaid3", order_id, 625, NOW + timedelta(minutes=20))]
    counts = reconcile(later(store, 30, transactions), "r2")
    assert counts["stars_refunds_applied"] == 1 and counts["stars_settled_late"] == 0
    record = present(store.star_payments.get("stxPaid3"))
    assert record.refunded_at == NOW + timedelta(minutes=30) and record.refund_source == "reconciliation"
    assert present(store.ledger.get(order_id)).state is EntryState.REVERSED  # the owner is owed nothing
    sub = present(store.subscriptions.get(subscription_id("DemoChannel01", BUYER)))
    assert sub.expires_at <= NOW + timedelta(minutes=30)  # its days came off

    counts = reconcile(later(store, 35, transactions), "r3")
    assert stars_found(counts) == [0, 0, 0]


def test_a_payment_for_no_telepay_order_is_kept_for_the_operator_and_counted_once(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    transactions = [
        payment("stxOdd1", "not-a-telepay-order", 40, NOW),
        # Not a buyer's invoice: a withdrawal to Fragment, and paid media.
        {"id": "wd1", "amount": 1000, "date": int(NOW.timestamp()), "receiver": {"type": "fragment"}},
        payment("stxMedia", "", 5, NOW, transaction_type="paid_media_payment"),
    ]
    with caplog.at_level(logging.INFO):
        counts = reconcile(later(store, 10, transactions), "r1")
    assert (counts["stars_unknown"], counts["stars_read"], counts["stars_settled_late"]) == (1, 3, 0)
    kept = present(store.unknown_ipns.get("stars-stxOdd1"))
    assert kept.order_id == "not-a-telepay-order" and "refund it" in kept.reason
    assert kept.body["source"]["user"]["id"] == BUYER  # type: ignore[index]
    [summary] = [r for r in caplog.records if r.getMessage() == RECONCILIATION_SUMMARY_MESSAGE]
    assert summary.__dict__["fields"]["stars_unknown"] == 1
    assert summary.__dict__["fields"][RECONCILIATION_DISCREPANCIES_FIELD] >= 1
    assert reconcile(later(store, 15, transactions), "r2")["stars_unknown"] == 0  # kept, not counted again


def test_a_payment_naming_another_buyers_order_is_not_settled(store: MemoryStore) -> None:
    order_id = star_order(store)
    counts = reconcile(later(store, 10, [payment("stxOther", order_id, 625, NOW, user=777)]), "r1")
    assert counts["stars_unknown"] == 1 and counts["stars_settled_late"] == 0
    assert present(store.orders.get(order_id)).status is OrderStatus.INVOICED


def test_telegram_down_is_counted_and_the_run_goes_on(store: MemoryStore) -> None:
    order_id = star_order(store)
    rt = later(store, 10, [payment("stxPaid4", order_id, 625, NOW)])
    telegram = fakes(rt)[0]
    telegram.fail_method["get_star_transactions"] = [TelegramUnavailable("Bad Gateway")]
    counts = reconcile(rt, "r1")
    assert (counts["stars_unread"], counts["stars_settled_late"]) == (1, 0)
    assert "removals_scheduled" in counts  # the run's other steps ran
    counts = reconcile(later(store, 15, [payment("stxPaid4", order_id, 625, NOW)]), "r2")  # Telegram is back
    assert counts["stars_settled_late"] == 1


def test_each_run_reads_on_from_the_stored_offset_less_a_margin(store: MemoryStore) -> None:
    """Telegram lists transactions oldest first; a run reads from where the last stopped, less
    STARS_REREAD_MARGIN, page by page (100 a call, Telegram's most)."""
    old = datetime(2026, 1, 1, tzinfo=UTC)
    transactions = [payment(f"stxOld{n}", "gone", 10, old) for n in range(250)]
    transactions = [t | {"source": {"type": "fragment"}} for t in transactions]  # withdrawal refunds
    rt = later(store, 10, transactions)
    reconcile(rt, "r1")
    assert present(store.reconcile_state.get("stars")).offset == 250
    assert [call[1] for call in fakes(rt)[0].calls if call[0] == "get_star_transactions"] == [
        (0, 100),
        (100, 100),
        (200, 100),
    ]
    rt = later(store, 15, transactions)
    telegram: FakeTelegram = fakes(rt)[0]
    reconcile(rt, "r2")
    assert [call[1] for call in telegram.calls if call[0] == "get_star_transactions"] == [
        (250 - STARS_REREAD_MARGIN, 100),
        (250, 100),
    ]
