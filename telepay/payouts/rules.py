"""Payout decisions, as pure functions: which available entries a payout covers, what a status
NowPayments reports does to a payout, and how long to wait after a failed attempt.

Rules:
- `instant`: each entry whose net reaches NowPayments' minimum is paid on its own; entries below
  the minimum wait and are paid together once their sum reaches it. While a refund's negative
  offset entry is owed back, everything is paid in one payout, netted, once the net reaches the
  minimum: a payout is never negative, and no sale is paid around a debt.
- `threshold`: everything available is paid in one payout once its value in USD reaches the owner's
  threshold and its amount reaches the minimum; until then nothing is paid.
- A payout's id is derived from the entries it covers (and how often each was released by a failed
  payout), so two planners that see the same entries reserve the same payout, and a retry after a
  failure gets a new id. It is also NowPayments' `unique_external_id`.
- Payout states only move forward (`PAYOUT_STATE_RANK`); a finished or failed payout never changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from shared_schemas.documents import (
    PAYOUT_STATE_RANK,
    PAYOUT_TERMINAL,
    LedgerEntryDoc,
    PayoutState,
    PayoutStrategy,
)

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


def plan(
    strategy: PayoutStrategy,
    entries: Sequence[LedgerEntryDoc],
    minimum: Decimal,
    threshold_usd: Decimal,
    usd_value: Decimal,
) -> list[list[LedgerEntryDoc]]:
    """Groups of available entries (one settlement currency) to pay now, one payout per group.
    `minimum` is NowPayments' minimum in that currency; `usd_value` what all of them are worth."""
    ordered = sorted(entries, key=lambda e: (e.booked_at, e.entry_id))
    if strategy is PayoutStrategy.THRESHOLD:
        total = sum((e.settled_net for e in ordered), Decimal(0))
        if ordered and usd_value >= threshold_usd and total >= minimum and total > 0:
            return [ordered]
        return []
    if any(e.settled_net < 0 for e in ordered):  # a refund owed back: net everything, in one payout
        total = sum((e.settled_net for e in ordered), Decimal(0))
        return [ordered] if total >= minimum and total > 0 else []
    groups = [[e] for e in ordered if e.settled_net >= minimum and e.settled_net > 0]
    small = [e for e in ordered if e.settled_net < minimum or e.settled_net <= 0]
    small_total = sum((e.settled_net for e in small), Decimal(0))
    if small and small_total >= minimum and small_total > 0:
        groups.append(small)
    return groups


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
