"""Messages: sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage, sendChatAction,
answerCallbackQuery, and the reply markup they read."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from .. import views
from ..botapi import Ctx, api_method, chat_of, check_chat, check_private_write, resolve_chat, take_slot
from ..formatting import format_text
from ..protocol import Args, bad_request
from ..records import JSON, Message


def parse_reply_markup(args: Args) -> JSON | None:
    """Validates ``reply_markup``; returns the inline keyboard a message keeps, or None."""
    raw = args.get("reply_markup")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise bad_request("can't parse reply keyboard markup JSON object") from exc
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" not in value:
        for key in ("keyboard",):
            if key in value and not isinstance(value[key], list):
                raise bad_request('field "keyboard" must be of type Array')
        return None
    rows = value["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" must be of type Array')
    out_rows: list[list[JSON]] = []
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        new_row: list[JSON] = []
        for button in row:
            new_row.append(_inline_button(button))
        out_rows.append(new_row)
    if not out_rows:
        return None
    return {"inline_keyboard": out_rows}


def _inline_button(button: Any) -> JSON:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    out: JSON = {"text": text}
    url = button.get("url")
    if isinstance(url, str) and url:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme.lower() not in ("http", "https", "tg", "ton") or (
            parsed.scheme.lower() in ("http", "https") and not parsed.netloc
        ):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        out["url"] = url
        return out
    data = button.get("callback_data")
    if isinstance(data, str) and data:
        if len(data.encode("utf-8")) > 64:
            raise bad_request("BUTTON_DATA_INVALID")
        out["callback_data"] = data
        return out
    for key in (
        "callback_game",
        "pay",
        "login_url",
        "web_app",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
    ):
        if key in button:
            out[key] = button[key]
            return out
    raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")


def get_message_for_edit(ctx: Ctx, args: Args) -> Message:
    if args.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat_id = resolve_chat(ctx, args)
    message_id = args.integer("message_id")
    if message_id <= 0:
        raise bad_request("message identifier is not specified")
    check_chat(ctx, chat_id, "edit")
    msg = ctx.world.find_message(ctx.bot, chat_id, message_id)
    if msg is None or msg.deleted:
        raise bad_request("message to edit not found")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=False)
    if not msg.outgoing or msg.bot_id != ctx.bot.user.id:
        raise bad_request("message can't be edited")
    if chat_id < 0:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not (
            ctx.world.has_right(chat, ctx.bot.user.id, "can_post_messages")
            or ctx.world.has_right(chat, ctx.bot.user.id, "can_edit_messages")
        ):
            raise bad_request("message can't be edited")
    return msg


def apply_edit(ctx: Ctx, msg: Message, text: str, entities: list[JSON], markup: JSON | None) -> JSON:
    if msg.text == text and msg.entities == entities and msg.reply_markup == markup:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are exactly the "
            "same as a current content and reply markup of the message"
        )
    take_slot(ctx, msg.chat_id, counts_globally=False)
    ctx.world.stats["edits"] = ctx.world.stats.get("edits", 0) + 1
    msg.history.append(
        {
            "text": msg.text,
            "entities": msg.entities,
            "reply_markup": msg.reply_markup,
            "edit_date": msg.edit_date or None,
            "replaced_at": ctx.world.now(),
            "method": ctx.method,
        }
    )
    msg.text = text
    msg.entities = entities
    msg.reply_markup = markup
    msg.edit_date = ctx.world.now()
    return views.message_json(ctx.world, msg, ctx.bot)


@api_method("sendMessage")
async def send_message(ctx: Ctx, args: Args) -> JSON:
    text, entities = format_text(args.get("text"), args.get("parse_mode"), args.get("entities"))
    markup = parse_reply_markup(args)
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    else:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not world.has_right(chat, ctx.bot.user.id, "can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
    reply_to: int | None = None
    allow_without = args.flag("allow_sending_without_reply")
    if args.has("reply_parameters"):
        try:
            params = args.json_value("reply_parameters")
        except ValueError as exc:
            raise bad_request("can't parse reply parameters JSON object") from exc
        if not isinstance(params, dict):
            raise bad_request("object expected as reply parameters")
        reply_to = int(params.get("message_id") or 0) or None
        allow_without = allow_without or bool(params.get("allow_sending_without_reply"))
    elif args.has("reply_to_message_id"):
        reply_to = args.integer("reply_to_message_id") or None
    if reply_to is not None:
        target = world.find_message(ctx.bot, chat_id, reply_to)
        if target is None or target.deleted:
            if not allow_without:
                raise bad_request("message to be replied not found")
            reply_to = None
    take_slot(ctx, chat_id, counts_globally=True)
    world.stats["sends"] += 1
    is_channel = chat_id < 0 and world.chats[chat_id].type == "channel"
    msg = world.new_message(
        ctx.bot,
        chat_id,
        text,
        entities,
        from_id=None if is_channel else ctx.bot.user.id,
        sender_chat_id=chat_id if is_channel else None,
        outgoing=True,
        reply_markup=markup,
        reply_to=reply_to,
        protect_content=args.flag("protect_content"),
    )
    if chat_id > 0 and not ctx.bot.private(chat_id).started:
        ctx.bot.known_users.add(chat_id)
    return views.message_json(world, msg, ctx.bot)


@api_method("editMessageText")
async def edit_message_text(ctx: Ctx, args: Args) -> JSON:
    text, entities = format_text(args.get("text"), args.get("parse_mode"), args.get("entities"))
    markup = parse_reply_markup(args)
    msg = get_message_for_edit(ctx, args)
    return apply_edit(ctx, msg, text, entities, markup)


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: Ctx, args: Args) -> JSON:
    markup = parse_reply_markup(args)
    msg = get_message_for_edit(ctx, args)
    return apply_edit(ctx, msg, msg.text, msg.entities, markup)


@api_method("deleteMessage")
async def delete_message(ctx: Ctx, args: Args) -> bool:
    if not args.get("chat_id").strip():
        raise bad_request("chat identifier is not specified")
    message_id = args.integer("message_id")
    if message_id <= 0:
        raise bad_request("message identifier is not specified")
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    msg = world.find_message(ctx.bot, chat_id, message_id)
    if msg is None or msg.deleted:
        raise bad_request("message to delete not found")
    if chat_id < 0:
        chat = chat_of(ctx, chat_id)
        own = msg.outgoing and msg.bot_id == ctx.bot.user.id
        may = world.has_right(chat, ctx.bot.user.id, "can_delete_messages") or (
            own and (chat.type != "channel" or world.has_right(chat, ctx.bot.user.id, "can_post_messages"))
        )
        if not may:
            raise bad_request("message can't be deleted")
    if world.now() - msg.date >= 48 * 3600:
        raise bad_request("message can't be deleted for everyone")
    msg.deleted = True
    msg.deleted_at = world.now()
    return True


@api_method("sendChatAction")
async def send_chat_action(ctx: Ctx, args: Args) -> bool:
    if not args.has("action"):
        raise bad_request('Parameter "action" is required')
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    return True


@api_method("answerCallbackQuery")
async def answer_callback_query(ctx: Ctx, args: Args) -> bool:
    query_id = args.get("callback_query_id").strip()
    query = ctx.bot.callback_queries.get(query_id)
    too_old = bad_request("query is too old and response timeout expired or query ID is invalid")
    if query is None or query.answered:
        raise too_old
    if time.monotonic() - query.created > ctx.world.config.callback_answer_timeout:
        raise too_old
    query.answered = True
    query.answer = {
        "text": args.get("text"),
        "show_alert": args.flag("show_alert"),
        "url": args.get("url"),
        "cache_time": args.integer("cache_time", 0, 0, 24 * 30 * 3600),
        "answered_at": time.time(),
    }
    return True
