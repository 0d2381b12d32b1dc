"""Channel owners manage their channels inside Telegram.

`/newchannel` asks, one question at a time, everything a channel needs (each answer checked by
`telepay.channels.settings`, the reason shown and the question asked again), shows a summary, and
on confirmation writes the channel, sends the owner its links and posts the first offer. `/edit`
changes one group of settings through the same questions. `/channels`, `/pause`, `/resume` and
`/stats` need no conversation. Only a channel's owner (its record) who is still an admin of both
its channels (asked of Telegram at that moment) may change it.

Conversation state lives in `conversations` (`telepay.owners.conversations`): buttons carry the
conversation's version, so a button from an earlier question does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import (
    ChannelDoc,
    ChannelStatus,
    ConversationDoc,
    OrderStatus,
)
from shared_schemas.ids import (
    CALLBACK_OWNER,
    CALLBACK_PAUSE,
    CALLBACK_RESUME,
    OrderKind,
    deep_link,
    donate_start,
    new_channel_token,
    offer_start,
    owner_callback,
    pause_callback,
    resume_callback,
)
from shared_schemas.money import format_amount
from shared_schemas.queries import (
    BOT_CHATS_ADDED_BY,
    CHANNELS_OF_OWNER,
    SETTLED_ORDERS_OF_CHANNEL,
)
from shared_schemas.telegram import TgCallbackQuery, TgChatMember, TgMessage
from telepay.adapters.telegram_api import Button, TelegramBadRequest, TelegramForbidden
from telepay.channels import settings as cs
from telepay.channels.changes import changed, record
from telepay.channels.lookup import active_and_expiring, load_channel
from telepay.channels.settings import Invalid
from telepay.core.store import Tx
from telepay.owners import texts as say
from telepay.owners.bot_chats import Role, missing_rights, offers_in_chat
from telepay.owners.conversations import ENDED, Conversations, Move
from telepay.payouts.balance import owner_balance, payout_history
from telepay.runtime import Runtime
from telepay.subscriptions.broadcast import queue_donation_post, queue_todays_post

Rt = Runtime[TelegramWebhookSettings]
Data = dict[str, Any]
Result = Data | Invalid
STATS_WINDOWS = (7, 30)
EXPIRING_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class Ask:
    text: str
    choices: tuple[tuple[str, str], ...] = ()  # (button label, answer)


@dataclass(frozen=True)
class Step:
    ask: Callable[[Rt, int, Data], Ask]
    take: Callable[[Rt, int, Data, str], Result]


# -- the questions ------------------------------------------------------------------------------
def _bot_id(rt: Rt) -> int:
    return int(rt.settings.telegram_bot_token.get_secret_value().split(":", 1)[0])


def _member(rt: Rt, chat_id: int, user_id: int) -> TgChatMember | None:
    """What Telegram says now; None when it will not say (the bot removed, the chat gone)."""
    try:
        return rt.telegram.get_chat_member(chat_id, user_id)
    except (TelegramBadRequest, TelegramForbidden):
        return None


def _is_admin(rt: Rt, chat_id: int, user_id: int) -> bool:
    member = _member(rt, chat_id, user_id)
    return member is not None and member.is_admin


def _candidates(rt: Rt, user_id: int, data: Data) -> list[tuple[str, str]]:
    """Chats the user made the bot an admin of, where the user is still an admin too."""
    taken = {data.get("open_channel_id"), data.get("closed_channel_id")}
    found = []
    for chat in rt.store.bot_chats.find(BOT_CHATS_ADDED_BY, added_by=user_id):
        if (
            chat.status == "administrator"
            and chat.chat_id not in taken
            and _is_admin(rt, chat.chat_id, user_id)
        ):
            found.append((chat.title or str(chat.chat_id), str(chat.chat_id)))
    return found


def _ask_pick(role: Role) -> Callable[[Rt, int, Data], Ask]:
    def ask(rt: Rt, user_id: int, data: Data) -> Ask:
        choices = _candidates(rt, user_id, data)
        if not choices:
            return Ask(say.NO_CANDIDATES, ((say.REFRESH, say.REFRESH_ANSWER),))
        return Ask(say.pick_channel(role.value), (*choices, (say.REFRESH, say.REFRESH_ANSWER)))

    return ask


def _take_pick(role: Role) -> Callable[[Rt, int, Data, str], Result]:
    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        if answer == say.REFRESH_ANSWER:
            return Invalid(say.LIST_AGAIN)
        if not answer.lstrip("-").isdigit():
            return Invalid(say.USE_BUTTONS)
        chat_id = int(answer)
        record = rt.store.bot_chats.get(str(chat_id))
        other = data.get("closed_channel_id" if role is Role.OPEN else "open_channel_id")
        if record is None or record.status != "administrator" or chat_id == other:
            return Invalid(say.USE_BUTTONS)
        used = [o for o in offers_in_chat(rt, chat_id) if o.channel.token != data.get("token")]
        if used:
            return Invalid(say.chat_in_use(record.title, used[0].channel.title))
        if not _is_admin(rt, chat_id, user_id):
            return Invalid(say.still_admin_needed(record.title))
        missing = missing_rights(_member(rt, chat_id, _bot_id(rt)), role)
        if missing:
            return Invalid(say.rights_missing_for(record.title, role.value, missing))
        return {f"{role.value}_channel_id": chat_id, f"{role.value}_title": record.title}

    return take


def _field(question: Callable[[Data], Ask], parse: Callable[[Data, str], Any], name: str) -> Step:
    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        value = parse(data, answer)
        if isinstance(value, Invalid):
            return value
        return {name: _plain(value)}

    return Step(lambda rt, user_id, data: question(data), take)


def _plain(value: Any) -> Any:
    """A parsed value as conversation data keeps it (JSON: decimals as exact strings, enums as text)."""
    if isinstance(value, StrEnum):
        return value.value
    return str(value) if isinstance(value, Decimal) else value


def _tier_index(data: Data) -> int:
    return len(data.get("tiers") or [])


def _take_tier_count(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    count = cs.parse_tier_count(answer)
    return count if isinstance(count, Invalid) else {"tier_count": count, "tiers": [], "tier_draft": {}}


def _take_tier_part(name: str, parse: Callable[[str], Any]) -> Callable[[Rt, int, Data, str], Result]:
    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        value = parse(answer)
        if isinstance(value, Invalid):
            return value
        draft = {**(data.get("tier_draft") or {}), name: _plain(value)}
        if name != "label":
            return {"tier_draft": draft}
        return {"tiers": [*(data.get("tiers") or []), draft], "tier_draft": {}}

    return take


def _network_name(data: Data) -> str:
    net = cs.network(str(data.get("payout_network")))
    return net.name if net else "wallet"


STEPS: dict[str, Step] = {
    "open": Step(_ask_pick(Role.OPEN), _take_pick(Role.OPEN)),
    "closed": Step(_ask_pick(Role.CLOSED), _take_pick(Role.CLOSED)),
    "title": _field(lambda d: Ask(say.ASK_TITLE), lambda d, a: cs.parse_title(a), "title"),
    "description": _field(
        lambda d: Ask(say.ASK_DESCRIPTION, ((say.SKIP, ""),)),
        lambda d, a: cs.parse_description(a),
        "description",
    ),
    "tier_count": Step(
        lambda rt, u, d: Ask(say.ASK_TIER_COUNT, (("1", "1"), ("2", "2"), ("3", "3"))), _take_tier_count
    ),
    "tier_price": Step(
        lambda rt, u, d: Ask(say.ask_tier_price(_tier_index(d), d["tier_count"])),
        _take_tier_part("price", cs.parse_price),
    ),
    "tier_days": Step(
        lambda rt, u, d: Ask(
            say.ask_tier_days(_tier_index(d)), (("7", "7"), ("30", "30"), ("90", "90"), ("365", "365"))
        ),
        _take_tier_part("days", cs.parse_days),
    ),
    "tier_label": Step(
        lambda rt, u, d: Ask(say.ask_tier_label(_tier_index(d)), ((say.SKIP, ""),)),
        _take_tier_part("label", cs.parse_label),
    ),
    "donation_min": _field(
        lambda d: Ask(say.ASK_DONATION_MIN, (("$4.99", "4.99"), ("$1.00", "1"))),
        lambda d, a: cs.parse_amount(a, "minimum donation", cs.DONATION_CEILING),
        "donation_min",
    ),
    "donation_max": _field(
        lambda d: Ask(say.ASK_DONATION_MAX, (("$9,999.99", "9999.99"), ("$500.00", "500"))),
        lambda d, a: cs.check_donation_max(Decimal(d["donation_min"]), a),
        "donation_max",
    ),
    "donation_message": _field(
        lambda d: Ask(say.ASK_DONATION_MESSAGE, ((say.SKIP, ""),)),
        lambda d, a: cs.parse_donation_message(a),
        "donation_message",
    ),
    "grace": _field(
        lambda d: Ask(say.ASK_GRACE, (("None", "0"), ("1 hour", "60"), ("1 day", "1440"))),
        lambda d, a: cs.parse_grace_minutes(a),
        "grace_period_minutes",
    ),
    "payout_currency": _field(
        lambda d: Ask(say.ASK_CURRENCY, tuple((c.upper(), c) for c in cs.PAYOUT_CURRENCIES)),
        lambda d, a: cs.parse_payout_currency(a),
        "payout_currency",
    ),
    "payout_network": _field(
        lambda d: Ask(
            say.ASK_NETWORK, tuple((n.name, n.code) for n in cs.networks_for(d["payout_currency"]))
        ),
        lambda d, a: cs.parse_payout_network(d["payout_currency"], a),
        "payout_network",
    ),
    "payout_wallet": _field(
        lambda d: Ask(say.ask_wallet(_network_name(d), d["payout_currency"])),
        lambda d, a: cs.parse_wallet_address(d["payout_network"], a),
        "payout_wallet",
    ),
    "payout_strategy": _field(
        lambda d: Ask(say.ASK_STRATEGY, ((say.INSTANT, "instant"), (say.THRESHOLD, "threshold"))),
        lambda d, a: cs.parse_payout_strategy(a),
        "payout_strategy",
    ),
    "payout_threshold": _field(
        lambda d: Ask(say.ASK_THRESHOLD), lambda d, a: cs.parse_payout_threshold(a), "payout_threshold"
    ),
}

# What `/edit` can change, each a run of the questions above (in `/newchannel`'s order).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "channels": ("Channels", ("open", "closed")),
    "title": ("Title", ("title",)),
    "description": ("Description", ("description",)),
    "tiers": ("Prices and durations", ("tier_count", "tier_price", "tier_days", "tier_label")),
    "donations": ("Donations", ("donation_min", "donation_max", "donation_message")),
    "grace": ("Grace period", ("grace",)),
    "payout": ("Payout wallet", ("payout_currency", "payout_network", "payout_wallet", "confirm_wallet")),
    "strategy": ("Payout strategy", ("payout_strategy", "payout_threshold")),
}
# A new channel confirms everything at once, its wallet included.
NEW_CHANNEL_STEPS = (
    *(step for _, steps in GROUPS.values() for step in steps if step != "confirm_wallet"),
    "confirm",
)


def _owned(rt: Rt, user_id: int) -> list[ChannelDoc]:
    return rt.store.channels.find(CHANNELS_OF_OWNER, owner_user_id=user_id)


def _take_channel_to_edit(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(say.USE_BUTTONS)
    return _data_of(channel)


def _take_group(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in GROUPS:
        return Invalid(say.USE_BUTTONS)
    if answer == "channels":  # chosen again from scratch: the current ones are offered too
        return {"group": answer, "open_channel_id": None, "closed_channel_id": None}
    return {"group": answer}


def _take_confirm(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(say.USE_BUTTONS)
    return {"confirmed": answer == "yes"}


STEPS |= {
    "confirm": Step(
        lambda rt, u, d: Ask(say.summary(_summary_lines(d)), ((say.GO_LIVE, "yes"), (say.CANCEL, "no"))),
        _take_confirm,
    ),
    # Changing where the money goes takes one more tap: the new wallet, shown in full.
    "confirm_wallet": Step(
        lambda rt, u, d: Ask(
            say.confirm_wallet(str(d.get("payout_wallet")), _network_name(d)),
            ((say.USE_WALLET, "yes"), (say.CANCEL, "no")),
        ),
        _take_confirm,
    ),
    "pick_channel": Step(
        lambda rt, u, d: Ask(say.ASK_CHANNEL_TO_EDIT, tuple((c.title, c.token) for c in _owned(rt, u))),
        _take_channel_to_edit,
    ),
    "pick_group": Step(
        lambda rt, u, d: Ask(say.ASK_GROUP, tuple((label, key) for key, (label, _) in GROUPS.items())),
        _take_group,
    ),
}


def _steps_of(name: str, data: Data) -> tuple[str, ...]:
    if name == "newchannel":
        return NEW_CHANNEL_STEPS
    group = data.get("group")
    return ("pick_channel", "pick_group", *(GROUPS[group][1] if group in GROUPS else ()))


def _next_step(name: str, step: str, data: Data) -> str:
    """The question after `step` once its answer is in `data`; `done` or `cancelled` at the end."""
    if step in ("confirm", "confirm_wallet"):
        return "done" if data.get("confirmed") else "cancelled"
    if step == "tier_label" and _tier_index(data) < int(data["tier_count"]):
        return "tier_price"
    steps = _steps_of(name, data)
    rest = steps[steps.index(step) + 1 :]
    if rest and rest[0] == "payout_threshold" and data.get("payout_strategy") != "threshold":
        rest = rest[1:]
    return rest[0] if rest else "done"


# -- channel <-> conversation data -----------------------------------------------------------------
SETTING_FIELDS = cs.SETTING_FIELDS


def _data_of(channel: ChannelDoc) -> Data:
    stored = channel.to_firestore()
    data: Data = {name: stored[name] for name in SETTING_FIELDS}
    data["tiers"] = [{"price": str(t.price), "days": t.days, "label": t.label} for t in channel.tiers]
    return data | {"token": channel.token, "tier_count": len(channel.tiers)}


def _channel_from(data: Data, base: dict[str, Any]) -> ChannelDoc:
    """The channel the answers describe, checked once more as a whole."""
    values = base | {name: data[name] for name in SETTING_FIELDS if name in data}
    channel = cs.validate_channel(values)
    if isinstance(channel, list):  # every answer was checked on its own: this is a bug, not input
        raise ValueError("; ".join(str(error) for error in channel))
    return channel


def _summary_lines(data: Data) -> list[str]:
    lines = [
        f"Title: {data['title']}",
        f"Open channel: {data.get('open_title')}",
        f"Closed channel: {data.get('closed_title')}",
    ]
    if data.get("description"):
        lines.append(f"Description: {data['description']}")
    lines += [
        say.tier_line(i, Decimal(t["price"]), int(t["days"]), t.get("label"))
        for i, t in enumerate(data.get("tiers") or [])
    ]
    lines.append(
        f"Donations: {format_amount(Decimal(data['donation_min']), 'USD')} to "
        f"{format_amount(Decimal(data['donation_max']), 'USD')}"
    )
    if data.get("donation_message"):
        lines.append(f"Donation message: {data['donation_message']}")
    lines.append(f"Grace period: {data['grace_period_minutes']} minutes")
    lines.append(
        f"Payouts: {str(data['payout_currency']).upper()} on {_network_name(data)} to {data['payout_wallet']}"
    )
    strategy = str(data["payout_strategy"])
    if strategy == "threshold":
        strategy += f" (from {format_amount(Decimal(data['payout_threshold']), 'USD')})"
    lines.append(f"Payout strategy: {strategy}")
    return lines


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
        rt.telegram.send_message(chat_id, say.CANCELLED)
        return "cancelled"
    if step == "done" and conversation.name == "newchannel":
        rt.telegram.send_message(chat_id, say.live(data["title"], *_links(rt, data["token"])))
        queue_todays_post(rt, data["token"])
        _refresh_donation_post(rt, data["token"])
        publish_command_menus(rt, conversation.user_id)
        return "channel live"
    if step == "done":
        wallet = say.wallet_changed(str(data.get("payout_wallet"))) if data.get("group") == "payout" else ""
        rt.telegram.send_message(chat_id, say.saved(data["title"]) + wallet)
        _refresh_donation_post(rt, data["token"])
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


def publish_command_menus(rt: Rt, owner_id: int) -> None:
    """Buyers' commands for everyone, owners' commands in this owner's private chat, whose menu
    button opens the owner app."""
    with contextlib.suppress(TelegramBadRequest, TelegramForbidden):
        rt.telegram.set_my_commands(say.BUYER_COMMANDS)
        rt.telegram.set_my_commands(say.OWNER_COMMANDS, chat_id=owner_id)
        if rt.settings.owner_app_url:
            rt.telegram.set_menu_web_app(owner_id, say.OPEN_APP, rt.settings.owner_app_url)


def _app_keyboard(rt: Rt) -> list[list[Button]] | None:
    """The owner app's button under `/channels` and `/stats` (none when no app is deployed)."""
    url = rt.settings.owner_app_url
    return [[Button(say.OPEN_APP, web_app=url)]] if url else None


