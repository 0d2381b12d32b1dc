"""An owner's promo codes in the bot: `/promo` makes one through a conversation (the framework of
`telepay.owners.commands` and `questions`: pick the channel when there are several, the code, the
discount, the tiers, the limits, each optional one with a skip button, a summary, confirm), and
`/promos` lists a channel's codes with their uses, revenue, state and share link, with buttons to
pause, resume or end each. Every answer is checked by `telepay.channels.promo_rules` (the owner app
and the operator CLI use the same rules); only the channel's owner who is still the creator of its
Telegram channels may do any of it (`telepay.owners.admins`). A discount taking a tier below
NowPayments' minimum is said to the owner (crypto invoices are then made at the minimum).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, ConversationDoc, PromoCodeDoc, PromoStatus
from shared_schemas.ids import (
    CALLBACK_PROMO_ACTION,
    CALLBACK_PROMO_LIST,
    deep_link,
    normal_promo_code,
    promo_action_callback,
    promo_code_id,
    promo_list_callback,
    promo_start,
)
from shared_schemas.queries import PROMO_CODES_OF_CHANNEL
from shared_schemas.telegram import Button, TgCallbackQuery
from telepay.channels import paging, promo_rules
from telepay.channels.lookup import load_channel
from telepay.channels.minimums import coin_minimums
from telepay.channels.settings import CURRENCY, Invalid
from telepay.core.i18n import N_, in_stars, money, t, tn, when
from telepay.core.store import Store, Tx
from telepay.owners import admins, grants
from telepay.owners import texts as say
from telepay.owners.conversations import Conversations, Move
from telepay.owners.questions import NOTE, Ask, Data, Result, Step, _with_note
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
NAME = "promo"  # its conversation
LISTED = 10  # codes a /promos message shows (the newest)

ASK_CHANNEL = N_("Which channel is the code for?")
ASK_CODE = N_("Send the code buyers will use: 4 to 32 letters and digits, e.g. SUMMER20. Any case works.")
ASK_DISCOUNT = N_(
    "How much off? Send a percentage (e.g. 20%) or an amount in USD (e.g. 5). 100% is free access."
)
ASK_TIERS = N_("Which tiers is it for?")
ASK_ENDS = N_("Until which day (UTC) does it work? Send YYYY-MM-DD, e.g. 2027-01-31.")
ASK_MAX_USES = N_("How many times can it be used in all? Send a number.")
ASK_PER_BUYER = N_("How many times can one buyer use it? Send a number.")
ASK_NEW_ONLY = N_("Who can use it?")
ALL_TIERS = N_("All tiers")
NO_END = N_("No end date")
NO_LIMIT = N_("No limit")
NEW_ONLY = N_("New subscribers only")
EVERYONE = N_("Everyone")
CREATE = N_("✅ Create code")
NO_CODES = N_("{title} has no promo codes yet. Send /promo to make one.")
CODE_GONE = N_("That code is gone.")
CODE_TAKEN = N_("That code was just made for this channel by another setup. Send /promo to choose another.")
ENDED_FOR_GOOD = N_("That code has ended; it can't be resumed.")
STATES = {
    PromoStatus.ACTIVE: N_("active"),
    PromoStatus.PAUSED: N_("paused"),
    PromoStatus.ENDED: N_("ended"),
}
ACTIONS = {"p": PromoStatus.PAUSED, "r": PromoStatus.ACTIVE, "e": PromoStatus.ENDED}


class CodeTaken(Exception):
    """Another code of that name was made for the channel meanwhile."""


def _channel_of(rt: Rt, data: Data) -> ChannelDoc:
    channel = load_channel(rt.store, str(data.get("token")))
    if channel is None:
        raise ValueError(f"channel {data.get('token')} vanished")
    return channel


def channel_data(channel: ChannelDoc) -> Data:
    """What the owner check of every step needs (`commands._owner_problem`)."""
    return {
        "token": channel.token,
        "title": channel.title,
        "open_channel_id": channel.open_channel_id,
        "closed_channel_id": channel.closed_channel_id,
    }


# -- the questions ----------------------------------------------------------------------------------
def _take_channel(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(t(say.USE_BUTTONS))
    return channel_data(channel)


def _take_code(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    code = promo_rules.parse_code(answer)
    if isinstance(code, Invalid):
        return code
    if rt.store.promo_codes.get(promo_code_id(str(data["token"]), code)) is not None:
        return Invalid(taken(str(data["title"]), code))
    return {"code": code}


def taken(title: str, code: str) -> str:
    return t("{title} has a code {code} already. Please choose another.", title=title, code=code)


def _draft(rt: Rt, data: Data, user_id: int) -> PromoCodeDoc | list[Any]:
    values = {
        "code": data.get("code"),
        "percent_off": data.get("percent_off"),
        "amount_off": data.get("amount_off"),
        "tier_ids": data.get("tier_ids") or [],
        "ends_at": datetime.fromisoformat(data["ends_at"]) if data.get("ends_at") else None,
        "max_uses": data.get("max_uses"),
        "max_uses_per_buyer": data.get("max_uses_per_buyer"),
        "new_subscribers_only": bool(data.get("new_subscribers_only")),
    }
    return promo_rules.validate_code(values, _channel_of(rt, data), user_id, rt.clock.now())


def _notes(rt: Rt, data: Data, user_id: int) -> str | None:
    draft = _draft(rt, data | {"code": data.get("code") or "DRAFT"}, user_id)
    if isinstance(draft, list):
        return None
    notes = promo_rules.minimum_notes(_channel_of(rt, data), draft, coin_minimums(rt.nowpayments, CURRENCY))
    return "\n".join(notes) or None


def _take_discount(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    discount = promo_rules.parse_discount(answer)
    if isinstance(discount, Invalid):
        return discount
    amount = str(discount.amount_off) if discount.amount_off is not None else None
    result: Data = {"percent_off": discount.percent_off, "amount_off": amount}
    note = _notes(rt, data | result, user_id)
    return result | ({NOTE: note} if note else {})


def _ask_tiers(rt: Rt, user_id: int, data: Data) -> Ask:
    channel = _channel_of(rt, data)
    tiers = tuple((tier.label or tier.tier_id, tier.tier_id) for tier in channel.tiers)
    return Ask(t(ASK_TIERS), ((t(ALL_TIERS), "all"), *tiers))


def _take_tiers(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    tiers = promo_rules.parse_tier_ids(answer, _channel_of(rt, data))
    return tiers if isinstance(tiers, Invalid) else {"tier_ids": tiers}


def _take_ends(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    ends = promo_rules.parse_date(answer, rt.clock.now())
    return ends if isinstance(ends, Invalid) else {"ends_at": ends.isoformat() if ends else None}


def _take_limit(name: str, what: str) -> Callable[[Rt, int, Data, str], Result]:
    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        limit = promo_rules.parse_limit(answer, what)
        return limit if isinstance(limit, Invalid) else {name: limit}

    return take


def _take_new_only(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(t(say.USE_BUTTONS))
    return {"new_subscribers_only": answer == "yes"}


def _take_confirm(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(t(say.USE_BUTTONS))
    return {"confirmed": answer == "yes"}


def _ask_confirm(rt: Rt, user_id: int, data: Data) -> Ask:
    draft = _draft(rt, data, user_id)
    if isinstance(draft, list):  # every answer was checked on its own: a bug, not input
        raise ValueError("; ".join(str(error) for error in draft))
    channel = _channel_of(rt, data)
    lines = [t("Your new code for {title}:", title=channel.title), describe(draft, channel)]
    lines += promo_rules.minimum_notes(channel, draft, coin_minimums(rt.nowpayments, CURRENCY))
    return Ask("\n\n".join(lines), ((t(CREATE), "yes"), (t(say.CANCEL), "no")))


def _fixed(text: str, *choices: tuple[str, str]) -> Callable[[Rt, int, Data], Ask]:
    return lambda rt, user_id, data: Ask(t(text), tuple((t(label), answer) for label, answer in choices))


STEPS: dict[str, Step] = {
    "promo_channel": Step(
        lambda rt, u, d: Ask(t(ASK_CHANNEL), tuple((c.title, c.token) for c in admins.owned(rt.store, u))),
        _take_channel,
    ),
    "promo_code": Step(_fixed(ASK_CODE), _take_code),
    "promo_discount": Step(
        _fixed(ASK_DISCOUNT, ("10%", "10%"), ("20%", "20%"), ("50%", "50%"), ("100%", "100%")), _take_discount
    ),
    "promo_tiers": Step(_ask_tiers, _take_tiers),
    "promo_ends": Step(_fixed(ASK_ENDS, (NO_END, "")), _take_ends),
    "promo_max_uses": Step(
        _fixed(ASK_MAX_USES, (NO_LIMIT, ""), ("10", "10"), ("100", "100")), _take_limit("max_uses", "uses")
    ),
    "promo_per_buyer": Step(
        _fixed(ASK_PER_BUYER, (NO_LIMIT, ""), ("1", "1")), _take_limit("max_uses_per_buyer", "per buyer")
    ),
    "promo_new_only": Step(_fixed(ASK_NEW_ONLY, (EVERYONE, "no"), (NEW_ONLY, "yes")), _take_new_only),
    "promo_confirm": Step(_ask_confirm, _take_confirm),
}
STEPS = {name: _with_note(step) for name, step in STEPS.items()}
ORDER = tuple(STEPS)


def next_step(step: str, data: Data) -> str:
    if step == "promo_confirm":
        return "done" if data.get("confirmed") else "cancelled"
    return ORDER[ORDER.index(step) + 1]


def writes(rt: Rt, conversation: ConversationDoc, data: Data) -> Callable[[Tx], None]:
    """The code, written with the conversation's last move (refused if the name was taken meanwhile)."""
    code = _draft(rt, data, conversation.user_id)
    if isinstance(code, list):
        raise ValueError("; ".join(str(error) for error in code))
    return creating(rt, code)


