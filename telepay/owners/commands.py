"""Channel owners manage their channels inside Telegram: the commands, and the conversation.

`/newchannel` asks, one question at a time, everything a channel needs (the questions and their
checks are `telepay.owners.questions`; a bad answer gets the reason and the question again), shows
a summary, and on confirmation writes the channel, sends the owner its links and posts the first
offer. `/edit` changes one group of settings through the same questions. `/channels`, `/pause`,
`/resume` and `/stats` need no conversation. Only the creator of both channels may sell them, and
only a channel's owner (its record) who is still their creator (asked of Telegram at that
moment) may change it (`telepay.owners.admins`).

Conversation state lives in `conversations` (`telepay.owners.conversations`): buttons carry the
conversation's version, so a button from an earlier question does nothing.

Everything is said in the owner's language (the webhook speaks to the sender); the command menus
are set in every language TelePay speaks (`publish_command_menus`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, ChannelStatus, ConversationDoc
from shared_schemas.ids import (
    CALLBACK_CHANNELS_PAGE,
    CALLBACK_OWNER,
    CALLBACK_PAUSE,
    CALLBACK_RESUME,
    CALLBACK_STATS_PAGE,
    CALLBACK_WALLET_CANCEL,
    deep_link,
    donate_start,
    new_channel_token,
    offer_start,
    owner_callback,
    page_callback,
    pause_callback,
    resume_callback,
)
from shared_schemas.telegram import Button, TgCallbackQuery, TgMessage
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels import chat_offers, paging, wallet_hold
from telepay.channels.changes import changed, record
from telepay.channels.lookup import load_channel
from telepay.channels.settings import Invalid
from telepay.core import i18n
from telepay.core.i18n import t
from telepay.core.store import Tx
from telepay.core.users import chosen_language, speaking_to
from telepay.owners import (
    admins,
    announce_talk,  # -- announcements --
    dashboard,
    grant_talk,
    grants,
    questions,
    wallet_change,
)
from telepay.owners import export_talk as exports  # -- exports --
from telepay.owners import grant_texts as say_grant
from telepay.owners import promos as owner_promos
from telepay.owners import texts as say
from telepay.owners.bot_chats import Role
from telepay.owners.conversations import ENDED, Conversations, Move
from telepay.owners.questions import Data
from telepay.payouts.balance import owner_balance, payout_history
from telepay.runtime import Runtime
from telepay.subscriptions.broadcast import queue_donation_post, queue_todays_post
from telepay.subscriptions.membership import move_members
from telepay.subscriptions.trials import trial_figures

Rt = Runtime[TelegramWebhookSettings]
STATS_WINDOWS = (7, 30)


# -- talking -----------------------------------------------------------------------------------------
def _keyboard(choices: Sequence[tuple[str, str]], version: int) -> list[list[Button]]:
    return [[Button(label, callback_data=owner_callback(version, answer))] for label, answer in choices]


def _ask(rt: Rt, chat_id: int, conversation: ConversationDoc, before: str | None = None) -> None:
    question = STEPS[conversation.step].ask(rt, conversation.user_id, conversation.data)
    text = f"{before}\n\n{question.text}" if before else question.text
    keyboard = _keyboard(question.choices, conversation.version) if question.choices else None
    rt.telegram.send_message(chat_id, text, keyboard=keyboard)


def _links(rt: Rt, token: str) -> tuple[str, str]:
    bot = rt.settings.telegram_bot_username
    return deep_link(bot, offer_start(token)), deep_link(bot, donate_start(token))


def _show(rt: Rt, chat_id: int, conversation: ConversationDoc, before: str | None = None) -> str:
    """Whatever the conversation is at: the next question, or how it ended. Safe to repeat (a
    re-delivered update shows it again and queues nothing twice)."""
    step, data = conversation.step, conversation.data
    if step == "cancelled":
        rt.telegram.send_message(chat_id, t(say.CANCELLED))
        return "cancelled"
    if step == "done" and conversation.name == grant_talk.NAME:  # -- owner grants --
        return grant_talk.finish(rt, chat_id, conversation)
    if step == "done" and conversation.name == owner_promos.NAME:  # -- promo codes --
        return owner_promos.show_done(rt, chat_id, data)
    if step == "done" and conversation.name == exports.NAME:  # -- exports --
        return exports.finish(rt, chat_id, conversation)
    if step == "done" and conversation.name == announce_talk.NAME:  # -- announcements --
        return announce_talk.finish(rt, chat_id, conversation)
    if step == "done" and conversation.name == "newchannel":
        rt.telegram.send_message(chat_id, say.live(data["title"], *_links(rt, data["token"])))
        queue_todays_post(rt, data["token"])
        _refresh_donation_post(rt, data["token"])
        publish_command_menus(rt, conversation.user_id)
        return "channel live"
    if step == "done":
        wallet = say.wallet_changed(str(data.get("payout_wallet"))) if data.get("group") == "payout" else ""
        rt.telegram.send_message(chat_id, say.saved(data["title"]) + wallet)
        channel = load_channel(rt.store, data["token"])
        if channel is None:
            return "channel saved"
        queue_donation_post(rt, channel)  # queued by its text: an edit that did not change it queues nothing
        group = data.get("group")
        if group == "channels":
            moved = move_members(rt.store, rt.clock, channel.token, channel.closed_channel_id)
            if moved:
                rt.telegram.send_message(chat_id, say.members_moved(moved, channel.title))
                return f"channel saved, {moved} members moved"
        if group == "payout" and wallet_change.announce(rt, channel):
            return "channel saved, payouts held"
        return "channel saved"
    if step in ENDED:
        return "conversation over"
    _ask(rt, chat_id, conversation, before)
    return f"asked {step}"


def _refresh_donation_post(rt: Rt, token: str) -> None:
    """The closed channel's donation post, posted at go-live and refreshed after an edit (queued
    by its text: an edit that did not change it queues nothing)."""
    channel = load_channel(rt.store, token)
    if channel is not None:
        queue_donation_post(rt, channel)


def menu(commands: Sequence[tuple[str, str]], language: str) -> list[tuple[str, str]]:
    """A command menu (English descriptions) in `language`."""
    with i18n.speaking(language):
        return [(name, t(description)) for name, description in commands]


def _telegram_code(language: str) -> str:
    """The `language_code` Telegram takes for a menu (two letters, ISO 639-1): `pt` for `pt_BR`."""
    return language.split("_", 1)[0]


def _set_menus(rt: Rt, commands: Sequence[tuple[str, str]], chat_id: int | None, chosen: str | None) -> None:
    """The menu for every language TelePay speaks (Telegram shows each user the one of their app's
    language) and, for any other, in English; or, in one person's chat where they chose a language
    with /language, in that one whatever their app's."""
    rt.telegram.set_my_commands(menu(commands, chosen or i18n.SOURCE), chat_id=chat_id)
    for language in i18n.LANGUAGES:
        code = _telegram_code(language)
        rt.telegram.set_my_commands(menu(commands, chosen or language), chat_id=chat_id, language_code=code)


