"""The questions of `/newchannel` and `/edit`: what each step asks (text and buttons), how it takes
an answer (checked by `telepay.channels.settings`; an `Invalid` is shown with the question again;
a price also against NowPayments' minimum payments, whose note is said above the next question),
which step comes next, and how the answers become a channel. The conversation itself (who is
asked what, and what is written at the end) is `telepay.owners.commands`. Questions are asked in
the current language (the owner's: the webhook speaks to the sender); the language of the
channel's posts is one of the answers (its buttons: each language in its own name).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, Tier
from shared_schemas.queries import BOT_CHATS_ADDED_BY
from telepay.channels import settings as cs
from telepay.channels import wallets
from telepay.channels.lookup import load_channel
from telepay.channels.minimums import coin_minimums
from telepay.channels.price_rules import check_price
from telepay.channels.settings import Invalid
from telepay.channels.star_prices import STARS_MAX, STARS_MIN, stars_for, tier_in_stars
from telepay.core import i18n
from telepay.core.i18n import N_, money, t, tn
from telepay.owners import admins
from telepay.owners import texts as say
from telepay.owners.bot_chats import Role, missing_rights, offers_in_chat
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
Data = dict[str, Any]
Result = Data | Invalid
# A take's word about the answer it accepted (`_price_checked`): kept with the answers and said
# above the next question, so a re-delivered update shows it again; the next answer clears it.
NOTE = "note"


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


def _candidates(rt: Rt, user_id: int, data: Data) -> list[tuple[str, str]]:
    """Chats the user made the bot an admin of, of which the user is the creator."""
    taken = {data.get("open_channel_id"), data.get("closed_channel_id")}
    found = []
    for chat in rt.store.bot_chats.find(BOT_CHATS_ADDED_BY, added_by=user_id):
        if (
            chat.status == "administrator"
            and chat.chat_id not in taken
            and admins.is_creator(rt, chat.chat_id, user_id)
        ):
            found.append((chat.title or str(chat.chat_id), str(chat.chat_id)))
    return found


def _ask_pick(role: Role) -> Callable[[Rt, int, Data], Ask]:
    def ask(rt: Rt, user_id: int, data: Data) -> Ask:
        choices = _candidates(rt, user_id, data)
        if not choices:
            return Ask(t(say.NO_CANDIDATES), ((t(say.REFRESH), say.REFRESH_ANSWER),))
        return Ask(say.pick_channel(role.value), (*choices, (t(say.REFRESH), say.REFRESH_ANSWER)))

    return ask


def _take_pick(role: Role) -> Callable[[Rt, int, Data, str], Result]:
    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        if answer == say.REFRESH_ANSWER:
            return Invalid(t(say.LIST_AGAIN))
        if not re.fullmatch(r"-?[0-9]{1,20}", answer):  # a chat id: ASCII digits ("²" is a digit to isdigit)
            return Invalid(t(say.USE_BUTTONS))
        chat_id = int(answer)
        record = rt.store.bot_chats.get(str(chat_id))
        other = data.get("closed_channel_id" if role is Role.OPEN else "open_channel_id")
        if record is None or record.status != "administrator" or chat_id == other:
            return Invalid(t(say.USE_BUTTONS))
        used = [o for o in offers_in_chat(rt, chat_id) if o.channel.token != data.get("token")]
        if used:
            return Invalid(say.chat_in_use(record.title, used[0].channel.title))
        if not admins.is_creator(rt, chat_id, user_id):
            return Invalid(say.creator_needed(record.title))
        missing = missing_rights(admins.member(rt, chat_id, _bot_id(rt)), role)
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


def _price_checked(step: Step, price_of: Callable[[Data], str]) -> Step:
    """A question setting a price buyers pay, its answer checked against NowPayments' minimum
    payment in each coin (`telepay.channels.price_rules`): refused when no coin takes it, else
    accepted with a note naming the coins that can't (or saying the minimums could not be read)."""

    def take_checked(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        result = step.take(rt, user_id, data, answer)
        if isinstance(result, Invalid):
            return result
        minimums = coin_minimums(rt.nowpayments, cs.CURRENCY)
        check = check_price(Decimal(price_of(result)), minimums, cs.CURRENCY)
        if check.refusal:
            return Invalid(check.refusal)
        return result | ({NOTE: check.note} if check.note else {})

    return Step(step.ask, take_checked)


def _derived_stars(rt: Rt, data: Data) -> int:
    """The Star price of the tier being asked, converted from its USD price at the configured rate."""
    return stars_for(Decimal(data["tier_draft"]["price"]), rt.settings.stars_usd_price)


def _ask_tier_stars(rt: Rt, user_id: int, data: Data) -> Ask:
    derived = _derived_stars(rt, data)
    if derived > STARS_MAX:
        choice = t(say.CRYPTO_ONLY)
    else:
        choice = say.use_derived_stars(derived)
    return Ask(say.ask_tier_stars(_tier_index(data), STARS_MIN, STARS_MAX), ((choice, cs.STARS_AUTO),))


def _take_tier_stars(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    """The owner's Star price, or None (derived): noted when the derived one is beyond Telegram's limit."""
    result = _take_tier_part("stars", cs.parse_star_price)(rt, user_id, data, answer)
    if isinstance(result, Invalid):
        return result
    draft = result["tier_draft"]
    note = cs.star_note(Decimal(draft["price"]), draft["stars"], rt.settings.stars_usd_price)
    return result | ({NOTE: note} if note else {})


def _network_name(data: Data) -> str:
    net = wallets.network(str(data.get("payout_network")))
    return net.name if net else t("wallet")


def _ask_language(data: Data) -> Ask:
    """Each language in its own name; first the channel's (in /edit), else the owner's."""
    first = data.get("language") or i18n.current()
    ordered = sorted(i18n.LANGUAGES, key=lambda code: code != first)
    return Ask(t(say.ASK_LANGUAGE), tuple((i18n.LANGUAGES[code], code) for code in ordered))


def _usd(amount: str) -> str:
    return money(Decimal(amount), cs.CURRENCY)


STEPS: dict[str, Step] = {
    "open": Step(_ask_pick(Role.OPEN), _take_pick(Role.OPEN)),
    "closed": Step(_ask_pick(Role.CLOSED), _take_pick(Role.CLOSED)),
    "title": _field(lambda d: Ask(t(say.ASK_TITLE)), lambda d, a: cs.parse_title(a), "title"),
    "description": _field(
        lambda d: Ask(t(say.ASK_DESCRIPTION), ((t(say.SKIP), ""),)),
        lambda d, a: cs.parse_description(a),
        "description",
    ),
    "language": _field(_ask_language, lambda d, a: cs.parse_language(a), "language"),
    "tier_count": Step(
        lambda rt, u, d: Ask(t(say.ASK_TIER_COUNT), tuple((i18n.number(n), str(n)) for n in (1, 2, 3))),
        _take_tier_count,
    ),
    "tier_price": _price_checked(
        Step(
            lambda rt, u, d: Ask(say.ask_tier_price(_tier_index(d), d["tier_count"])),
            _take_tier_part("price", cs.parse_price),
        ),
        lambda r: r["tier_draft"]["price"],
    ),
    "tier_days": Step(
        lambda rt, u, d: Ask(
            say.ask_tier_days(_tier_index(d)), tuple((i18n.number(n), str(n)) for n in (7, 30, 90, 365))
        ),
        _take_tier_part("days", cs.parse_days),
    ),
    "tier_stars": Step(_ask_tier_stars, _take_tier_stars),
    "tier_label": Step(
        lambda rt, u, d: Ask(say.ask_tier_label(_tier_index(d)), ((t(say.SKIP), ""),)),
        _take_tier_part("label", cs.parse_label),
    ),
    "donation_min": _price_checked(
        _field(
            lambda d: Ask(t(say.ASK_DONATION_MIN), ((_usd("4.99"), "4.99"), (_usd("1.00"), "1"))),
            lambda d, a: cs.parse_amount(a, "minimum donation", cs.DONATION_CEILING),
            "donation_min",
        ),
        lambda r: r["donation_min"],
    ),
    "donation_max": _field(
        lambda d: Ask(
            say.ask_donation_max(cs.DONATION_CEILING), ((_usd("9999.99"), "9999.99"), (_usd("500.00"), "500"))
        ),
        lambda d, a: cs.check_donation_max(Decimal(d["donation_min"]), a),
        "donation_max",
    ),
    "donation_message": _field(
        lambda d: Ask(t(say.ASK_DONATION_MESSAGE), ((t(say.SKIP), ""),)),
        lambda d, a: cs.parse_donation_message(a),
        "donation_message",
    ),
    "grace": _field(
        lambda d: Ask(
            t(say.ASK_GRACE),
            ((t(say.NO_GRACE), "0"), (say.grace_choice(60), "60"), (say.grace_choice(1440), "1440")),
        ),
        lambda d, a: cs.parse_grace_minutes(a),
        "grace_period_minutes",
    ),
    "payout_currency": _field(
        lambda d: Ask(t(say.ASK_CURRENCY), tuple((c.upper(), c) for c in wallets.PAYOUT_CURRENCIES)),
        lambda d, a: cs.parse_payout_currency(a),
        "payout_currency",
    ),
    "payout_network": _field(
        lambda d: Ask(
            t(say.ASK_NETWORK), tuple((n.name, n.code) for n in wallets.networks_for(d["payout_currency"]))
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
        lambda d: Ask(t(say.ASK_STRATEGY), ((t(say.INSTANT), "instant"), (t(say.THRESHOLD), "threshold"))),
        lambda d, a: cs.parse_payout_strategy(a),
        "payout_strategy",
    ),
    "payout_threshold": _field(
        lambda d: Ask(t(say.ASK_THRESHOLD)), lambda d, a: cs.parse_payout_threshold(a), "payout_threshold"
    ),
}

# -- free trials --
STEPS["trial"] = _field(
    lambda d: Ask(
        t(say.ASK_TRIAL),
        ((t(say.NO_TRIAL), cs.TRIAL_OFF), *((say.trial_choice(n), str(n)) for n in (3, 7, 14))),
    ),
    lambda d, a: cs.parse_trial_days(a),
    "trial_days",
)

# What `/edit` can change, each a run of the questions above (in `/newchannel`'s order); the
# labels are the buttons of `/edit` (translated when asked).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "channels": (N_("Channels"), ("open", "closed")),
    "title": (N_("Title"), ("title",)),
    "description": (N_("Description"), ("description",)),
    "language": (N_("Language of the posts"), ("language",)),
    "tiers": (
        N_("Prices and durations"),
        ("tier_count", "tier_price", "tier_days", "tier_stars", "tier_label"),
    ),
    "trial": (N_("Free trial"), ("trial",)),  # -- free trials --
    "donations": (N_("Donations"), ("donation_min", "donation_max", "donation_message")),
    "grace": (N_("Grace period"), ("grace",)),
    "payout": (N_("Payout wallet"), ("payout_currency", "payout_network", "payout_wallet", "confirm_wallet")),
    "strategy": (N_("Payout strategy"), ("payout_strategy", "payout_threshold")),
}
# A new channel confirms everything at once, its wallet included.
NEW_CHANNEL_STEPS = (
    *(step for _, steps in GROUPS.values() for step in steps if step != "confirm_wallet"),
    "confirm",
)


def _take_channel_to_edit(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(t(say.USE_BUTTONS))
    return data_of(channel)


def _take_group(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in GROUPS:
        return Invalid(t(say.USE_BUTTONS))
    if answer == "channels":  # chosen again from scratch: the current ones are offered too
        return {"group": answer, "open_channel_id": None, "closed_channel_id": None}
    return {"group": answer}


def _take_confirm(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(t(say.USE_BUTTONS))
    return {"confirmed": answer == "yes"}


STEPS |= {
    "confirm": Step(
        lambda rt, u, d: Ask(
            say.summary(_summary_lines(rt, d)), ((t(say.GO_LIVE), "yes"), (t(say.CANCEL), "no"))
        ),
        _take_confirm,
    ),
    # Changing where the money goes takes one more tap: the new wallet, shown in full.
    "confirm_wallet": Step(
        lambda rt, u, d: Ask(
            say.confirm_wallet(str(d.get("payout_wallet")), _network_name(d)),
            ((t(say.USE_WALLET), "yes"), (t(say.CANCEL), "no")),
        ),
        _take_confirm,
    ),
    "pick_channel": Step(
        lambda rt, u, d: Ask(
            t(say.ASK_CHANNEL_TO_EDIT), tuple((c.title, c.token) for c in admins.owned(rt.store, u))
        ),
        _take_channel_to_edit,
    ),
    "pick_group": Step(
        lambda rt, u, d: Ask(t(say.ASK_GROUP), tuple((t(label), key) for key, (label, _) in GROUPS.items())),
        _take_group,
    ),
}


def _with_note(step: Step) -> Step:
    def ask(rt: Rt, user_id: int, data: Data) -> Ask:
        question = step.ask(rt, user_id, data)
        note = data.get(NOTE)
        return Ask(f"{note}\n\n{question.text}", question.choices) if note else question

    def take(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
        result = step.take(rt, user_id, data, answer)
        return result if isinstance(result, Invalid) else {NOTE: None} | result

    return Step(ask, take)


STEPS = {name: _with_note(step) for name, step in STEPS.items()}


def _steps_of(name: str, data: Data) -> tuple[str, ...]:
    if name == "newchannel":
        return NEW_CHANNEL_STEPS
    group = data.get("group")
    return ("pick_channel", "pick_group", *(GROUPS[group][1] if group in GROUPS else ()))


def next_step(name: str, step: str, data: Data, stars: bool = True) -> str:
    """The question after `step` once its answer is in `data`; `done` or `cancelled` at the end.
    Without `stars` (Telegram Stars switched off, `STARS_ENABLED`) no Star price is asked."""
    if step in ("confirm", "confirm_wallet"):
        return "done" if data.get("confirmed") else "cancelled"
    if step == "tier_label" and _tier_index(data) < int(data["tier_count"]):
        return "tier_price"
    steps = _steps_of(name, data)
    rest = steps[steps.index(step) + 1 :]
    if rest and rest[0] == "payout_threshold" and data.get("payout_strategy") != "threshold":
        rest = rest[1:]
    if rest and rest[0] == "tier_stars" and not stars:
        rest = rest[1:]
    return rest[0] if rest else "done"


# -- channel <-> conversation data -----------------------------------------------------------------
SETTING_FIELDS = cs.SETTING_FIELDS


def data_of(channel: ChannelDoc) -> Data:
    stored = channel.to_firestore()
    data: Data = {name: stored[name] for name in SETTING_FIELDS}
    data["tiers"] = [
        {"price": str(tier.price), "days": tier.days, "stars": tier.stars, "label": tier.label}
        for tier in channel.tiers
    ]
    return data | {"token": channel.token, "tier_count": len(channel.tiers)}


# The settings each `/edit` group writes: only these, over the channel as it is at saving time (the
# conversation's copy of the rest may be a day old, and the owner app or an operator may have
# changed it since).
GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "channels": ("open_channel_id", "closed_channel_id"),
    "title": ("title",),
    "description": ("description",),
    "language": ("language",),
    "tiers": ("tiers",),
    "donations": ("donation_min", "donation_max", "donation_message"),
    "grace": ("grace_period_minutes",),
    "payout": ("payout_currency", "payout_network", "payout_wallet"),
    "strategy": ("payout_strategy", "payout_threshold"),
    # -- free trials --
    "trial": ("trial_days",),
}


def channel_from(data: Data, base: dict[str, Any], fields: tuple[str, ...] = SETTING_FIELDS) -> ChannelDoc:
    """The channel the answers describe (their `fields` over `base`), checked once more as a whole."""
    values = base | {name: data[name] for name in fields if name in data}
    channel = cs.validate_channel(values)
    if isinstance(channel, list):  # every answer was checked on its own: this is a bug, not input
        raise ValueError("; ".join(str(error) for error in channel))
    return channel


def _tier_stars(rt: Rt, tier: Data) -> int | None:
    """A tier's Star price as buyers will see it; None when it is sold in crypto only (Stars
    switched off, or the derived price beyond Telegram's limit)."""
    if not rt.settings.stars_enabled:
        return None
    price = Decimal(tier["price"])
    stars = tier.get("stars")
    return tier_in_stars(
        Tier(tier_id="t1", price=price, days=int(tier["days"]), stars=stars), rt.settings.stars_usd_price
    )


def _summary_lines(rt: Rt, data: Data) -> list[str]:
    lines = [
        t("Title: {title}", title=data["title"]),
        t("Open channel: {title}", title=data.get("open_title")),
        t("Closed channel: {title}", title=data.get("closed_title")),
    ]
    if data.get("description"):
        lines.append(t("Description: {description}", description=data["description"]))
    language = str(data.get("language") or i18n.SOURCE)
    lines.append(t("Language of the posts: {language}", language=i18n.LANGUAGES.get(language, language)))
    lines += [
        say.tier_line(i, Decimal(tier["price"]), int(tier["days"]), tier.get("label"), _tier_stars(rt, tier))
        for i, tier in enumerate(data.get("tiers") or [])
    ]
    trial = data.get("trial_days")
    lines.append(say.trial_summary(int(trial) if trial is not None else None))  # -- free trials --
    lines.append(
        t(
            "Donations: {minimum} to {maximum}",
            minimum=_usd(data["donation_min"]),
            maximum=_usd(data["donation_max"]),
        )
    )
    if data.get("donation_message"):
        lines.append(t("Donation message: {message}", message=data["donation_message"]))
    minutes = int(data["grace_period_minutes"])
    lines.append(tn("Grace period: {n} minute", "Grace period: {n} minutes", minutes))
    lines.append(
        t(
            "Payouts: {currency} on {network} to {wallet}",
            currency=str(data["payout_currency"]).upper(),
            network=_network_name(data),
            wallet=data["payout_wallet"],
        )
    )
    if str(data["payout_strategy"]) == "threshold":
        lines.append(t("Payout strategy: threshold (from {amount})", amount=_usd(data["payout_threshold"])))
    else:
        lines.append(t("Payout strategy: instant"))
    return lines
