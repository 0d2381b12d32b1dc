"""Payout decisions, as pure functions: which available entries a payout covers, what a status
NowPayments reports does to a payout, and how long to wait after a failed attempt.

Rules:
- `instant`: each entry whose net reaches NowPayments' minimum is paid on its own; entries below
  the minimum wait and are paid together once their sum reaches it.
- `threshold`: everything available is paid once its value in USD reaches the owner's threshold
  and its amount reaches the minimum; until then nothing is paid.
- A payout covers at most `MAX_PAYOUT_ENTRIES` entries (reserving them, and paying or releasing
  them, is one Firestore transaction each): more are paid in further payouts of at most that many,
  oldest first; a last one below the minimum waits for more.
- While a refund's negative offset entry is owed back, nothing is paid until the channel's net
  reaches the minimum; then the first payouts net the offsets, oldest first, against the largest
  sales (as many offsets per payout as keep it at or above the minimum, and never leaving the
  channel owing more than it is owed), and the sales left over are paid as above. A payout is never
  negative, and no sale is paid around a debt: an offset that no payout of `MAX_PAYOUT_ENTRIES`
  entries can net holds the channel's payouts (`Plan.stuck_offset`).
- A payout's id is derived from the entries it covers (and how often each was released by a failed
  payout), so two planners that see the same entries reserve the same payout, and a retry after a
  failure gets a new id. It is also NowPayments' `unique_external_id`.
- Payout states only move forward (`PAYOUT_STATE_RANK`); a finished or failed payout never changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from shared_schemas.documents import (
    PAYOUT_STATE_RANK,
    PAYOUT_TERMINAL,
    LedgerEntryDoc,
    PayoutState,
    PayoutStrategy,
)

MAX_PAYOUT_ENTRIES = 200  # entries one payout covers; each is written when it is reserved and ended

# NowPayments' withdrawal statuses, and the payout state each one proves.
WITHDRAWAL_STATES: dict[str, PayoutState] = {
    "CREATING": PayoutState.CREATED,
    "WAITING": PayoutState.CREATED,
    "PROCESSING": PayoutState.VERIFIED,
    "SENDING": PayoutState.SENDING,
    "FINISHED": PayoutState.FINISHED,
    "FAILED": PayoutState.FAILED,
    "REJECTED": PayoutState.FAILED,
}


def payout_id(channel_token: str, entries: Sequence[LedgerEntryDoc]) -> str:
    covered = sorted(f"{entry.entry_id}#{entry.releases}" for entry in entries)
    digest = hashlib.sha256("\n".join(covered).encode()).hexdigest()[:20]
    return f"po-{channel_token}-{digest}"


@dataclass(frozen=True)
class Plan:
    groups: list[list[LedgerEntryDoc]]  # one payout per group, each of at most `cap` entries
    stuck_offset: LedgerEntryDoc | None = None  # an offset owed that no payout of `cap` entries nets


def plan(
    strategy: PayoutStrategy,
    entries: Sequence[LedgerEntryDoc],
    minimum: Decimal,
    threshold_usd: Decimal,
    usd_value: Decimal,
    cap: int = MAX_PAYOUT_ENTRIES,
) -> list[list[LedgerEntryDoc]]:
    """Groups of available entries (one settlement currency) to pay now, one payout per group.
    `minimum` is NowPayments' minimum in that currency; `usd_value` what all of them are worth."""
    return plan_payouts(strategy, entries, minimum, threshold_usd, usd_value, cap).groups


def plan_payouts(
    strategy: PayoutStrategy,
    entries: Sequence[LedgerEntryDoc],
    minimum: Decimal,
    threshold_usd: Decimal,
    usd_value: Decimal,
    cap: int = MAX_PAYOUT_ENTRIES,
) -> Plan:
    """`plan`, and the offset that holds the rest when one cannot be netted."""
    if cap < 2:
        raise ValueError("a payout nets an offset against at least one sale: cap >= 2")
    ordered = sorted(entries, key=_age)
    total = _sum(ordered)
    if not ordered or total < minimum or total <= 0:
        return Plan([])
    if strategy is PayoutStrategy.THRESHOLD and usd_value < threshold_usd:
        return Plan([])
    debts = [e for e in ordered if e.settled_net < 0]
    groups, owed_back, credits = _net_debts(debts, [e for e in ordered if e.settled_net >= 0], minimum, cap)
    if owed_back:  # nothing else is paid around it
        return Plan([sorted(group, key=_age) for group in groups], stuck_offset=owed_back[0])
    if strategy is PayoutStrategy.THRESHOLD:
        groups += _chunks(credits, minimum, cap)
    else:
        groups += [[e] for e in credits if _payable([e], minimum)]
        groups += _chunks([e for e in credits if not _payable([e], minimum)], minimum, cap)
    return Plan([sorted(group, key=_age) for group in groups])


def _net_debts(
    debts: list[LedgerEntryDoc], credits: list[LedgerEntryDoc], minimum: Decimal, cap: int
) -> tuple[list[list[LedgerEntryDoc]], list[LedgerEntryDoc], list[LedgerEntryDoc]]:
    """Payouts that take the offsets back; the offsets still owed (from the first that no payout of
    `cap` entries can net); the sales left (oldest first)."""
    groups: list[list[LedgerEntryDoc]] = []
    credits = sorted(credits, key=lambda e: (-e.settled_net, *_age(e)))  # the largest first
    owed = _sum(debts) + _sum(credits)  # what the channel is owed in all
    while debts:
        for k in range(min(len(debts), cap - 1), 0, -1):  # as many offsets as the payout can net
            group = debts[:k] + credits[: cap - k]
            amount = _sum(group)
            if _payable(group, minimum) and (k == len(debts) or owed - amount >= 0):
                break
        else:
            break
        groups.append(group)
        owed -= amount
        debts, credits = debts[k:], credits[cap - k :]
    return groups, debts, sorted(credits, key=_age)


def _chunks(entries: list[LedgerEntryDoc], minimum: Decimal, cap: int) -> list[list[LedgerEntryDoc]]:
    """`entries` (oldest first) in payouts of at most `cap`; a chunk below the minimum waits."""
    chunks = [entries[start : start + cap] for start in range(0, len(entries), cap)]
    return [chunk for chunk in chunks if _payable(chunk, minimum)]


def _payable(group: Sequence[LedgerEntryDoc], minimum: Decimal) -> bool:
    amount = _sum(group)
    return amount >= minimum and amount > 0


def _sum(entries: Sequence[LedgerEntryDoc]) -> Decimal:
    return sum((e.settled_net for e in entries), Decimal(0))


def _age(entry: LedgerEntryDoc) -> tuple[datetime, str]:
    return entry.booked_at, entry.entry_id


def observe(current: PayoutState, withdrawal_status: str) -> PayoutState | None:
    """The state a reported withdrawal status moves the payout to; None when it moves nothing
    (unknown, stale, the same, or the payout already ended)."""
    new = WITHDRAWAL_STATES.get(withdrawal_status.upper())
    if new is None or current in PAYOUT_TERMINAL:
        return None
    return new if PAYOUT_STATE_RANK[new] > PAYOUT_STATE_RANK[current] else None


def backoff(attempts: int, longest: timedelta) -> timedelta:
    """Wait before attempt `attempts + 1` of a payout NowPayments keeps failing: 30 s doubling."""
    seconds: int = 30 * 2 ** min(attempts, 16)
    return min(longest, timedelta(seconds=seconds))
