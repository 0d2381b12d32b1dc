"""Scale: the owners' dashboard of one channel with N members (default 100,000). Seeds N active
subscriptions and the channel's day counts of the last 180 days, each day in all its shards (as the
other scale benchmarks seed their data: the documents written in batches, each one built by its
model), has `telepay counts rebuild` count the members once (as for a channel from before the
running totals), then measures (the reads before and after the reconciliation's fold of the
finished days into one document each, the latencies after it):

- what the read model reads (`telepay.owners.dashboard`, in process on the stack's emulator, every
  repository counted): documents read and queries made, for a 7, 30 and 90-day period, and the
  same for the owner app's whole overview answer and for `/stats`' text;
- the latency of `GET /api/channels/<token>/overview/<days>` on the running owner_app function;
- the latency of `/stats` through the bot: the owner's message to the Telegram stand-in until the
  bot's answer is in her chat.

    python -m scripts.bench_dashboard [--members 100000] [--requests 20] [--port-base 19100]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from local.clients import TelegramControl, firestore, store
from local.fixtures import setup_channel
from scripts.benchlib import BENCH_PORT_BASE, in_parallel, private_stack, summary
from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.documents import DAY_SHARDS, ChannelDayDoc, SubscriptionDoc, TierDay
from shared_schemas.ids import subscription_id
from telepay.channels import count_rebuild, day_counts
from telepay.channels.day_counts import day_id
from telepay.channels.lookup import load_channel
from telepay.core.clock import Clock
from telepay.core.store import REPOSITORIES, Repository, Store
from telepay.owners import app, commands, dashboard
from telepay.owners.init_data import for_user
from telepay.runtime import Runtime

TOKEN = "BenchDash01"
HISTORY_DAYS = 180


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per period")
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    bench_dashboard(args.members, args.requests, args.port_base)
    return 0


class Counted:
    """A repository that counts what is read through it: documents from queries and gets, queries,
    count queries."""

    def __init__(self, repo: Repository[Any], tally: dict[str, int]) -> None:
        self._repo = repo
        self._tally = tally

    def pages(self, *args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        self._tally["queries"] += 1
        for page in self._repo.pages(*args, **kwargs):
            self._tally["documents"] += len(page)
            yield page

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self._tally["queries"] += 1
        found = self._repo.find(*args, **kwargs)
        self._tally["documents"] += len(found)
        return found

    def count(self, *args: Any, **kwargs: Any) -> int:
        self._tally["counts"] += 1
        started = time.perf_counter()
        try:
            return self._repo.count(*args, **kwargs)
        finally:
            self._tally["count_ms"] += round((time.perf_counter() - started) * 1000)

    def get(self, doc_id: str) -> Any:
        self._tally["documents"] += 1
        return self._repo.get(doc_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def counted(real: Store) -> tuple[Store, dict[str, int]]:
    tally = {"documents": 0, "queries": 0, "counts": 0, "count_ms": 0}
    for name in REPOSITORIES:
        setattr(real, name, Counted(getattr(real, name), tally))
    return real, tally


def _subscription(user: int, closed: int, now: datetime) -> SubscriptionDoc:
    """An active member: bought some day of the last 90, for 90 days (ends spread over 90 days)."""
    started = now - timedelta(days=user % 90, hours=1)
    return SubscriptionDoc(
        channel_token=TOKEN,
        user_id=user,
        closed_channel_id=closed,
        expires_at=started + timedelta(days=90),
        started_at=started,
        renewed_at=started,
        tier_id="t2" if user % 3 else "t1",
        last_order_id="bench",
        in_channel=True,
        joined_chats=[closed],
        updated_at=now,
    )


def _day(day: datetime, members: int) -> ChannelDayDoc:
    """One day of a channel with `members` members: a ninetieth of them new, as many renewing or
    leaving, a few Star sales and donations."""
    new = max(1, members // 90)
    renewed, expired, stars_sales = new // 2, new // 3, new // 10
    monthly, quarterly = new // 3, new - new // 3
    return ChannelDayDoc(
        channel_token=TOKEN,
        day=day.date().isoformat(),
        new=new,
        renewed=renewed,
        crypto_sales=new + renewed - stars_sales,
        crypto_cents=(new + renewed - stars_sales) * 900,
        stars_sales=stars_sales,
        stars=stars_sales * 250,
        donations=3,
        donation_cents=7_500,
        joined=new,
        expired=expired,
        tiers={
            "t1": TierDay(sales=monthly, cents=monthly * 500),
            "t2": TierDay(sales=quarterly + renewed, cents=(quarterly + renewed) * 1250),
        },
    )


def _shards(total: ChannelDayDoc) -> list[ChannelDayDoc]:
    """A day's counts spread over its shards, as the writers' random picks spread them."""
    parts = []
    for shard in range(DAY_SHARDS):

        def share(value: int, first: bool = shard == 0) -> int:
            return value // DAY_SHARDS + (value % DAY_SHARDS if first else 0)

        fields = {
            name: share(value) if isinstance(value, int) and name != "shard" else value
            for name, value in total.model_dump().items()
            if name != "tiers"
        }
        tiers = {tier_id: TierDay(sales=share(t.sales), cents=share(t.cents), stars=share(t.stars))
                 for tier_id, t in total.tiers.items()}  # fmt: skip
        parts.append(
            ChannelDayDoc.model_validate(fields | {"shard": shard, "fold": shard > 0, "tiers": tiers})
        )
    return parts


def bench_dashboard(n: int, requests: int, port_base: int = BENCH_PORT_BASE) -> dict[str, Any]:
    with private_stack(rate_limits=False, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        owner, closed = ids["owner"], ids["closed"]
        now = datetime.now(UTC)
        print(f"seeding {n} active members and {HISTORY_DAYS} days of counts…", flush=True)
        seeding = time.perf_counter()

        def write(start: int) -> None:
            batch = db.batch()
            for user in range(1_000_000 + start, 1_000_000 + min(start + 500, n)):
                batch.set(
                    db.collection("subscriptions").document(subscription_id(TOKEN, user)),
                    _subscription(user, closed, now).to_firestore(),
                )
            batch.commit()

        in_parallel(list(range(0, n, 500)), write, threads=8)
        for back in range(HISTORY_DAYS):  # a big channel's day: all its shards written
            day = now - timedelta(days=back)
            batch = db.batch()
            for shard, part in enumerate(_shards(_day(day, n))):
                batch.set(
                    db.collection("channel_days").document(day_id(TOKEN, day.date(), shard)),
                    part.to_firestore(),
                )
            batch.commit()
        print(f"seeded in {time.perf_counter() - seeding:.0f} s", flush=True)

        results: dict[str, Any] = {"members": n}
        # The members were written as a release before the running totals would have left them:
        # the operator's rebuild counts them once (`telepay counts rebuild`).
        started = time.perf_counter()
        rebuilt = count_rebuild.rebuild(store(endpoints), TOKEN)
        results["rebuild_s"] = time.perf_counter() - started
        print(
            f"telepay counts rebuild: {rebuilt.subscriptions_read:,} subscriptions read, active "
            f"{rebuilt.active_kept:,} → {rebuilt.active_counted:,}, {len(rebuilt.wrong_days)} days' ends set, "
            f"in {results['rebuild_s']:.1f} s",
            flush=True,
        )
        real, tally = counted(store(endpoints))
        channel = load_channel(real, TOKEN)
        assert channel is not None

        def reads(when: str, key: str) -> None:
            print(f"\nwhat one answer reads, {when} (documents / queries / count queries):", flush=True)
            for days in dashboard.PERIODS:
                tally.update(documents=0, queries=0, counts=0, count_ms=0)
                view = dashboard.overview(real, [channel], now, days)
                print(
                    f"  read model, {days:>2} days: {tally['documents']:>4} / {tally['queries']} / {tally['counts']}"
                    f" (counts took {tally['count_ms']:,} ms)   (active {view.active:,}, new {view.current.new:,}, renewal rate {view.renewal_rate} %)",
                    flush=True,
                )
                results[f"{key}read_model_{days}_documents"] = tally["documents"]
            owner_rt = Runtime(OwnerAppSettings.model_construct(), Clock(), real)
            tally.update(documents=0, queries=0, counts=0, count_ms=0)
            app.overview(owner_rt, [channel], 90)
            print(f"  owner app overview, 90 days (with trials and grants): {_tally(tally)}", flush=True)
            results[f"{key}overview_90_documents"] = tally["documents"]
            bot_rt = Runtime(TelegramWebhookSettings.model_construct(), Clock(), real)
            tally.update(documents=0, queries=0, counts=0, count_ms=0)
            commands.channel_stats(bot_rt, channel)
            print(f"  /stats text (7 and 30 days, trials, grants): {_tally(tally)}", flush=True)
            results[f"{key}stats_documents"] = tally["documents"]

        reads(
            "before the bench's fold (the stack's reconciliation, every five minutes, may have folded them)",
            "unfolded_",
        )
        # The reconciliation folds each finished day into one document, a run at a time.
        started = time.perf_counter()
        folded = day_counts.fold_finished_days(store(endpoints), now.date(), limit=HISTORY_DAYS)
        results["fold_s"] = time.perf_counter() - started
        print(
            f"\nfold of the finished days: {folded['days_folded']} days, {folded['shards_folded']:,} shards "
            f"folded away in {results['fold_s']:.1f} s",
            flush=True,
        )
        reads("the finished days folded (today in its shards)", "")

        url = endpoints["functions"]["owner_app"]
        print(f"\nlatency on the running functions ({n:,} members, {requests} requests each):", flush=True)
        with httpx.Client(timeout=60) as client:
            for days in dashboard.PERIODS:
                auth = {"Authorization": "tma " + for_user({"id": owner, "first_name": "Olivia"},
                        endpoints["telegram_bot_token"], int(time.time()))}  # fmt: skip
                path = f"{url}/api/channels/{TOKEN}/overview/{days}"
                assert client.get(path, headers=auth).status_code == 200  # warm
                ms = []
                for _ in range(requests):
                    started = time.perf_counter()
                    reply = client.get(path, headers=auth)
                    ms.append((time.perf_counter() - started) * 1000)
                    assert reply.status_code == 200, reply.text
                print("  " + summary(f"GET overview/{days}", ms), flush=True)
                results[f"overview_{days}_ms"] = ms
        ms = []
        for _ in range(requests):
            seen = max((m["message_id"] for m in tg.transcript(owner)), default=0)
            started = time.perf_counter()
            tg.say(owner, "/stats")
            tg.wait_message(owner, "Active subscribers:", after=seen, timeout=120)
            ms.append((time.perf_counter() - started) * 1000)
        print("  " + summary("/stats: message → answer in the chat", ms), flush=True)
        results["stats_ms"] = ms
        return results


def _tally(tally: dict[str, int]) -> str:
    return f"{tally['documents']} / {tally['queries']} / {tally['counts']} (counts took {tally['count_ms']:,} ms)"


if __name__ == "__main__":
    raise SystemExit(main())
