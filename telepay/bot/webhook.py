"""telegram_webhook's logic: parse one update, handle it at most once, and route it to the feature
that owns it (one router per feature, as aiogram's routers): owners' commands and answers and their
buttons to `owners.commands`; `/start <token>`, tier and renew buttons, `/subscriptions` and `/help`
to `subscriptions.router`; the Donate button, `/start <token>_DONATE` and the keypad's keys to
`donations.router`; join requests and member changes to `subscriptions.membership`; the bot's own
memberships to `owners.bot_chats`; `/language` and its buttons, anyone's, to `bot.language`;
Telegram Stars' pre-checkout queries, payments and refunds to `payments.stars`; `/support`,
`/paysupport` and replies to a support thread to `support.threads`. Fast
work inline, slow work to Cloud Tasks. Each update is handled in its sender's language.

Outcomes: the update is handled (or was before), or it failed permanently (a `Permanent` error:
recorded in `failed_updates`, answered 200 so it never blocks the chat), or it failed transiently
(a `Transient` error, a busy claim included: answered 503 so Telegram re-delivers it).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import FailedUpdateDoc
from shared_schemas.ids import CALLBACK_LANGUAGE, StartKind, parse_callback, parse_start
from shared_schemas.names import ClaimPurpose
from shared_schemas.telegram import TelegramUpdate, TgCallbackQuery, TgMessage, TgUser
from telepay.bot import language
from telepay.core import i18n
from telepay.core.errors import Permanent, Transient
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.users import remember_language, remember_username
from telepay.donations import router as donations_router
from telepay.owners import commands as owner_commands
from telepay.payments import stars
from telepay.runtime import Runtime
from telepay.subscriptions import gifts, membership, promo_router
from telepay.subscriptions import router as subscriptions_router
from telepay.subscriptions import texts as subscriptions_texts
from telepay.support import threads as support  # -- support --

log = get_logger("telepay.webhook")
Rt = Runtime[TelegramWebhookSettings]
# The features' buttons, by prefix (each feature's router lists its own).
CALLBACKS = subscriptions_router.CALLBACKS | donations_router.CALLBACKS
# -- promo codes --
CALLBACKS |= promo_router.CALLBACKS
CALLBACKS |= support.CALLBACKS  # -- support --


def handle_update(raw: dict[str, object], rt: Rt) -> str:
    """Handle one update at most once. Returns a short outcome for logs and tests; a `Transient`
    error (a busy claim included) propagates so the entry point answers 503. Any other error, a
    defect included, is recorded in `failed_updates` and answered 200: one bad update never holds
    back the chat's later ones for Telegram's 24 hours of re-delivery."""
    try:
        update = TelegramUpdate.model_validate(raw)
    except ValidationError as error:
        # Unparseable: re-delivery would fail the same way, so never block the chat with it.
        update_id = raw.get("update_id")
        if isinstance(update_id, int):
            _record_failure(update_id, raw, f"unparseable: {error.error_count()} error(s)", rt)
        return "unparseable"
    keep = timedelta(hours=rt.settings.update_dedupe_hours)
    with rt.claims.hold(ClaimPurpose.UPDATE, str(update.update_id), keep_for=keep) as claim:
        if claim.done_before:
            return "duplicate (done)"
        try:
            claim.result = _route(update, rt)
        except Permanent as error:  # re-delivery would fail the same way
            _record_failure(update.update_id, raw, f"{type(error).__name__}: {error}", rt)
            claim.result = "failed permanently"
        except Transient:
            raise  # the entry point answers 503: Telegram delivers it again
        except Exception as error:  # a defect: answered 200 and kept, never re-delivered for 24 h
            log.error(
                "update failed with an unexpected error", exc_info=True, extra={"update_id": update.update_id}
            )
            _record_failure(update.update_id, raw, f"unexpected {type(error).__name__}: {error}", rt)
            claim.result = "failed permanently"
    return claim.result


def _record_failure(update_id: int, raw: dict[str, object], reason: str, rt: Rt) -> None:
    log.warning("update failed permanently: %s", reason, extra={"update_id": update_id})
    stored = _storable(raw)
    doc = FailedUpdateDoc(update_id=update_id, reason=reason, update=stored, recorded_at=rt.clock.now())
    rt.store.failed_updates.set(str(update_id), doc)


def _storable(value: Any) -> Any:
    """The update as Firestore can keep it: an array directly inside an array (an inline keyboard's
    rows) is kept as its JSON text."""
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json.dumps(item) if isinstance(item, list) else _storable(item) for item in value]
    return value


def _route(update: TelegramUpdate, rt: Rt) -> str:
    """The update, handled in the language of whoever sent it (remembered when it changed)."""
    sender = _sender(update)
    language = remember_language(rt.store, sender) if sender is not None else i18n.SOURCE
    if sender is not None:  # -- owner grants: `/grant @name` finds who spoke to the bot --
        remember_username(rt.store, sender)
    with i18n.speaking(language):
        return _handle(update, rt)


def _sender(update: TelegramUpdate) -> TgUser | None:
    if update.message is not None and update.message.chat.type == "private":
        return update.message.from_user
    if update.callback_query is not None:
        return update.callback_query.from_user
    if update.chat_join_request is not None:
        return update.chat_join_request.from_user
    if update.my_chat_member is not None:
        return update.my_chat_member.from_user
    if update.pre_checkout_query is not None:
        return update.pre_checkout_query.from_user
    return None  # a member joining or leaving: the update is not the member speaking


def _handle(update: TelegramUpdate, rt: Rt) -> str:
    if update.pre_checkout_query is not None:  # Telegram waits 10 seconds for the answer
        return stars.on_pre_checkout(update.pre_checkout_query, rt)
    if update.message is not None and update.message.successful_payment is not None:
        return stars.on_successful_payment(update.message, rt)
    if update.message is not None and update.message.refunded_payment is not None:
        return stars.on_refunded_payment(update.message, rt)
    if update.message is not None and update.message.text:
        return _on_message(update.message, update.update_id, rt)
    if update.message is not None and update.message.photo:  # -- announcements: an owner's photo --
        if update.message.chat.type != "private" or update.message.from_user is None:
            return "ignored (not a private chat)"
        return owner_commands.on_message(update.message, update.update_id, rt) or "ignored (a photo)"
    if update.callback_query is not None:
        return _on_callback(update.callback_query, update.update_id, rt)
    if update.chat_join_request is not None:
        return membership.on_join_request(update.chat_join_request, rt)
    if update.my_chat_member is not None:
        from telepay.owners.bot_chats import on_my_chat_member

        return on_my_chat_member(update.my_chat_member, rt)
    if update.chat_member is not None:
        return membership.on_chat_member(update.chat_member, rt)
    return "ignored"


# -- messages -----------------------------------------------------------------------------------
def _on_message(message: TgMessage, update_id: int, rt: Rt) -> str:
    if message.chat.type != "private" or message.from_user is None:
        return "ignored (not a private chat)"
    text = (message.text or "").strip()
    command, _, argument = text.partition(" ")
    command = command.split("@", 1)[0]
    argument = argument.strip()
    if command == "/language":  # anyone's, whatever conversation they are in
        return language.on_command(message, rt)
    # -- support --: /support, /paysupport (Telegram expects it of bots that take Stars), replies
    # to a thread's messages and the text a buyer was asked for, before the owners' answers
    supported = support.on_message(message, command, argument, update_id, rt)
    if supported is not None:
        return supported
    owners = owner_commands.on_message(message, update_id, rt)  # owners' commands and answers
    if owners is not None:
        return owners
    if command == "/start" and argument:
        link = parse_start(argument)
        start = donations_router.on_start if link.kind is StartKind.DONATE else subscriptions_router.on_start
        if link.kind is StartKind.GIFT:  # -- gifts --
            start = gifts.on_start
        if link.kind is StartKind.PROMO:  # -- promo codes --
            start = promo_router.on_start
        return start(link, message, rt)
    if not command.startswith("/"):  # -- promo codes --: the code a buyer was asked for
        typed = promo_router.on_text(message, rt)
        if typed is not None:
            return typed
    return subscriptions_router.on_message(message, command, rt)


# -- buttons ------------------------------------------------------------------------------------
def _on_callback(query: TgCallbackQuery, update_id: int, rt: Rt) -> str:
    prefix, parts = parse_callback(query.data or "")
    if prefix == CALLBACK_LANGUAGE:
        return language.on_callback(query, parts, update_id, rt)
    if prefix in owner_commands.CALLBACK_PREFIXES:
        return owner_commands.on_callback(query, prefix, parts, update_id, rt)
    route = CALLBACKS.get(prefix)
    if route is not None and len(parts) == route[0]:
        return route[1](query, parts, update_id, rt)
    rt.telegram.answer_callback_query(query.id, t(subscriptions_texts.BUTTON_GONE))
    return "unknown button"
