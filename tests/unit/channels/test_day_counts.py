"""The dashboard's finished days folded into one document each (every reconciliation): what the
owner reads does not change, a day keeps one document however busy it was, today is left alone,
and a change that comes for a folded day (the sweep ending a member's access a day late) is
counted and folded on the next run. Sales are made the way buyers make them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import DAY_SHARDS
from shared_schemas.queries import DAYS_OF_CHANNEL
from telepay.channels import day_counts
from telepay.channels.lookup import save_channel
from telepay.payments.reconcile import reconcile
from tests.conftest import demo_channel
from tests.harness import NOW, runtime
from tests.memory_store import MemoryStore
from tests.sales import owner_overview, refund, sell, sweep_at

TOKEN = "DemoChannel01"
OWNER = 5001
DAY = timedelta(days=1)


def shards_by_day(store: MemoryStore) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for page in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=TOKEN, above="2000-01-01"):
        for stored in page:
            found.setdefault(stored.doc.day, []).append(stored.doc.shard)
    return {day: sorted(shards) for day, shards in sorted(found.items())}


def reconcile_at(store: MemoryStore, at: datetime) -> dict[str, int]:
    return reconcile(runtime(ExpireSubscriptionsSettings, store, now=at), f"reconcile-{at.isoformat()}")


def test_a_busy_day_is_folded_into_one_document_and_the_owner_reads_the_same() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    launch = NOW - 3 * DAY
    orders = [
        sell(store, 9000 + n, launch + n * timedelta(minutes=1), tier="t1" if n % 3 else "t2")
        for n in range(40)
    ]
    assert "refunded" in refund(store, orders[0], launch + timedelta(hours=2))
    for n in range(5):
        sell(store, 9100 + n, NOW - DAY + n * timedelta(minutes=1))
    for n in range(4):
        sell(store, 9200 + n, NOW - timedelta(hours=1) + n * timedelta(minutes=1))  # today
    before = {days: owner_overview(store, NOW, days) for days in (7, 30)}
    launch_day = launch.date().isoformat()
    assert len(shards_by_day(store)[launch_day]) > 1  # 40 sales spread over the day's shards

    counts = reconcile_at(store, NOW)

    shards = shards_by_day(store)
    assert shards[launch_day] == [0] and shards[(NOW - DAY).date().isoformat()] == [0]
    assert len(shards[NOW.date().isoformat()]) > 1  # today is still being written: not folded
    assert counts["days_folded"] == 2 and counts["shards_folded"] > 0
    assert {days: owner_overview(store, NOW, days) for days in (7, 30)} == before
    assert before[7]["current"]["sales"] == 40 - 1 + 5 + 4  # the refunded sale is off its day
    [folded] = [s.doc for p in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=TOKEN, above=launch_day, below=launch_day) for s in p]  # fmt: skip
    assert not folded.fold and folded.crypto_sales == 39 and sum(t.sales for t in folded.tiers.values()) == 39
    assert reconcile_at(store, NOW + timedelta(minutes=5))["days_folded"] == 0  # nothing left to fold


def test_a_member_removed_after_their_day_was_folded_is_counted_and_folded_again() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    sell(store, 9001, NOW - 31 * DAY)  # 30 days: the access ended yesterday
    sell(store, 9002, NOW - 10 * DAY)
    yesterday = (NOW - DAY).date().isoformat()
    reconcile_at(store, NOW)
    assert shards_by_day(store)[yesterday] == [0]
    assert owner_overview(store, NOW)["active"] == 2  # the sweep has not run since

    sweep_at(store, NOW + timedelta(minutes=1))  # removes 9001 a day late: off yesterday's `ending`

    after = owner_overview(store, NOW + timedelta(minutes=2))
    assert after["active"] == 1 and after["current"]["expired"] == 1
    reconcile_at(store, NOW + timedelta(minutes=5))
    assert shards_by_day(store)[yesterday] == [0]
    [day] = [s.doc for p in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=TOKEN, above=yesterday, below=yesterday) for s in p]  # fmt: skip
    assert day.ending == 0
    assert owner_overview(store, NOW + timedelta(minutes=6)) == after


def test_a_run_folds_at_most_its_limit_and_the_next_run_goes_on() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    for back in range(1, 5):
        for n in range(12):
            sell(store, 9000 + 100 * back + n, NOW - back * DAY + n * timedelta(minutes=1))
    busy = [d for d, shards in shards_by_day(store).items() if len(shards) > 1 and d < NOW.date().isoformat()]
    assert len(busy) >= 4

    first = day_counts.fold_finished_days(store, NOW.date(), limit=3)
    second = day_counts.fold_finished_days(store, NOW.date(), limit=3)

    assert first["days_folded"] == 3 and second["days_folded"] == len(busy) - 3
    assert all(shards == [0] for day, shards in shards_by_day(store).items() if day < NOW.date().isoformat())


def test_a_day_is_folded_from_every_shard_it_may_have() -> None:
    """The fold reads the day's shards by id, all of them (ids are `<token>-<day>[-<shard>]`)."""
    store = MemoryStore()
    day = date(2026, 11, 20)

    def one_of_each(tx: Any) -> None:
        for shard in range(DAY_SHARDS):
            tx.merge(
                store.channel_days,
                day_counts.day_id(TOKEN, day, shard),
                {"channel_token": TOKEN, "day": day.isoformat(), "shard": shard, "fold": shard > 0, "new": 1},
            )

    store.transaction(one_of_each)
    assert day_counts.fold_day(store, TOKEN, day.isoformat()) == DAY_SHARDS - 1
    [folded] = [s.doc for p in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=TOKEN, above="2000-01-01") for s in p]  # fmt: skip
    assert folded.new == DAY_SHARDS and folded.shard == 0 and not folded.fold
    assert day_counts.fold_day(store, TOKEN, day.isoformat()) == 0
