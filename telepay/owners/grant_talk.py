"""`/grant` and `/revoke` in the bot. With arguments (`/grant @alice 7`, `/grant 123456 30`,
`/grant @alice -7`, `/revoke @alice 7`, `/revoke @alice`) the change is made at once (an owner of
several channels picks one first); alone, they start the `grant` conversation (the owners'
conversations of `telepay.owners.commands`, versioned and deduplicated the same way): the channel
(if several), who, how many days (buttons or typed), an optional note, and a confirmation. The
change itself is `telepay.owners.grants`."""

from __future__ import annotations

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, ConversationDoc
from telepay.channels.lookup import load_channel
from telepay.channels.settings import Invalid
from telepay.core import i18n
from telepay.core.i18n import t
from telepay.owners import admins, grants
from telepay.owners import grant_texts as say_grant
from telepay.owners import texts as say
from telepay.owners.conversations import Conversations
from telepay.owners.grant_rules import parse_command, parse_days, parse_reason, parse_who
from telepay.owners.questions import Ask, Data, Result, Step
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
NAME = "grant"
ORDER = ("grant_channel", "grant_who", "grant_days", "grant_reason", "grant_confirm")
END_NOW_ANSWER = "all"


# -- the questions -------------------------------------------------------------------------------
def _take_channel(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(t(say.USE_BUTTONS))
    return {"token": channel.token, "title": channel.title}


def _take_who(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    who = parse_who(answer)
    if isinstance(who, Invalid):
        return who
    member = grants.resolve(rt, who)
    if member is None:
        return Invalid(say_grant.unknown_username(who.username or ""))
    return {"member_id": member, "who": str(who)}


def _ask_days(rt: Rt, user_id: int, data: Data) -> Ask:
    choices = tuple((i18n.number(n), str(n)) for n in (7, 30, 90))
    if data.get("take"):
        choices = (*choices, (t(say_grant.END_NOW), END_NOW_ANSWER))
    return Ask(say_grant.ask_days(str(data.get("who")), bool(data.get("take"))), choices)


def _take_days(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if data.get("take") and answer == END_NOW_ANSWER:
        return {"days": None}
    days = parse_days(answer)
    return days if isinstance(days, Invalid) else {"days": days}


def _take_reason(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    reason = parse_reason(answer)
    return reason if isinstance(reason, Invalid) else {"reason": reason}


def _ask_confirm(rt: Rt, user_id: int, data: Data) -> Ask:
    text = say_grant.confirm(
        str(data.get("who")),
        str(data.get("title")),
        data.get("days"),
        bool(data.get("take")),
        data.get("reason") or "",
    )
    return Ask(text, ((t(say_grant.CONFIRM), "yes"), (t(say_grant.CANCEL), "no")))


def _take_confirm(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(t(say.USE_BUTTONS))
    return {"confirmed": answer == "yes"}


STEPS: dict[str, Step] = {
    "grant_channel": Step(
        lambda rt, u, d: Ask(
            t(say.WHICH_CHANNEL), tuple((c.title, c.token) for c in admins.owned(rt.store, u))
        ),
        _take_channel,
    ),
    "grant_who": Step(lambda rt, u, d: Ask(t(say_grant.ASK_WHO)), _take_who),
    "grant_days": Step(_ask_days, _take_days),
    "grant_reason": Step(
        lambda rt, u, d: Ask(t(say_grant.ASK_REASON), ((t(say_grant.SKIP), ""),)), _take_reason
    ),
    "grant_confirm": Step(_ask_confirm, _take_confirm),
}


def next_step(step: str, data: Data) -> str:
    """The next question not answered yet; `done` after the confirmation (or straight after the
    channel when the command line said everything), `cancelled` when not confirmed."""
    if step == "grant_confirm":
        return "done" if data.get("confirmed") else "cancelled"
    if data.get("quick"):
        return "done"
    rest = ORDER[ORDER.index(step) + 1 :]
    for name in rest:
        key = {
            "grant_channel": "token",
            "grant_who": "member_id",
            "grant_days": "days",
            "grant_reason": "reason",
        }
        if name == "grant_confirm" or key[name] not in data:
            return name
    return "grant_confirm"


# -- the end -------------------------------------------------------------------------------------
def finish(rt: Rt, chat_id: int, conversation: ConversationDoc) -> str:
    """The conversation confirmed: the change made (once, by its update id) and the owner told."""
    data = conversation.data
    channel = load_channel(rt.store, str(data.get("token")))
    if channel is None:
        rt.telegram.send_message(chat_id, t(say.NOT_OWNER))
        return "not the owner"
    change = grants.Change(
        member_id=int(data["member_id"]),
        days=data.get("days"),
        take=bool(data.get("take")),
        reason=str(data.get("reason") or ""),
        via="bot",
    )
    action_id = grants.bot_action_id(change.member_id, channel.token, conversation.last_update_id)
    return _said(rt, chat_id, conversation.user_id, channel, change, str(data.get("who")), action_id)


def _said(
    rt: Rt, chat_id: int, owner_id: int, channel: ChannelDoc, change: grants.Change, who: str, action_id: str
) -> str:
    result = grants.apply(rt, owner_id, channel, change, action_id)
    if isinstance(result, str):
        rt.telegram.send_message(chat_id, result)
        return "grant refused"
    until = result.subscription.expires_at
    rt.telegram.send_message(chat_id, say_grant.done(who, channel.title, change.days, change.take, until))
    return "access revoked" if change.take else "access granted"


# -- the commands (the conversation they start is shown by `telepay.owners.commands`) -----------
def start(rt: Rt, user_id: int, chat_id: int, update_id: int, take: bool) -> str | ConversationDoc:
    """`/grant` or `/revoke` alone: the conversation (its channel already chosen with one channel)."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    data: Data = {"take": take}
    if len(owned) == 1:
        data |= {"token": owned[0].token, "title": owned[0].title}
    step = "grant_channel" if "token" not in data else next_step("grant_channel", data)
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, NAME, step, data, update_id)
    return conversation


def with_arguments(
    rt: Rt, user_id: int, chat_id: int, update_id: int, take: bool, argument: str
) -> str | ConversationDoc:
    """`/grant WHO DAYS`, `/revoke WHO [DAYS]`: at once with one channel; else the channel asked."""
    asked = parse_command(take, argument)
    if isinstance(asked, Invalid):
        rt.telegram.send_message(chat_id, asked.reason)
        return "grant refused (arguments)"
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    member = grants.resolve(rt, asked.who)
    if member is None:
        rt.telegram.send_message(chat_id, say_grant.unknown_username(asked.who.username or ""))
        return "grant refused (unknown user)"
    who = str(asked.who)
    if len(owned) == 1:
        change = grants.Change(member, asked.days, asked.take, "", "bot")
        action_id = grants.bot_action_id(member, owned[0].token, update_id)
        return _said(rt, chat_id, user_id, owned[0], change, who, action_id)
    data = {
        "take": asked.take,
        "member_id": member,
        "who": who,
        "days": asked.days,
        "reason": "",
        "quick": True,
    }
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, NAME, "grant_channel", data, update_id)
    return conversation
