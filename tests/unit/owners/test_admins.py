"""One rule for who may sell or change a channel, for the bot and the owner app alike: the owner on
the channel's record who is the creator of both its channels, asked of Telegram at that moment."""

from __future__ import annotations

import pytest

from shared_schemas.config import TelegramWebhookSettings
from telepay.adapters.telegram_api import TelegramForbidden
from telepay.channels.lookup import save_channel
from telepay.owners.admins import Refusal, Why, change_refusal, owned
from telepay.runtime import Runtime
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

OWNER, CO_ADMIN = 5001, 5003
OPEN, CLOSED = -1001000000001, -1001000000002


@pytest.fixture
def rt() -> Runtime[TelegramWebhookSettings]:
    store = MemoryStore()
    save_channel(store, demo_channel())
    rt = runtime(TelegramWebhookSettings, store)
    members = fakes(rt)[0].members
    for chat in (OPEN, CLOSED):
        members[(chat, OWNER)] = ("creator", ())
        members[(chat, CO_ADMIN)] = ("administrator", ())
    return rt


def test_the_owner_still_admin_of_both_channels_may_change_it(rt: Runtime[TelegramWebhookSettings]) -> None:
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), token="DemoChannel01") is None
    channel = rt.store.channels.get("DemoChannel01")
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), channel=channel) is None


def test_a_co_admin_of_both_channels_is_not_the_owner(rt: Runtime[TelegramWebhookSettings]) -> None:
    assert change_refusal(rt, CO_ADMIN, (OPEN, CLOSED), token="DemoChannel01") == Refusal(Why.NOT_OWNER)
    channel = rt.store.channels.get("DemoChannel01")
    assert change_refusal(rt, CO_ADMIN, (OPEN, CLOSED), channel=channel) == Refusal(Why.NOT_OWNER)
    assert owned(rt.store, CO_ADMIN) == []
    assert [c.token for c in owned(rt.store, OWNER)] == ["DemoChannel01"]


def test_an_unknown_channel_is_nobodys(rt: Runtime[TelegramWebhookSettings]) -> None:
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), token="NoSuchChannel1") == Refusal(Why.NOT_OWNER)


def test_an_owner_no_longer_creator_is_told_which_channel(rt: Runtime[TelegramWebhookSettings]) -> None:
    telegram = fakes(rt)[0]
    telegram.members[(CLOSED, OWNER)] = ("left", ())
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), token="DemoChannel01") == Refusal(
        Why.NOT_CREATOR, CLOSED
    )
    # Telegram will not say (the bot was removed from the chat): not the creator either.
    telegram.members[(CLOSED, OWNER)] = ("creator", ())
    telegram.members[(OPEN, OWNER)] = TelegramForbidden("bot was kicked from the channel chat")
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), token="DemoChannel01") == Refusal(Why.NOT_CREATOR, OPEN)


def test_a_channel_being_set_up_needs_the_creator_of_both(rt: Runtime[TelegramWebhookSettings]) -> None:
    assert change_refusal(rt, OWNER, (OPEN, CLOSED)) is None
    # A co-admin with every right is still not the one whose channels they are.
    fakes(rt)[0].members[(OPEN, CO_ADMIN)] = ("administrator", ("can_post_messages", "can_invite_users"))
    assert change_refusal(rt, CO_ADMIN, (OPEN, CLOSED)) == Refusal(Why.NOT_CREATOR, OPEN)
    assert change_refusal(rt, 7777, (OPEN,)) == Refusal(Why.NOT_CREATOR, OPEN)


def test_an_owner_who_handed_the_channel_over_may_no_longer_change_it(
    rt: Runtime[TelegramWebhookSettings],
) -> None:
    """Telegram moved the channel's ownership: the old creator is an administrator now."""
    fakes(rt)[0].members[(CLOSED, OWNER)] = ("administrator", ("can_invite_users",))
    assert change_refusal(rt, OWNER, (OPEN, CLOSED), token="DemoChannel01") == Refusal(
        Why.NOT_CREATOR, CLOSED
    )
