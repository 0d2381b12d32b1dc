"""Who is in a closed channel, and a way back in for subscribers who are not.

A join request is approved only for a user with an active subscription to that channel (a
forwarded link is useless to anyone else), and declined with a word to the user otherwise.

`chat_member` updates (members joining, leaving, removed) keep `in_channel` of the subscription
true to Telegram, in Telegram's order (an older update never overwrites a newer one). A subscriber
whose join link expired unused, or who left, asks again with `/start <token>` or `/subscriptions`
and gets a fresh Join button: access they paid for is never out of reach.
"""

from __future__ import annotations

import contextlib

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import subscription_id
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import SUBSCRIPTIONS_OF_USER
from shared_schemas.telegram import Button, TgChatJoinRequest, TgChatMemberUpdated
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels.lookup import channel_by_closed_chat, load_channel, load_subscription
from telepay.channels.notices import notify_owner_once
from telepay.core.store import Tx
from telepay.runtime import Runtime
from telepay.subscriptions import texts
from telepay.subscriptions.access import join_link

Rt = Runtime[TelegramWebhookSettings]
IN_CHANNEL = frozenset({"creator", "administrator", "member", "restricted"})


def on_chat_member(update: TgChatMemberUpdated, rt: Rt) -> str:
    channel = channel_by_closed_chat(rt.store, update.chat.id)
    if channel is None:
        return "ignored (not a closed channel)"
    user_id = update.new_chat_member.user.id
    sub_id = subscription_id(channel.token, user_id)
    inside = update.new_chat_member.status in IN_CHANNEL
    subscriptions = rt.store.subscriptions

    def record(tx: Tx) -> str:
        sub = tx.get(subscriptions, sub_id)
        if sub is None:
            return "no subscription"
        if update.date < sub.membership_date:
            return "older change ignored"
        tx.update(subscriptions, sub_id, {"in_channel": inside, "membership_date": update.date})
        return "joined" if inside else "left"

    return f"member {rt.store.transaction(record)}"


def active(sub: SubscriptionDoc, rt: Rt) -> bool:
    return sub.status is SubscriptionStatus.ACTIVE and sub.expires_at > rt.clock.now()


def show_subscription(rt: Rt, chat_id: int, channel: ChannelDoc, sub: SubscriptionDoc) -> str:
    """`/start <token>` by a subscriber: their end date, and a Join button if they are not in (the
    offer follows, to renew)."""
    join = _join_button(rt, channel, sub)
    text = texts.subscribed(channel.title, sub.expires_at, sub.in_channel)
    if not sub.in_channel and join is None:
        text += "\n\n" + texts.JOIN_UNAVAILABLE
    rt.telegram.send_message(chat_id, text, keyboard=[[join]] if join else None)
    return "subscription shown"


def list_subscriptions(rt: Rt, chat_id: int, user_id: int) -> str:
    subs = rt.store.subscriptions.find(SUBSCRIPTIONS_OF_USER, limit=50, user_id=user_id)
    if not subs:
        rt.telegram.send_message(chat_id, texts.NO_SUBSCRIPTIONS)
        return "no subscriptions"
    lines, rows = [texts.SUBSCRIPTIONS_HEADER], []
    for sub in sorted(subs, key=lambda s: s.expires_at, reverse=True):
        channel = load_channel(rt.store, sub.channel_token)
        if channel is None:
            continue
        lines.append(texts.subscription_line(channel.title, sub.expires_at, active(sub, rt)))
        join = _join_button(rt, channel, sub)
        if join is not None:
            rows.append([join])
    rt.telegram.send_message(chat_id, "\n".join(lines), keyboard=rows or None)
    return f"{len(subs)} subscription(s) listed"


def _join_button(rt: Rt, channel: ChannelDoc, sub: SubscriptionDoc) -> Button | None:
    """A fresh Join button for an active subscriber who is not in the channel."""
    if sub.in_channel or not active(sub, rt):
        return None
    try:
        link = join_link(rt, channel.closed_channel_id, f"again {sub.user_id}")
    except (TelegramBadRequest, TelegramForbidden) as error:
        rt.store.channels.update(channel.token, {"bot_rights_problem": str(error)})
        notify_owner_once(
            rt, ClaimPurpose.RIGHTS_NOTICE, channel, texts.access_blocked(channel.title, str(error))
        )
        return None
    return Button(texts.join_button(channel.title), url=link)


def on_join_request(request: TgChatJoinRequest, rt: Rt) -> str:
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