def creating(rt: Runtime[Any], code: PromoCodeDoc) -> Callable[[Tx], None]:
    """Writing a new code (the bot's conversation and the owner app): refused with CodeTaken when
    the channel has one of that name, read inside the transaction."""
    doc_id = promo_code_id(code.channel_token, code.code)

    def create(tx: Tx) -> None:
        if tx.get(rt.store.promo_codes, doc_id) is not None:
            raise CodeTaken(code.code)
        tx.set(rt.store.promo_codes, doc_id, code)

    return create


def share_link(rt: Runtime[Any], token: str, code: str) -> str:
    return deep_link(rt.settings.telegram_bot_username, promo_start(token, code))


def show_done(rt: Rt, chat_id: int, data: Data) -> str:
    code = normal_promo_code(str(data["code"]))
    text = t(
        "✅ The code {code} is live for {title}. Buyers type it under the offer, or open this link:\n{link}\n\n"
        "/promos shows its uses.",
        code=code,
        title=data["title"],
        link=share_link(rt, str(data["token"]), code),
    )
    rt.telegram.send_message(chat_id, text)
    return "promo code created"


def start(rt: Rt, user_id: int, chat_id: int, update_id: int) -> tuple[str, ConversationDoc | None]:
    """`/promo`: the conversation, from the code's question when the owner has one channel."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels", None
    step, data = ("promo_code", channel_data(owned[0])) if len(owned) == 1 else ("promo_channel", {})
    move, conversation = Conversations(rt.store, rt.clock).start(user_id, NAME, step, data, update_id)
    return ("started" if move is Move.APPLIED else "again"), conversation


# -- /promos --------------------------------------------------------------------------------------------
def describe(code: PromoCodeDoc, channel: ChannelDoc) -> str:
    """One code's settings, as the summary and the list show them."""
    parts = [promo_rules.discount_text(code), promo_rules.tiers_text(code, channel)]
    if code.starts_at:
        parts.append(t("from {start}", start=when(code.starts_at)))
    if code.ends_at:
        parts.append(t("until {until}", until=when(code.ends_at)))
    if code.max_uses:
        parts.append(tn("{n} use in all", "{n} uses in all", code.max_uses))
    if code.max_uses_per_buyer:
        parts.append(tn("{n} use per buyer", "{n} uses per buyer", code.max_uses_per_buyer))
    if code.new_subscribers_only:
        parts.append(t(NEW_ONLY).lower())
    return f"🏷 {code.code}: " + " · ".join(parts)


