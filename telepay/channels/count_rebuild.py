"""The operator's check and repair of a channel's running totals (`telepay counts check|rebuild`):
the members active now, each day's `ending` and `trials_ending`, counted again from the subscriptions themselves and
compared with what `channel_counts` and `channel_days` hold.

A rebuild writes only the difference, as an `increment` on shard 0, so it may run while the bot
works: a subscription that changes between the count and the write can leave that one change off,
which the next check shows and the next rebuild puts right. Channels set up before the totals were
kept need one rebuild; after that, every change is counted in its own transaction.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from shared_schemas.documents import SubscriptionStatus
from shared_schemas.queries import (
    COUNTS_OF_CHANNEL,
    DAYS_OF_CHANNEL,
    SUBSCRIPTIONS_OF_CHANNEL,
    TRIALS_STARTED_OF_CHANNEL,
)
from telepay.channels.day_counts import counts_id, day_id
from telepay.core.store import Store, increment

_FIRST_DAY = "0000-01-01"
_EVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Drift:
    """One channel's totals as kept and as counted from its subscriptions."""

    channel_token: str
    active_kept: int
    active_counted: int
    ending_kept: dict[date, int]
    ending_counted: dict[date, int]
    seconds: float
    written: bool = False
    wrong_days: list[date] = field(default_factory=list)
    trials_kept: dict[date, int] = field(default_factory=dict)
    trials_counted: dict[date, int] = field(default_factory=dict)
    wrong_trial_days: list[date] = field(default_factory=list)

    @property
    def subscriptions_read(self) -> int:
        return self.active_counted  # every active subscription is read once, to be counted

    @property
    def fine(self) -> bool:
        return self.active_kept == self.active_counted and not self.wrong_days and not self.wrong_trial_days


def measure(store: Store, token: str) -> Drift:
    """Count the channel's active members and their end days, and read what is kept."""
    started = time.perf_counter()
    active_kept = sum(
        stored.doc.active
        for page in store.channel_counts.pages(COUNTS_OF_CHANNEL, channel_token=token)
        for stored in page
    )
    ending_kept: Counter[date] = Counter()
    trials_kept: Counter[date] = Counter()
    for page in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=token, above=_FIRST_DAY):
        for stored in page:
            day = date.fromisoformat(stored.doc.day)
            ending_kept[day] += stored.doc.ending
            trials_kept[day] += stored.doc.trials_ending
    trials_counted: Counter[date] = Counter()
    for trials in store.trials.pages(TRIALS_STARTED_OF_CHANNEL, channel_token=token, above=_EVER):
        for trial in trials:
            if trial.doc.converted_order_id is None:
                trials_counted[trial.doc.ends_at.date()] += 1
    ending_counted: Counter[date] = Counter()
    read = 0
    for members in store.subscriptions.pages(
        SUBSCRIPTIONS_OF_CHANNEL, channel_token=token, status=SubscriptionStatus.ACTIVE
    ):
        read += len(members)
        for member in members:
            ending_counted[member.doc.expires_at.date()] += 1
    return Drift(
        token,
        active_kept,
        read,
        dict(ending_kept),
        dict(ending_counted),
        time.perf_counter() - started,
        wrong_days=_differing(ending_kept, ending_counted),
        trials_kept=dict(trials_kept),
        trials_counted=dict(trials_counted),
        wrong_trial_days=_differing(trials_kept, trials_counted),
    )


def _differing(kept: Counter[date], counted: Counter[date]) -> list[date]:
    return sorted(day for day in set(kept) | set(counted) if kept[day] != counted[day])


def rebuild(store: Store, token: str) -> Drift:
    """Measure, then write what differs (nothing when the totals are right)."""
    drift = measure(store, token)
    if drift.active_counted != drift.active_kept:
        store.channel_counts.merge(
            counts_id(token, 0),
            {
                "channel_token": token,
                "shard": 0,
                "active": increment(drift.active_counted - drift.active_kept),
            },
        )
    for name, days, kept, counted in (
        ("ending", drift.wrong_days, drift.ending_kept, drift.ending_counted),
        ("trials_ending", drift.wrong_trial_days, drift.trials_kept, drift.trials_counted),
    ):
        for day in days:
            store.channel_days.merge(
                day_id(token, day, 0),
                {
                    "channel_token": token,
                    "day": day.isoformat(),
                    "shard": 0,
                    name: increment(counted.get(day, 0) - kept.get(day, 0)),
                },
            )
    drift.written = not drift.fine
    return drift