def publish_command_menus(rt: Rt, owner_id: int) -> None:
    """Buyers' commands for everyone, owners' commands in this owner's private chat, whose menu
    button opens the owner app."""
    with contextlib.suppress(TelegramBadRequest, TelegramForbidden):
        _set_menus(rt, say.BUYER_COMMANDS, None, None)
        publish_owner_menu(rt, owner_id)


def publish_owner_menu(rt: Rt, owner_id: int) -> None:
    """The owners' commands in this owner's private chat, in the language they read, and the menu
    button opening the owner app."""
    _set_menus(rt, say.OWNER_COMMANDS, owner_id, chosen_language(rt.store, owner_id))
    if rt.settings.owner_app_url:
        with speaking_to(rt.store, owner_id):
            rt.telegram.set_menu_web_app(owner_id, t(say.OPEN_APP), rt.settings.owner_app_url)


def _app_keyboard(rt: Rt) -> list[list[Button]] | None:
    """The owner app's button under `/channels` and `/stats` (none when no app is deployed)."""
    url = rt.settings.owner_app_url
    return [[Button(t(say.OPEN_APP), web_app=url)]] if url else None


# -- answers ---------------------------------------------------------------------------------------
def _owner_problem(rt: Rt, user_id: int, data: Data) -> str | None:
    """Why this person may no longer change this channel, if they may not: checked at every step."""
    chats = {
        int(data[f"{role.value}_channel_id"]): str(data.get(f"{role.value}_title") or t(say.THAT_CHANNEL))
        for role in Role
        if data.get(f"{role.value}_channel_id") is not None
    }
    refusal = admins.change_refusal(rt, user_id, list(chats), token=data.get("token") or None)
    if refusal is None:
        return None
    if refusal.why is admins.Why.NOT_OWNER or refusal.chat_id is None:
        return t(say.NOT_OWNER)
    return say.creator_needed(chats[refusal.chat_id])


