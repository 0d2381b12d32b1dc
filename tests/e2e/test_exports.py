"""The owner's books end to end: three payments through the NowPayments stand-in (two purchases and
a donation, one purchase then refunded by NowPayments), the owner runs /export in the bot, and the
CSV documents the Telegram stand-in received (sent as files, never links) hold exactly the
channel's ledger entries: every sale with its gross, fee, net and refund, every ledger row."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from local.clients import BotChat, NowPaymentsControl, TelegramControl, wait_for
from local.fixtures import threshold_payouts, tron_address
from shared_schemas.documents import LedgerEntryDoc
from telepay.owners.books_rules import BOM, COLUMNS, Book, cell, ledger_row
from tests.e2e.flows import docs_where, donate, new_channel, open_invoice, pay

pytestmark = pytest.mark.e2e
PAID_IN: dict[str, Any] = {"pay_currency": "usdttrc20"}


def _rows(tg: TelegramControl, document: dict[str, Any]) -> list[dict[str, str]]:
    data = tg.document_bytes(document["message"]["document"]["file_id"])
    text = data.decode("utf-8")
    assert text.startswith(BOM) and "\r\n" in text
    reader = csv.DictReader(io.StringIO(text.removeprefix(BOM), newline=""))
    rows = list(reader)
    assert (
        tuple(reader.fieldnames or ())
        == COLUMNS[Book(document["message"]["document"]["file_name"].split("-")[0])]
    )
    return rows


def _export(owner: BotChat, tg: TelegramControl, book: str) -> dict[str, Any]:
    owner.send("/export", expect="Which book?")
    owner.tap(book, expect="Which period (UTC)?")
    owner.tap("Last 30 days", expect=f"{book} of Night Owls Club")
    return tg.wait_document(
        owner.user_id,
        f"{book} of Night Owls Club",
        after=owner.question["message_id"] if owner.question else 0,
    )


def test_exported_books_match_the_ledger(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: Any, token: str
) -> None:
    # Threshold payouts far above these sales: every entry stays in the balance (a refund reverses it).
    channel = new_channel(endpoints, tg, token, **threshold_payouts(tron_address(f"books {token}"), "1000"))
    kept = pay(np, open_invoice(tg, tg.user("Ann"), channel.token, 0), **PAID_IN)
    refunded = pay(np, open_invoice(tg, tg.user("Ben"), channel.token, 1), **PAID_IN)
    donation = donate(tg, np, tg.user("Dee"), channel.token, "7", **PAID_IN)
    [ipn] = np.steps(refunded, [{"status": "refunded"}])  # NowPayments refunds Ben's payment
    assert ipn["response_status"] == 200, ipn

    def entries() -> list[LedgerEntryDoc] | None:
        found = [
            LedgerEntryDoc.model_validate(d) for d in docs_where(db, "ledger", "channel_token", channel.token)
        ]
        states = {str(e.payment_id): e.state.value for e in found}
        return found if len(found) == 3 and states.get(str(refunded)) == "reversed" else None

    booked = sorted(
        wait_for("three entries, one reversed", entries, timeout=60), key=lambda e: (e.booked_at, e.entry_id)
    )
    assert {str(e.payment_id) for e in booked} == {str(kept), str(refunded), str(donation)}

    owner = BotChat(tg, channel.owner)
    sales = _export(owner, tg, "Sales")
    assert sales["text"].endswith(": 3 rows") and sales["message"]["document"]["mime_type"] == "text/csv"
    rows = _rows(tg, sales)
    assert [
        (r["order_id"], r["payment_id"], r["gross"], r["fee"], r["net"], r["currency"]) for r in rows
    ] == [
        (e.order_id, str(e.payment_id), cell(e.gross_amount), cell(e.fee_amount), cell(e.net_amount), "USD")
        for e in booked
    ]
    by_payment = {r["payment_id"]: r for r in rows}
    assert by_payment[str(refunded)]["refunded"] == by_payment[str(refunded)]["gross"]
    assert by_payment[str(refunded)]["refunded_at"] != ""
    assert by_payment[str(kept)]["refunded"] == "" and by_payment[str(kept)]["rail"] == "crypto"
    assert by_payment[str(donation)]["kind"] == "donation" and by_payment[str(kept)]["kind"] == "subscription"

    ledger = _export(owner, tg, "Ledger")
    assert _rows(tg, ledger) == [{k: cell(v) for k, v in ledger_row(e).items()} for e in booked]
