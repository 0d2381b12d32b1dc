"""The Telegram stand-in's control handlers, called one by one on an in-memory world (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from local.control_call import ControlCall, ControlError
from local.telegram_standin import control
from local.telegram_standin.control import Control
from local.telegram_standin.delivery import Delivery
from local.telegram_standin.model import World
from local.telegram_standin.ratelimit import Limits
from local.telegram_standin.records import BotState, Config, InviteLink

TOKEN = "123456789:AAHcontrol-test-token"
BOT_ID = 123456789
KEYBOARD = {"inline_keyboard": [[{"text": "Pay", "callback_data": "pay:1"}]]}


@pytest.fixture
def ctx() -> Control:
    world = World(Config(limits=Limits(enabled=False)))
    world.add_bot(TOKEN, "telepay_test_bot", BOT_ID)
    return Control(world, Delivery(world), initial=Config(limits=Limits(enabled=False)))


def call(body: dict[str, Any] | None = None, **path: Any) -> ControlCall:
    return ControlCall(body=body or {}, path=path)


def bot_of(ctx: Control) -> BotState:
    return ctx.world.default_bot()


def new_user(ctx: Control, first_name: str = "Alice") -> int:
    return int(control.create_user(ctx, call({"first_name": first_name}))["user"]["id"])


def new_channel(ctx: Control, owner: int, rights: list[str] | None = None) -> int:
    chat_id = int(control.create_chat(ctx, call({"title": "Premium", "owner_id": owner}))["chat"]["id"])
    body: dict[str, Any] = {"bot": True} if rights is None else {"bot": True, "rights": rights}
    control.add_admin(ctx, call(body, chat_id=str(chat_id)))
    return chat_id


def pending_kinds(ctx: Control) -> list[str]:
    return [u.kind for u in bot_of(ctx).pending]


def test_create_user_numbers_users_and_refuses_a_used_id(ctx: Control) -> None:
    answer = control.create_user(ctx, call({"first_name": "Alice", "username": "@alice"}))
    assert answer == {
        "ok": True,
        "user": {"id": 6000000001, "is_bot": False, "first_name": "Alice", "username": "alice"},
    }
    with pytest.raises(ValueError, match="exists"):
        control.create_user(ctx, call({"first_name": "Bob", "id": 6000000001}))


def test_get_user_of_an_unknown_user_is_404(ctx: Control) -> None:
    with pytest.raises(ControlError) as refused:
        control.get_user(ctx, call(user_id=42))
    assert refused.value.status == 404


def test_start_with_a_payload_sends_the_start_command(ctx: Control) -> None:
    user = new_user(ctx)
    answer = control.start(ctx, call({"payload": "tok123"}, user_id=user))
    assert answer["chat_id"] == user
    assert answer["message"]["text"] == "/start tok123"
    assert answer["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert pending_kinds(ctx) == ["message"]
    assert control.get_user(ctx, call(user_id=user))["started"] is True


def test_block_and_unblock_send_my_chat_member_once_each(ctx: Control) -> None:
    user = new_user(ctx)
    control.block(ctx, call(user_id=user))
    control.block(ctx, call(user_id=user))  # already blocked: nothing new
    assert control.get_user(ctx, call(user_id=user))["blocked"] is True
    control.unblock(ctx, call(user_id=user))
    statuses = [u.body["my_chat_member"]["new_chat_member"]["status"] for u in bot_of(ctx).pending]
    assert statuses == ["kicked", "member"]


def test_user_message_needs_text(ctx: Control) -> None:
    user = new_user(ctx)
    with pytest.raises(ControlError, match="text is required"):
        control.user_message(ctx, call({}, user_id=user))
    answer = control.user_message(ctx, call({"text": "hello"}, user_id=user))
    assert answer["message"]["text"] == "hello" and len(answer["update_ids"]) == 1


def test_a_user_replies_to_the_bots_message_as_telegram_delivers_it(ctx: Control) -> None:
    user = new_user(ctx)
    bot = bot_of(ctx)
    sent = ctx.world.new_message(bot, user, "Reply to this message to answer.", outgoing=True)
    answer = control.user_message(
        ctx, call({"text": "thanks", "reply_to_message_id": sent.message_id}, user_id=user)
    )
    [update] = [u for u in bot.pending if u.update_id in answer["update_ids"]]
    replied = update.body["message"]["reply_to_message"]
    assert replied["message_id"] == sent.message_id and replied["text"] == "Reply to this message to answer."
    with pytest.raises(ControlError, match="not in this chat"):
        control.user_message(ctx, call({"text": "x", "reply_to_message_id": 999_999}, user_id=user))
    with pytest.raises(ControlError, match="reply_to_message_id"):
        control.user_message(ctx, call({"text": "x", "reply_to_message_id": "1"}, user_id=user))


def test_add_admin_gives_exactly_the_rights_asked(ctx: Control) -> None:
    owner = new_user(ctx, "Owner")
    chat_id = new_channel(ctx, owner, rights=["can_invite_users"])
    member = control.get_chat(ctx, call(chat_id=str(chat_id)))["members"][1]
    assert member["status"] == "administrator"
    assert member["can_invite_users"] is True and member["can_manage_chat"] is True
    assert member["can_post_messages"] is False
    with pytest.raises(ControlError, match="unknown rights"):
        control.add_admin(ctx, call({"bot": True, "rights": ["can_pin_messages"]}, chat_id=str(chat_id)))


def test_remove_admin_and_add_member(ctx: Control) -> None:
    owner = new_user(ctx, "Owner")
    chat_id = new_channel(ctx, owner)
    user = new_user(ctx)
    added = control.add_member(ctx, call({"user_id": user}, chat_id=str(chat_id)))
    assert added["member"]["status"] == "member"
    with pytest.raises(ControlError, match="not an administrator"):
        control.remove_admin(ctx, call({}, chat_id=str(chat_id), user_id=user))
    removed = control.remove_admin(ctx, call({"status": "left"}, chat_id=str(chat_id), user_id=BOT_ID))
    assert removed["member"]["status"] == "left"
    assert "my_chat_member" in pending_kinds(ctx)


def test_join_through_a_link_and_leave(ctx: Control) -> None:
    owner = new_user(ctx, "Owner")
    chat_id = new_channel(ctx, owner)
    url = "https://t.me/+abcdefgh"
    ctx.world.chats[chat_id].links[url] = InviteLink(invite_link=url, chat_id=chat_id, creator_id=BOT_ID)
    user = new_user(ctx)
    assert control.join(ctx, call({"invite_link": url}, user_id=user)) == {
        "ok": True,
        "chat_id": chat_id,
        "result": "joined",
    }
    again = control.join(ctx, call({"invite_link": url}, user_id=user))
    assert again["reason"] == "already_member"
    links = control.links(ctx, call(chat_id=str(chat_id)))["invite_links"]
    assert links[0]["member_count"] == 1
    assert control.leave(ctx, call({"chat_id": chat_id}, user_id=user)) == {"ok": True, "status": "left"}
    unknown = control.join(ctx, call({"invite_link": "https://t.me/+nope"}, user_id=user))
    assert unknown["reason"] == "unknown_link"


def test_press_checks_the_buttons_and_records_the_query(ctx: Control) -> None:
    user = new_user(ctx)
    control.start(ctx, call(user_id=user))
    sent = ctx.world.new_message(bot_of(ctx), user, "Pay?", outgoing=True, reply_markup=KEYBOARD)
    with pytest.raises(ControlError, match="pay:1"):
        control.press(ctx, call({"message_id": sent.message_id, "callback_data": "other"}, user_id=user))
    pressed = control.press(
        ctx, call({"message_id": sent.message_id, "callback_data": "pay:1"}, user_id=user)
    )
    query = control.callback_query(ctx, call(query_id=pressed["callback_query_id"]))
    assert (query["data"], query["answered"], query["answer"]) == ("pay:1", False, None)
    with pytest.raises(ControlError) as unknown:
        control.callback_query(ctx, call(query_id="1"))
    assert unknown.value.status == 404


def test_transcript_keeps_only_the_bots_messages_when_asked(ctx: Control) -> None:
    user = new_user(ctx)
    control.user_message(ctx, call({"text": "hi"}, user_id=user))
    ctx.world.new_message(bot_of(ctx), user, "hello", outgoing=True)
    every = control.transcript(ctx, call(chat_id=str(user)))["messages"]
    only_bot = control.transcript(
        ctx, ControlCall(path={"chat_id": str(user)}, query={"outgoing_only": "1"})
    )["messages"]
    assert [m["text"] for m in every] == ["hi", "hello"]
    assert [m["text"] for m in only_bot] == ["hello"]


def test_set_config_and_reset_restores_the_initial_config(ctx: Control) -> None:
    answer = control.set_config(ctx, call({"rate_limits": {"group_per_minute": 5}, "webhook_timeout": 2}))
    assert answer["config"]["rate_limits"]["group_per_minute"] == 5
    assert answer["config"]["webhook_timeout"] == 2.0
    with pytest.raises(ControlError, match="unknown rate limit setting"):
        control.set_config(ctx, call({"rate_limits": {"per_hour": 1}}))
    new_user(ctx)
    assert control.reset(ctx, call()) == {"ok": True}
    assert ctx.world.config.limits.group_per_minute == 20
    assert ctx.world.config.webhook_timeout == 30.0
    assert list(ctx.world.users) == [BOT_ID]


def test_clock_moves_the_worlds_time(ctx: Control) -> None:
    before = control.clock(ctx, call())
    after = control.clock(ctx, call({"advance": 3600}))
    assert after["offset"] == 3600.0
    assert after["now"] - before["now"] >= 3600


def test_failures_are_queued_listed_and_cleared(ctx: Control) -> None:
    with pytest.raises(ControlError, match=">= 400"):
        control.add_failure(ctx, call({"status": 200}))
    control.add_failure(ctx, call({"method": "sendMessage", "status": 429, "retry_after": 3}))
    listed = control.list_failures(ctx, call())["failures"]
    assert listed == {
        "sendmessage": [{"status": 429, "count": 1, "retry_after": 3, "description": "", "delay": 0.0}]
    }
    control.clear_failures(ctx, call())
    assert control.list_failures(ctx, call())["failures"] == {}


def test_bots_and_updates_show_the_bots_state(ctx: Control) -> None:
    user = new_user(ctx)
    control.start(ctx, call({"send_command": True}, user_id=user))
    (bot,) = control.bots(ctx, call())["bots"]
    assert bot["user"]["id"] == BOT_ID and bot["pending_update_count"] == 1 and bot["webhook"] is None
    (pending,) = control.updates(ctx, call())["pending"]
    assert pending["type"] == "message" and pending["queue"] == f"chat:{user}"
    with pytest.raises(ControlError) as unknown:
        control.updates(ctx, call({"bot": "nobody"}))
    assert unknown.value.status == 404
