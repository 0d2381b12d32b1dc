"""What the bot says to channel owners: short and friendly; amounts with their currency; UTC dates
written out. Each text is in the current language (`telepay.core.i18n`: the owner's, inside
`speaking_to`); texts kept as constants are marked with `N_` and translated where used, `t(say.X)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, ChannelStatus, PayoutDoc, PayoutState
from telepay.channels.paging import listed_title
from telepay.core.i18n import N_, day, in_stars, listing, money, number, percent, t, tn, when
from telepay.payouts.ledger import Balance, StarsEarnings
from telepay.subscriptions.texts import duration


def _rights(missing: Sequence[str]) -> str:
    """The rights (English words of `bot_chats.REQUIRED_RIGHTS`), translated and listed."""
    return listing([t(words) for words in missing])


def rights_problem(role: str, missing: Sequence[str]) -> str:
    if role == "open":
        return t("In the open channel I'm missing the right to {rights}.", rights=_rights(missing))
    return t("In the closed channel I'm missing the right to {rights}.", rights=_rights(missing))


def _role_status(role: str, lacking: Sequence[str]) -> str:
    if lacking and role == "open":
        return t(
            "• As the open channel (where I post your offer) I still need the right to {rights}.",
            rights=_rights(lacking),
        )
    if lacking:
        return t(
            "• As the closed channel (members only) I still need the right to {rights}.",
            rights=_rights(lacking),
        )
    if role == "open":
        return t("• It can be your open channel (where I post your offer): I have every right I need there.")
    return t("• It can be your closed channel (members only): I have every right I need there.")


def bot_status(title: str, is_admin: bool, missing: Mapping[str, Sequence[str]]) -> str:
    if not is_admin:
        return t("I'm no longer an admin of {title}, so I can't sell access through it.", title=title)
    lines = [t("👋 I'm now an admin of {title}.", title=title)]
    lines += [_role_status(role, lacking) for role, lacking in missing.items()]
    lines.append(t("When both your channels are ready, send /newchannel to set up your offer."))
    return "\n".join(lines)


def offer_affected(offer_title: str, chat_title: str, problem: str | None) -> str:
    if problem is None:
        return t(
            "✅ {chat}: I have the rights I need again, so your offer {offer} works normally.",
            chat=chat_title,
            offer=offer_title,
        )
    return t(
        "⚠️ This affects your live offer {offer}: {problem} "
        "Please give me that right again in the channel's admin settings.",
        offer=offer_title,
        problem=problem,
    )


# -- commands ---------------------------------------------------------------------------------------
# Each menu: (command, its description in English); `owners.commands.publish_command_menus` sets
# it in every language.
BUYER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Open a channel's offer")),
    ("subscriptions", N_("Your subscriptions, and a way back in")),
    ("paysupport", N_("Help with a payment")),
    ("language", N_("Choose the language I write in")),
    ("help", N_("What this bot does")),
    # -- support --
    ("support", N_("Write to a channel's owner")),
)
OWNER_COMMANDS: tuple[tuple[str, str], ...] = (
    *BUYER_COMMANDS,
    ("newchannel", N_("Sell access to a channel")),
    ("channels", N_("Your channels and their links")),
    ("edit", N_("Change a channel's settings")),
    ("pause", N_("Stop new sales")),
    ("resume", N_("Restart new sales")),
    ("stats", N_("Subscribers, sales and donations")),
    ("payouts", N_("Your balance and payouts")),
    ("broadcast", N_("Re-post your offers now")),
    ("cancel", N_("Leave the current setup")),
    # -- owner grants --
    ("grant", N_("Give a member free days")),
    ("revoke", N_("Take days off a member")),
    # -- promo codes --
    ("promo", N_("Make a promo code")),
    ("promos", N_("Your promo codes and their uses")),
    # -- exports --
    ("export", N_("Your books as CSV files")),
    # -- announcements --
    ("announce", N_("Message your subscribers")),
)

CANCELLED = N_("Cancelled. Nothing was saved.")
NOTHING_TO_CANCEL = N_("There's nothing to cancel.")
EXPIRED = N_(
    "Your earlier setup expired after 24 hours without an answer, so nothing was saved. Send /newchannel to start again."
)
NO_CHANNELS = N_("You don't have a channel with me yet. Send /newchannel to set one up.")
NOT_OWNER = N_("Only the channel's owner can change it.")
STALE_BUTTON = N_("That button belongs to an earlier question.")
BUSY = N_("I was handling another answer of yours at the same moment, so I didn't use this one.")
NO_CANDIDATES = N_(
    "To start, add me as an admin to two channels: the open one, where I post your offer, and the "
    "closed one your subscribers join. Both must be channels you created. Then send /newchannel again."
)
SKIP = N_("Skip")
THAT_CHANNEL = N_("that channel")


def creator_needed(title: str) -> str:
    return t("Only the creator of {title} can sell it or change its offer. Nothing was changed.", title=title)


def state_of(channel: ChannelDoc) -> str:
    if channel.bot_rights_problem:
        return t("⚠️ rights problem")
    return t("🟢 live") if channel.status is ChannelStatus.ACTIVE else t("⏸ paused")


def channel_line(channel: ChannelDoc, link: str, donate_link: str) -> str:
    state = state_of(channel)
    lines = [
        f"{listed_title(channel.title)} — {state}",
        t("Link: {link}", link=link),
        t("Donations: {link}", link=donate_link),
    ]
    if channel.bot_rights_problem:
        lines.append(channel.bot_rights_problem)
    return "\n".join(lines)


def live(title: str, link: str, donate_link: str) -> str:
    return t(
        "🎉 {title} is live!\n\n"
        "Share this link with buyers: {link}\n"
        "Donations: {donate_link}\n\n"
        "I'm posting your offer in the open channel now, and again every day at 09:00 UTC.",
        title=title,
        link=link,
        donate_link=donate_link,
    )


def paused(title: str) -> str:
    return t(
        "⏸ {title} is paused: no new sales and no daily post. Current subscribers keep their access. "
        "Send /resume to start selling again.",
        title=title,
    )


def resumed(title: str) -> str:
    return t("▶️ {title} is selling again; I'm posting the offer in the open channel.", title=title)


USE_WALLET = N_("✅ Use this wallet")


def confirm_wallet(address: str, network: str) -> str:
    return t(
        "Send future payouts to this {network} wallet?\n\n{address}\n\n"
        "Check it character by character: payouts sent to a wrong address cannot be recovered.",
        network=network,
        address=address,
    )


def wallet_changed(address: str) -> str:
    return "\n\n" + t(
        "💸 Your payout wallet is now {address}. It applies to future payouts; a payout "
        "already under way still goes to the wallet it started with.",
        address=address,
    )


CANCEL_WALLET_CHANGE = N_("↩️ Cancel this change")


def wallet_held(title: str, address: str | None, previous: str | None, until: datetime) -> str:
    """The owner's notice of a wallet change (sent wherever the change was made)."""
    if address:
        changed = t("🔒 The payout wallet of {title} changed to {address}.", title=title, address=address)
    else:
        changed = t("🔒 The payout wallet of {title} changed to none.", title=title)
    wait = t(
        "To keep your money safe, payouts of {title} wait until {until}.", title=title, until=when(until)
    )
    if previous:
        back = t(
            "Wasn't you? Tap below to cancel the change: payouts go back to the wallet before ({previous}).",
            previous=previous,
        )
    else:
        back = t("Wasn't you? Tap below to cancel the change: payouts go back to no wallet, as before.")
    return "\n".join((changed, wait, back))


