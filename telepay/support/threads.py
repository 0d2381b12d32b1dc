"""Support threads in the bot: `/support` (and `/paysupport`, and the Help button under receipts
and reminders) asks which channel (buttons of the channels the buyer has a subscription or an order
with; one is taken as it is; none gets a kind answer), then waits for "what went wrong" (the
buyer's next text, for `rules.DRAFT_LIFETIME`; `/cancel` stops). The thread is kept
(`support_threads`) and the owner gets a card in their private chat: the buyer, their subscription
and last orders, the text, "Reply to this message to answer". Each side answers by replying to the
bot's last message of the thread (`support_replies` maps a bot message to its thread); either may
press Close, and the other is told. A reply to a closed thread's message is told so.

The buyer's wait is a conversation document (`conversations/<user id>:support`), apart from the
owners' conversations: any other command drops it. Each message passed on is claimed by update id
and recipient, and each thread is named by the update that opened it, so a re-delivered update
opens, adds and sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from shared_schemas.documents import (
    SUPPORT_REPLY_RETENTION,
    ChannelDoc,
    ConversationDoc,
    PaySupportDoc,
    SubscriptionStatus,
    SupportReplyDoc,
    SupportSide,
    SupportStatus,
    SupportThreadDoc,
)
from shared_schemas.ids import (
    CALLBACK_SUPPORT,
    CALLBACK_SUPPORT_CLOSE,
    support_callback,
    support_close_callback,
    support_reply_id,
    support_thread_id,
)
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import ORDERS_OF_BUYER, SUBSCRIPTIONS_OF_USER
from shared_schemas.telegram import Button, TgCallbackQuery, TgMessage, TgUser
from telepay.adapters.telegram_api import TelegramForbidden
from telepay.channels.lookup import load_channel, load_subscription
from telepay.channels.notices import send_waiting, tell_once
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.core.users import display_name, mark_blocked, speaking_to
from telepay.runtime import Runtime
from telepay.support import rules
from telepay.support import texts as say

log = get_logger("telepay.support")
Rt = Runtime[Any]
DRAFT = "support"  # conversations/<user id>:support
COMMANDS = ("/support", "/paysupport")


def _send(rt: Rt, chat_id: int, text: str, keyboard: list[list[Button]] | None = None) -> Any:
    """Send, honouring Telegram's short retry_after in place (two messages in one chat within a
    second are common here); a long one goes back to Telegram's re-delivery."""
    return send_waiting(rt, chat_id, text, keyboard)


# -- the buyer's wait for "what went wrong" -------------------------------------------------------
def _draft_id(user_id: int) -> str:
    return f"{user_id}:{DRAFT}"


def _active_draft(rt: Rt, user_id: int) -> ConversationDoc | None:
    draft = rt.store.conversations.get(_draft_id(user_id))
    if draft is None or draft.step not in ("channel", "write"):
        return None
    return draft


def _set_draft(rt: Rt, user_id: int, step: str, data: dict[str, Any], update_id: int) -> None:
    now = rt.clock.now()
    current = rt.store.conversations.get(_draft_id(user_id))
    rt.store.conversations.set(
        _draft_id(user_id),
        ConversationDoc(
            user_id=user_id,
            name=DRAFT,
            version=(current.version if current else 0) + 1,
            step=step,
            data=data,
            last_update_id=update_id,
            updated_at=now,
            expire_at=now + rules.DRAFT_LIFETIME,
        ),
    )


def _end_draft(rt: Rt, user_id: int, step: str) -> None:
    rt.store.conversations.update(_draft_id(user_id), {"step": step, "updated_at": rt.clock.now()})


# -- who the buyer may write to ----------------------------------------------------------------------
def buyer_channels(rt: Rt, user_id: int) -> list[ChannelDoc]:
    """The channels the buyer has a subscription or an order with (at most `rules.CHANNELS_MAX`)."""
    tokens = [s.channel_token for s in rt.store.subscriptions.find(SUBSCRIPTIONS_OF_USER, user_id=user_id)]
    tokens += [o.channel_token for o in rt.store.orders.find(ORDERS_OF_BUYER, user_id=user_id)]
    channels = [load_channel(rt.store, token) for token in rules.channels_of(tokens)]
    return [c for c in channels if c is not None]


