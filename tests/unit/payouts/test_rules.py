"""Payout decisions over random inputs (Hypothesis): plans never pay an entry twice or below the
minimum, threshold pays all or nothing, no payout covers more than the cap of entries, refund
offsets are netted (never a negative payout, never more paid than owed), and payout states only
move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.documents import (
    PAYOUT_STATE_RANK,
    PAYOUT_TERMINAL,
    EntryState,
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
# A negative value: a sale paid out, then refunded (its offset is owed back).
signed = st.one_of(amounts, amounts.map(lambda amount: -amount))
caps = st.integers(min_value=2, max_value=6)
strategies = st.sampled_from(PayoutStrategy)


def entries(values: list[Decimal]) -> list[LedgerEntryDoc]:
    """Available entries worth `values`, booked in this order; a negative value is the offset of a
    refunded sale that was paid out (as `ledger.refund` books it)."""
    from telepay.payouts import ledger

    found = []
    for number, value in enumerate(values):
        o = order(order_id=f"o{number}").model_copy(
            update={"kind": OrderKind.DONATION, "status": OrderStatus.SETTLED}
        )
        booked_at = NOW + timedelta(seconds=number)
        entry = ledger.book(o, payment(o.order_id, o.price_amount, abs(value)), CHANNEL, Decimal("0"), NOW)
        if value < 0:
            paid = entry.model_copy(update={"state": EntryState.PAID, "payout_id": "po-earlier"})
            _, offset = ledger.refund(paid, booked_at)
            assert offset is not None
            entry = offset
        found.append(entry.model_copy(update={"booked_at": booked_at}))
    return found


def _total(group: list[LedgerEntryDoc]) -> Decimal:
    return sum((e.settled_net for e in group), Decimal(0))


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


@given(st.lists(signed, max_size=30), amounts, caps, strategies)
def test_capped_plans_net_offsets_and_never_pay_negative_below_the_minimum_or_more_than_owed(
    values: list[Decimal], minimum: Decimal, cap: int, strategy: PayoutStrategy
) -> None:
    available = entries(values)
    planned = payout_rules.plan_payouts(strategy, available, minimum, Decimal(0), Decimal(0), cap)
    paid = [e.entry_id for group in planned.groups for e in group]
    assert len(paid) == len(set(paid))
    for group in planned.groups:
        assert 0 < len(group) <= cap
        assert _total(group) >= minimum and _total(group) > 0
    # What stays is never owed back by the owner because of what was paid.
    left = [e for e in available if e.entry_id not in paid]
    assert _total(left) >= 0 or not planned.groups
    offsets = [e for e in available if e.settled_net < 0]
    if planned.stuck_offset is not None:
        # An offset no payout of `cap` entries nets holds the rest: no sale is paid around it.
        assert planned.stuck_offset in left and planned.stuck_offset.settled_net < 0
    elif planned.groups and offsets:
        assert all(e.entry_id in paid for e in offsets)  # every offset is netted
    if len(available) <= cap and offsets and planned.groups:
        # Within the cap: everything in one netted payout, as before the cap.
        assert planned.groups == [sorted(available, key=lambda e: (e.booked_at, e.entry_id))]


@given(st.lists(amounts, max_size=30), amounts, caps)
def test_threshold_over_the_cap_pays_everything_in_capped_payouts(
    values: list[Decimal], minimum: Decimal, cap: int
) -> None:
    available = entries(values)
    groups = payout_rules.plan(PayoutStrategy.THRESHOLD, available, minimum, Decimal(0), Decimal(0), cap)
    if not available or _total(available) < minimum:
        assert groups == []
        return
    # Oldest first, `cap` a payout; only a last one below the minimum waits for more.
    chunks = [available[start : start + cap] for start in range(0, len(available), cap)]
    assert groups == [chunk for chunk in chunks if _total(chunk) >= minimum]
    assert all(chunk in groups for chunk in chunks[:-1] if _total(chunk) >= minimum)


def test_an_offset_booked_after_the_cap_is_netted_in_the_first_payout() -> None:
    *sales, offset = entries([Decimal(10)] * 5 + [Decimal(-5)])
    for strategy in PayoutStrategy:
        groups = payout_rules.plan(strategy, [*sales, offset], Decimal(1), Decimal(0), Decimal(0), cap=3)
        assert offset in groups[0] and len(groups[0]) == 3 and _total(groups[0]) == 15
        assert sorted(e.entry_id for g in groups for e in g) == sorted(e.entry_id for e in [*sales, offset])
        assert sum(_total(g) for g in groups) == 45


def test_an_offset_too_large_for_one_capped_payout_holds_the_rest_until_a_larger_sale() -> None:
    # Owed 50 net, but a payout of 3 entries nets the offset against two sales of 10 only.
    *before, large = entries([Decimal(-100), *[Decimal(10)] * 15, Decimal(150)])
    planned = payout_rules.plan_payouts(
        PayoutStrategy.INSTANT, before, Decimal(1), Decimal(0), Decimal(0), cap=3
    )
    assert planned.groups == [] and planned.stuck_offset == before[0]
    planned = payout_rules.plan_payouts(  # once a sale of 150 is booked
        PayoutStrategy.INSTANT, [*before, large], Decimal(1), Decimal(0), Decimal(0), cap=3
    )
    assert planned.stuck_offset is None
    assert planned.groups[0] == [before[0], before[1], large] and _total(planned.groups[0]) == 60
    assert sum(_total(g) for g in planned.groups) == 200


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