def wallet_restored(title: str, previous: str | None) -> str:
    if previous:
        return t(
            "↩️ Change cancelled. Payouts of {title} go to {previous} again. If someone else made it, "
            "change your Telegram password now.",
            title=title,
            previous=previous,
        )
    return t(
        "↩️ Change cancelled. Payouts of {title} wait for a wallet, as before. If someone else made it, "
        "change your Telegram password now.",
        title=title,
    )


WALLET_CANCEL_STALE = N_("That change was already undone or replaced by a newer one.")


def payouts_held(title: str, until: datetime) -> str:
    return t(
        "🔒 {title}: payouts held until {until} (the payout wallet changed).", title=title, until=when(until)
    )


def saved(title: str) -> str:
    return t(
        "✅ Saved. {title} now uses the new settings (invoices already sent keep their price).", title=title
    )


def tier_line(index: int, price: Decimal, days: int, label: str | None, stars: int | None = None) -> str:
    """A tier in the summary before going live; `stars`: its price in Telegram Stars, if it is sold in Stars."""
    values = {"number": number(index + 1), "price": money(price, "USD"), "duration": duration(days)}
    if stars is not None:
        values["stars"] = in_stars(stars)
        if label:
            return t("Tier {number} ({label}): {price} or {stars} for {duration}", label=label, **values)
        return t("Tier {number}: {price} or {stars} for {duration}", **values)
    if label:
        return t("Tier {number} ({label}): {price} for {duration}", label=label, **values)
    return t("Tier {number}: {price} for {duration}", **values)