def _writes(rt: Rt, conversation: ConversationDoc, data: Data) -> Callable[[Tx], None]:
    """What the end of a conversation writes, in the same transaction as its last move."""
    channels, now = rt.store.channels, rt.clock.now()
    if conversation.name == owner_promos.NAME:  # -- promo codes --
        return owner_promos.writes(rt, conversation, data)
    if conversation.name == "newchannel":
        base = {"token": data["token"], "owner_user_id": conversation.user_id, "created_at": now}
        channel = questions.channel_from(data, base | {"updated_at": now})

        def go_live(tx: Tx) -> None:
            chat_offers.claim(tx, rt.store, channel, now)  # raises ChatInUse: nothing is written
            tx.set(channels, channel.token, channel)

        return go_live
    token = data["token"]

    def save(tx: Tx) -> None:
        current = tx.get(channels, token)
        if current is None:
            raise ValueError(f"channel {token} vanished")
        fields = questions.GROUP_FIELDS[data["group"]]
        edited = questions.channel_from(data, current.model_dump(), fields)
        if data["group"] == "channels":
            chat_offers.claim(tx, rt.store, edited, now)
        stored = edited.to_firestore()
        hold = wallet_hold.after_change(
            current, stored, now, rt.settings.wallet_hold_hours, conversation.user_id, "bot"
        )
        tx.update(channels, token, {name: stored[name] for name in fields} | hold | {"updated_at": now})
        changes = changed(current.to_firestore(), stored, fields)
        record(tx, rt.store, token, conversation.user_id, "bot", changes, now)

    return save


def _answer(rt: Rt, user_id: int, chat_id: int, update_id: int, answer: str, version: int | None) -> str:
    conversations = Conversations(rt.store, rt.clock)
    conversation = conversations.latest(user_id)
    now = rt.clock.now()
    if conversation is None:
        return "no conversation"
    if conversation.last_update_id == update_id:  # re-delivered after it was applied
        return _show(rt, chat_id, conversation)
    if conversation.last_update_id > update_id or conversation.step in ENDED:
        return "no conversation"
    if conversation.expire_at <= now:
        conversations.move(conversation, update_id, "expired", conversation.data)
        rt.telegram.send_message(chat_id, t(say.EXPIRED))
        return "conversation expired"
    if version is not None and version != conversation.version:
        return "stale button"
    problem = _owner_problem(rt, user_id, conversation.data)
    if problem is not None:
        conversations.move(conversation, update_id, "cancelled", conversation.data)
        rt.telegram.send_message(chat_id, problem)
        return "not the owner"
    result = STEPS[conversation.step].take(rt, user_id, conversation.data, answer)
    if isinstance(result, Invalid):
        _ask(rt, chat_id, conversation, before=result.reason)
        return f"invalid {conversation.step}"
    data = conversation.data | result
    if conversation.name == grant_talk.NAME:  # -- owner grants: the change is made when shown --
        step = grant_talk.next_step(conversation.step, data)
    elif conversation.name == owner_promos.NAME:  # -- promo codes --
        step = owner_promos.next_step(conversation.step, data)
    elif conversation.name == exports.NAME:  # -- exports: nothing written, the file sent when shown --
        step = exports.next_step(conversation.step, data)
    elif conversation.name == announce_talk.NAME:  # -- announcements: made and queued when shown --
        step = announce_talk.next_step(conversation.step, data)
    else:
        step = questions.next_step(conversation.name, conversation.step, data, rt.settings.stars_enabled)
    writes = None
    if step == "done" and conversation.name not in (grant_talk.NAME, exports.NAME, announce_talk.NAME):
        if conversation.name == "newchannel":
            data["token"] = new_channel_token()
        writes = _writes(rt, conversation, data)
    try:
        move, current = conversations.move(conversation, update_id, step, data, also=writes)
    except chat_offers.ChatInUse as taken:  # another offer took the chat since it was picked
        chat = "open" if taken.chat_id == data.get("open_channel_id") else "closed"
        title = str(data.get(f"{chat}_title") or taken.chat_id)
        _ask(rt, chat_id, conversation, before=say.chat_in_use(title, taken.other.title))
        return "chat in use"
    except owner_promos.CodeTaken:  # another code of that name was made meanwhile
        conversations.move(conversation, update_id, "cancelled", conversation.data)
        rt.telegram.send_message(chat_id, t(owner_promos.CODE_TAKEN))
        return "code taken"
    if move is Move.CONFLICT:
        return _show(rt, chat_id, current, before=t(say.BUSY))
    if move is Move.DUPLICATE:
        return "duplicate"
    return _show(rt, chat_id, current)


