"""The read side for `/payouts` and `telepay payouts list|show|retry`, on the in-memory store; and
payout IPNs that match no payout."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import IpnHandlerSettings
from shared_schemas.documents import EntryState, PayoutDoc, PayoutState, PayoutStrategy
from telepay.payments import signature as ipn_signature
from telepay.payments.ipn import handle_ipn
from telepay.payouts import ledger
from telepay.payouts.balance import list_payouts, owner_balance, payout_history, retry_payout, show_payout
from telepay.payouts.flow import NEEDS_OPERATOR, reserve
from tests.harness import IPN_SECRET, NOW, runtime
from tests.memory_store import MemoryStore
from tests.unit.payouts.test_ledger import CHANNEL, order, payment

OWNER = CHANNEL.owner_user_id


def _entry(store: MemoryStore, number: int, outcome: str, state: EntryState = EntryState.AVAILABLE) -> str:
    o = order(order_id=f"o{number}")
    entry = ledger.book(o, payment(o.order_id, o.price_amount, Decimal(outcome)), CHANNEL, Decimal("3"), NOW)
    store.ledger.set(entry.entry_id, entry.model_copy(update={"state": state}))
    return entry.entry_id


def _payout(store: MemoryStore, payout_id: str, entry_ids: list[str], minutes: int) -> PayoutDoc:
    doc = PayoutDoc(
        payout_id=payout_id,
        channel_token=CHANNEL.token,
        owner_user_id=OWNER,
        entry_ids=entry_ids,
        settled_currency="usdttrc20",
        settled_amount=Decimal("1"),
        net_price_amount=Decimal("1"),
        price_currency="usd",
        address="T1",
        currency="usdttrc20",
        amount=Decimal("1"),
        strategy=PayoutStrategy.INSTANT,
        next_attempt_at=NOW,
        created_at=NOW + timedelta(minutes=minutes),
        updated_at=NOW,
    )
    assert reserve(store, doc)
    return doc


def test_balance_sums_entries_by_state_and_history_is_newest_first() -> None:
    store = MemoryStore()
    _entry(store, 1, "10")
    _entry(store, 2, "1.00000001")
    _entry(store, 3, "5", EntryState.PAID)
    _payout(store, "po-a", [_entry(store, 4, "2")], minutes=1)
    _payout(store, "po-b", [_entry(store, 5, "3")], minutes=2)
    result = owner_balance(store, OWNER)
    assert result.available == {"usdttrc20": Decimal("9.7") + Decimal("0.97000001")}
    assert result.reserved == {"usdttrc20": Decimal("1.94") + Decimal("2.91")}
    assert result.paid == {"usdttrc20": Decimal("4.85")} and result.entries == 5
    assert [p.payout_id for p in payout_history(store, OWNER)] == ["po-b", "po-a"]
    assert payout_history(store, OWNER + 1) == []
    assert {p.payout_id for p in list_payouts(store)} == {"po-a", "po-b"}
    detail = show_payout(store, "po-a")
    assert detail is not None and [e.entry_id for e in detail.entries] == ["o4"]


def test_a_held_payout_is_resumed_and_a_failed_ones_entries_are_plannable_again() -> None:
    store = MemoryStore()
    held = _payout(store, "po-held", [_entry(store, 1, "2")], minutes=0)
    store.payouts.update(held.payout_id, {"attention": "2FA code refused", "next_attempt_at": NEEDS_OPERATOR})
    assert retry_payout(store, "po-held", NOW) == "will be resumed"
    again = store.payouts.get("po-held")
    assert again is not None and again.attention is None and again.next_attempt_at == NOW
    entry_id = _entry(store, 2, "2")
    store.ledger.update(entry_id, {"retry_after": NOW + timedelta(hours=6)})
    failed = _payout(store, "po-failed", [_entry(store, 3, "2")], minutes=0)
    store.payouts.update(failed.payout_id, {"state": PayoutState.FAILED, "entry_ids": [entry_id]})
    assert retry_payout(store, "po-failed", NOW) == "entries will be paid in a new payout"
    assert store.ledger.get(entry_id).retry_after is None  # type: ignore[union-attr]
    assert retry_payout(store, "po-none", NOW) == "unknown payout"


def test_a_payout_ipn_for_no_payout_is_recorded_and_answered() -> None:
    store = MemoryStore()
    rt = runtime(IpnHandlerSettings, store)
    body = json.dumps(
        {"id": "5001", "batch_withdrawal_id": "5000", "status": "FINISHED", "unique_external_id": "po-x"}
    ).encode()
    result = handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt)
    assert (result.http_status, result.outcome) == (200, "unknown payout")
    recorded = store.unknown_ipns.get("payout-5001-FINISHED")
    assert recorded is not None and recorded.reason == "unknown payout"
    assert handle_ipn(body, ipn_signature.sign(body, "wrong"), rt).http_status == 401


def test_stars_telegram_holds_are_apart_until_their_hold_ends() -> None:
    """Two Stars payments, a week apart, held 21 days each: neither is in the available balance
    before its hold ends; once the first ends it is (in USD) and counted as released."""
    from tests.unit.payouts.stars import stars_entry

    store = MemoryStore()
    _entry(store, 1, "10")  # a crypto sale: 9.70 USDTTRC20 net
    for number, days in ((2, 0), (3, 7)):
        entry = stars_entry("DemoChannel01", number, 500, owner=OWNER, booked_at=NOW + timedelta(days=days))
        store.ledger.set(entry.entry_id, entry)
    now = NOW + timedelta(days=7)
    result = owner_balance(store, OWNER, now)
    assert result.available == {"usdttrc20": Decimal("9.7")}
    earned = result.stars
    assert (earned.held, earned.held_usd) == (Decimal(970), Decimal("12.60"))  # 2 x 485 Stars, 2 x $6.30
    assert (earned.held_first_until, earned.held_last_until) == (
        NOW + timedelta(days=21),
        NOW + timedelta(days=28),
    )
    assert earned.released == 0
    later = owner_balance(store, OWNER, NOW + timedelta(days=21))
    assert later.available == {"usdttrc20": Decimal("9.7"), "usd": Decimal("6.30")}
    assert (later.stars.held, later.stars.held_first_until) == (Decimal(485), NOW + timedelta(days=28))
    assert (later.stars.released, later.stars.released_usd) == (Decimal(485), Decimal("6.30"))