def stats(
    title: str,
    active: int,
    expiring: int,
    windows: Sequence[tuple[int, int, int, Decimal, int, Decimal]],
    rates: Sequence[tuple[int, Decimal | None, Decimal | None]] = (),
) -> str:
    """`/stats` for one channel: per period (days, new, renewed, crypto sales, Stars, donations),
    and its renewal rate and churn (percent, None when there is nothing to divide by)."""
    title = listed_title(title)
    lines = [
        f"📊 {title}",
        t("Active subscribers: {count}", count=number(active)),
        t("Ending in the next 7 days: {count}", count=number(expiring)),
    ]
    for days, new, renewed, revenue, stars, donations in windows:
        sales = money(revenue, "USD") + (f" + {in_stars(stars)}" if stars else "")
        lines.append(
            tn(
                "Last {n} day: {new} new, {renewed} renewed, {sales} in sales, {donations} in donations",
                "Last {n} days: {new} new, {renewed} renewed, {sales} in sales, {donations} in donations",
                days,
                new=number(new),
                renewed=number(renewed),
                sales=sales,
                donations=money(donations, "USD"),
            )
        )
    for days, renewal, churn in rates:
        if renewal is None and churn is None:
            continue
        lines.append(
            tn(
                "Last {n} day: renewal rate {renewal}, churn {churn}",
                "Last {n} days: renewal rate {renewal}, churn {churn}",
                days,
                renewal=percent(renewal),
                churn=percent(churn),
            )
        )
    return "\n".join(lines)


# -- /newchannel and /edit --------------------------------------------------------------------------
NEW_CHANNEL_INTRO = N_(
    "Let's set up your channel. I'll ask a few questions; send /cancel at any time to stop "
    "(nothing is saved until you confirm at the end)."
)
REFRESH = N_("🔄 Refresh the list")
REFRESH_ANSWER = "refresh"
LIST_AGAIN = N_("Here's the list again.")
USE_BUTTONS = N_("Please choose with the buttons below.")
ASK_TITLE = N_("What's the name buyers will see? (e.g. Night Owls Club)")
ASK_DESCRIPTION = N_("Describe what subscribers get, in a few lines (or tap Skip).")
ASK_LANGUAGE = N_(
    "In which language should I write the posts in your channels (the daily offer, the donation post)?"
)
ASK_TIER_COUNT = N_("How many prices do you want to offer? (1 to 3, e.g. monthly and yearly)")
ASK_DONATION_MIN = N_("Donations: what's the smallest amount you accept, in USD?")
ASK_DONATION_MESSAGE = N_("A message for the donation post in your closed channel? (or tap Skip)")
ASK_GRACE = N_(
    "Grace period: how many minutes may subscribers stay after their access ends? (0 to 10080, e.g. 60)"
)
ASK_CURRENCY = N_("Which coin should your earnings be paid out in?")
ASK_NETWORK = N_("On which network?")
ASK_STRATEGY = N_("How should payouts be made?")
INSTANT = N_("Instant: after every payment")
THRESHOLD = N_("Threshold: once they add up")
ASK_THRESHOLD = N_("Pay out once your earnings reach how much, in USD? (e.g. 100)")
GO_LIVE = N_("✅ Go live")
CANCEL = N_("✖️ Cancel")
ASK_CHANNEL_TO_EDIT = N_("Which channel do you want to change?")
ASK_GROUP = N_("What do you want to change? (a price change applies to new invoices only)")
WHICH_CHANNEL = N_("Which channel?")
NO_GRACE = N_("None")


