"""A channel's counts per UTC day (`channel_days`), which the owners' dashboard and `/stats` read.

Each count is added in the transaction that makes it happen, with `increment`: nothing is read
first, so counting adds no read to a payment's transaction and two sales of one channel never
contend on their day's document. A transaction that runs again adds nothing twice (its writes are
applied once, at its commit).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from telepay.core.store import Store, Tx, increment


def day_id(token: str, day: date) -> str:
    return f"{token}-{day.isoformat()}"


def add(
    tx: Tx,
    store: Store,
    token: str,
    at: datetime,
    counts: Mapping[str, int],
    tier: tuple[str, Mapping[str, int]] | None = None,
) -> None:
    """Add `counts` (field → amount, negative to take off) to the channel's day of `at`; `tier`:
    a tier id and what to add to its `sales`, `cents`, `stars`."""
    day = at.date()
    fields: dict[str, object] = {"channel_token": token, "day": day.isoformat()}
    fields |= {name: increment(by) for name, by in counts.items() if by}
    if tier is not None:
        tier_id, amounts = tier
        fields["tiers"] = {tier_id: {name: increment(by) for name, by in amounts.items()}}
    tx.merge(store.channel_days, day_id(token, day), fields)


def count_joined(
    tx: Tx, store: Store, before: SubscriptionDoc | None, after: SubscriptionDoc, at: datetime
) -> None:
    """A subscription written by a trial, a gift, a free code or a grant: a member added when it is
    active and was not before (a member whose days are only extended is no new member)."""
    was_active = before is not None and before.status is SubscriptionStatus.ACTIVE
    if after.status is SubscriptionStatus.ACTIVE and not was_active:
        add(tx, store, after.channel_token, at, {"joined": 1})


def count_expired(tx: Tx, store: Store, token: str, at: datetime) -> None:
    """A member whose access ended (the sweep marks the subscription expired)."""
    add(tx, store, token, at, {"expired": 1})
