"""`telepay payouts list|show|retry` on the in-memory store: the open payouts, one with its entries,
and a retry that resumes a held payout or frees a failed one's entries."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

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
