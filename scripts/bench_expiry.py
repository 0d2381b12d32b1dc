"""Scale: N subscriptions (default 10,000) end in the same minute; the Telegram stand-in enforces
its rate limits. Prints how many were removed, how many were lost, the 429s received, the time
taken and the removal rate as a fraction of Telegram's configured per-bot cap.

    python -m scripts.bench_expiry [--subscriptions 10000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from local.clients import TelegramControl, firestore
from local.fixtures import setup_channel
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
from shared_schemas.documents import SubscriptionDoc
from shared_schemas.ids import subscription_id

TOKEN = "BenchExpiry01"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=10_000)
    args = parser.parse_args()
    bench_expiry(args.subscriptions)
    return 0


def bench_expiry(n: int, port_base: int = BENCH_PORT_BASE) -> dict[str, float]:
    """N subscriptions ending in the same minute: removed, lost, rate and Telegram's cap."""
    with private_stack(rate_limits=True, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        closed = ids["closed"]
        print(
            f"seeding {n} subscribers (users who started the bot, members of the closed channel)…", flush=True
        )
        users = in_parallel(list(range(n)), lambda i: tg.user(f"Member{i}"))
        in_parallel(users, lambda u: tg._post(f"/users/{u}/start"))
        in_parallel(users, lambda u: tg._post(f"/chats/{closed}/members", {"user_id": u, "status": "member"}))
        # The joins' chat_member updates are handled before the subscriptions are written and the
        # sweep is measured (otherwise the webhook is still working through them during the run).
        wait_for_seeding_handled(tg, n)
        now = datetime.now(UTC)
        expired_at = now - timedelta(seconds=30)
        for start in range(0, n, 500):
            batch = db.batch()
            for user in users[start : start + 500]:
                sub = SubscriptionDoc(
                    channel_token=TOKEN,
                    user_id=user,
                    closed_channel_id=closed,
                    expires_at=expired_at,
                    started_at=expired_at - timedelta(days=30),
                    renewed_at=expired_at - timedelta(hours=12),  # reminders were before the renewal
                    tier_id="t1",
                    last_order_id="bench",
                    in_channel=True,
                    next_action_at=expired_at,
                    updated_at=now,
                )
                batch.set(
                    db.collection("subscriptions").document(subscription_id(TOKEN, user)), sub.to_firestore()
                )
            batch.commit()
        tg._post("/config", {"reset_rate_counters": True})
        before = tg.stats()
        cap = telegram_cap(tg)
        print(f"all {n} due; Telegram cap {cap:g} sends/s per bot; sweeping…", flush=True)

        # Its own scheduled time, so the local scheduler's run of this minute does not dedupe it.
        started, sweep_s = trigger(
            endpoints["functions"]["expire_subscriptions"], f"bench-{now.isoformat()}", "sweep"
        )
        removed = wait_for_count(
            lambda: count_where(db, "subscriptions", "in_channel", False), n, started, cap, "removed"
        )
        elapsed = time.perf_counter() - started
        after = tg.stats()
        subscribers = set(users)
        still_members = sum(
            1
            for m in tg.members(closed)["members"]
            if m["status"] == "member" and m["user"]["id"] in subscribers
        )
        expired = count_where(db, "subscriptions", "status", "expired")
        told = after["sends"] - before["sends"]
        rate = removed / elapsed
        print()
        print(f"subscriptions due at the same minute : {n}")
        print(f"removed (marked and out of the chat)  : {removed} (Telegram shows {n - still_members} gone)")
        print(f"lost                                  : {n - min(removed, n - still_members)}")
        print(f"marked expired                        : {expired}")
        print(f"users told                            : {told}")
        print(
            f"429s received                         : {after['too_many_requests'] - before['too_many_requests']}"
        )
        print(f"time taken                            : {elapsed:.1f} s (sweep {sweep_s:.1f} s)")
        print(f"removal rate                          : {rate:.1f}/s = {rate / cap:.0%} of the {cap:g}/s cap")
    lost = n - min(removed, n - still_members)
    return {"n": n, "done": removed, "lost": lost, "rate": rate, "cap": cap, "seconds": elapsed}


if __name__ == "__main__":
    raise SystemExit(main())