def codes_of(store: Store, token: str) -> list[PromoCodeDoc]:
    """A channel's codes, the newest first (the owner's `/promos`, the app's Codes tab and the
    operator's `telepay promos list`)."""
    found = store.promo_codes.find(PROMO_CODES_OF_CHANNEL, channel_token=token)
    return sorted(found, key=lambda code: code.created_at, reverse=True)


def _line(rt: Rt, code: PromoCodeDoc, channel: ChannelDoc) -> str:
    uses = (
        tn("{n} use of {limit}", "{n} uses of {limit}", code.uses, limit=code.max_uses)
        if code.max_uses
        else tn("{n} use", "{n} uses", code.uses)
    )
    revenue = money(code.revenue, CURRENCY) + (
        f" + {in_stars(code.revenue_stars)}" if code.revenue_stars else ""
    )
    stats = t("{uses} · {revenue} · {state}", uses=uses, revenue=revenue, state=t(STATES[code.status]))
    return f"{describe(code, channel)}\n{stats}\n{share_link(rt, channel.token, code.code)}"


def _list(rt: Rt, channel: ChannelDoc) -> tuple[str, list[list[Button]] | None]:
    codes = codes_of(rt.store, channel.token)[:LISTED]
    if not codes:
        return t(NO_CODES, title=channel.title), None
    text = "\n\n".join(
        [t("Promo codes of {title}:", title=channel.title), *(_line(rt, c, channel) for c in codes)]
    )
    rows = []
    for code in codes:
        if code.status is PromoStatus.ENDED:
            continue
        toggle = (
            Button(
                t("⏸ Pause {code}", code=code.code),
                callback_data=promo_action_callback(channel.token, code.code, "p"),
            )
            if code.status is PromoStatus.ACTIVE
            else Button(
                t("▶️ Resume {code}", code=code.code),
                callback_data=promo_action_callback(channel.token, code.code, "r"),
            )
        )
        end = Button(
            t("⏹ End {code}", code=code.code),
            callback_data=promo_action_callback(channel.token, code.code, "e"),
        )
        rows.append([toggle, end])
    return text, rows or None