# -- entry points from the webhook ---------------------------------------------------------------
def on_message(message: TgMessage, command: str, argument: str, update_id: int, rt: Rt) -> str | None:
    """`/support`, `/paysupport`, a reply to a thread's message, or the text the buyer was asked
    for; None when it is none of these (the update goes on to the other features)."""
    assert message.from_user is not None
    user = message.from_user
    command = command if command.startswith("/") else ""  # the webhook's first word of any text
    if command in COMMANDS:
        return start(rt, user, update_id, origin=command[1:], text=rules.clean_text(argument))
    reply = message.reply_to_message
    if reply is not None and not command:
        mapped = rt.store.support_replies.get(support_reply_id(message.chat.id, reply.message_id))
        if mapped is not None:
            return _on_reply(rt, message, mapped, update_id)
    draft = _active_draft(rt, user.id)
    if draft is None:
        return None
    if draft.last_update_id >= update_id:
        return None  # an older update than the one that started the wait
    if draft.expire_at <= rt.clock.now():
        _end_draft(rt, user.id, "expired")
        if command:
            return None
        _send(rt, user.id, t(say.EXPIRED))
        return "support: wait expired"
    if command == "/cancel":
        _end_draft(rt, user.id, "cancelled")
        _send(rt, user.id, t(say.CANCELLED))
        return "support cancelled"
    if command:  # another command: the buyer moved on
        _end_draft(rt, user.id, "cancelled")
        return None
    if draft.step == "channel":
        return _ask_channel(rt, user.id, buyer_channels(rt, user.id))
    channel = load_channel(rt.store, str(draft.data.get("token")))
    text = rules.clean_text(message.text)
    if channel is None or not text:
        _send(rt, user.id, t(say.TEXT_ONLY))
        return "support: no text"
    opened = open_thread(rt, user, channel, str(draft.data.get("origin") or "support"), text, update_id)
    _end_draft(rt, user.id, "done")  # after: a re-delivery of a failed attempt finds the wait still on
    return opened


def start(rt: Rt, user: TgUser, update_id: int, origin: str, text: str = "", token: str | None = None) -> str:
    """Open the conversation: about `token` (the Help button, or the channel chosen), else the
    buyer's only channel, else a question which; with `text` given (`/paysupport <text>`) the
    thread opens at once."""
    if origin == "paysupport":  # Telegram asks bots that take Stars to answer it: kept for the operator
        _record_paysupport(rt, user.id, text, update_id)
    channels = buyer_channels(rt, user.id)
    chosen = [c for c in channels if c.token == token] if token else []
    channels = chosen or channels
    if not channels:
        if origin == "paysupport":
            _send(rt, user.id, t(say.PAYSUPPORT_NO_CHANNELS if text else say.PAYSUPPORT_HOW))
        else:
            _send(rt, user.id, t(say.NO_CHANNELS))
        return "support: no channels"
    if len(channels) > 1:
        _set_draft(rt, user.id, "channel", {"origin": origin, "text": text}, update_id)
        return _ask_channel(rt, user.id, channels)
    channel = channels[0]
    if text:
        _set_draft(rt, user.id, "done", {"origin": origin, "token": channel.token}, update_id)
        return open_thread(rt, user, channel, origin, text, update_id)
    _set_draft(rt, user.id, "write", {"origin": origin, "token": channel.token}, update_id)
    _send(rt, user.id, say.ask_text(channel.title))
    return "support: asked what went wrong"


def _ask_channel(rt: Rt, user_id: int, channels: list[ChannelDoc]) -> str:
    keyboard = [[Button(c.title, callback_data=support_callback(c.token))] for c in channels]
    _send(rt, user_id, t(say.WHICH_CHANNEL), keyboard=keyboard)
    return "support: asked which channel"


def _record_paysupport(rt: Rt, user_id: int, text: str, update_id: int) -> None:
    tokens = [c.token for c in buyer_channels(rt, user_id)]
    doc = PaySupportDoc(user_id=user_id, text=text, channel_tokens=tokens, at=rt.clock.now())
    rt.store.pay_support.set(f"{user_id}-{update_id}", doc)


