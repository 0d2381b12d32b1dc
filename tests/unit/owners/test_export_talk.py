"""`/export` in the owner's chat: the book, the period, and the CSV sent as a document whose rows
are the channel's ledger entries; a typed period with its refusals, an empty period, Telegram
refusing the file, someone without a channel."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from shared_schemas.documents import LedgerEntryDoc, OrderDoc, OrderStatus
from shared_schemas.ids import OrderKind, subscription_order_id
from shared_schemas.nowpayments import Payment
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.channels.lookup import load_channel
from telepay.owners.books_rules import BOM
from telepay.payouts import ledger
from tests.harness import NOW, present
from tests.memory_store import MemoryStore
from tests.unit.owners.test_commands import STRANGER, Owner, _live, owner_on


def sell(owner: Owner, token: str, buyer: int, days_ago: int) -> LedgerEntryDoc:
    """A buyer's purchase of the channel's first tier, settled `days_ago` and booked as the
    settlement books it (the order at the channel's price, the ledger's rule)."""
    channel = present(load_channel(owner.rt.store, token))
    tier = channel.tiers[0]
    at = NOW - timedelta(days=days_ago)
    order = OrderDoc(
        order_id=subscription_order_id(token, buyer, tier.tier_id),
        kind=OrderKind.SUBSCRIPTION,
        user_id=buyer,
        chat_id=buyer,
        channel_token=token,
        tier_id=tier.tier_id,
        days=tier.days,
        price_amount=tier.price,
        price_currency="USD",
        status=OrderStatus.SETTLED,
        settled_at=at,
        created_at=at,
        updated_at=at,
    )
    payment = Payment(
        payment_id=buyer,
        payment_status="finished",
        price_amount=tier.price,
        price_currency="usd",
        outcome_amount=tier.price,
        outcome_currency="usdttrc20",
    )
    entry = ledger.book(order, payment, channel, Decimal("3"), at)
    owner.rt.store.orders.set(order.order_id, order)
    owner.rt.store.ledger.set(entry.entry_id, entry)
    return entry


def rows_of(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM))))


def test_the_owner_exports_this_months_sales_and_ledger() -> None:
    owner = owner_on(MemoryStore())
    token = _live(owner)
    first = sell(owner, token, 101, days_ago=3)
    second = sell(owner, token, 102, days_ago=1)
    sell(owner, token, 103, days_ago=40)  # last month: not in this month's books
    updates, _ = ledger.refund(second, NOW)  # the second payment refunded before any payout
    assert updates is not None
    owner.rt.store.ledger.update(second.entry_id, updates)

    assert owner.say("/export").startswith("asked export_book")  # one channel: no channel question
    assert owner.press("Sales").startswith("asked export_period")
    assert [b.text for row in owner.last().keyboard or [] for b in row] == [
        "This month",
        "Last month",
        "Last 30 days",
    ]
    assert owner.press("This month") == "export sent, 2 rows"
    [sent] = owner.telegram.documents
    assert sent.chat_id == owner.user_id and sent.filename == f"sales-{token}-2026-11-01-2026-11-26.csv"
    assert sent.caption == "Sales of Night Owls Club, 1 November 2026 – 26 November 2026 UTC: 2 rows"
    rows = rows_of(sent.data)
    entries = [first, present(owner.rt.store.ledger.get(second.entry_id))]
    assert [(r["order_id"], r["gross"], r["fee"], r["net"], r["currency"]) for r in rows] == [
        (e.order_id, str(e.gross_amount), str(e.fee_amount), str(e.net_amount), "USD") for e in entries
    ]
    assert [(r["kind"], r["rail"], r["buyer_user_id"]) for r in rows] == [
        ("subscription", "crypto", "101"),
        ("subscription", "crypto", "102"),
    ]
    assert (rows[0]["refunded"], rows[1]["refunded"]) == ("", str(second.gross_amount))
    assert rows[1]["refunded_at"] == NOW.isoformat()

    owner.say("/export")
    owner.press("Ledger")
    assert owner.press("This month") == "export sent, 2 rows"
    ledger_rows = rows_of(owner.telegram.documents[-1].data)
    assert [(r["entry_id"], r["state"], r["net"]) for r in ledger_rows] == [
        (first.entry_id, "available", str(first.net_amount)),
        (second.entry_id, "reversed", str(second.net_amount)),
    ]


def test_a_typed_period_with_its_refusals_and_an_empty_one() -> None:
    owner = owner_on(MemoryStore())
    token = _live(owner)
    sell(owner, token, 101, days_ago=3)
    owner.say("/export")
    owner.press("Payouts")
    assert owner.say("2026-11-01 2026-12-31") == "invalid export_period"
    assert "The period can't end after today (UTC)." in owner.last().text
    assert "Which period (UTC)?" in owner.last().text  # asked again
    assert owner.say("2025-01-01 2026-11-01") == "invalid export_period"
    assert "at most 366 days" in owner.last().text
    assert owner.say("2026-11-01 2026-11-26") == "export empty"  # no payout yet
    assert owner.telegram.documents == []
    assert owner.last().text == (
        "Payouts of Night Owls Club, 1 November 2026 – 26 November 2026 UTC: nothing there, so no file was sent."
    )


def test_telegram_refusing_the_file_is_said() -> None:
    owner = owner_on(MemoryStore())
    token = _live(owner)
    sell(owner, token, 101, days_ago=3)
    owner.telegram.fail_method["send_document"] = [TelegramBadRequest("Request entity too large")]
    owner.say("/export")
    owner.press("Sales")
    assert owner.press("Last 30 days") == "export refused"
    assert owner.last().text == "Telegram refused the file, so nothing was sent. Please try again later."


def test_someone_without_a_channel_has_no_books() -> None:
    owner = owner_on(MemoryStore())
    _live(owner)
    stranger = Owner(owner.rt, STRANGER)
    assert stranger.say("/export") == "no channels"
    assert stranger.telegram.documents == []