def list_codes(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str:
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    if len(owned) > 1:
        keyboard = [[Button(c.title, callback_data=promo_list_callback(c.token))] for c in owned]
        rt.telegram.send_message(chat_id, t(say.WHICH_CHANNEL), keyboard=keyboard)
        return "asked which channel"
    return _show_list(rt, user_id, owned[0], None)


def _show_list(rt: Rt, user_id: int, channel: ChannelDoc, message_id: int | None) -> str:
    text, keyboard = _list(rt, channel)
    paging.show_page(rt, user_id, message_id, text, keyboard)
    return "promo codes listed"


def refusal(rt: Runtime[Any], user_id: int, channel: ChannelDoc | None) -> str | None:
    """Why this person may not manage the channel's codes, in their words; None when they may (the
    owners' one rule, worded as for a grant: `telepay.owners.grants.refusal`)."""
    return t(say.NOT_OWNER) if channel is None else grants.refusal(rt, user_id, channel)


def set_status(
    rt: Runtime[Any], token: str, code: str, status: PromoStatus, now: datetime
) -> PromoCodeDoc | str:
    """Pause, resume or end a code (the bot's buttons and the owner app): the code after, or why not
    (`gone`, `ended`: an ended code stays ended)."""
    doc_id = promo_code_id(token, code)

    def work(tx: Tx) -> PromoCodeDoc | str:
        current = tx.get(rt.store.promo_codes, doc_id)
        if current is None:
            return "gone"
        if current.status is PromoStatus.ENDED and status is not PromoStatus.ENDED:
            return "ended"
        if current.status is not status:
            tx.update(rt.store.promo_codes, doc_id, {"status": status, "updated_at": now})
        return current.model_copy(update={"status": status})

    return rt.store.transaction(work)


def on_callback(query: TgCallbackQuery, prefix: str, parts: list[str], update_id: int, rt: Rt) -> str:
    user_id = query.from_user.id
    channel = load_channel(rt.store, parts[0]) if parts else None
    problem = refusal(rt, user_id, channel)
    if problem is not None or channel is None:
        rt.telegram.answer_callback_query(query.id, problem, alert=True)
        return "not the owner"
    message_id = paging.pressed_message(query)
    if prefix == CALLBACK_PROMO_LIST and len(parts) == 1:
        rt.telegram.answer_callback_query(query.id)
        return _show_list(rt, user_id, channel, None)
    if prefix == CALLBACK_PROMO_ACTION and len(parts) == 3 and parts[2] in ACTIONS:
        done = set_status(rt, channel.token, parts[1], ACTIONS[parts[2]], rt.clock.now())
        if isinstance(done, str):
            rt.telegram.answer_callback_query(
                query.id, t(CODE_GONE if done == "gone" else ENDED_FOR_GOOD), alert=True
            )
            return f"promo code {done}"
        rt.telegram.answer_callback_query(query.id, t(STATES[done.status]))
        _show_list(rt, user_id, channel, message_id)
        return f"promo code {done.status.value}"
    rt.telegram.answer_callback_query(query.id, t(say.STALE_BUTTON))
    return "unknown button"


CALLBACK_PREFIXES = (CALLBACK_PROMO_LIST, CALLBACK_PROMO_ACTION)