def on_help_button(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    """The Help button (`sup:<token>`) under a receipt or a reminder, or a channel chosen."""
    rt.telegram.answer_callback_query(query.id)
    draft = _active_draft(rt, query.from_user.id)
    data = draft.data if draft is not None and draft.step == "channel" else {}
    origin = str(data.get("origin") or "button")
    return start(rt, query.from_user, update_id, origin, str(data.get("text") or ""), token=parts[0])


# -- a thread ---------------------------------------------------------------------------------------
def open_thread(rt: Rt, user: TgUser, channel: ChannelDoc, origin: str, text: str, update_id: int) -> str:
    """The thread opened with the buyer's first message, the owner's card, the buyer told."""
    now = rt.clock.now()
    thread_id = support_thread_id(user.id, update_id)
    name = say.buyer_label(display_name(user), user.id)
    thread = rules.with_message(
        SupportThreadDoc(
            thread_id=thread_id,
            channel_token=channel.token,
            channel_title=channel.title,
            buyer_user_id=user.id,
            buyer_name=name,
            owner_user_id=channel.owner_user_id,
            origin=origin,
            created_at=now,
            updated_at=now,
        ),
        SupportSide.BUYER,
        text,
        now,
        update_id,
    )
    assert thread is not None
    if not rt.store.support_threads.create(thread_id, thread):  # a re-delivered update: as it is stored
        thread = rt.store.support_threads.get(thread_id) or thread
    told = _pass_on(rt, thread, SupportSide.OWNER, update_id, lambda: owner_card(rt, thread, text))
    confirm = say.sent_to_owner(channel.title) if told else say.owner_unreachable(channel.title)
    _pass_on(rt, thread, SupportSide.BUYER, update_id, lambda: confirm, suffix="confirm")
    log.info("support thread opened", extra={"thread_id": thread_id, "channel_token": channel.token})
    return "support thread opened" if told else "support thread opened, owner unreachable"


def owner_card(rt: Rt, thread: SupportThreadDoc, text: str) -> str:
    """In the owner's language: the buyer, their subscription (tier, until, status) and last orders."""
    channel = load_channel(rt.store, thread.channel_token)
    sub = load_subscription(rt.store, thread.channel_token, thread.buyer_user_id)
    if sub is None:
        subscription = t(say.NO_SUBSCRIPTION)
    else:
        tier = channel.tier(sub.tier_id) if channel is not None and sub.tier_id else None
        label = (tier.label or say.days_tier(tier.days)) if tier is not None else (sub.tier_id or "—")
        active = sub.status is SubscriptionStatus.ACTIVE and sub.expires_at > rt.clock.now()
        subscription = say.subscription_line(label, sub.expires_at, t("active") if active else t("ended"))
    orders = [
        o
        for o in rt.store.orders.find(ORDERS_OF_BUYER, user_id=thread.buyer_user_id)
        if o.channel_token == thread.channel_token
    ]
    orders.sort(key=lambda o: o.created_at, reverse=True)
    lines = [
        say.order_line(o.order_id, o.price_amount, o.price_currency, o.status, o.created_at)
        for o in orders[: rules.LAST_ORDERS]
    ]
    return say.card(thread.buyer_name, thread.channel_title, subscription, lines, text)


def _pass_on(
    rt: Rt,
    thread: SupportThreadDoc,
    to: SupportSide,
    update_id: int,
    text: Callable[[], str],
    suffix: str = "",
) -> bool:
    """Send one message of the thread to one side, once per update; it carries Close, and a reply
    to it goes to the thread. False when that side blocked the bot."""
    chat_id = rules.recipient(thread, to)
    key = f"{update_id}:{to.value}{':' + suffix if suffix else ''}"
    with rt.claims.hold(ClaimPurpose.SUPPORT_MESSAGE, key, keep_for=timedelta(days=14)) as claim:
        if claim.done_before:
            return claim.previous_result == "sent"
        keyboard = [[Button(t(say.CLOSE_BUTTON), callback_data=support_close_callback(thread.thread_id))]]
        try:
            with speaking_to(rt.store, chat_id):
                sent = _send(rt, chat_id, text(), keyboard=keyboard)
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, chat_id)
            claim.result = "blocked"
            return False
        _map(rt, thread.thread_id, chat_id, int(sent.message_id), to)
        claim.result = "sent"
        return True


def _map(rt: Rt, thread_id: str, chat_id: int, message_id: int, side: SupportSide) -> None:
    """A reply to this bot message goes to the thread."""
    now, reply_id = rt.clock.now(), support_reply_id(chat_id, message_id)
    doc = SupportReplyDoc(
        thread_id=thread_id,
        chat_id=chat_id,
        message_id=message_id,
        side=side,
        created_at=now,
        expire_at=now + SUPPORT_REPLY_RETENTION,
    )

    def work(tx: Tx) -> None:
        thread = tx.get(rt.store.support_threads, thread_id)
        tx.set(rt.store.support_replies, reply_id, doc)
        if thread is not None:
            mapped = rules.with_mapped(thread, reply_id)
            tx.update(rt.store.support_threads, thread_id, {"telegram_messages": mapped})

    rt.store.transaction(work)


