"""telegram_webhook's logic: route one parsed update. Fast work inline, slow work to Cloud Tasks.

Outcomes: the update is handled (or was before), or it failed permanently (a `Permanent` error:
recorded in `failed_updates`, answered 200 so it never blocks the chat), or it failed transiently
(a `Transient` error, a busy claim included: answered 503 so Telegram re-delivers it).
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, ChannelStatus, FailedUpdateDoc, SubscriptionStatus
from shared_schemas.ids import (
    CALLBACK_BUY,
    CALLBACK_DONATE,
    CALLBACK_KEYPAD,
    CALLBACK_OWNER,
    CALLBACK_PAUSE,
    CALLBACK_RENEW,
    CALLBACK_RESUME,
    OrderKind,
    StartKind,
    buy_callback,
    donate_callback,
    parse_callback,
    parse_start,
    subscription_id,
    subscription_order_id,
)
from shared_schemas.names import ClaimPurpose, Queue
from shared_schemas.tasks import CreateInvoiceTask, KeypadAction, KeypadTask
from shared_schemas.telegram import (
    Button,
    TelegramUpdate,
    TgCallbackQuery,
    TgChatJoinRequest,
    TgMessage,
    TgUser,
)
from telepay.adapters.tasks_queue import enqueue_once
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels.lookup import channel_by_closed_chat, load_channel, load_subscription
from telepay.core.errors import Permanent
from telepay.core.logs import get_logger
from telepay.donations.keypad import new_session_id
from telepay.donations.keypad_rules import AMOUNT_LINE_PREFIX
from telepay.owners import commands as owner_commands
from telepay.runtime import Runtime
from telepay.subscriptions import membership, texts

log = get_logger("telepay.webhook")
Rt = Runtime[TelegramWebhookSettings]
OWNER_CALLBACKS = (CALLBACK_OWNER, CALLBACK_PAUSE, CALLBACK_RESUME)


def handle_update(raw: dict[str, object], rt: Rt) -> str:
    """Handle one update at most once. Returns a short outcome for logs and tests; a `Transient`
    error (a busy claim included) propagates so the entry point answers 503."""
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
    if update.message is not None and update.message.text:
        return _on_message(update.message, update.update_id, rt)
    if update.callback_query is not None:
        return _on_callback(update.callback_query, update.update_id, rt)
    if update.chat_join_request is not None:
        return _on_join_request(update.chat_join_request, rt)
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
    owners = owner_commands.on_message(message, update_id, rt)  # owners' commands and answers
    if owners is not None:
        return owners
    text = (message.text or "").strip()
    command, _, argument = text.partition(" ")
    command = command.split("@", 1)[0]
    if command == "/broadcast":
        from telepay.subscriptions.broadcast import owner_repost

        rt.telegram.send_message(message.chat.id, owner_repost(rt, message.from_user.id, message.message_id))
        return "broadcast requested"
    if command == "/subscriptions":
        return membership.list_subscriptions(rt, message.chat.id, message.from_user.id)
    if command != "/start":
        if command in {"/help"} or not command.startswith("/"):
            rt.telegram.send_message(message.chat.id, texts.WELCOME)
            return "help"
        return "ignored (unknown command)"
    argument = argument.strip()
    if not argument:
        rt.telegram.send_message(message.chat.id, texts.WELCOME)
        return "welcome"
    link = parse_start(argument)
    task_key = f"start-{message.chat.id}-{message.message_id}"
    if link.kind is StartKind.DONATE:
        return _open_keypad(link.channel_token, message.from_user, message.chat.id, task_key, rt)
    if link.kind is StartKind.TIER and link.tier_id:  # a tier's button under the offer post
        return _buy(rt, message.from_user, message.chat.id, link.channel_token, link.tier_id, task_key, None)
    channel = load_channel(rt.store, link.channel_token)
    sub = load_subscription(rt.store, link.channel_token, message.from_user.id) if channel else None
    if channel is not None and sub is not None and membership.active(sub, rt):
        shown = membership.show_subscription(rt, message.chat.id, channel, sub)
        return f"{shown}; {show_offer(link.channel_token, message.chat.id, rt, first_tier=sub.tier_id)}"
    return show_offer(link.channel_token, message.chat.id, rt)


def show_offer(token: str, chat_id: int, rt: Rt, first_tier: str | None = None) -> str:
    channel = load_channel(rt.store, token)
    if channel is None:
        rt.telegram.send_message(chat_id, texts.UNKNOWN_OFFER)
        return "unknown offer"
    if channel.status is not ChannelStatus.ACTIVE:
        rt.telegram.send_message(chat_id, texts.PAUSED_OFFER)
        return "paused offer"
    rt.telegram.send_message(chat_id, texts.offer(channel), keyboard=offer_keyboard(channel, first_tier))
    return "offer shown"


def offer_keyboard(channel: ChannelDoc, first_tier: str | None = None) -> list[list[Button]]:
    tiers = sorted(channel.tiers, key=lambda t: (t.tier_id != first_tier, t.tier_id))
    rows = [
        [Button(texts.tier_button(t, channel.currency), callback_data=buy_callback(channel.token, t.tier_id))]
        for t in tiers
    ]
    rows.append([Button(texts.DONATE_BUTTON, callback_data=donate_callback(channel.token))])
    return rows


# -- buttons ------------------------------------------------------------------------------------
def _on_callback(query: TgCallbackQuery, update_id: int, rt: Rt) -> str:
    prefix, parts = parse_callback(query.data or "")
    if prefix in OWNER_CALLBACKS:
        return owner_commands.on_callback(query, prefix, parts, update_id, rt)
    chat_id = query.message.chat.id if query.message else query.from_user.id
    if prefix == CALLBACK_BUY and len(parts) == 2:
        token, tier_id = parts
        return _buy(rt, query.from_user, chat_id, token, tier_id, f"buy-{query.id}", query.id)
    if prefix == CALLBACK_RENEW and len(parts) == 2:
        token, tier_id = parts
        rt.telegram.answer_callback_query(query.id)
        return show_offer(token, chat_id, rt, first_tier=tier_id or None)
    if prefix == CALLBACK_DONATE and len(parts) == 1:
        return _open_keypad(parts[0], query.from_user, chat_id, f"cq-{query.id}", rt, query.id)
    if prefix == CALLBACK_KEYPAD and len(parts) == 2:
        session_id, key = parts
        payload = KeypadTask(
            action=KeypadAction.PRESS,
            user_id=query.from_user.id,
            chat_id=chat_id,
            channel_token="",
            session_id=session_id,
            key=key,
            callback_query_id=query.id,
            message_id=query.message.message_id if query.message else None,
            update_id=update_id,
            shown_amount=_amount_line(query.message.text if query.message else None),
        )
        _enqueue(rt, Queue.KEYPAD, rt.settings.keypad_url, payload, f"press-{query.id}")
        return "keypad press queued"
    rt.telegram.answer_callback_query(query.id, "This button no longer works.")
    return "unknown button"


def display_name(user: TgUser) -> str:
    return f"{user.first_name} (@{user.username})" if user.username else user.first_name


def _buy(
    rt: Rt, user: TgUser, chat_id: int, token: str, tier_id: str, task_key: str, query_id: str | None
) -> str:
    user_id = user.id
    channel = load_channel(rt.store, token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE or channel.tier(tier_id) is None:
        if query_id:
            rt.telegram.answer_callback_query(query_id, texts.OFFER_CHANGED, alert=True)
        else:
            rt.telegram.send_message(chat_id, texts.UNKNOWN_OFFER if channel is None else texts.OFFER_CHANGED)
        return "stale offer"
    # The order id is chosen here, so a retried task or a re-delivered update reuses it.
    order_id = subscription_order_id(token, user_id, tier_id)
    payload = CreateInvoiceTask(
        order_id=order_id,
        user_id=user_id,
        chat_id=chat_id,
        channel_token=token,
        kind=OrderKind.SUBSCRIPTION,
        tier_id=tier_id,
        buyer_name=display_name(user)[:80],
    )
    _enqueue(rt, Queue.CREATE_INVOICE, rt.settings.create_invoice_url, payload, task_key)
    if query_id:
        rt.telegram.answer_callback_query(query_id, texts.PREPARING_INVOICE)
    return "invoice queued"


def _amount_line(text: str | None) -> str | None:
    """The keypad's amount line as the donor saw it (for Confirm to check, never to use)."""
    line = next((line for line in (text or "").splitlines() if line.startswith(AMOUNT_LINE_PREFIX)), None)
    return line[:80] if line else None


