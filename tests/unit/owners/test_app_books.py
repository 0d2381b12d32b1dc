"""The owner app's Books form (POST /api/channels/<token>/exports): the book sent to the owner's
chat with the bot as /export sends it (a document, never a link), each field's refusal, another
owner's channel 404, an empty period said."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import OwnerAppSettings
from shared_schemas.nowpayments import Payment
from telepay.channels.lookup import load_channel
from telepay.owners.books_rules import BOM
from telepay.payouts import ledger
from telepay.runtime import Runtime
from tests.harness import NOW, fakes, present
from tests.unit.owners.test_app import OWNER, STRANGER, auth, call
from tests.unit.owners.test_app import rt as rt  # the owner app's fixture

PATH = "/api/channels/DemoChannel01/exports"


def _settle_fixture_order(rt: Runtime[OwnerAppSettings]) -> None:
    """The fixture's settled order booked as settlement books it."""
    order = present(rt.store.orders.get("x"))
    channel = present(load_channel(rt.store, "DemoChannel01"))
    payment = Payment(
        payment_id=77, payment_status="finished", outcome_amount=Decimal("5.00"), outcome_currency="usdttrc20"
    )
    entry = ledger.book(order, payment, channel, Decimal("3"), order.settled_at or NOW)
    rt.store.ledger.set(entry.entry_id, entry)


def test_the_ledger_is_sent_to_the_owners_chat(rt: Runtime[OwnerAppSettings]) -> None:
    _settle_fixture_order(rt)
    first = (NOW - timedelta(days=7)).date().isoformat()
    reply = call(rt, PATH, "POST", {"book": "ledger", "from": first, "to": NOW.date().isoformat()})
    assert (reply.status, reply.body) == (200, {"sent": True, "rows": 1})
    [document] = fakes(rt)[0].documents
    assert document.chat_id == OWNER and document.filename.startswith("ledger-DemoChannel01-")
    [row] = list(csv.DictReader(io.StringIO(document.data.decode().removeprefix(BOM))))
    assert (row["entry_id"], row["gross"], row["fee"], row["net"], row["currency"]) == (
        "x",
        "5.00",
        "0.15",
        "4.85",
        "USD",
    )


def test_each_field_is_checked_and_an_empty_period_said(rt: Runtime[OwnerAppSettings]) -> None:
    today = NOW.date().isoformat()
    refused = call(rt, PATH, "POST", {"book": "=evil", "from": "2026-13-01", "to": today})
    assert refused.status == 422
    assert [e["field"] for e in refused.body["errors"]] == ["book", "from"]
    too_long = call(rt, PATH, "POST", {"book": "sales", "from": "2025-01-01", "to": today})
    assert too_long.status == 422 and "at most 366 days" in too_long.body["errors"][0]["reason"]
    future = call(rt, PATH, "POST", {"book": "sales", "from": today, "to": "2026-12-31"})
    assert future.status == 422 and future.body["errors"][0]["field"] == "to"
    empty = call(rt, PATH, "POST", {"book": "payouts", "from": today, "to": today})
    assert (empty.status, empty.body) == (200, {"sent": False, "rows": 0})
    assert "nothing there, so no file was sent" in fakes(rt)[0].to(OWNER)[-1].text
    assert fakes(rt)[0].documents == []


def test_another_owners_books_are_404(rt: Runtime[OwnerAppSettings]) -> None:
    body = {"book": "sales", "from": NOW.date().isoformat(), "to": NOW.date().isoformat()}
    assert call(rt, "/api/channels/OtherChannel01/exports", "POST", body).status == 404
    assert call(rt, PATH, "POST", body, authorization=auth(STRANGER)).status == 404
    assert call(rt, PATH, "GET").status == 405
