"""Scale: an owner's announcement to N active subscribers of one channel (default 10,000); the
Telegram stand-in enforces its rate limits. The owner sends it through the bot (`/announce`: the
message, All active subscribers, No button, 📣 Send); measured from the Send tap to the owner's
"📣 Announcement sent: …". Prints sent, lost, 429s received, the time taken and the sending rate as
a fraction of Telegram's configured per-bot cap.

    python -m scripts.bench_announce [--recipients 10000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from local.clients import BotChat, TelegramControl, firestore
from local.fixtures import setup_channel
from scripts.bench_expiry import seed_members, write_subscriptions
from scripts.benchlib import (
    BENCH_PORT_BASE,
    in_parallel,
    poll_every,
    private_stack,
    tasks_created,
    telegram_cap,
    wait_for_seeding_handled,
)
from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import AnnouncementDoc, SubscriptionDoc
from shared_schemas.ids import subscription_id
from telepay.subscriptions.expiry_rules import next_action, parse_offsets

TOKEN = "BenchAnnounce01"
TEXT = "Bench news: a live session on Friday!"
SENT = "📣 Announcement sent:"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    bench_announce(args.recipients, args.port_base)
    return 0


def _subscription(user: int, closed: int, now: datetime) -> SubscriptionDoc:
    """An active subscription bought an hour ago for 30 days; its next action is its first
    reminder (days away), as the IPN handler would have set it, so no sweep touches it in the run."""
    started = now - timedelta(hours=1)
    sub = SubscriptionDoc(
        channel_token=TOKEN,
        user_id=user,
        closed_channel_id=closed,
        expires_at=started + timedelta(days=30),
        started_at=started,
        renewed_at=started,
        tier_id="t1",
        last_order_id="bench",
        in_channel=True,
        joined_chats=[closed],
        updated_at=now,
    )
    offsets = parse_offsets(str(ExpireSubscriptionsSettings.model_fields["reminder_offsets_hours"].default))
    due = next_action(sub, offsets, timedelta(0), now)
    sub.next_action_at = due.at if due else None
    return sub


def _announcement(db: Any) -> AnnouncementDoc | None:
    from google.cloud.firestore_v1.base_query import FieldFilter

    docs = list(
        db.collection("announcements").where(filter=FieldFilter("channel_token", "==", TOKEN)).stream()
    )
    return AnnouncementDoc.model_validate(docs[0].to_dict()) if docs else None


def bench_announce(n: int, port_base: int = BENCH_PORT_BASE) -> dict[str, float]:
    """An announcement to N active subscribers: sent, lost, rate and Telegram's cap."""
    with private_stack(rate_limits=True, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        db = firestore(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        owner, closed = ids["owner"], ids["closed"]
        print(
            f"seeding {n} subscribers (users who started the bot, members of the closed channel)…", flush=True
        )
        users = seed_members(tg, n, closed)
        wait_for_seeding_handled(tg, n)
        now = datetime.now(UTC)
        write_subscriptions(db, [(subscription_id(TOKEN, u), _subscription(u, closed, now)) for u in users])
        cap = telegram_cap(tg)
        print(f"{n} active subscribers; the owner writes the announcement…", flush=True)

        chat = BotChat(tg, owner)
        chat.send("/announce", expect="Send me the announcement")
        tg.say(owner, TEXT)
        chat.next("Who gets it?", timeout=60)
        chat.tap("All active subscribers", expect="Add a button under it?")
        chat.tap("No button", expect="This is how your subscribers will see it")
        chat.next(TEXT, timeout=60)
        confirm = chat.next("Send it to", timeout=60)
        print(f"owner asked: {confirm['text']!r}", flush=True)
        tg._post("/config", {"reset_rate_counters": True})
        before = tg.stats()
        queued_before = tasks_created(endpoints, "telegram-actions")
        print(f"Telegram cap {cap:g} sends/s per bot; 📣 Send…", flush=True)

        started = time.perf_counter()
        chat.tap("📣 Send", expect="📣 Sending to")
        told = ""
        last_report, last_sent = started, 0
        deadline = started + max(600, n / cap * 3)
        while time.perf_counter() < deadline:
            told = next((m["text"] for m in tg.transcript(owner) if SENT in (m.get("text") or "")), "")
            if told:
                break
            now_s = time.perf_counter()
            if now_s - last_report >= (30 if n <= 10_000 else 60):
                # Watched through the stand-ins' counters: a count query over N sends is itself
                # work for the emulator (16-21 s each at 100,000 under load) that would slow the run.
                stats = tg.stats()
                sent_so_far = stats["sends"] - before["sends"]
                queued = tasks_created(endpoints, "telegram-actions") - queued_before
                print(
                    f"  {now_s - started:6.0f} s: {sent_so_far} sent ({(sent_so_far - last_sent) / (now_s - last_report):.1f}/s "
                    f"lately, {sent_so_far / (now_s - started):.1f}/s overall), {queued} queued, "
                    f"429s {stats['too_many_requests'] - before['too_many_requests']}",
                    flush=True,
                )
                last_report, last_sent = now_s, sent_so_far
            time.sleep(poll_every(n))  # the run's end is measured to within one poll
        elapsed = time.perf_counter() - started
        after = tg.stats()
        made = _announcement(db)
        sent = made.sent if made else 0
        received = sum(1 for u in in_parallel(users, tg.transcript) if any(m.get("text") == TEXT for m in u))
        sends = after["sends"] - before["sends"]
        too_many = after["too_many_requests"] - before["too_many_requests"]
        rate = sent / elapsed
        print()
        print(f"recipients (active subscribers)  : {n} (announcement total {made.total if made else 0})")
        print(f"sent                             : {sent} ({received} have it; {sends} Bot API sends in all)")
        print(
            f"blocked, failed                  : {made.blocked if made else 0}, {made.failed if made else 0}"
        )
        print(f"lost                             : {n - sent}")
        print(f"status                           : {made.status if made else 'missing'}")
        print(f"owner told                       : {told or 'nothing (timed out)'}")
        print(
            f"429s received                    : {too_many} ({too_many / max(1, sends + too_many):.2%} of sends)"
        )
        print(f"time taken                       : {elapsed:.1f} s (Send tap → owner told)")
        print(f"sending rate                     : {rate:.1f}/s = {rate / cap:.0%} of the {cap:g}/s cap")
    return {
        "n": n,
        "done": sent,
        "lost": n - sent,
        "rate": rate,
        "cap": cap,
        "seconds": elapsed,
        "too_many": too_many,
        "sends": sends,
    }


if __name__ == "__main__":
    raise SystemExit(main())