def _open_keypad(
    token: str, user: TgUser, chat_id: int, task_key: str, rt: Rt, query_id: str | None = None
) -> str:
    channel = load_channel(rt.store, token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        if query_id:
            rt.telegram.answer_callback_query(query_id, texts.UNKNOWN_OFFER, alert=True)
        else:
            rt.telegram.send_message(chat_id, texts.UNKNOWN_OFFER)
        return "unknown offer"
    payload = KeypadTask(
        action=KeypadAction.OPEN,
        user_id=user.id,
        user_name=display_name(user)[:80],
        chat_id=chat_id,
        channel_token=token,
        # Chosen here, so a re-run of the task opens the same session instead of a second one.
        session_id=new_session_id(),
        callback_query_id=query_id,
    )
    _enqueue(rt, Queue.KEYPAD, rt.settings.keypad_url, payload, f"open-{task_key}")
    return "keypad queued"


def _enqueue(rt: Rt, queue: Queue, url: str, payload: BaseModel, name: str) -> None:
    if not enqueue_once(rt.tasks, queue, url, payload, name):  # TasksUnavailable is Transient
        log.info("task %s already queued", name)


# -- join requests --------------------------------------------------------------------------------
def _on_join_request(request: TgChatJoinRequest, rt: Rt) -> str:
    """Approve only a user with an active subscription to this channel: a forwarded link is useless."""
    user_id = request.from_user.id
    channel = channel_by_closed_chat(rt.store, request.chat.id)
    subscription = load_subscription(rt.store, channel.token, user_id) if channel else None
    now = rt.clock.now()
    if (
        channel is not None
        and subscription is not None
        and subscription.status is SubscriptionStatus.ACTIVE
        and subscription.expires_at > now
    ):
        rt.telegram.approve_join_request(request.chat.id, user_id)
        rt.store.subscriptions.update(
            subscription_id(channel.token, user_id), {"in_channel": True, "updated_at": now}
        )
        return "join approved"
    # Told first: while the request is pending the bot may write to them even if they never
    # started it (a stranger with a forwarded link).
    with contextlib.suppress(TelegramForbidden, TelegramBadRequest):
        rt.telegram.send_message(request.user_chat_id or user_id, texts.JOIN_DECLINED)
    rt.telegram.decline_join_request(request.chat.id, user_id)
    return "join declined"
