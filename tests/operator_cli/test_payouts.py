"""`telepay payouts list|show|retry` on the in-memory store: the open payouts, one with its entries,
and a retry that resumes a held payout or frees a failed one's entries."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from local.fixtures import tron_address
from shared_schemas.documents import EntryState, PayoutDoc, PayoutState, PayoutStrategy
from shared_schemas.queries import LEDGER_OF_OWNER
from tests.harness import NOW
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.owners.test_commands_payouts import _book

OWNER = 5001


def _payout(
    store: MemoryStore, payout_id: str, state: PayoutState, entry_ids: list[str], **changes: object
) -> None:
    fields: dict[str, object] = {
        "payout_id": payout_id,
        "channel_token": "DemoChannel01",
        "owner_user_id": OWNER,
        "entry_ids": entry_ids,
        "settled_currency": "usdttrc20",
        "settled_amount": Decimal("4.85"),
        "net_price_amount": Decimal("4.85"),
        "price_currency": "usd",
        "address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "currency": "usdttrc20",
        "amount": Decimal("4.85"),
        "strategy": PayoutStrategy.INSTANT,
        "state": state,
        "open": state not in (PayoutState.FINISHED, PayoutState.FAILED),
        "next_attempt_at": NOW + timedelta(hours=1),
        "created_at": NOW,
        "updated_at": NOW,
    }
    store.payouts.set(payout_id, PayoutDoc.model_validate(fields | changes))


def test_list_show_and_retry() -> None:
    store = MemoryStore()
    _book(store, 1, EntryState.RESERVED)
    [entry] = store.ledger.find(LEDGER_OF_OWNER, owner_user_id=OWNER, state=EntryState.RESERVED.value)
    _payout(store, "po-held", PayoutState.CREATED, [entry.entry_id], attention="2FA code refused")
    _payout(store, "po-done", PayoutState.FINISHED, [])

    listed = ok(run(store, "payouts", "list")).output
    assert "po-held" in listed and "2FA code refused" in listed and "po-done" not in listed
    shown = json.loads(ok(run(store, "--json", "payouts", "show", "po-held")).output)
    assert shown["payout"]["payout_id"] == "po-held" and [e["entry_id"] for e in shown["entries"]] == [
        entry.entry_id
    ]

    assert "will be resumed" in ok(run(store, "payouts", "retry", "po-held")).output
    held = store.payouts.get("po-held")
    assert held is not None and held.attention is None and held.next_attempt_at == NOW
    assert "already finished" in ok(run(store, "payouts", "retry", "po-done")).output

    missing = run(store, "payouts", "show", "po-nope")
    assert missing.exit_code != 0 and "no payout po-nope" in missing.output
    assert run(store, "payouts", "retry", "po-nope").exit_code != 0


def test_list_shows_the_channels_whose_payouts_are_held_and_why() -> None:
    from telepay.channels.lookup import save_channel
    from tests.conftest import demo_channel

    store = MemoryStore()
    save_channel(
        store, demo_channel("HeldChan01", payout_problem="NowPaymentsRejected: NowPayments answered 400")
    )
    save_channel(store, demo_channel("FineChan01"))
    listed = ok(run(store, "payouts", "list")).output
    assert "channels whose payouts are held" in listed
    assert "HeldChan01" in listed and "answered 400" in listed and "FineChan01" not in listed


def test_a_wallet_changed_by_an_operator_holds_payouts_and_the_owner_is_told(tmp_path: Path) -> None:
    from telepay.channels.lookup import save_channel
    from tests.conftest import demo_channel

    store = MemoryStore()
    save_channel(store, demo_channel("WalletCh01"))
    sent: list[dict[str, Any]] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/sendMessage")
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})

    new_wallet = tron_address("the owner's new wallet")
    path = tmp_path / "wallet.json"
    path.write_text(
        json.dumps({"payout_currency": "usdt", "payout_network": "trx", "payout_wallet": new_wallet})
    )
    env = {"TELEGRAM_BOT_TOKEN": "123456:cli-test-token"}
    transport = httpx.MockTransport(telegram)
    result = ok(run(store, "channels", "update", "WalletCh01", str(path), env=env, http_transport=transport))
    assert (
        "payouts of WalletCh01 held until 28 November 2026, 12:00 UTC (the wallet changed)" in result.output
    )
    [message] = sent
    assert message["chat_id"] == OWNER and new_wallet in message["text"]
    [[button]] = message["reply_markup"]["inline_keyboard"]
    assert button["text"] == "↩️ Cancel this change" and button["callback_data"].startswith("wcx:WalletCh01:")
    listed = ok(run(store, "payouts", "list")).output
    assert "WalletCh01" in listed and "the wallet changed: held until 28 November 2026, 12:00 UTC" in listed

    # WALLET_HOLD_HOURS=0 turns the hold off; a value that is not hours is refused before any change.
    bad = run(store, "channels", "update", "WalletCh01", str(path), env=env | {"WALLET_HOLD_HOURS": "48h"})
    assert bad.exit_code == 1 and "WALLET_HOLD_HOURS must be a whole number" in bad.stderr


def test_list_shows_the_stars_telegram_still_holds_per_channel_until_when() -> None:
    from telepay.channels.lookup import save_channel
    from telepay.core.clock import FrozenClock
    from tests.conftest import demo_channel
    from tests.unit.payouts.stars import stars_entry

    store = MemoryStore()
    save_channel(store, demo_channel("StarsChan1"))
    save_channel(store, demo_channel("CryptoOnly"))
    for number, days in ((1, 0), (2, 3)):
        entry = stars_entry("StarsChan1", number, 500, booked_at=NOW + timedelta(days=days))
        store.ledger.set(entry.entry_id, entry)
    listed = ok(run(store, "payouts", "list")).output
    assert "Stars earnings Telegram still holds" in listed
    [row] = [line for line in listed.splitlines() if "StarsChan1" in line]
    assert "⭐970 (≈ $12.60)" in row and "17 December 2026 to 20 December 2026" in row
    assert "CryptoOnly" not in listed
    # Once both holds have ended, nothing is held any more.
    later = ok(run(store, "payouts", "list", clock=FrozenClock(NOW + timedelta(days=24)))).output
    assert "Stars earnings" not in later and "StarsChan1" not in later
