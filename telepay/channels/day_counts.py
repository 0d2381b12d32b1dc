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

Once a day is over its shards are folded into shard 0 (`fold_finished_days`, every reconciliation):
a period's read is then one document a finished day, however busy the day was. A change that comes
for a folded day (a late removal taking off its `ending`) writes a shard again, folded on the next
run; the figures are the shards' sum whenever they are read.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from shared_schemas.documents import DAY_SHARDS, ChannelDayDoc, SubscriptionDoc, SubscriptionStatus, TierDay
from shared_schemas.queries import FOLDABLE_DAYS
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
    if shard:
        fields["fold"] = True
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


# -- folding finished days ----------------------------------------------------------------------------
FOLD_PAGE = 300  # shards read per query page of the fold
_SUMMED = tuple(
    name for name, info in ChannelDayDoc.model_fields.items() if info.annotation is int and name != "shard"
)


def folded(token: str, day: str, shards: Sequence[ChannelDayDoc]) -> ChannelDayDoc:
    """One document with the sum of a day's shards (shard 0, nothing left to fold)."""
    total = ChannelDayDoc(channel_token=token, day=day)
    for doc in shards:
        for name in _SUMMED:
            setattr(total, name, getattr(total, name) + getattr(doc, name))
        for tier_id, part in doc.tiers.items():
            tier = total.tiers.setdefault(tier_id, TierDay())
            for name in TierDay.model_fields:
                setattr(tier, name, getattr(tier, name) + getattr(part, name))
    return total


def fold_day(store: Store, token: str, day: str) -> int:
    """Sum one day's shards into shard 0 and delete the others, in one transaction (a count added
    meanwhile makes it run again); the number of shards folded away."""
    moment = date.fromisoformat(day)
    ids = [day_id(token, moment, shard) for shard in range(DAY_SHARDS)]

    def fold(tx: Tx) -> int:
        docs = tx.get_many(store.channel_days, ids)
        others = [doc_id for doc_id, doc in zip(ids[1:], docs[1:], strict=True) if doc is not None]
        if not others:
            return 0
        tx.set(store.channel_days, ids[0], folded(token, day, [doc for doc in docs if doc is not None]))
        for doc_id in others:
            tx.delete(store.channel_days, doc_id)
        return len(others)

    return store.transaction(fold)


def fold_finished_days(store: Store, today: date, limit: int) -> dict[str, int]:
    """Fold the shards of every day before `today`, at most `limit` days in one run (the next run
    goes on): how many days and shards were folded."""
    days = shards = 0
    yesterday = (today - timedelta(days=1)).isoformat()
    while days < limit:
        pending = sorted(
            {
                (doc.channel_token, doc.day)
                for doc in store.channel_days.find(FOLDABLE_DAYS, limit=FOLD_PAGE, fold=True, below=yesterday)
            }
        )
        if not pending:
            break
        for token, day in pending[: limit - days]:
            shards += fold_day(store, token, day)
            days += 1
    return {"days_folded": days, "shards_folded": shards}