def ask_donation_max(ceiling: Decimal) -> str:
    return t("And the largest donation, in USD? (at most {ceiling})", ceiling=money(ceiling, "USD"))


def pick_channel(role: str) -> str:
    if role == "open":
        return t(
            "Which channel is the open one, where I post your offer? I list the channels where "
            "you and I are both admins."
        )
    return t("Which channel is the closed one, that subscribers join?")


def chat_in_use(title: str, offer: str) -> str:
    return t(
        "{title} is already used by the offer {offer}. Please choose another channel (or /cancel to start over).",
        title=title,
        offer=offer,
    )


def rights_missing_for(title: str, role: str, missing: Sequence[str]) -> str:
    if role == "open":
        return t(
            "I can't use {title} as the open channel (where I post your offer) yet: I'm missing the "
            "right to {rights}. Give me that right in the channel's admin settings, then choose it again.",
            title=title,
            rights=_rights(missing),
        )
    return t(
        "I can't use {title} as the closed channel (members only) yet: I'm missing the right to "
        "{rights}. Give me that right in the channel's admin settings, then choose it again.",
        title=title,
        rights=_rights(missing),
    )


def ask_tier_price(index: int, count: int) -> str:
    return t(
        "Price {number} of {count}: how much, in USD? (e.g. 4.99)",
        number=number(index + 1),
        count=number(count),
    )


def ask_tier_days(index: int) -> str:
    return t("Price {number}: how many days of access does it buy? (1 to 3650)", number=number(index + 1))


def ask_tier_label(index: int) -> str:
    return t("Price {number}: a short name buyers see, e.g. Monthly (or tap Skip).", number=number(index + 1))


def ask_tier_stars(index: int, low: int, high: int) -> str:
    return t(
        "Price {number} in Telegram Stars: tap below to convert the USD price, or send a whole number "
        "of Stars ({low} to {high}), e.g. 250.",
        number=number(index + 1),
        low=number(low),
        high=number(high),
    )


def use_derived_stars(stars: int) -> str:
    """The button taking the Star price converted from the USD price."""
    return t("Use {stars} (from the USD price)", stars=in_stars(stars))


CRYPTO_ONLY = N_("Crypto only (over Telegram's limit in Stars)")


def ask_wallet(network: str, currency: str) -> str:
    return t(
        "Your {network} wallet address for {currency} payouts?", network=network, currency=currency.upper()
    )