# -- entry points from the webhook -----------------------------------------------------------------
def on_message(message: TgMessage, update_id: int, rt: Rt) -> str | None:
    """An owner's command, or an answer to the current question; None when it is neither."""
    assert message.from_user is not None
    user_id, chat_id = message.from_user.id, message.chat.id
    text = (message.text or "").strip()
    command = text.split(" ", 1)[0].split("@", 1)[0] if text.startswith("/") else ""
    argument = text.split(" ", 1)[1].strip() if command and " " in text else ""
    if command in ("/grant", "/revoke") and argument:  # -- owner grants: `/grant @alice 7` --
        done = grant_talk.with_arguments(rt, user_id, chat_id, update_id, command == "/revoke", argument)
        return done if isinstance(done, str) else _show(rt, chat_id, done)
    if command in COMMANDS:
        return COMMANDS[command](rt, user_id, chat_id, update_id)
    if command:
        return None
    text = announce_talk.answer_of(rt, user_id, message, text)  # -- announcements: the whole message --
    result = _answer(rt, user_id, chat_id, update_id, text, None)
    return None if result == "no conversation" else result


# The owners' buttons.
CALLBACK_PREFIXES = (
    CALLBACK_OWNER,
    CALLBACK_PAUSE,
    CALLBACK_RESUME,
    CALLBACK_WALLET_CANCEL,
    CALLBACK_CHANNELS_PAGE,
    CALLBACK_STATS_PAGE,
    # -- promo codes --
    *owner_promos.CALLBACK_PREFIXES,
)


def on_callback(query: TgCallbackQuery, prefix: str, parts: list[str], update_id: int, rt: Rt) -> str:
    user_id = query.from_user.id
    chat_id = query.message.chat.id if query.message else user_id
    if prefix in owner_promos.CALLBACK_PREFIXES:  # -- promo codes --
        return owner_promos.on_callback(query, prefix, parts, update_id, rt)
    if prefix == CALLBACK_OWNER and len(parts) == 2 and re.fullmatch(r"[0-9]{1,9}", parts[0]):
        result = _answer(rt, user_id, chat_id, update_id, parts[1], int(parts[0]))
        stale = result in ("stale button", "no conversation")
        rt.telegram.answer_callback_query(query.id, t(say.STALE_BUTTON) if stale else None)
        return result
    if prefix == CALLBACK_WALLET_CANCEL and len(parts) == 2 and re.fullmatch(r"[0-9]{20}", parts[1]):
        rt.telegram.answer_callback_query(query.id)
        return wallet_change.cancel(rt, user_id, parts[0], parts[1], update_id)
    if prefix in (CALLBACK_PAUSE, CALLBACK_RESUME) and len(parts) == 1:
        rt.telegram.answer_callback_query(query.id)
        status = ChannelStatus.PAUSED if prefix == CALLBACK_PAUSE else ChannelStatus.ACTIVE
        return _set_status(rt, user_id, chat_id, parts[0], status)
    number = paging.page_number(parts[0]) if prefix in PAGES and len(parts) == 1 else None
    if number is not None:  # a page of the presser's own list, whatever chat the button was in
        rt.telegram.answer_callback_query(query.id)
        return PAGES[prefix](rt, user_id, number, paging.pressed_message(query))
    rt.telegram.answer_callback_query(query.id, t(say.STALE_BUTTON))
    return "unknown button"


