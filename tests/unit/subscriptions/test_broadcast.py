"""The daily broadcast handler by handler, on the in-memory store and fakes: the daily run queues
one post per channel, a post replaces the previous one, repeated permanent failures pause the
channel's broadcast and tell the owner once."""

from __future__ import annotations

import pytest

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.ids import subscription_id
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter
from telepay.channels.lookup import save_channel
from telepay.runtime import Runtime
from telepay.subscriptions.broadcast import daily_run, post_offer
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

USER = 8080
OWNER = 5001
SUB_ID = subscription_id("DemoChannel01", USER)


def _broadcast_rt(store: MemoryStore) -> Runtime[ExpireSubscriptionsSettings]:
    return runtime(ExpireSubscriptionsSettings, store)


def test_the_daily_run_posts_each_channel_once_and_replaces_yesterdays_post(store: MemoryStore) -> None:
    save_channel(store, demo_channel(token="SecondChan01", owner=5002, open_channel_id=-1002))
    rt = _broadcast_rt(store)
    telegram, _, tasks = fakes(rt)
    assert daily_run(rt, "2026-11-26") == {"queued": 2, "already_queued": 0, "paused": 0}
    assert daily_run(rt, "2026-11-26") == {"queued": 0, "already_queued": 2, "paused": 0}
    posts = [post_offer(payload, rt) for _, _, payload, _ in tasks.created]
    assert posts == ["posted", "posted"]
    assert (
        post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-26"), rt) == "duplicate (done)"
    )
    first = store.channels.get("DemoChannel01")
    assert first is not None and first.broadcast.last_posted_day == "2026-11-26"

    assert post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-27"), rt) == "posted"
    assert ("delete_message", (first.open_channel_id, first.broadcast.last_message_id)) in telegram.calls
    assert [m.text.startswith("Night Owls Club") for m in telegram.to(first.open_channel_id)] == [True]


def test_repeated_permanent_failures_pause_the_broadcast_and_tell_the_owner_once(store: MemoryStore) -> None:
    rt = _broadcast_rt(store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["send_message"] = [TelegramForbidden("bot was kicked from the channel chat")] * 3
    outcomes = [
        post_offer(BroadcastTask(channel_token="DemoChannel01", day=f"2026-11-2{d}"), rt) for d in (6, 7, 8)
    ]
    assert outcomes == ["failed (1 in a row)", "failed (2 in a row)", "paused"]
    assert len(telegram.to(OWNER)) == 1
    assert daily_run(rt, "2026-11-29") == {"queued": 0, "already_queued": 0, "paused": 1}


def test_a_pause_notice_hit_by_a_429_is_sent_on_the_retry(store: MemoryStore) -> None:
    rt = _broadcast_rt(store)
    telegram, _, _ = fakes(rt)
    kicked = TelegramForbidden("bot was kicked from the channel chat")
    telegram.fail_method["send_message"] = [kicked, kicked, kicked, TelegramRetryAfter(3)]
    for day in (6, 7):
        post_offer(BroadcastTask(channel_token="DemoChannel01", day=f"2026-11-2{day}"), rt)
    with pytest.raises(TelegramRetryAfter):  # the third failure pauses; the owner's notice is rate limited
        post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-28"), rt)
    assert telegram.to(OWNER) == []
    # Cloud Tasks retries the task: the channel is paused now, and the notice goes out once.
    assert post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-28"), rt) == "paused"
    assert post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-29"), rt) == "paused"
    assert len(telegram.to(OWNER)) == 1
