"""What the bot says to channel owners: English, short and friendly; amounts with their currency;
UTC dates written out (`texts.when`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, ChannelStatus
from shared_schemas.money import format_amount
from telepay.texts import duration

ROLE_WORDS = {"open": "open channel (where I post your offer)", "closed": "closed channel (members only)"}


def _list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rights_problem(role: str, missing: Sequence[str]) -> str:
    return f"In the {role} channel I'm missing the right to {_list(missing)}."


def bot_status(title: str, is_admin: bool, missing: Mapping[str, Sequence[str]]) -> str:
    if not is_admin:
        return f"I'm no longer an admin of {title}, so I can't sell access through it."
    lines = [f"👋 I'm now an admin of {title}."]
    for role, lacking in missing.items():
        what = ROLE_WORDS[role]
        if lacking:
            lines.append(f"• As the {what} I still need the right to {_list(lacking)}.")
        else:
            lines.append(f"• It can be your {what}: I have every right I need there.")
    lines.append("When both your channels are ready, send /newchannel to set up your offer.")
    return "\n".join(lines)


def offer_affected(offer_title: str, chat_title: str, problem: str | None) -> str:
    if problem is None:
        return f"✅ {chat_title}: I have the rights I need again, so your offer {offer_title} works normally."
    return (
        f"⚠️ This affects your live offer {offer_title}: {problem} "
        "Please give me that right again in the channel's admin settings."
    )


# -- commands ---------------------------------------------------------------------------------------
BUYER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Open a channel's offer"),
    ("help", "What this bot does"),
)
OWNER_COMMANDS: tuple[tuple[str, str], ...] = (
    *BUYER_COMMANDS,
    ("newchannel", "Sell access to a channel"),
    ("channels", "Your channels and their links"),
    ("edit", "Change a channel's settings"),
    ("pause", "Stop new sales"),
    ("resume", "Restart new sales"),
    ("stats", "Subscribers, sales and donations"),
    ("broadcast", "Re-post your offers now"),
    ("cancel", "Leave the current setup"),
)

CANCELLED = "Cancelled. Nothing was saved."
NOTHING_TO_CANCEL = "There's nothing to cancel."
EXPIRED = "Your earlier setup expired after 24 hours without an answer, so nothing was saved. Send /newchannel to start again."
NO_CHANNELS = "You don't have a channel with me yet. Send /newchannel to set one up."
NOT_OWNER = "Only the channel's owner can change it."
STALE_BUTTON = "That button belongs to an earlier question."
BUSY = "I was handling another answer of yours at the same moment, so I didn't use this one."
NO_CANDIDATES = (
    "To start, add me as an admin to two channels: the open one, where I post your offer, and the "
    "closed one your subscribers join. You must be an admin of both too. Then send /newchannel again."
)
SKIP = "Skip"


def still_admin_needed(title: str) -> str:
    return f"You need to be an admin of {title} to use it. Nothing was changed."


def state_of(channel: ChannelDoc) -> str:
    if channel.bot_rights_problem:
        return "⚠️ rights problem"
    return "🟢 live" if channel.status is ChannelStatus.ACTIVE else "⏸ paused"


def channel_line(channel: ChannelDoc, link: str, donate_link: str) -> str:
    state = state_of(channel)
    lines = [f"{channel.title} — {state}", f"Link: {link}", f"Donations: {donate_link}"]
    if channel.bot_rights_problem:
        lines.append(channel.bot_rights_problem)
    return "\n".join(lines)


def live(title: str, link: str, donate_link: str) -> str:
    return (
        f"🎉 {title} is live!\n\n"
        f"Share this link with buyers: {link}\n"
        f"Donations: {donate_link}\n\n"
        "I'm posting your offer in the open channel now, and again every day at 09:00 UTC."
    )


def paused(title: str) -> str:
    return (
        f"⏸ {title} is paused: no new sales and no daily post. Current subscribers keep their access. "
        "Send /resume to start selling again."
    )


def resumed(title: str) -> str:
    return f"▶️ {title} is selling again; I'm posting the offer in the open channel."


def already(title: str, state: str) -> str:
    return f"{title} is already {state}."


def saved(title: str) -> str:
    return f"✅ Saved. {title} now uses the new settings (invoices already sent keep their price)."


def tier_line(index: int, price: Decimal, days: int, label: str | None) -> str:
    name = f" ({label})" if label else ""
    return f"Tier {index + 1}{name}: {format_amount(price, 'USD')} for {duration(days)}"


def stats(
    title: str, active: int, expiring: int, windows: Sequence[tuple[int, int, int, Decimal, Decimal]]
) -> str:
    lines = [f"📊 {title}", f"Active subscribers: {active}", f"Ending in the next 7 days: {expiring}"]
    for days, new, renewed, revenue, donations in windows:
        lines.append(
            f"Last {days} days: {new} new, {renewed} renewed, {format_amount(revenue, 'USD')} in sales, "
            f"{format_amount(donations, 'USD')} in donations"
        )
    return "\n".join(lines)