# -- answers ---------------------------------------------------------------------------------------
def _owner_problem(rt: Rt, user_id: int, data: Data) -> str | None:
    """Why this person may no longer change this channel, if they may not: checked at every step."""
    token = data.get("token")
    if token:
        channel = load_channel(rt.store, token)
        if channel is None or channel.owner_user_id != user_id:
            return say.NOT_OWNER
    for role in Role:
        chat_id = data.get(f"{role.value}_channel_id")
        if chat_id is not None and not _is_admin(rt, int(chat_id), user_id):
            return say.still_admin_needed(str(data.get(f"{role.value}_title") or "that channel"))
    return None


def _writes(rt: Rt, conversation: ConversationDoc, data: Data) -> Callable[[Tx], None]:
    """What the end of a conversation writes, in the same transaction as its last move."""
    channels, now = rt.store.channels, rt.clock.now()
    if conversation.name == "newchannel":
        base = {"token": data["token"], "owner_user_id": conversation.user_id, "created_at": now}
        channel = _channel_from(data, base | {"updated_at": now})
        return lambda tx: tx.set(channels, channel.token, channel)
    token = data["token"]

    def save(tx: Tx) -> None:
        current = tx.get(channels, token)
        if current is None:
            raise ValueError(f"channel {token} vanished")
        stored = _channel_from(data, current.model_dump()).to_firestore()
        tx.update(channels, token, {name: stored[name] for name in SETTING_FIELDS} | {"updated_at": now})
        changes = changed(current.to_firestore(), stored, SETTING_FIELDS)
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
        rt.telegram.send_message(chat_id, say.EXPIRED)
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
    step = _next_step(conversation.name, conversation.step, data)
    writes = None
    if step == "done":
        if conversation.name == "newchannel":
            data["token"] = new_channel_token()
        writes = _writes(rt, conversation, data)
    move, current = conversations.move(conversation, update_id, step, data, also=writes)
    if move is Move.CONFLICT:
        return _show(rt, chat_id, current, before=say.BUSY)
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
    if command in COMMANDS:
        return COMMANDS[command](rt, user_id, chat_id, update_id)
    if command:
        return None
    result = _answer(rt, user_id, chat_id, update_id, text, None)
    return None if result == "no conversation" else result


