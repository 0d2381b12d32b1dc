"""What the bot says to channel owners: English, short and friendly; amounts with their currency;
UTC dates written out (`texts.when`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, ChannelStatus, PayoutDoc, PayoutState
from shared_schemas.money import format_amount
from telepay.channels.paging import listed_title
from telepay.payouts.ledger import Balance
from telepay.subscriptions.texts import duration, when

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
    ("subscriptions", "Your subscriptions, and a way back in"),
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
    ("payouts", "Your balance and payouts"),
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
    "closed one your subscribers join. Both must be channels you created. Then send /newchannel again."
)
SKIP = "Skip"


def creator_needed(title: str) -> str:
    return f"Only the creator of {title} can sell it or change its offer. Nothing was changed."


def state_of(channel: ChannelDoc) -> str:
    if channel.bot_rights_problem:
        return "⚠️ rights problem"
    return "🟢 live" if channel.status is ChannelStatus.ACTIVE else "⏸ paused"


def channel_line(channel: ChannelDoc, link: str, donate_link: str) -> str:
    state = state_of(channel)
    lines = [f"{listed_title(channel.title)} — {state}", f"Link: {link}", f"Donations: {donate_link}"]
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


USE_WALLET = "✅ Use this wallet"


def confirm_wallet(address: str, network: str) -> str:
    return (
        f"Send future payouts to this {network} wallet?\n\n{address}\n\n"
        "Check it character by character: payouts sent to a wrong address cannot be recovered."
    )


def wallet_changed(address: str) -> str:
    return (
        f"\n\n💸 Your payout wallet is now {address}. It applies to future payouts; a payout "
        "already under way still goes to the wallet it started with."
    )


CANCEL_WALLET_CHANGE = "↩️ Cancel this change"


def wallet_held(title: str, address: str | None, previous: str | None, until: datetime) -> str:
    """The owner's notice of a wallet change (sent wherever the change was made)."""
    back = f"the wallet before ({previous})" if previous else "no wallet, as before"
    return (
        f"🔒 The payout wallet of {title} changed to {address or 'none'}.\n"
        f"To keep your money safe, payouts of {title} wait until {when(until)}.\n"
        f"Wasn't you? Tap below to cancel the change: payouts go back to {back}."
    )


def wallet_restored(title: str, previous: str | None) -> str:
    where = f"go to {previous} again" if previous else "wait for a wallet, as before"
    return f"↩️ Change cancelled. Payouts of {title} {where}. If someone else made it, change your Telegram password now."


WALLET_CANCEL_STALE = "That change was already undone or replaced by a newer one."


def payouts_held(title: str, until: datetime) -> str:
    return f"🔒 {title}: payouts held until {when(until)} (the payout wallet changed)."


def saved(title: str) -> str:
    return f"✅ Saved. {title} now uses the new settings (invoices already sent keep their price)."


def tier_line(index: int, price: Decimal, days: int, label: str | None) -> str:
    name = f" ({label})" if label else ""
    return f"Tier {index + 1}{name}: {format_amount(price, 'USD')} for {duration(days)}"


def stats(
    title: str, active: int, expiring: int, windows: Sequence[tuple[int, int, int, Decimal, Decimal]]
) -> str:
    title = listed_title(title)
    lines = [f"📊 {title}", f"Active subscribers: {active}", f"Ending in the next 7 days: {expiring}"]
    for days, new, renewed, revenue, donations in windows:
        lines.append(
            f"Last {days} days: {new} new, {renewed} renewed, {format_amount(revenue, 'USD')} in sales, "
            f"{format_amount(donations, 'USD')} in donations"
        )
    return "\n".join(lines)


