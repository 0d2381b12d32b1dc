"""The daily offer broadcast against the Firestore emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.cloud import firestore

from shared_schemas.config import CommonSettings, DailyBroadcastSettings, TelegramWebhookSettings
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter
from telepay.broadcast import daily_run, owner_repost, post_offer
from telepay.channels import save_channel
from tests.conftest import demo_channel, stored
from tests.integration.helpers import FakeRuntime, as_function, runtime

pytestmark = pytest.mark.integration
OPEN_A, OPEN_B = -1001000000001, -1001000000011


def _rt(db: firestore.Client, cls: type[CommonSettings] = DailyBroadcastSettings) -> FakeRuntime:
    return as_function(
        runtime(db, "notify"),
        cls,
        daily_broadcast_url="http://127.0.0.1:1/db",
        create_invoice_url="x",
        keypad_url="x",
    )


def _two_channels(db: firestore.Client) -> None:
    save_channel(db, demo_channel())
    save_channel(
        db,
        demo_channel(
            "SecondChan01",
            owner=5002,
            title="Second",
            open_channel_id=OPEN_B,
            closed_channel_id=-1001000000012,
        ),
    )


def _run_queued(rt: FakeRuntime) -> list[str]:
    outcomes = []
    while rt.tasks.created:
        _, _, payload, _ = rt.tasks.created.pop(0)
        outcomes.append(post_offer(payload, rt))
    return outcomes


def test_each_channel_gets_one_current_offer(firestore_db: firestore.Client) -> None:
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
    assert post.buttons()[0].text == "Monthly · $5.00 USD · 1 month"

    daily_run(rt, "2026-11-27")
    assert _run_queued(rt) == ["posted", "posted"]
    [next_day] = rt.telegram.to(OPEN_A)  # yesterday's post was deleted
    assert next_day.message_id != post.message_id
    broadcast = stored(firestore_db, "channels", "DemoChannel01")["broadcast"]
    assert (
        broadcast["last_message_id"] == next_day.message_id and broadcast["last_posted_day"] == "2026-11-27"
    )


def test_lost_rights_pause_after_the_threshold_and_the_owner_is_told_once(
    firestore_db: firestore.Client,
) -> None:
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
    broadcast = stored(firestore_db, "channels", "DemoChannel01")["broadcast"]
    assert broadcast["consecutive_failures"] == 0 and broadcast["paused_reason"] is None


def test_rate_limited_posts_are_rescheduled(firestore_db: firestore.Client) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db)
    rt.telegram.fail_method["send_message"] = [TelegramRetryAfter(12)]
    task = BroadcastTask(channel_token="DemoChannel01", day="2026-11-26")
    assert post_offer(task, rt) == "rescheduled after 12 s"
    [(_, _, again, name)] = rt.tasks.created
    assert again.reschedules == 1 and rt.tasks.scheduled[name] == rt.clock.now() + timedelta(seconds=12)
    assert _run_queued(rt) == ["posted"]


def test_owner_repost_respects_its_cooldown(firestore_db: firestore.Client) -> None:
    _two_channels(firestore_db)
    rt = _rt(firestore_db, TelegramWebhookSettings)
    assert owner_repost(rt, 5001, 1) == "📣 Re-posting the offer of Night Owls Club now."
    assert "again in 60 minutes" in owner_repost(rt, 5001, 2)
    rt.clock.advance(minutes=61)
    assert owner_repost(rt, 5001, 3).startswith("📣")
    assert owner_repost(rt, 4242, 4) == "Only a channel's owner can re-post its offer."
    assert [payload.manual for _, _, payload, _ in rt.tasks.created] == [True, True]
