"""Who is in a closed channel, and a way back in: chat_member updates keep `in_channel` true to
Telegram (in Telegram's order); a subscriber who is not in the channel gets a fresh Join button
from `/start <token>` and `/subscriptions`."""

from __future__ import annotations

from typing import Any

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.ids import subscription_id
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from tests import updates
from tests.conftest import demo_channel
from tests.harness import active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

USER = 4242
CLOSED = -1001000000002
SUB_ID = subscription_id("DemoChannel01", USER)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    store.subscriptions.set(SUB_ID, active_subscription(USER, days=30))
    return store


def _member(update_id: int, status: str, date: int, chat: int = CLOSED) -> dict[str, Any]:
    member = {"user": updates.user(USER), "status": status}
    return {
        "update_id": update_id,
        "chat_member": {
            "chat": {"id": chat, "type": "channel", "title": "Members"},
            "from": updates.user(USER),
            "date": date,
            "old_chat_member": {"user": updates.user(USER), "status": "member"},
            "new_chat_member": member,
        },
    }


def _in_channel(store: MemoryStore) -> bool:
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None
    return sub.in_channel


def test_membership_follows_telegram_in_its_order(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    assert handle_update(_member(1, "left", date=100), rt) == "member left"
    assert not _in_channel(store)
    assert handle_update(_member(2, "member", date=50), rt) == "member older change ignored"
    assert not _in_channel(store)
    assert handle_update(_member(3, "member", date=200), rt) == "member joined"
    assert _in_channel(store)
    assert handle_update(_member(4, "kicked", date=300, chat=-999), rt) == "ignored (not a closed channel)"


def test_a_subscriber_who_left_gets_a_fresh_join_button_from_the_deep_link(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(_member(1, "left", date=100), rt)
    outcome = handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert outcome == "subscription shown; offer shown"
    status, offer = telegram.to(USER)
    assert "You're subscribed to Night Owls Club until Saturday, 26 December 2026" in status.text
    assert status.button_urls() and status.keyboard is not None
    assert "Join Night Owls Club" in status.keyboard[0][0].text
    assert "buy:DemoChannel01:t1" in offer.callbacks()  # renewing stays one tap away


def test_a_member_in_the_channel_gets_no_join_button(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert telegram.to(USER)[0].keyboard is None
    assert "create_join_request_link" not in telegram.names()


def test_subscriptions_lists_each_with_join_where_needed(store: MemoryStore) -> None:
    save_channel(store, demo_channel(token="SecondChan01", title="Second", closed_channel_id=-1002))
    ended = active_subscription(USER, days=-3, token="SecondChan01")
    store.subscriptions.set(subscription_id("SecondChan01", USER), ended)
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(_member(1, "left", date=100), rt)
    assert handle_update(updates.start(2, "/subscriptions", USER), rt) == "2 subscription(s) listed"
    [listing] = telegram.to(USER)
    assert listing.text.splitlines() == [
        "Your subscriptions:",
        "• Night Owls Club: until Saturday, 26 December 2026, 12:00 UTC",
        "• Second: ended on Monday, 23 November 2026, 12:00 UTC",
    ]
    assert len(listing.button_urls()) == 1  # Join only where the access is active


def test_no_join_link_possible_tells_the_subscriber_and_the_owner(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["create_join_request_link"] = [
        TelegramBadRequest("not enough rights to manage chat invite link")
    ]
    handle_update(_member(1, "left", date=100), rt)
    handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert "can't create a join link" in telegram.to(USER)[0].text
    assert any("invite users via link" in m.text for m in telegram.to(5001))
