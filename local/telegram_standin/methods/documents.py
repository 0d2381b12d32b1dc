"""Files: sendDocument (a file uploaded as multipart/form-data), sendPhoto (a photo by the
``file_id`` of one the stand-in knows, a user's or one sent before, or uploaded), and the files the
bots sent.

As the Bot API: the ``document`` part is required (a ``file_id`` string or a URL is not supported
here: the stand-in has no file store to resend from, nor Internet); an empty file is refused
("file must be non-empty"), one over 50 MB answered 413 "Request Entity Too Large" (Telegram's
front end refuses the upload before the method runs); the caption is 0-1024 characters after
entity parsing ("message caption is too long"); the chat rules are sendMessage's. The bytes are
kept, so the control API can hand them back (``GET /_control/files/<file_id>``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import secrets

from .. import views
from ..botapi import Ctx, api_method, chat_of, check_chat, check_private_write, resolve_chat, take_slot
from ..formatting import format_text
from ..protocol import ApiError, Args, bad_request, utf16_len
from ..records import JSON
from .messages import parse_reply_markup

DOCUMENT_MAX_BYTES = 50 * 1024 * 1024  # "Bots can currently send files of any type of up to 50 MB"
CAPTION_MAX = 1024


def _caption(args: Args) -> tuple[str, list[JSON]]:
    """The caption and its entities; ("", []) when there is none (absent, or only spaces)."""
    raw = args.get("caption")
    if not raw.strip():
        return "", []
    try:
        text, entities = format_text(raw, args.get("parse_mode"), args.get("caption_entities"))
    except ApiError as error:
        if "message is too long" in error.description:
            raise bad_request("message caption is too long") from error
        if "text is empty" in error.description or "must be non-empty" in error.description:
            return "", []
        raise
    if utf16_len(text) > CAPTION_MAX:
        raise bad_request("message caption is too long")
    return text, entities


@api_method("sendDocument")
async def send_document(ctx: Ctx, args: Args) -> JSON:
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    else:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not world.has_right(chat, ctx.bot.user.id, "can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
    upload = args.files.get("document")
    if upload is None:
        if args.has("document"):
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request("there is no document in the request")
    content: bytes = upload.get("content") or b""
    if len(content) > DOCUMENT_MAX_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    if not content:
        raise bad_request("file must be non-empty")
    caption, entities = _caption(args)
    markup = parse_reply_markup(args)
    take_slot(ctx, chat_id, counts_globally=True)
    world.stats["sends"] += 1
    name = str(upload.get("filename") or "document")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    unique = hashlib.sha256(content).hexdigest()[:16]
    file_id = f"BQAC{secrets.token_urlsafe(24)}"
    document = {
        "file_name": name,
        "mime_type": mime,
        "file_id": file_id,
        "file_unique_id": f"AgAD{unique}",
        "file_size": len(content),
    }
    world.files[file_id] = {**document, "content": content, "chat_id": chat_id}
    service: JSON = {"document": document}
    return _sent_media(ctx, args, chat_id, service, caption, entities, markup)


PHOTO_MAX_BYTES = 10 * 1024 * 1024  # "The photo must be at most 10 MB in size"


def _photo_sizes(file_id: str, unique: str) -> list[JSON]:
    """The sizes Telegram makes of a photo, the largest last (the largest keeps the file id sent)."""
    return [
        {
            "file_id": f"{file_id}-s",
            "file_unique_id": f"{unique}-s",
            "width": 90,
            "height": 90,
            "file_size": 1200,
        },
        {"file_id": file_id, "file_unique_id": unique, "width": 800, "height": 800, "file_size": 48000},
    ]


@api_method("sendPhoto")
async def send_photo(ctx: Ctx, args: Args) -> JSON:
    """As the Bot API: ``photo`` is the file_id of a photo Telegram has (here: one a user sent or
    a bot sent before; a URL is not supported without Internet) or an upload (at most 10 MB); the
    caption is 0-1024 characters after entity parsing, its ``caption_entities`` checked like
    sendMessage's ``entities``."""
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    else:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not world.has_right(chat, ctx.bot.user.id, "can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
    upload = args.files.get("photo")
    if upload is not None:
        content: bytes = upload.get("content") or b""
        if len(content) > PHOTO_MAX_BYTES:
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        if not content:
            raise bad_request("file must be non-empty")
        file_id = f"AgAC{secrets.token_urlsafe(24)}"
        unique = f"AQAD{hashlib.sha256(content).hexdigest()[:16]}"
        world.files[file_id] = {
            "file_id": file_id,
            "file_unique_id": unique,
            "photo": True,
            "content": content,
        }
    else:
        file_id = args.get("photo").strip()
        if not file_id:
            raise bad_request("there is no photo in the request")
        known = world.files.get(file_id)
        if known is None or not known.get("photo"):
            raise bad_request("wrong file identifier/HTTP URL specified")
        unique = str(known["file_unique_id"])
    caption, entities = _caption(args)
    markup = parse_reply_markup(args)
    take_slot(ctx, chat_id, counts_globally=True)
    world.stats["sends"] += 1
    service: JSON = {"photo": _photo_sizes(file_id, unique)}
    return _sent_media(ctx, args, chat_id, service, caption, entities, markup)


def _sent_media(
    ctx: Ctx,
    args: Args,
    chat_id: int,
    service: JSON,
    caption: str,
    entities: list[JSON],
    markup: JSON | None,
) -> JSON:
    """The bot's message carrying a document or a photo (`service`), with its caption, as Telegram
    answers sendDocument and sendPhoto."""
    world = ctx.world
    if caption:
        service["caption"] = caption
        if entities:
            service["caption_entities"] = entities
    is_channel = chat_id < 0 and world.chats[chat_id].type == "channel"
    msg = world.new_message(
        ctx.bot,
        chat_id,
        caption,
        entities,
        from_id=None if is_channel else ctx.bot.user.id,
        sender_chat_id=chat_id if is_channel else None,
        outgoing=True,
        reply_markup=markup,
        protect_content=args.flag("protect_content"),
        service=service,
    )
    return views.message_json(world, msg, ctx.bot)
