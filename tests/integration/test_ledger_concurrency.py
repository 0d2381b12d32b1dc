"""100 payments for one owner settle at once on the Firestore emulator: 100 ledger entries, and
the owner's balance is exact to the smallest unit (each entry is its own document: no hot balance
document, so nothing contends). Concurrent planners reserve each entry once, and a balance of more
entries than a payout takes is reserved in several, one transaction each."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.documents import (
    EntryState,
    LedgerEntryDoc,
    OrderDoc,
    OrderStatus,
    PayoutDoc,
    PayoutStrategy,
)
from shared_schemas.ids import OrderKind
from shared_schemas.nowpayments import Payment
from shared_schemas.queries import LEDGER_OF_OWNER
from telepay.channels.lookup import save_channel
from telepay.payments.ipn import apply_payment
from telepay.payouts import ledger
from telepay.payouts import rules as payout_rules
from tests.conftest import demo_channel
from tests.integration.helpers import NOW, runtime, store_of
from tests.unit.payouts.test_ledger import payment

pytestmark = pytest.mark.integration
OWNER = 5001
PAYMENTS = 100


def test_a_hundred_concurrent_settlements_book_a_hundred_entries_exactly(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    save_channel(store, demo_channel(owner=OWNER))
    rng = random.Random(13)
    work: list[tuple[str, Payment]] = []
    for number in range(PAYMENTS):
        price = Decimal(rng.randint(499, 99999)) / 100
        order = OrderDoc(
            order_id=f"tp1-don-DemoChannel01-{number}-{int(price * 100)}-n{number:04d}",
            kind=OrderKind.DONATION,
            user_id=1000 + number,
            chat_id=1000 + number,
            channel_token="DemoChannel01",
            price_amount=price,
            price_currency="USD",
            status=OrderStatus.INVOICED,
            created_at=NOW,
            updated_at=NOW,
        )
        store.orders.set(order.order_id, order)
        outcome = Decimal(rng.randint(1, 10**10)).scaleb(-8)
        work.append((order.order_id, payment(order.order_id, price, outcome, payment_id=900_000 + number)))
    rt = runtime(firestore_db, platform_fee_percent=Decimal("3"))
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda item: apply_payment(rt, item[0], item[1]), work))
    assert all(outcome.endswith("payment.settled") for outcome in outcomes)

    entries = [
        stored.doc
        for page in store.ledger.pages(LEDGER_OF_OWNER, owner_user_id=OWNER, state=EntryState.AVAILABLE.value)
        for stored in page
    ]
    assert len(entries) == PAYMENTS
    expected = Decimal(0)
    for _, paid in work:
        assert paid.outcome_amount is not None
        expected += ledger.split(paid.outcome_amount, Decimal("3"), "usdttrc20")[1]
    result = ledger.balance(entries)
    assert result.available == {"usdttrc20": expected}
    assert sum((e.settled_fee + e.settled_net for e in entries), Decimal(0)) == sum(
        (p.outcome_amount or Decimal(0) for _, p in work), Decimal(0)
    )


def test_concurrent_planners_reserve_each_entry_once(firestore_db: Any) -> None:
    """Two payment events and the every-minute run may plan the same channel at once: each entry
    ends up in exactly one payout."""
    from telepay.payouts.flow import reserve

    store = store_of(firestore_db)
    entries = []
    for number in range(4):
        order = OrderDoc(
            order_id=f"tp1-don-DemoChannel01-{number}-500-r{number:04d}",
            kind=OrderKind.DONATION,
            user_id=1,
            chat_id=1,
            channel_token="DemoChannel01",
            price_amount=Decimal("5.00"),
            price_currency="USD",
            status=OrderStatus.SETTLED,
            created_at=NOW,
            updated_at=NOW,
        )
        entry = ledger.book(
            order,
            payment(order.order_id, Decimal("5.00"), Decimal("4.975")),
            demo_channel(),
            Decimal("3"),
            NOW,
        )
        store.ledger.set(entry.entry_id, entry)
        entries.append(entry)
    # Overlapping plans: all four together (a threshold run) and each alone (instant events).
    plans = [entries, *[[e] for e in entries]] * 3

    def attempt(group: list[Any]) -> bool:
        return reserve(store, _payout_doc(group))

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(attempt, plans))
    reserved = [store.ledger.get(e.entry_id) for e in entries]
    assert all(e is not None and e.state is EntryState.RESERVED for e in reserved)
    payouts = {e.payout_id for e in reserved if e is not None}
    # Each entry is in exactly one payout, and every payout written is one that won.
    assert sum(won) == len(payouts)
    for payout_id in payouts:
        doc = store.payouts.get(payout_id or "")
        assert doc is not None
        assert all(store.ledger.get(i).payout_id == payout_id for i in doc.entry_ids)  # type: ignore[union-attr]


def test_a_balance_over_the_cap_is_reserved_in_capped_payouts_each_in_one_transaction(
    firestore_db: Any,
) -> None:
    """450 entries of one channel reach its threshold: three payouts of at most 200 entries, each
    reserved in its own Firestore transaction; the first create attempt of each is recorded once."""
    from telepay.payouts.flow import record_create_attempt, reserve

    store = store_of(firestore_db)
    entries = []
    with store.batch() as batch:
        for number in range(450):
            order = OrderDoc(
                order_id=f"tp1-don-DemoChannel01-{number}-100-c{number:04d}",
                kind=OrderKind.DONATION,
                user_id=1,
                chat_id=1,
                channel_token="DemoChannel01",
                price_amount=Decimal("1.00"),
                price_currency="USD",
                status=OrderStatus.SETTLED,
                created_at=NOW,
                updated_at=NOW,
            )
            paid = payment(order.order_id, Decimal("1.00"), Decimal("0.995"), payment_id=800_000 + number)
            entry = ledger.book(order, paid, demo_channel(), Decimal("3"), NOW)
            batch.set(store.ledger, entry.entry_id, entry)
            entries.append(entry)
    groups = payout_rules.plan(PayoutStrategy.THRESHOLD, entries, Decimal("1"), Decimal("20"), Decimal("436"))
    assert sorted(len(group) for group in groups) == [50, 200, 200]
    payouts = [_payout_doc(group, PayoutStrategy.THRESHOLD) for group in groups]
    assert all(reserve(store, payout) for payout in payouts)
    for payout in payouts:
        covered = [store.ledger.get(entry_id) for entry_id in payout.entry_ids]
        assert all(e is not None and e.payout_id == payout.payout_id for e in covered)
    assert sum((p.amount for p in payouts), Decimal(0)) == sum((e.settled_net for e in entries), Decimal(0))
    first = payouts[0].payout_id
    assert record_create_attempt(store, NOW, first) is None  # the first attempt: nothing to search
    assert record_create_attempt(store, NOW + timedelta(hours=1), first) == NOW  # later: search
    recorded = store.payouts.get(first)
    assert recorded is not None and recorded.create_attempted_at == NOW
    assert recorded.unique_external_id == first


def _payout_doc(group: list[LedgerEntryDoc], strategy: PayoutStrategy = PayoutStrategy.INSTANT) -> PayoutDoc:
    payout_id = payout_rules.payout_id("DemoChannel01", group)
    return PayoutDoc(
        payout_id=payout_id,
        channel_token="DemoChannel01",
        owner_user_id=OWNER,
        entry_ids=[e.entry_id for e in group],
        settled_currency="usdttrc20",
        settled_amount=sum((e.settled_net for e in group), Decimal(0)),
        net_price_amount=sum((e.net_amount for e in group), Decimal(0)),
        price_currency="usd",
        address="T1",
        currency="usdttrc20",
        amount=sum((e.settled_net for e in group), Decimal(0)),
        strategy=strategy,
        unique_external_id=payout_id,
        next_attempt_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