def _on_reply(rt: Rt, message: TgMessage, mapped: SupportReplyDoc, update_id: int) -> str:
    """A reply to a thread's message: added to the thread and passed to the other side."""
    assert message.from_user is not None
    user_id = message.from_user.id
    thread = rt.store.support_threads.get(mapped.thread_id)
    if thread is None or rules.side_of(thread, user_id) is not mapped.side:
        return "support: not a thread of theirs"
    if thread.status is SupportStatus.CLOSED:
        _send(rt, user_id, t(say.THREAD_CLOSED))
        return "support: thread closed"
    text = rules.clean_text(message.text)
    if not text:
        _send(rt, user_id, t(say.TEXT_ONLY))
        return "support: no text"
    sender = mapped.side
    now = rt.clock.now()

    def work(tx: Tx) -> SupportThreadDoc | None:
        current = tx.get(rt.store.support_threads, thread.thread_id)
        grown = rules.with_message(current, sender, text, now, update_id) if current else None
        if grown is not None:
            tx.set(rt.store.support_threads, thread.thread_id, grown)
        return current

    current = rt.store.transaction(work)
    if current is not None and current.status is SupportStatus.CLOSED:  # closed meanwhile
        _send(rt, user_id, t(say.THREAD_CLOSED))
        return "support: thread closed"
    to = rules.other(sender)
    if to is SupportSide.BUYER:
        passed = _pass_on(rt, thread, to, update_id, lambda: say.owner_reply(thread.channel_title, text))
    else:
        passed = _pass_on(
            rt, thread, to, update_id, lambda: say.buyer_wrote(thread.buyer_name, thread.channel_title, text)
        )
    _send(rt, user_id, t(say.SENT) if passed else say.other_side_unreachable())
    return f"support reply passed to the {to.value}" if passed else f"support reply: {to.value} unreachable"


def on_close(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    """Close (`spx:<thread id>`), the buyer's or the owner's: the other side is told, once."""
    user_id = query.from_user.id
    thread = rt.store.support_threads.get(parts[0])
    side = rules.side_of(thread, user_id) if thread is not None else None
    if thread is None or side is None:
        rt.telegram.answer_callback_query(query.id, t(say.NOT_YOURS))
        return "support: not theirs to close"
    rt.telegram.answer_callback_query(query.id)
    now = rt.clock.now()

    def work(tx: Tx) -> bool:
        current = tx.get(rt.store.support_threads, thread.thread_id)
        done = rules.closed(current, side, now) if current is not None else None
        if done is not None:
            tx.set(rt.store.support_threads, thread.thread_id, done)
        return done is not None

    closed_now = rt.store.transaction(work)
    current = rt.store.support_threads.get(thread.thread_id) or thread
    # Whoever closed it hears it once, and the other side once: a re-delivered press (Telegram held
    # back a message) finishes what its first attempt began.
    if current.closed_by is side:
        title = thread.channel_title
        confirmed = _tell_once(
            rt, f"{thread.thread_id}:closed-{side.value}", user_id, lambda: say.closed_by_you(title)
        )
        other_side = rules.recipient(thread, rules.other(side))
        if side is SupportSide.OWNER:
            _tell_once(rt, f"{thread.thread_id}:closed", other_side, lambda: say.closed_by_owner(title))
        else:
            _tell_once(
                rt,
                f"{thread.thread_id}:closed",
                other_side,
                lambda: say.closed_by_buyer(thread.buyer_name, title),
            )
        if closed_now or confirmed:
            return f"support thread closed by the {side.value}"
    _send(rt, user_id, t(say.ALREADY_CLOSED))
    return "support: closed already"


def _tell_once(rt: Rt, key: str, chat_id: int, text: Callable[[], str]) -> bool:
    """Send once per `key` (in the reader's language); True when this call sent it (or found the
    reader unreachable)."""
    told = tell_once(
        rt,
        ClaimPurpose.SUPPORT_MESSAGE,
        key,
        chat_id,
        text,
        send=lambda user, message, keyboard: _send(rt, user, message, keyboard),
        keep_for=timedelta(days=14),
    )
    return told != "told before"


# The support buttons: prefix → (number of parts, handler), as the features' routers list theirs.
CALLBACKS: dict[str, tuple[int, Callable[[TgCallbackQuery, list[str], int, Rt], str]]] = {
    CALLBACK_SUPPORT: (1, on_help_button),
    CALLBACK_SUPPORT_CLOSE: (1, on_close),
}