def on_callback(query: TgCallbackQuery, prefix: str, parts: list[str], update_id: int, rt: Rt) -> str:
    user_id = query.from_user.id
    chat_id = query.message.chat.id if query.message else user_id
    if prefix == CALLBACK_OWNER and len(parts) == 2 and parts[0].isdigit():
        result = _answer(rt, user_id, chat_id, update_id, parts[1], int(parts[0]))
        stale = result in ("stale button", "no conversation")
        rt.telegram.answer_callback_query(query.id, say.STALE_BUTTON if stale else None)
        return result
    if prefix in (CALLBACK_PAUSE, CALLBACK_RESUME) and len(parts) == 1:
        rt.telegram.answer_callback_query(query.id)
        status = ChannelStatus.PAUSED if prefix == CALLBACK_PAUSE else ChannelStatus.ACTIVE
        return _set_status(rt, user_id, chat_id, parts[0], status)
    rt.telegram.answer_callback_query(query.id, say.STALE_BUTTON)
    return "unknown button"


def _new_channel(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    move, conversation = Conversations(rt.store, rt.clock).start(user_id, "newchannel", "open", {}, update_id)
    if move is Move.APPLIED:
        rt.telegram.send_message(chat_id, say.NEW_CHANNEL_INTRO)
    return _show(rt, chat_id, conversation)


def _edit(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    if not _owned(rt, user_id):
        rt.telegram.send_message(chat_id, say.NO_CHANNELS)
        return "no channels"
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, "edit", "pick_channel", {}, update_id)
    return _show(rt, chat_id, conversation)


def _cancel(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    conversations = Conversations(rt.store, rt.clock)
    conversation = conversations.latest(user_id)
    if conversation is None or conversation.step in ENDED or conversation.expire_at <= rt.clock.now():
        if conversation is None or conversation.last_update_id != update_id:
            rt.telegram.send_message(chat_id, say.NOTHING_TO_CANCEL)
            return "nothing to cancel"
        return _show(rt, chat_id, conversation)  # a re-delivered /cancel
    _, current = conversations.move(conversation, update_id, "cancelled", conversation.data)
    return _show(rt, chat_id, current)


def _channels(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    owned = _owned(rt, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, say.NO_CHANNELS)
        return "no channels"
    text = "\n\n".join(say.channel_line(c, *_links(rt, c.token)) for c in owned)
    rt.telegram.send_message(chat_id, text, keyboard=_app_keyboard(rt))
    return "channels listed"


def _status_command(status: ChannelStatus) -> Callable[[Rt, int, int, int], str]:
    def command(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
        owned = _owned(rt, user_id)
        if not owned:
            rt.telegram.send_message(chat_id, say.NO_CHANNELS)
            return "no channels"
        if len(owned) == 1:
            return _set_status(rt, user_id, chat_id, owned[0].token, status)
        make = pause_callback if status is ChannelStatus.PAUSED else resume_callback
        keyboard = [[Button(c.title, callback_data=make(c.token))] for c in owned]
        rt.telegram.send_message(chat_id, say.WHICH_CHANNEL, keyboard=keyboard)
        return "asked which channel"

    return command


def _set_status(rt: Rt, user_id: int, chat_id: int, token: str, status: ChannelStatus) -> str:
    channel = load_channel(rt.store, token)
    if channel is None:
        rt.telegram.send_message(chat_id, say.NOT_OWNER)
        return "not the owner"
    problem = _owner_problem(rt, user_id, _data_of(channel))
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
    owned = _owned(rt, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, say.NO_CHANNELS)
        return "no channels"
    text = "\n\n".join(channel_stats(rt, c) for c in owned)
    rt.telegram.send_message(chat_id, text, keyboard=_app_keyboard(rt))
    return "stats shown"


def channel_stats(rt: Rt, channel: ChannelDoc) -> str:
    """Active subscribers and their expiries in the next 7 days; per window of the last 7 and 30
    days, new and renewed subscriptions, sales and donations (settled orders)."""
    now = rt.clock.now()
    active, expiring = active_and_expiring(rt.store, channel.token, now, EXPIRING_WITHIN)
    orders = [
        stored.doc
        for page in rt.store.orders.pages(
            SETTLED_ORDERS_OF_CHANNEL,
            channel_token=channel.token,
            status=OrderStatus.SETTLED,
            above=now - timedelta(days=max(STATS_WINDOWS)),
        )
        for stored in page
    ]
    windows = []
    for days in STATS_WINDOWS:
        recent = [
            o for o in orders if o.settled_at is not None and o.settled_at >= now - timedelta(days=days)
        ]
        sales = [o for o in recent if o.kind is OrderKind.SUBSCRIPTION]
        # A new subscription (or one that had lapsed) runs from the payment; a renewal extends it.
        new = sum(
            o.subscription_expires_at == o.settled_at + timedelta(days=o.days or 0)  # type: ignore[operator]
            for o in sales
        )
        revenue = sum((o.price_amount for o in sales), Decimal(0))
        donations = sum((o.price_amount for o in recent if o.kind is OrderKind.DONATION), Decimal(0))
        windows.append((days, new, len(sales) - new, revenue, donations))
    return say.stats(channel.title, active, expiring, windows)


def _payouts(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    """The owner's balance (available, in a payout, paid) and their last payouts."""
    if not _owned(rt, user_id):
        rt.telegram.send_message(chat_id, say.NO_CHANNELS)
        return "no channels"
    owed = owner_balance(rt.store, user_id)
    history = payout_history(rt.store, user_id, limit=5)
    rt.telegram.send_message(chat_id, say.payouts(owed, history), keyboard=_app_keyboard(rt))
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
}
