"""The bot noticing its own membership in channels (`my_chat_member`)."""

from __future__ import annotations

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.telegram import ALLOWED_UPDATES
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from tests import updates
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

OWNER = 5001
HELPER = 5002
OPEN, CLOSED = -1001000000001, -1001000000002
OPEN_RIGHTS = ("can_post_messages", "can_edit_messages", "can_delete_messages")
CLOSED_RIGHTS = ("can_invite_users", "can_restrict_members")


def test_my_chat_member_is_asked_for() -> None:
    assert "my_chat_member" in ALLOWED_UPDATES


def test_added_as_admin_is_recorded_and_the_adder_told_what_is_missing() -> None:
    store = MemoryStore()
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    update = updates.my_chat_member(10, CLOSED, OWNER, "administrator", ("can_invite_users",))
    assert handle_update(update, rt) == "bot is administrator"
    record = store.bot_chats.get(str(CLOSED))
    assert record is not None
    assert (record.added_by, record.status, record.rights) == (
        OWNER,
        "administrator",
        ["can_invite_users", "can_manage_chat"],
    )
    [told] = telegram.to(OWNER)
    assert "I'm now an admin of Night Owls" in told.text
    assert "As the closed channel (members only) I still need the right to ban users." in told.text
    assert "open channel (where I post your offer) I still need the right to post messages" in told.text

    # The owner grants what was missing: the record follows, and the message says it is ready.
    handle_update(updates.my_chat_member(11, CLOSED, OWNER, "administrator", CLOSED_RIGHTS), rt)
    assert set(CLOSED_RIGHTS) <= set(store.bot_chats.get(str(CLOSED)).rights)  # type: ignore[union-attr]
    assert "It can be your closed channel" in telegram.to(OWNER)[-1].text


def test_an_older_change_never_overwrites_a_newer_one() -> None:
    store = MemoryStore()
    rt = runtime(TelegramWebhookSettings, store)
    handle_update(updates.my_chat_member(20, OPEN, OWNER, "administrator", OPEN_RIGHTS, date=200), rt)
    late = updates.my_chat_member(21, OPEN, OWNER, "left", date=100)
    assert handle_update(late, rt) == "stale bot membership change"
    assert store.bot_chats.get(str(OPEN)).status == "administrator"  # type: ignore[union-attr]


def test_losing_rights_in_a_live_offer_tells_its_owner_which_offer() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    # A helper admin takes the ban right away in the closed channel.
    handle_update(updates.my_chat_member(30, CLOSED, HELPER, "administrator", ("can_invite_users",)), rt)
    channel = store.channels.get("DemoChannel01")
    assert channel is not None
    assert channel.bot_rights_problem == "In the closed channel I'm missing the right to ban users."
    [notice] = telegram.to(OWNER)
    assert "This affects your live offer Night Owls Club" in notice.text
    # Removed from the open channel by the owner: one message, with the offer affected.
    handle_update(updates.my_chat_member(31, OPEN, OWNER, "left"), rt)
    removed = telegram.to(OWNER)[-1].text
    assert "I'm no longer an admin of Night Owls" in removed
    assert "In the open channel I'm missing the right to post messages" in removed
    # Rights back in both: the problem is cleared.
    handle_update(updates.my_chat_member(32, OPEN, OWNER, "administrator", OPEN_RIGHTS), rt)
    assert store.channels.get("DemoChannel01").bot_rights_problem is None  # type: ignore[union-attr]
    assert "I have the rights I need again" in telegram.to(OWNER)[-1].text


def test_a_private_chat_change_is_the_user_blocking_the_bot_not_a_channel() -> None:
    rt = runtime(TelegramWebhookSettings, MemoryStore())
    update = updates.my_chat_member(40, OWNER, OWNER, "kicked")
    update["my_chat_member"]["chat"] = {"id": OWNER, "type": "private"}
    assert handle_update(update, rt) == "user blocked the bot"
    assert rt.store.bot_chats.get(str(OWNER)) is None  # not recorded as a chat the bot is in
    assert rt.store.users.get(str(OWNER)).blocked_bot  # type: ignore[union-attr]
    assert fakes(rt)[0].sent == []  # nothing said to someone who just blocked the bot


def test_an_adder_who_never_started_the_bot_is_not_an_error() -> None:
    from telepay.adapters.telegram_api import TelegramForbidden

    rt = runtime(TelegramWebhookSettings, MemoryStore())
    telegram, _, _ = fakes(rt)
    telegram.fail_method["send_message"] = [TelegramForbidden("bot can't initiate conversation with a user")]
    assert (
        handle_update(updates.my_chat_member(50, OPEN, OWNER, "administrator"), rt) == "bot is administrator"
    )
