"""Scale: the daily broadcast and an expiry sweep at once, the way 09:00 UTC meets a busy minute.
M channels are due their daily post and N subscriptions end in the same minute on one stack; the
daily run and the sweep are fired together, and the run ends when every post and every goodbye is
sent. Telegram's per-bot cap is the bot's, whoever sends: prints the combined sending rate against
the cap and the share of sends answered 429 (what a second queue's own 30/s would add shows here),
and what was lost (a post not recorded, a member still in the chat or never told).

    python -m scripts.bench_overlap [--channels 1000] [--subscriptions 1000] [--port-base 29100]
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime
from typing import Any

from local.clients import TelegramControl, firestore
from local.fixtures import setup_channel
from scripts.bench_broadcast import seed_channels
from scripts.bench_expiry import TOKEN, due_subscriptions, seed_members, write_subscriptions
from scripts.benchlib import (
    BENCH_PORT_BASE,
    count_where,
    private_stack,
    telegram_cap,
    trigger,
    wait_for_count,
    wait_for_seeding_handled,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=1_000)
    parser.add_argument("--subscriptions", type=int, default=1_000)
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    bench_overlap(args.channels, args.subscriptions, args.port_base)
    return 0


def bench_overlap(channels: int, subscriptions: int, port_base: int = BENCH_PORT_BASE) -> dict[str, float]:
    with private_stack(rate_limits=True, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        seed_channels(endpoints, tg, channels)
        closed = setup_channel(endpoints, tg, TOKEN)["closed"]  # its open channel is posted to as well
        print(f"seeding {subscriptions} subscribers of {TOKEN}…", flush=True)
        users = seed_members(tg, subscriptions, closed)
        wait_for_seeding_handled(tg, subscriptions)
        now = datetime.now(UTC)
        write_subscriptions(db, due_subscriptions(users, closed, now))
        day = now.strftime("%Y-%m-%d")
        # Every channel is posted to today, the expiry's too, unless it was at going live.
        posts = channels + 1 - count_where(db, "channels", "broadcast.last_posted_day", day)
        expected = posts + subscriptions  # one post per channel, one goodbye per removed member
        tg._post("/config", {"reset_rate_counters": True})
        before = tg.stats()
        cap = telegram_cap(tg)
        print(
            f"{posts} posts and {subscriptions} removals due; Telegram cap {cap:g} sends/s per bot; "
            "daily run and sweep at once…",
            flush=True,
        )

        started = time.perf_counter()
        runs = [
            threading.Thread(
                target=trigger,
                args=(
                    endpoints["functions"]["daily_broadcast"],
                    now.strftime("%Y-%m-%dT09:00:00Z"),
                    "daily run",
                ),
            ),
            threading.Thread(
                target=trigger,
                args=(endpoints["functions"]["expire_subscriptions"], f"bench-{now.isoformat()}", "sweep"),
            ),
        ]
        for run in runs:
            run.start()

        def sent() -> int:
            return int(tg.stats()["sends"]) - int(before["sends"])

        def progress() -> dict[str, Any]:
            stats = tg.stats()
            return {"429s": stats["too_many_requests"] - before["too_many_requests"]}

        wait_for_count(sent, expected, started, cap, "sent", progress)
        elapsed = time.perf_counter() - started
        for run in runs:
            run.join()
        after = tg.stats()
        sends = after["sends"] - before["sends"]
        too_many = after["too_many_requests"] - before["too_many_requests"]
        posted = count_where(db, "channels", "broadcast.last_posted_day", day) - (channels + 1 - posts)
        subscribers = set(users)
        still_members = sum(
            1
            for m in tg.members(closed)["members"]
            if m["status"] == "member" and m["user"]["id"] in subscribers
        )
        lost = (posts - posted) + still_members + max(0, expected - sends)
        rate = sends / elapsed
        print()
        print(f"posts recorded                 : {posted} of {posts}")
        print(f"members still in the channel   : {still_members} of {subscriptions}")
        print(f"sends (posts and goodbyes)     : {sends} of {expected}")
        print(f"lost                           : {lost}")
        print(
            f"429s received                  : {too_many} ({too_many / max(1, sends + too_many):.2%} of sends)"
        )
        print(f"time taken                     : {elapsed:.1f} s")
        print(f"sending rate, both together    : {rate:.1f}/s = {rate / cap:.0%} of the {cap:g}/s cap")
    return {
        "n": expected,
        "done": sends,
        "lost": lost,
        "rate": rate,
        "cap": cap,
        "seconds": elapsed,
        "too_many": too_many,
        "sends": sends,
    }


if __name__ == "__main__":
    raise SystemExit(main())