# -- /newchannel and /edit --------------------------------------------------------------------------
NEW_CHANNEL_INTRO = (
    "Let's set up your channel. I'll ask a few questions; send /cancel at any time to stop "
    "(nothing is saved until you confirm at the end)."
)
REFRESH = "🔄 Refresh the list"
REFRESH_ANSWER = "refresh"
LIST_AGAIN = "Here's the list again."
USE_BUTTONS = "Please choose with the buttons below."
ASK_TITLE = "What's the name buyers will see? (e.g. Night Owls Club)"
ASK_DESCRIPTION = "Describe what subscribers get, in a few lines (or tap Skip)."
ASK_TIER_COUNT = "How many prices do you want to offer? (1 to 3, e.g. monthly and yearly)"
ASK_DONATION_MIN = "Donations: what's the smallest amount you accept, in USD?"
ASK_DONATION_MAX = "And the largest donation, in USD? (at most $9,999.99)"
ASK_DONATION_MESSAGE = "A message for the donation post in your closed channel? (or tap Skip)"
ASK_GRACE = (
    "Grace period: how many minutes may subscribers stay after their access ends? (0 to 10080, e.g. 60)"
)
ASK_CURRENCY = "Which coin should your earnings be paid out in?"
ASK_NETWORK = "On which network?"
ASK_STRATEGY = "How should payouts be made?"
INSTANT = "Instant: after every payment"
THRESHOLD = "Threshold: once they add up"
ASK_THRESHOLD = "Pay out once your earnings reach how much, in USD? (e.g. 100)"
GO_LIVE = "✅ Go live"
CANCEL = "✖️ Cancel"
ASK_CHANNEL_TO_EDIT = "Which channel do you want to change?"
ASK_GROUP = "What do you want to change? (a price change applies to new invoices only)"
WHICH_CHANNEL = "Which channel?"


def pick_channel(role: str) -> str:
    if role == "open":
        return (
            "Which channel is the open one, where I post your offer? I list the channels where "
            "you and I are both admins."
        )
    return "Which channel is the closed one, that subscribers join?"


def chat_in_use(title: str, offer: str) -> str:
    return f"{title} is already used by the offer {offer}. Please choose another channel (or /cancel to start over)."


def rights_missing_for(title: str, role: str, missing: Sequence[str]) -> str:
    return (
        f"I can't use {title} as the {ROLE_WORDS[role]} yet: I'm missing the right to {_list(missing)}. "
        "Give me that right in the channel's admin settings, then choose it again."
    )


def ask_tier_price(index: int, count: int) -> str:
    return f"Price {index + 1} of {count}: how much, in USD? (e.g. 4.99)"


def ask_tier_days(index: int) -> str:
    return f"Price {index + 1}: how many days of access does it buy? (1 to 3650)"


def ask_tier_label(index: int) -> str:
    return f"Price {index + 1}: a short name buyers see, e.g. Monthly (or tap Skip)."


def ask_wallet(network: str, currency: str) -> str:
    return f"Your {network} wallet address for {currency.upper()} payouts?"


def summary(lines: Sequence[str]) -> str:
    return "Here's your channel:\n\n" + "\n".join(lines) + "\n\nShall I put it live?"


OPEN_APP = "📊 Open dashboard"


def _amounts(sums: Mapping[str, Decimal]) -> str:
    shown = [
        f"{amount.normalize():f} {currency.upper()}" for currency, amount in sorted(sums.items()) if amount
    ]
    return ", ".join(shown) or "nothing"


def payouts(owed: Balance, history: Sequence[PayoutDoc]) -> str:
    """`/payouts`: what is owed (net of the platform fee, in the settlement currency), what a payout
    is carrying right now, what was paid, and the last payouts with how they ended."""
    lines = [
        "💸 Your payouts",
        f"Available: {_amounts(owed.available)}",
        f"In a payout now: {_amounts(owed.reserved)}",
        f"Paid so far: {_amounts(owed.paid)}",
    ]
    if history:
        lines.append("")
        lines.append("Last payouts:")
        for payout in history:
            state = (
                payout.state.value
                if payout.state is not PayoutState.FAILED
                else f"failed ({payout.failure_reason})"
            )
            lines.append(
                f"• {payout.created_at:%-d %B %Y}: {payout.amount.normalize():f} {payout.currency.upper()} — {state}"
            )
    return "\n".join(lines)


def transferred_to_you(title: str, wallet_cleared: bool) -> str:
    wallet = (
        "Set your payout wallet with /edit: payouts wait for it."
        if wallet_cleared
        else "Its payout wallet stays as it was; /edit changes it."
    )
    return f"🔑 {title} is now yours: TelePay support moved it to this account. {wallet}"


def transferred_away(title: str) -> str:
    return (
        f"🔑 {title} was moved to another Telegram account by TelePay support, at its creator's request. "
        "If you didn't ask for this, write to support at once."
    )


def members_moved(count: int, title: str) -> str:
    people = "1 subscriber" if count == 1 else f"{count} subscribers"
    return (
        f"📦 {people} of {title} moved with it: each gets a Join button for the new closed channel "
        "within a few minutes, and is removed from both channels when their access ends."
    )
