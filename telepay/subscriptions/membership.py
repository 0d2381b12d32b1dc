"""Who is in a closed channel, and a way back in for subscribers who are not.

A join request is approved only for a user with an active subscription to that channel (a
forwarded link is useless to anyone else), and declined with a word to the user otherwise.

`chat_member` updates (members joining, leaving, removed) keep `in_channel` of the subscription
true to Telegram, in Telegram's order (an older update never overwrites a newer one). A subscriber
whose join link expired unused, or who left, asks again with `/start <token>` or `/subscriptions`
and gets a Join button: access they paid for is never out of reach. Showing the button makes no
link; tapping it does (`on_join`), for the presser's own subscription if it is active then.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, SubscriptionDoc, SubscriptionStatus, firestore_value
from shared_schemas.ids import (
    CALLBACK_SUBSCRIPTIONS_PAGE,
    join_callback,
    page_callback,
    star_renewal_callback,
    subscription_id,
)
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import SUBSCRIPTIONS_OF_CHANNEL, SUBSCRIPTIONS_OF_USER
from shared_schemas.telegram import Button, TgChatJoinRequest, TgChatMemberUpdated
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels import paging
from telepay.channels.lookup import channel_by_closed_chat, load_channel, load_subscription
from telepay.channels.notices import notify_owner_once
from telepay.core.clock import Clock
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx, array_union
from telepay.runtime import Runtime
from telepay.subscriptions import gift_texts, texts
from telepay.subscriptions.access import reused_join_link
from telepay.subscriptions.gifts import unredeemed_lines

log = get_logger("telepay.webhook")
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
    rt.telegram.send_message(chat_id, text, keyboard=[[join]] if join else None)
    return "subscription shown"


def list_subscriptions(rt: Rt, user_id: int, number: int = 0, message_id: int | None = None) -> str:
    """`/subscriptions` (page `number` of it, in place of `message_id` when a page button was
    pressed): the presser's subscriptions, latest end first, with a Join button for each active one
    they are not in. Listing makes no join link: the button makes it when tapped (`on_join`)."""
    subs = [
        stored.doc
        for page in rt.store.subscriptions.pages(SUBSCRIPTIONS_OF_USER, user_id=user_id)
        for stored in page
    ]
    gifts = unredeemed_lines(rt, user_id) if number == 0 else []  # -- gifts --
    if not subs and not gifts:
        rt.telegram.send_message(user_id, t(texts.NO_SUBSCRIPTIONS))
        return "no subscriptions"
    subs.sort(key=lambda s: (s.expires_at, s.channel_token), reverse=True)
    shown = paging.page_of(subs, number)
    lines, rows = [], []
    for sub in shown.items:
        channel = load_channel(rt.store, sub.channel_token)
        if channel is None:
            continue
        lines.append(texts.subscription_line(channel.title, sub.expires_at, active(sub, rt)))
        renewal = _renewal_line_and_button(rt, channel, sub)
        if renewal is not None:
            lines.append(renewal[0])
            if renewal[1] is not None:
                rows.append([renewal[1]])
        join = _join_button(rt, channel, sub)
        if join is not None:
            rows.append([join])
    more = paging.page_buttons(shown, lambda n: page_callback(CALLBACK_SUBSCRIPTIONS_PAGE, n))
    if gifts:
        lines += ["", t(gift_texts.GIFTS_HEADER), *gifts]
    text = paging.page_text(shown, lines, header=t(texts.SUBSCRIPTIONS_HEADER), separator="\n")
    paging.show_page(rt, user_id, message_id, text, [*rows, more] if more else rows or None)
    if message_id is None:
        return f"{len(subs)} subscription(s) listed" + (f", {len(gifts)} gift(s)" if gifts else "")
    return f"subscriptions page {shown.number + 1}"


def _renewal_line_and_button(
    rt: Rt, channel: ChannelDoc, sub: SubscriptionDoc
) -> tuple[str, Button | None] | None:
    """A Star subscription still running: whether Telegram renews it, and the button to stop that."""
    renewal = sub.star_renewal
    if renewal is None or not active(sub, rt) or renewal.period_end <= rt.clock.now():
        return None
    if renewal.canceled:  # the buyer turns it back on in Telegram (Settings, My Stars), not here
        return texts.renewal_off_line(renewal.period_end), None
    line = texts.renewal_on_line(renewal.period_end, Decimal(renewal.stars))
    return line, Button(texts.renewal_off_button(), callback_data=star_renewal_callback(channel.token, False))


def on_star_renewal(rt: Rt, user_id: int, token: str, on: bool, query_id: str) -> str:
    """The buyer stops Telegram's renewal of their Star subscription (the days paid for stay); `on`
    lifts the bot's cancellation (Telegram then lets the buyer turn it back on in the app). Telegram
    is told first: only what it accepted is recorded."""
    channel = load_channel(rt.store, token)
    sub = load_subscription(rt.store, token, user_id) if channel else None
    renewal = sub.star_renewal if sub else None
    if channel is None or sub is None or renewal is None or renewal.period_end <= rt.clock.now():
        rt.telegram.answer_callback_query(query_id, t(texts.BUTTON_GONE), alert=True)
        return "no Star subscription"
    if renewal.canceled != (not on):
        try:
            rt.telegram.edit_user_star_subscription(user_id, renewal.charge_id, canceled=not on)
        except TelegramBadRequest as error:
            log.warning("Telegram refused the renewal change: %s", error, extra={"user_id": user_id})
            rt.telegram.answer_callback_query(query_id, t(texts.RENEWAL_REFUSED), alert=True)
            return "renewal change refused by Telegram"
        rt.store.subscriptions.update(
            subscription_id(token, user_id),
            {
                "star_renewal": firestore_value(
                    renewal.model_copy(update={"canceled": not on}).model_dump(mode="python")
                ),
                "next_action_at": rt.clock.now(),
                "updated_at": rt.clock.now(),
            },
        )
    # Said again when it was done already: a re-delivered press whose confirmation Telegram refused
    # (429) gets it now.
    rt.telegram.answer_callback_query(query_id)
    text = (
        texts.renewal_restarted(channel.title, renewal.period_end)
        if on
        else texts.renewal_stopped(channel.title, sub.expires_at)
    )
    rt.telegram.send_message(user_id, text)
    return "renewal on" if on else "renewal off"


def _join_button(rt: Rt, channel: ChannelDoc, sub: SubscriptionDoc) -> Button | None:
    """A Join button for an active subscriber who is not in the channel; its link is made when
    it is tapped."""
    if sub.in_channel or not active(sub, rt):
        return None
    return Button(texts.join_button(channel.title), callback_data=join_callback(channel.token))


def on_join(rt: Rt, user_id: int, token: str, query_id: str) -> str:
    """The Join button: a join link for the presser's own subscription, if it is active now. The
    link is reused for half its lifetime (a second tap makes none), so it is always good for at
    least that long when it is handed over."""
    channel = load_channel(rt.store, token)
    sub = load_subscription(rt.store, token, user_id) if channel else None
    if channel is None or sub is None or not active(sub, rt):
        rt.telegram.answer_callback_query(query_id, t(texts.JOIN_NOT_ACTIVE), alert=True)
        return "join refused (no active subscription)"
    link = _reused_join_link(rt, channel, sub)
    if link is None:
        rt.telegram.answer_callback_query(query_id, t(texts.JOIN_UNAVAILABLE), alert=True)
        return "join link unavailable"
    rt.telegram.answer_callback_query(query_id)
    keyboard = [[Button(texts.join_button(channel.title), url=link)]]
    rt.telegram.send_message(user_id, texts.join_link_ready(channel.title), keyboard=keyboard)
    return "join link sent"


def _reused_join_link(rt: Rt, channel: ChannelDoc, sub: SubscriptionDoc) -> str | None:
    lifetime = timedelta(hours=rt.settings.invite_link_hours)
    window = int(rt.clock.now().timestamp() // (lifetime.total_seconds() / 2))
    # By chat too: after the owner moves the closed chat, a link to the old one is never handed out.
    key = f"{subscription_id(channel.token, sub.user_id)}:{channel.closed_channel_id}:{window}"
    try:
        return reused_join_link(rt, key, channel.closed_channel_id, f"again {sub.user_id}", keep_for=lifetime)
    except (TelegramBadRequest, TelegramForbidden) as error:  # the link's record is gone with it
        rt.store.channels.update(channel.token, {"bot_rights_problem": str(error)})
        problem = str(error)
        notify_owner_once(
            rt, ClaimPurpose.RIGHTS_NOTICE, channel, lambda: texts.access_blocked(channel.title, problem)
        )
        return None


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
            subscription_id(channel.token, user_id),
            {"in_channel": True, "joined_chats": array_union(request.chat.id), "updated_at": now},
        )
        return "join approved"
    # Told first: while the request is pending the bot may write to them even if they never
    # started it (a stranger with a forwarded link).
    with contextlib.suppress(TelegramForbidden, TelegramBadRequest):
        rt.telegram.send_message(request.user_chat_id or user_id, t(texts.JOIN_DECLINED))
    rt.telegram.decline_join_request(request.chat.id, user_id)
    return "join declined"


def move_members(store: Store, clock: Clock, token: str, closed_chat_id: int) -> int:
    """After the owner moved the channel's closed chat: every active subscription moves with it
    (its access, its join links and its removal are the new chat's), and the next sweep sends each
    member a Join button for it (`moved_from_chat`). A member in the old chat stays listed there
    (`joined_chats`), so the removal at expiry removes them from it too. How many moved; running
    it again moves none twice."""
    now, moved = clock.now(), 0
    for page in store.subscriptions.pages(
        SUBSCRIPTIONS_OF_CHANNEL, channel_token=token, status=SubscriptionStatus.ACTIVE
    ):
        with store.batch() as batch:
            for stored in page:
                sub = stored.doc
                if sub.closed_channel_id == closed_chat_id:
                    continue
                fields: dict[str, object] = {
                    "closed_channel_id": closed_chat_id,
                    "moved_from_chat": sub.closed_channel_id,
                    "in_channel": False,
                    "next_action_at": now,
                    "updated_at": now,
                }
                if sub.in_channel:  # approved before `joined_chats` was kept: the old chat is theirs
                    fields["joined_chats"] = array_union(sub.closed_channel_id)
                batch.update(store.subscriptions, stored.id, fields)
                moved += 1
    return moved
