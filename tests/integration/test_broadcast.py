"""The daily offer broadcast against the Firestore emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import ExpireSubscriptionsSettings, TelegramWebhookSettings
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter
from telepay.channels.lookup import save_channel
from telepay.subscriptions.broadcast import daily_run, owner_repost, post_offer
from tests.conftest import demo_channel
from tests.integration.helpers import runtime, store_of

pytestmark = pytest.mark.integration
OPEN_A, OPEN_B = -1001000000001, -1001000000011


def _rt(db: Any, cls: Any = ExpireSubscriptionsSettings) -> Any:
    kind = "webhook" if cls is TelegramWebhookSettings else "broadcast"
    return runtime(db, kind)


def _two_channels(db: Any) -> None:
    save_channel(store_of(db), demo_channel())
    save_channel(
        store_of(db),
        demo_channel(
            "SecondChan01",
            owner=5002,
            title="Second",
            open_channel_id=OPEN_B,
            closed_channel_id=-1001000000012,
        ),
    )


def _run_queued(rt: Any) -> list[str]:
    outcomes = []
    while rt.tasks.created:
        _, _, payload, _ = rt.tasks.created.pop(0)
        outcomes.append(post_offer(payload, rt))
    return outcomes


def test_each_channel_gets_one_current_offer(firestore_db: Any) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db)
    assert daily_run(rt, "2026-11-26")["queued"] == 2
    assert daily_run(rt, "2026-11-26") == {"queued": 0, "already_queued": 2, "paused": 0}
    assert _run_queued(rt) == ["posted", "posted"]
    assert post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-26"), rt).startswith(
        "duplicate"
    )

    [post] = rt.telegram.to(OPEN_A)
    assert "Night Owls Club" in post.text
    assert post.button_urls() == [
        "https://t.me/TelePayTestBot?start=DemoChannel01-t1",
        "https://t.me/TelePayTestBot?start=DemoChannel01-t2",
        "https://t.me/TelePayTestBot?start=DemoChannel01_DONATE",
    ]
    assert next(b.text for row in post.keyboard for b in row) == "Monthly · $5.00 or ⭐250 · 1 month"

    daily_run(rt, "2026-11-27")
    assert _run_queued(rt) == ["posted", "posted"]
    [next_day] = rt.telegram.to(OPEN_A)  # yesterday's post was deleted
    assert next_day.message_id != post.message_id
    stored = firestore_db.collection("channels").document("DemoChannel01").get().to_dict()["broadcast"]
    assert stored["last_message_id"] == next_day.message_id and stored["last_posted_day"] == "2026-11-27"


def test_lost_rights_pause_after_the_threshold_and_the_owner_is_told_once(firestore_db: Any) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db)
    lost = "Forbidden: bot is not a member of the channel chat"
    outcomes = []
    for day in ("2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"):
        rt.telegram.fail_method["send_message"] = [TelegramForbidden(lost)]
        outcomes.append(post_offer(BroadcastTask(channel_token="DemoChannel01", day=day), rt))
    assert outcomes == ["failed (1 in a row)", "failed (2 in a row)", "paused", "paused"]
    [notice] = rt.telegram.to(5001)
    assert "paused the daily offer post of Night Owls Club" in notice.text and "/broadcast" in notice.text
    assert daily_run(rt, "2026-11-30") == {"queued": 1, "already_queued": 0, "paused": 1}

    # The owner fixes the rights and re-posts: the broadcast is back on.
    rt.telegram.fail_method.clear()
    assert (
        post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-30", manual=True), rt)
        == "posted"
    )
    stored = firestore_db.collection("channels").document("DemoChannel01").get().to_dict()["broadcast"]
    assert stored["consecutive_failures"] == 0 and stored["paused_reason"] is None


def test_rate_limited_posts_are_rescheduled(firestore_db: Any) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db)
    rt.telegram.fail_method["send_message"] = [TelegramRetryAfter(12)]
    task = BroadcastTask(channel_token="DemoChannel01", day="2026-11-26")
    assert post_offer(task, rt) == "rescheduled after 12 s"
    [(_, _, again, name)] = rt.tasks.created
    assert again.reschedules == 1 and rt.tasks.scheduled[name] == rt.clock.now() + timedelta(seconds=12)
    assert _run_queued(rt) == ["posted"]


def test_owner_repost_respects_its_cooldown(firestore_db: Any) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db, TelegramWebhookSettings)
    assert owner_repost(rt, 5001, 1) == "📣 Re-posting the offer of Night Owls Club now."
    # The same /broadcast re-delivered (its answer was refused, say with a 429): the same answer.
    assert owner_repost(rt, 5001, 1) == "📣 Re-posting the offer of Night Owls Club now."
    assert "again in 60 minutes" in owner_repost(rt, 5001, 2)
    rt.clock.advance(minutes=61)
    assert owner_repost(rt, 5001, 3).startswith("📣")
    assert owner_repost(rt, 4242, 4) == "Only a channel's owner can re-post its offer."
    assert [payload.manual for _, _, payload, _ in rt.tasks.created] == [True, True]