def grace_choice(minutes: int) -> str:
    """A grace period's button: `1 hour`, `1 day`."""
    if minutes % 1440 == 0:
        return tn("{n} day", "{n} days", minutes // 1440)
    if minutes % 60 == 0:
        return tn("{n} hour", "{n} hours", minutes // 60)
    return tn("{n} minute", "{n} minutes", minutes)


def summary(lines: Sequence[str]) -> str:
    return t("Here's your channel:") + "\n\n" + "\n".join(lines) + "\n\n" + t("Shall I put it live?")


OPEN_APP = N_("📊 Open dashboard")


def _amounts(sums: Mapping[str, Decimal]) -> str:
    shown = [money(amount, currency) for currency, amount in sorted(sums.items()) if amount]
    return ", ".join(shown) or t("nothing")


# How a payout ended, in the owner's words (`PayoutDoc.state`).
PAYOUT_STATES: dict[PayoutState, str] = {
    PayoutState.RESERVED: N_("reserved"),
    PayoutState.CREATED: N_("created"),
    PayoutState.VERIFIED: N_("verified"),
    PayoutState.SENDING: N_("sending"),
    PayoutState.FINISHED: N_("finished"),
    PayoutState.FAILED: N_("failed"),
}


def payouts(owed: Balance, history: Sequence[PayoutDoc]) -> str:
    """`/payouts`: what is owed (net of the platform fee, in the settlement currency), what a payout
    is carrying right now, what was paid, and the last payouts with how they ended."""
    lines = [
        t("💸 Your payouts"),
        t("Available: {amounts}", amounts=_amounts(owed.available)),
        t("In a payout now: {amounts}", amounts=_amounts(owed.reserved)),
        t("Paid so far: {amounts}", amounts=_amounts(owed.paid)),
    ]
    lines += stars_earnings(owed.stars)
    if history:
        lines.append("")
        lines.append(t("Last payouts:"))
        for payout in history:
            values = {"day": day(payout.created_at), "amount": money(payout.amount, payout.currency)}
            if payout.state is PayoutState.FAILED:
                lines.append(
                    t("• {day}: {amount} — failed ({reason})", reason=payout.failure_reason, **values)
                )
            else:
                lines.append(t("• {day}: {amount} — {state}", state=t(PAYOUT_STATES[payout.state]), **values))
    return "\n".join(lines)


def stars_earnings(earned: StarsEarnings) -> list[str]:
    """Stars apart from the balance: those Telegram still holds (paid out once the hold ends) and
    those released (already in the amounts above, in USD). Nothing when there were no Stars."""
    lines = []
    if earned.held and earned.held_first_until and earned.held_last_until:
        values = {"stars": in_stars(earned.held), "usd": money(earned.held_usd, "USD")}
        if earned.held_first_until.date() == earned.held_last_until.date():
            lines.append(
                t(
                    "Stars earnings: {stars} (≈ {usd}), held until {day}",
                    day=day(earned.held_last_until),
                    **values,
                )
            )
        else:
            lines.append(
                t(
                    "Stars earnings: {stars} (≈ {usd}), held until {first} to {last}",
                    first=day(earned.held_first_until),
                    last=day(earned.held_last_until),
                    **values,
                )
            )
    if earned.released:
        lines.append(
            t(
                "Stars released: {stars} (≈ {usd}), counted above",
                stars=in_stars(earned.released),
                usd=money(earned.released_usd, "USD"),
            )
        )
    return lines


def transferred_to_you(title: str, wallet_cleared: bool) -> str:
    if wallet_cleared:
        return t(
            "🔑 {title} is now yours: TelePay support moved it to this account. "
            "Set your payout wallet with /edit: payouts wait for it.",
            title=title,
        )
    return t(
        "🔑 {title} is now yours: TelePay support moved it to this account. "
        "Its payout wallet stays as it was; /edit changes it.",
        title=title,
    )


def transferred_away(title: str) -> str:
    return t(
        "🔑 {title} was moved to another Telegram account by TelePay support, at its creator's request. "
        "If you didn't ask for this, write to support at once.",
        title=title,
    )


def members_moved(count: int, title: str) -> str:
    return tn(
        "📦 {n} subscriber of {title} moved with it: each gets a Join button for the new closed channel "
        "within a few minutes, and is removed from both channels when their access ends.",
        "📦 {n} subscribers of {title} moved with it: each gets a Join button for the new closed channel "
        "within a few minutes, and is removed from both channels when their access ends.",
        count,
        title=title,
    )


# -- free trials --
ASK_TRIAL = N_(
    "Offer newcomers a free trial? They get the access for free once (one trial per account), then "
    "choose a plan to stay. Tap a length or send a number of days from 1 to 30."
)
NO_TRIAL = N_("No trial")


def trial_choice(days: int) -> str:
    return tn("{n} day", "{n} days", days)


def trial_summary(days: int | None) -> str:
    if days is None:
        return t("Free trial: off")
    return tn("Free trial: {n} day", "Free trial: {n} days", days)


def trial_stats(running: int, windows: Sequence[tuple[int, int, int]]) -> list[str]:
    """`/stats`' trial lines: members on a trial now; per window (days), trials started and converted."""
    lines = [t("On a free trial now: {count}", count=number(running))]
    for days, started, converted in windows:
        lines.append(
            tn(
                "Last {n} day: {started} trials started, {converted} converted to a purchase",
                "Last {n} days: {started} trials started, {converted} converted to a purchase",
                days,
                started=number(started),
                converted=number(converted),
            )
        )
    return lines
