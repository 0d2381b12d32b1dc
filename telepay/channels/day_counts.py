"""A channel's counts per UTC day (`channel_days`) and its running totals (`channel_counts`), which
the owners' dashboard and `/stats` read.

Each count is added in the transaction that makes it happen, with `increment`: nothing is read
first, so counting adds no read to a payment's transaction and two sales of one channel never
contend on a read of their day's document. A transaction that runs again adds nothing twice (its
writes are applied once, at its commit). Each change goes to one of `DAY_SHARDS` documents of its
day (and of the totals), picked at random, so a launch day's thousand sales a minute, or a sweep's
removals at Telegram's rate, spread over eight documents instead of queuing on one.

What is kept:
- per day: sales, revenue, donations, members joined and expired (`add`); and `ending`, the active
  members whose access ends that day, moved whenever a subscription is written (`set_subscription`,
  the one way a transaction writes a subscription) and taken off when the sweep marks it expired;
- in total: the members active now (`active`), which moves with every `joined` and `expired`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime

from shared_schemas.documents import DAY_SHARDS, SubscriptionDoc, SubscriptionStatus
from telepay.core.store import Store, Tx, increment

_shards = random.Random()


def day_id(token: str, day: date, shard: int = 0) -> str:
    base = f"{token}-{day.isoformat()}"
    return base if shard == 0 else f"{base}-{shard}"


def counts_id(token: str, shard: int) -> str:
    return f"{token}-{shard}"


def pick_shard() -> int:
    return _shards.randrange(DAY_SHARDS)


def add(
    tx: Tx,
    store: Store,
    token: str,
    at: datetime | date,
    counts: Mapping[str, int],
    tier: tuple[str, Mapping[str, int]] | None = None,
) -> None:
    """Add `counts` (field → amount, negative to take off) to the channel's day of `at`; `tier`:
    a tier id and what to add to its `sales`, `cents`, `stars`. Members joined or expired move the
    channel's active total too."""
    day = at.date() if isinstance(at, datetime) else at
    shard = pick_shard()
    fields: dict[str, object] = {"channel_token": token, "day": day.isoformat(), "shard": shard}
    fields |= {name: increment(by) for name, by in counts.items() if by}
    if tier is not None:
        tier_id, amounts = tier
        fields["tiers"] = {tier_id: {name: increment(by) for name, by in amounts.items()}}
    tx.merge(store.channel_days, day_id(token, day, shard), fields)
    active = counts.get("joined", 0) - counts.get("expired", 0)
    if active:
        add_active(tx, store, token, active)


def add_active(tx: Tx, store: Store, token: str, by: int) -> None:
    shard = pick_shard()
    tx.merge(
        store.channel_counts,
        counts_id(token, shard),
        {"channel_token": token, "shard": shard, "active": increment(by)},
    )


def ends_on(sub: SubscriptionDoc | None) -> date | None:
    """The day an active member's access ends (None: not an active member)."""
    if sub is None or sub.status is not SubscriptionStatus.ACTIVE:
        return None
    return sub.expires_at.date()


def move_ending(tx: Tx, store: Store, before: SubscriptionDoc | None, after: SubscriptionDoc | None) -> None:
    """A subscription changed from `before` to `after` (None: none): its member ends on another day,
    or no longer (expired), or from now on (joined)."""
    was, now = ends_on(before), ends_on(after)
    if was == now:
        return
    token = (after or before).channel_token  # type: ignore[union-attr]  # one of them is active
    if was is not None:
        add(tx, store, token, was, {"ending": -1})
    if now is not None:
        add(tx, store, token, now, {"ending": 1})


def set_subscription(
    tx: Tx, store: Store, sub_id: str, before: SubscriptionDoc | None, after: SubscriptionDoc
) -> None:
    """Write a subscription in a transaction (`before`: what the transaction read), moving its
    member's end day on the channel's counts: every transaction that writes a subscription does it
    here, so the dashboard's "ending in 7 days" never needs to count subscriptions."""
    tx.set(store.subscriptions, sub_id, after)
    move_ending(tx, store, before, after)


def count_joined(
    tx: Tx, store: Store, before: SubscriptionDoc | None, after: SubscriptionDoc, at: datetime
) -> None:
    """A subscription written by a trial, a gift, a free code or a grant: a member added when it is
    active and was not before (a member whose days are only extended is no new member)."""
    was_active = before is not None and before.status is SubscriptionStatus.ACTIVE
    if after.status is SubscriptionStatus.ACTIVE and not was_active:
        add(tx, store, after.channel_token, at, {"joined": 1})


def count_expired(tx: Tx, store: Store, sub: SubscriptionDoc, at: datetime) -> None:
    """A member whose access ended (the sweep marks the subscription expired): off the active total
    and off the day their access was to end."""
    add(tx, store, sub.channel_token, at, {"expired": 1})
    move_ending(tx, store, sub, sub.model_copy(update={"status": SubscriptionStatus.EXPIRED}))
