"""Scale: the daily broadcast to N channels (default 10,000); the Telegram stand-in enforces its
rate limits. Prints posted, lost, 429s received, time taken and the posting rate as a fraction of
Telegram's configured per-bot cap.

    python -m scripts.bench_broadcast [--channels 10000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from local.clients import TelegramControl, firestore, store
from local.fixtures import register_channel
from scripts.benchlib import (
    BENCH_PORT_BASE,
    count_where,
    in_parallel,
    private_stack,
    telegram_cap,
    trigger,
    wait_for_count,
    wait_for_seeding_handled,
)
from telepay.core.clock import system_clock


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    bench_broadcast(args.channels, args.port_base)
    return 0


def channel_settings(i: int, owner: int, open_id: int) -> dict[str, Any]:
    """The channel file of the benchmark's channel `i` (`telepay channels register`): one tier; its
    closed channel is not in the Telegram stand-in, since the broadcast posts in open channels."""
    return {
        "token": f"BenchCh{i:06d}",
        "owner_user_id": owner,
        "title": f"Channel {i}",
        "open_channel_id": open_id,
        "closed_channel_id": -(10**13) - i,
        "tiers": [{"price": "5.00", "days": 30}],
    }


def seed_channels(endpoints: dict[str, Any], tg: TelegramControl, n: int) -> int:
    """N active channels registered with the operator CLI's rules, the bot admin of each open
    channel; returns their owner, who has started the bot."""
    # The owner starts the bot only once the channels are seeded: the bot's "I'm admin of …"
    # notices for thousands of channels would otherwise still be sending (1 a second to one
    # chat, retried on 429) during the measured run and take its share of the 30/s cap.
    owner = tg.user("Owner")
    print(f"seeding {n} channels (bot is admin of each open channel)…", flush=True)
    opens = in_parallel(list(range(n)), lambda i: tg.channel(f"Open {i}", owner, username=f"bench_open_{i}"))
    in_parallel(opens, lambda chat: tg.make_bot_admin(chat, ["can_post_messages", "can_delete_messages"]))
    channels, clock = store(endpoints), system_clock(endpoints.get("clock_offset_file"))
    in_parallel(
        list(range(n)), lambda i: register_channel(channels, channel_settings(i, owner, opens[i]), clock)
    )
    wait_for_seeding_handled(tg, n)
    tg._post(f"/users/{owner}/start")
    return owner


def bench_broadcast(n: int, port_base: int = BENCH_PORT_BASE) -> dict[str, float]:
    """The daily broadcast to N channels: posted, lost, rate and Telegram's cap."""
    with private_stack(rate_limits=True, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        seed_channels(endpoints, tg, n)
        now = datetime.now(UTC)
        tg._post("/config", {"reset_rate_counters": True})
        before = tg.stats()
        cap = telegram_cap(tg)
        print(f"{n} active channels; Telegram cap {cap:g} sends/s per bot; daily run…", flush=True)

        started, run_s = trigger(
            endpoints["functions"]["daily_broadcast"], now.strftime("%Y-%m-%dT09:00:00Z"), "daily run"
        )
        # Posted means posted and recorded on the channel (a send Telegram took but answered too late
        # is sent again by the retry, so counting sends would end the wait early).
        day = now.strftime("%Y-%m-%d")
        recorded = wait_for_count(
            lambda: count_where(db, "channels", "broadcast.last_posted_day", day), n, started, cap, "posted"
        )
        elapsed = time.perf_counter() - started
        after = tg.stats()
        sends = after["sends"] - before["sends"]
        too_many = after["too_many_requests"] - before["too_many_requests"]
        rate = recorded / elapsed
        print()
        print(f"channels                       : {n}")
        print(
            f"posted                         : {recorded} ({sends} sends: {sends - recorded} more than posts)"
        )
        print(f"lost                           : {n - recorded}")
        print(
            f"429s received                  : {too_many} ({too_many / max(1, sends + too_many):.2%} of sends)"
        )
        print(f"time taken                     : {elapsed:.1f} s (daily run {run_s:.1f} s)")
        print(f"posting rate                   : {rate:.1f}/s = {rate / cap:.0%} of the {cap:g}/s cap")
    return {
        "n": n,
        "done": recorded,
        "lost": n - recorded,
        "rate": rate,
        "cap": cap,
        "seconds": elapsed,
        "too_many": too_many,
        "sends": sends,
    }


if __name__ == "__main__":
    raise SystemExit(main())
