"""The closed channel's donation post: one post per channel, edited in place when the owner's
message changes, never duplicated; skipped with the owner told when the bot may not post."""

from __future__ import annotations

import pytest

from local.fixtures import change_channel
from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.tasks import BroadcastTask, PostKind
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.channels.lookup import save_channel
from telepay.subscriptions.broadcast import post_offer, queue_donation_post
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

CLOSED = -1001000000002
OWNER = 5001
TASK = BroadcastTask(channel_token="DemoChannel01", day="2026-11-26", post=PostKind.DONATION)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel(donation_message="Every coffee helps."))
    return store


def test_one_post_edited_in_place_when_the_message_changes(store: MemoryStore) -> None:
    rt = runtime(ExpireSubscriptionsSettings, store)
    telegram, _, tasks = fakes(rt)
    assert post_offer(TASK, rt) == "donation post sent"
    [post] = telegram.to(CLOSED)
    assert post.text == "💝 Support Night Owls Club\n\nEvery coffee helps."
    assert post.button_urls() == ["https://t.me/TelePayTestBot?start=DemoChannel01_DONATE"]
    assert post_offer(TASK, rt) == "donation post updated"  # a repeated task posts nothing new

    change_channel(store, "DemoChannel01", {"donation_message": "Thank you for keeping us going!"})
    channel = store.channels.get("DemoChannel01")
    assert channel is not None
    assert queue_donation_post(rt, channel) and not queue_donation_post(rt, channel)  # queued once per text
    assert post_offer(TASK, rt) == "donation post updated"
    [same] = telegram.to(CLOSED)
    assert same.message_id == post.message_id and same.text.endswith("Thank you for keeping us going!")
    assert next(name for *_, name in tasks.created).startswith("donation-post-DemoChannel01-")


def test_a_deleted_post_is_posted_again(store: MemoryStore) -> None:
    rt = runtime(ExpireSubscriptionsSettings, store)
    telegram, _, _ = fakes(rt)
    post_offer(TASK, rt)
    telegram.fail_method["edit_message_text"] = [TelegramBadRequest("Bad Request: message to edit not found")]
    assert post_offer(TASK, rt) == "donation post sent"
    channel = store.channels.get("DemoChannel01")
    assert channel is not None and channel.donation_post_message_id == telegram.to(CLOSED)[-1].message_id


def test_without_the_right_to_post_nothing_is_posted_and_the_owner_is_told_once(store: MemoryStore) -> None:
    rt = runtime(ExpireSubscriptionsSettings, store)
    telegram, _, _ = fakes(rt)
    refused = TelegramBadRequest("Bad Request: not enough rights to send text messages to the chat")
    for _ in range(2):
        telegram.fail_method["send_message"] = [refused]  # the post; the owner's notice goes through
        assert post_offer(TASK, rt) == "donation post refused: owner told"
    [notice] = telegram.to(OWNER)
    assert "right to post messages" in notice.text
    channel = store.channels.get("DemoChannel01")
    assert channel is not None and channel.donation_post_message_id is None
