"""Scale: N subscriptions (default 10,000) end in the same minute; the Telegram stand-in enforces
its rate limits. Prints when the sweep had handed them all out and when all were queued on the
paced queue, how many were removed and told (the run ends with the last goodbye, 429s resent
included), how many were lost (still in the chat, or never told), the 429s received, the time
taken and the rate as a fraction of Telegram's configured per-bot cap; a progress line every 30 s (60 s
past 10,000): removed, queued, page tasks, sent, 429s, per second.

    python -m scripts.bench_expiry [--subscriptions 10000] [--port-base 29100]
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from local.clients import TelegramControl, firestore
from local.fixtures import setup_channel
from scripts.benchlib import (
    BENCH_PORT_BASE,
    count_where,
    in_parallel,
    private_stack,
    tasks_created,
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
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    bench_expiry(args.subscriptions, args.port_base)
    return 0


def seed_members(tg: TelegramControl, n: int, closed: int) -> list[int]:
    """N users who started the bot and are members of the closed channel (one control call: they
    joined long before, so no update is sent and none is left for the measured run)."""
    users: list[int] = []
    for start in range(0, n, 20_000):
        answer = tg._post(
            "/users/bulk", {"count": min(20_000, n - start), "first_name": "Member", "member_of": closed}
        )
        users += answer["user_ids"]
    return users


def write_subscriptions(db: Any, docs: list[tuple[str, SubscriptionDoc]]) -> None:
    """The subscription documents, 500 to a batch, four batches at a time."""
    batches = [docs[start : start + 500] for start in range(0, len(docs), 500)]

    def commit(batch_docs: list[tuple[str, SubscriptionDoc]]) -> None:
        batch = db.batch()
        for doc_id, sub in batch_docs:
            batch.set(db.collection("subscriptions").document(doc_id), sub.to_firestore())
        batch.commit()

    in_parallel(batches, commit, threads=4)


def due_subscriptions(users: list[int], closed: int, now: datetime) -> list[tuple[str, SubscriptionDoc]]:
    """One subscription per user of the closed channel, ended 30 s before `now` and due for its
    removal (its reminders were before its last renewal)."""
    expired_at = now - timedelta(seconds=30)
    return [
        (
            subscription_id(TOKEN, user),
            SubscriptionDoc(
                channel_token=TOKEN,
                user_id=user,
                closed_channel_id=closed,
                expires_at=expired_at,
                started_at=expired_at - timedelta(days=30),
                renewed_at=expired_at - timedelta(hours=12),
                tier_id="t1",
                last_order_id="bench",
                in_channel=True,
                next_action_at=expired_at,
                updated_at=now,
            ),
        )
        for user in users
    ]


def bench_expiry(n: int, port_base: int = BENCH_PORT_BASE) -> dict[str, float]:
    """N subscriptions ending in the same minute: handed out and queued (how long), removed, told,
    lost, 429s, the rate and Telegram's cap."""
    with private_stack(rate_limits=True, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        closed = ids["closed"]
        print(
            f"seeding {n} subscribers (users who started the bot, members of the closed channel)…", flush=True
        )
        users = seed_members(tg, n, closed)
        wait_for_seeding_handled(tg, n)
        now = datetime.now(UTC)
        docs = due_subscriptions(users, closed, now)
        write_subscriptions(db, docs)
        tg._post("/config", {"reset_rate_counters": True})
        before = tg.stats()
        queued_before = tasks_created(endpoints, "telegram-actions")
        pages_before = tasks_created(endpoints, "fan-out")
        cap = telegram_cap(tg)
        print(f"all {n} due; Telegram cap {cap:g} sends/s per bot; sweeping…", flush=True)

        all_queued_after: list[float] = []

        def note_all_queued() -> int:
            queued = tasks_created(endpoints, "telegram-actions") - queued_before
            if queued >= n and not all_queued_after:
                all_queued_after.append(time.perf_counter() - started)
            return queued

        def told_so_far() -> int:
            """Goodbyes sent (the Telegram stand-in's counter; each removed member gets one): the
            run is watched through the stand-ins only, since a count query over N subscriptions is
            itself work for the emulator (16 s each at 100,000 under load) that would slow the run."""
            if not all_queued_after:
                note_all_queued()
            return int(tg.stats()["sends"]) - int(before["sends"])

        def progress() -> dict[str, Any]:
            stats = tg.stats()
            return {
                "unbanned": stats["methods"].get("unbanChatMember", 0)
                - before["methods"].get("unbanChatMember", 0),
                "queued": note_all_queued(),
                "page tasks": tasks_created(endpoints, "fan-out") - pages_before,
                "429s": stats["too_many_requests"] - before["too_many_requests"],
            }

        # Its own scheduled time, so the local scheduler's run of this minute does not dedupe it.
        started = time.perf_counter()
        sweep_thread = threading.Thread(
            target=lambda: sweep_answer.append(
                trigger(endpoints["functions"]["expire_subscriptions"], f"bench-{now.isoformat()}", "sweep")
            )
        )
        sweep_answer: list[tuple[float, float]] = []
        sweep_thread.start()
        # The run ends with the last goodbye: one Telegram answered 429 is sent again later by its
        # task, after its member's removal.
        told = wait_for_count(
            told_so_far, n, started, cap, "told", progress, report_every=30 if n <= 10_000 else 60
        )
        elapsed = time.perf_counter() - started
        sweep_thread.join()
        removed = count_where(db, "subscriptions", "in_channel", False)  # once, after the run
        sweep_s = sweep_answer[0][1] if sweep_answer else float("nan")
        after = tg.stats()
        if not all_queued_after:
            progress()
        subscribers = set(users)
        still_members = sum(
            1
            for m in tg.members(closed)["members"]
            if m["status"] == "member" and m["user"]["id"] in subscribers
        )
        expired = count_where(db, "subscriptions", "status", "expired")
        told = after["sends"] - before["sends"]  # a late goodbye after the wait above counts too
        too_many = after["too_many_requests"] - before["too_many_requests"]
        rate = min(removed, told) / elapsed
        queued_s = all_queued_after[0] if all_queued_after else float("nan")
        print()
        print(f"subscriptions due at the same minute : {n}")
        print(f"sweep answered (all handed out)       : {sweep_s:.1f} s")
        print(f"all {n} queued on telegram-actions   : {queued_s:.1f} s after the sweep began")
        print(f"removed (marked and out of the chat)  : {removed} (Telegram shows {n - still_members} gone)")
        print(f"lost (still in the chat, or not told) : {n - min(removed, n - still_members, told)}")
        print(f"marked expired                        : {expired}")
        print(f"users told                            : {told} ({told / elapsed:.1f}/s)")
        print(
            f"429s received                         : {too_many} ({too_many / max(1, told + too_many):.2%} of sends)"
        )
        print(f"time taken                            : {elapsed:.1f} s")
        print(f"removal rate                          : {rate:.1f}/s = {rate / cap:.0%} of the {cap:g}/s cap")
    lost = n - min(removed, n - still_members, told)
    return {
        "n": n,
        "done": removed,
        "lost": lost,
        "rate": rate,
        "cap": cap,
        "seconds": elapsed,
        "handed_out_s": sweep_s,
        "queued_s": queued_s,
        "too_many": too_many,
        "sends": told,
    }


if __name__ == "__main__":
    raise SystemExit(main())