def _new_channel(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    move, conversation = Conversations(rt.store, rt.clock).start(user_id, "newchannel", "open", {}, update_id)
    if move is Move.APPLIED:
        rt.telegram.send_message(chat_id, t(say.NEW_CHANNEL_INTRO))
    return _show(rt, chat_id, conversation)


def _edit(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    if not admins.owned(rt.store, user_id):
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, "edit", "pick_channel", {}, update_id)
    return _show(rt, chat_id, conversation)


def _cancel(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    conversations = Conversations(rt.store, rt.clock)
    conversation = conversations.latest(user_id)
    if conversation is None or conversation.step in ENDED or conversation.expire_at <= rt.clock.now():
        if conversation is None or conversation.last_update_id != update_id:
            rt.telegram.send_message(chat_id, t(say.NOTHING_TO_CANCEL))
            return "nothing to cancel"
        return _show(rt, chat_id, conversation)  # a re-delivered /cancel
    _, current = conversations.move(conversation, update_id, "cancelled", conversation.data)
    return _show(rt, chat_id, current)


def _channels(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    return _channels_page(rt, user_id, 0, None)


def _channels_page(rt: Rt, user_id: int, number: int, message_id: int | None) -> str:
    """A page of the presser's channels with their links (in place of `message_id`, the page the
    button was pressed under; a new message otherwise)."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(user_id, t(say.NO_CHANNELS))
        return "no channels"
    shown = paging.page_of(owned, number)
    text = paging.page_text(shown, [say.channel_line(c, *_links(rt, c.token)) for c in shown.items])
    paging.show_page(rt, user_id, message_id, text, _list_keyboard(rt, shown, CALLBACK_CHANNELS_PAGE))
    return "channels listed" if message_id is None else f"channels page {shown.number + 1}"


def _list_keyboard(rt: Rt, shown: paging.Page[ChannelDoc], prefix: str) -> list[list[Button]] | None:
    """◂ Back and More ▸ where there are other pages, and the owner app's button."""
    walk = paging.page_buttons(shown, lambda number: page_callback(prefix, number))
    rows = ([walk] if walk else []) + (_app_keyboard(rt) or [])
    return rows or None


def _status_command(status: ChannelStatus) -> Callable[[Rt, int, int, int], str]:
    def command(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
        owned = admins.owned(rt.store, user_id)
        if not owned:
            rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
            return "no channels"
        if len(owned) == 1:
            return _set_status(rt, user_id, chat_id, owned[0].token, status)
        make = pause_callback if status is ChannelStatus.PAUSED else resume_callback
        keyboard = [[Button(c.title, callback_data=make(c.token))] for c in owned]
        rt.telegram.send_message(chat_id, t(say.WHICH_CHANNEL), keyboard=keyboard)
        return "asked which channel"

    return command


def _set_status(rt: Rt, user_id: int, chat_id: int, token: str, status: ChannelStatus) -> str:
    channel = load_channel(rt.store, token)
    if channel is None:
        rt.telegram.send_message(chat_id, t(say.NOT_OWNER))
        return "not the owner"
    problem = _owner_problem(rt, user_id, questions.data_of(channel))
    if problem is not None:
        rt.telegram.send_message(chat_id, problem)
        return "not the owner"
    # Already so (a re-delivered /pause whose answer Telegram refused, or pressed twice): the same
    # answer again, and the same post queued (its name dedupes it).
    if channel.status is not status:
        now = rt.clock.now()
        with rt.store.batch() as batch:
            batch.update(rt.store.channels, token, {"status": status, "updated_at": now})
            change = {"status": {"before": channel.status.value, "after": status.value}}
            record(batch, rt.store, token, user_id, "bot", change, now)
    if status is ChannelStatus.PAUSED:
        rt.telegram.send_message(chat_id, say.paused(channel.title))
        return "paused"
    queue_todays_post(rt, token)
    rt.telegram.send_message(chat_id, say.resumed(channel.title))
    return "resumed"


def _stats(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    return _stats_page(rt, user_id, 0, None)


def _stats_page(rt: Rt, user_id: int, number: int, message_id: int | None) -> str:
    """A page of the presser's channels' numbers (read for that page's channels only)."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(user_id, t(say.NO_CHANNELS))
        return "no channels"
    shown = paging.page_of(owned, number)
    text = paging.page_text(shown, [channel_stats(rt, c) for c in shown.items])
    paging.show_page(rt, user_id, message_id, text, _list_keyboard(rt, shown, CALLBACK_STATS_PAGE))
    return "stats shown" if message_id is None else f"stats page {shown.number + 1}"


# The owners' page buttons: prefix → the list they page.
PAGES: dict[str, Callable[[Rt, int, int, int | None], str]] = {
    CALLBACK_CHANNELS_PAGE: _channels_page,
    CALLBACK_STATS_PAGE: _stats_page,
}


def channel_stats(rt: Rt, channel: ChannelDoc) -> str:
    """Active subscribers and their expiries in the next 7 days; per period of the last 7 and 30
    days, new and renewed subscriptions, sales, donations, the renewal rate and churn: the owner
    app's figures (`telepay.owners.dashboard`)."""
    now = rt.clock.now()
    periods = [dashboard.overview(rt.store, [channel], now, days) for days in STATS_WINDOWS]
    active, expiring = periods[0].active, periods[0].expiring
    windows = [
        (
            p.days,
            p.current.new,
            p.current.renewed,
            dashboard.cents_to_money(p.current.crypto_cents),
            p.current.stars,
            dashboard.cents_to_money(p.current.donation_cents),
        )
        for p in periods
    ]
    rates = [(p.days, p.renewal_rate, p.churn) for p in periods]
    text = say.stats(channel.title, active, expiring, windows, rates)
    # -- free trials --
    trials = trial_figures(rt.store, channel.token, now, STATS_WINDOWS)
    if channel.trial_days is not None or trials.running or any(trials.started.values()):
        by_window = [(days, trials.started[days], trials.converted[days]) for days in STATS_WINDOWS]
        text += "\n" + "\n".join(say.trial_stats(trials.running, by_window))
    given = grants.grant_windows(rt, channel.token, now, STATS_WINDOWS)  # -- owner grants --
    return f"{text}\n{say_grant.grants_line(given)}" if any(count for _, count, _ in given) else text


def _payouts(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    """The owner's balance (available, in a payout, paid) and their last payouts."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    now = rt.clock.now()
    owed = owner_balance(rt.store, user_id, now)
    history = payout_history(rt.store, user_id, limit=5)
    held = [
        say.payouts_held(c.title, until)
        for c in owned
        if (until := wallet_hold.held_until(c, now)) is not None
    ]
    text = say.payouts(owed, history) + "".join(f"\n\n{line}" for line in held)
    rt.telegram.send_message(chat_id, text, keyboard=_app_keyboard(rt))
    return "payouts shown"


COMMANDS: dict[str, Callable[[Rt, int, int, int], str]] = {
    "/newchannel": _new_channel,
    "/edit": _edit,
    "/cancel": _cancel,
    "/channels": _channels,
    "/pause": _status_command(ChannelStatus.PAUSED),
    "/resume": _status_command(ChannelStatus.ACTIVE),
    "/stats": _stats,
    "/payouts": _payouts,
    # -- owner grants --
    "/grant": lambda rt, user_id, chat_id, update_id: _grant_talk(
        rt, user_id, chat_id, update_id, take=False
    ),
    "/revoke": lambda rt, user_id, chat_id, update_id: _grant_talk(
        rt, user_id, chat_id, update_id, take=True
    ),
    # -- exports --
    "/export": lambda rt, user_id, chat_id, update_id: _export_talk(rt, user_id, chat_id, update_id),
    # -- announcements --
    "/announce": lambda rt, user_id, chat_id, update_id: _announce_talk(rt, user_id, chat_id, update_id),
}


# -- owner grants --
STEPS = questions.STEPS | grant_talk.STEPS | exports.STEPS | owner_promos.STEPS  # exports', promo codes'
STEPS |= announce_talk.STEPS  # -- announcements --


def _grant_talk(rt: Rt, user_id: int, chat_id: int, update_id: int, take: bool) -> str:
    started = grant_talk.start(rt, user_id, chat_id, update_id, take)
    return started if isinstance(started, str) else _show(rt, chat_id, started)


# -- promo codes --
def _promo(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    outcome, conversation = owner_promos.start(rt, user_id, chat_id, update_id)
    return outcome if conversation is None else _show(rt, chat_id, conversation)


COMMANDS |= {"/promo": _promo, "/promos": owner_promos.list_codes}


# -- exports --
def _export_talk(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    started = exports.start(rt, user_id, chat_id, update_id)
    return started if isinstance(started, str) else _show(rt, chat_id, started)


# -- announcements --
def _announce_talk(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    started = announce_talk.start(rt, user_id, chat_id, update_id)
    return started if isinstance(started, str) else _show(rt, chat_id, started)
