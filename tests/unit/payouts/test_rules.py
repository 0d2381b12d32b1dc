"""Payout decisions over random inputs (Hypothesis): plans never pay an entry twice or below the
minimum, threshold pays all or nothing, and payout states only move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.documents import (
    PAYOUT_STATE_RANK,
    PAYOUT_TERMINAL,
    LedgerEntryDoc,
    OrderStatus,
    PayoutState,
    PayoutStrategy,
)
from shared_schemas.ids import OrderKind
from telepay.payouts import rules as payout_rules
from tests.unit.payouts.test_ledger import CHANNEL, order, payment

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("50"), places=8)
statuses = st.sampled_from([*payout_rules.WITHDRAWAL_STATES, "BOGUS"])


def entries(values: list[Decimal]) -> list[LedgerEntryDoc]:
    from telepay.payouts import ledger

    found = []
    for number, value in enumerate(values):
        o = order(order_id=f"o{number}").model_copy(
            update={"kind": OrderKind.DONATION, "status": OrderStatus.SETTLED}
        )
        entry = ledger.book(o, payment(o.order_id, o.price_amount, value), CHANNEL, Decimal("0"), NOW)
        found.append(entry.model_copy(update={"booked_at": NOW + timedelta(seconds=number)}))
    return found


@given(st.lists(amounts, max_size=25), amounts)
def test_instant_pays_every_entry_at_most_once_and_never_below_the_minimum(
    values: list[Decimal], minimum: Decimal
) -> None:
    available = entries(values)
    groups = payout_rules.plan(PayoutStrategy.INSTANT, available, minimum, Decimal(0), Decimal(0))
    paid = [e.entry_id for group in groups for e in group]
    assert len(paid) == len(set(paid))
    for group in groups:
        assert sum((e.settled_net for e in group), Decimal(0)) >= minimum
    # Every entry at or above the minimum is paid on its own.
    for entry in available:
        if entry.settled_net >= minimum:
            assert [entry] in groups
    # What waits is below the minimum, even all together.
    waiting = [e for e in available if e.entry_id not in paid]
    assert sum((e.settled_net for e in waiting), Decimal(0)) < minimum or not waiting


@given(st.lists(amounts, max_size=25), amounts, amounts, amounts)
def test_threshold_pays_everything_or_nothing(
    values: list[Decimal], minimum: Decimal, threshold: Decimal, usd: Decimal
) -> None:
    available = entries(values)
    groups = payout_rules.plan(PayoutStrategy.THRESHOLD, available, minimum, threshold, usd)
    total = sum((e.settled_net for e in available), Decimal(0))
    if available and usd >= threshold and total >= minimum:
        assert groups == [sorted(available, key=lambda e: (e.booked_at, e.entry_id))]
    else:
        assert groups == []


@given(st.lists(statuses, max_size=12))
def test_payout_states_only_move_forward_and_an_end_is_final(reports: list[str]) -> None:
    state = PayoutState.RESERVED
    for report in reports:
        new = payout_rules.observe(state, report)
        if new is None:
            continue
        assert state not in PAYOUT_TERMINAL
        assert PAYOUT_STATE_RANK[new] > PAYOUT_STATE_RANK[state]
        state = new


@given(st.lists(amounts, min_size=1, max_size=5))
def test_a_payout_id_depends_on_the_entries_and_their_releases(values: list[Decimal]) -> None:
    available = entries(values)
    first = payout_rules.payout_id("DemoChannel01", available)
    assert payout_rules.payout_id("DemoChannel01", list(reversed(available))) == first
    released = [available[0].model_copy(update={"releases": 1}), *available[1:]]
    assert payout_rules.payout_id("DemoChannel01", released) != first


def test_backoff_doubles_up_to_the_longest_wait() -> None:
    longest = timedelta(minutes=30)
    waits = [payout_rules.backoff(n, longest) for n in range(1, 10)]
    assert waits[0] == timedelta(seconds=60) and waits[-1] == longest
    assert waits == sorted(waits)
