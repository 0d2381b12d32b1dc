"""What the bot says: English, short and friendly; amounts with their currency; UTC dates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, Tier
from shared_schemas.money import format_amount
from telepay.channels.paging import listed_title


def when(moment: datetime) -> str:
    """`Thursday, 26 November 2026, 14:05 UTC`."""
    return moment.strftime("%A, %-d %B %Y, %H:%M UTC")


def duration(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"{years} year" + ("s" if years > 1 else "")
    if days % 30 == 0 and days < 365:
        months = days // 30
        return f"{months} month" + ("s" if months > 1 else "")
    return f"{days} day" + ("s" if days > 1 else "")


def tier_button(tier: Tier, currency: str) -> str:
    label = f"{tier.label} · " if tier.label else ""
    return f"{label}{format_amount(tier.price, currency)} · {duration(tier.days)}"


def offer(channel: ChannelDoc) -> str:
    parts = [channel.title]
    if channel.description:
        parts.append(channel.description)
    parts.append("Choose how long you'd like access:")
    return "\n\n".join(parts)


DONATE_BUTTON = "💝 Donate"


def donation_post(title: str, message: str | None) -> str:
    """The closed channel's donation post (not the daily offer: that one sells access)."""
    body = message or f"Enjoying {title}? You can support it with a donation of any amount."
    return f"💝 Support {title}\n\n{body}"


def donation_post_refused(title: str, problem: str) -> str:
    return (
        f"⚠️ I couldn't post the donation message in the private channel of {title}: Telegram said "
        f"“{problem}”.\n\nTo have it there, give me the right to post messages (and to edit them) "
        "in the private channel; then save the donation message again with /edit."
    )


WELCOME = (
    "Hi! I sell access to private channels and take donations in crypto. "
    "Open a channel's link to see its offer.\n\n"
    "Own a channel? Send /newchannel to sell access to it."
)
UNKNOWN_OFFER = "Sorry, I can't find that offer. Please check the link with the channel owner."
PAUSED_OFFER = "Sorry, this channel isn't taking new subscribers right now. Please try again later."
OFFER_CHANGED = "This offer has changed. Please open the channel's link again to see the current prices."
PREPARING_INVOICE = "Preparing your invoice…"
BUTTON_GONE = "This button no longer works."


def pay_prompt(title: str, amount: Decimal, currency: str, days: int | None) -> str:
    what = f"{duration(days)} of access to {title}" if days else f"your donation to {title}"
    return (
        f"Your invoice is ready: {format_amount(amount, currency)} for {what}.\n\n"
        "Tap Pay to choose a coin. Access is granted as soon as the payment is confirmed."
    )


def pay_button(amount: Decimal, currency: str) -> str:
    return f"Pay {format_amount(amount, currency)}"


INVOICE_FAILED = (
    "Sorry, the payment service isn't answering, so I couldn't create your invoice. "
    "Nothing was charged. Please try again in a few minutes."
)


def access_granted(title: str, until: datetime, amount: Decimal, currency: str, days: int) -> str:
    return (
        f"Payment received, thank you! ✅\n\n"
        f"Receipt: {duration(days)} of {title} for {format_amount(amount, currency)}.\n"
        f"Access until {when(until)}.\n\n"
        "Tap Join to request access; I'll approve you right away. The link works only for you."
    )


def access_extended(title: str, until: datetime, amount: Decimal, currency: str, days: int) -> str:
    return (
        f"Payment received, thank you! ✅\n\n"
        f"Receipt: {duration(days)} more of {title} for {format_amount(amount, currency)}.\n"
        f"Your access now runs until {when(until)}."
    )


def access_delayed(title: str, until: datetime) -> str:
    return (
        f"Payment received, thank you! ✅ Your access to {title} runs until {when(until)}.\n\n"
        "I can't create your join link right now (the channel's settings need a fix from its owner, "
        "who has been told). I'll send it here as soon as I can."
    )


def access_blocked(title: str, problem: str) -> str:
    return (
        f"⚠️ A subscriber paid for {title}, but I couldn't create their join link: Telegram said "
        f"“{problem}”.\n\nPlease make me an admin of the private channel with the right to invite "
        "users via link (and to ban users). I'll send the pending links as soon as I can."
    )


def join_button(title: str) -> str:
    return f"Join {listed_title(title)}"


def owner_subscription_notice(
    buyer: str, title: str, tier: str, amount: Decimal, currency: str, paid: str, until: datetime
) -> str:
    return (
        f"💰 New payment for {title}\n"
        f"{buyer} bought {tier} for {format_amount(amount, currency)} (paid {paid}).\n"
        f"Their access runs until {when(until)}."
    )


def donation_thanks(title: str, amount: Decimal, currency: str) -> str:
    return f"Thank you for your donation of {format_amount(amount, currency)} to {title}! 💝"


def owner_donation_notice(donor: str, title: str, amount: Decimal, currency: str, paid: str) -> str:
    return f"💝 New donation to {title}\n{donor} donated {format_amount(amount, currency)} (paid {paid})."


def partially_paid(title: str, paid: str, expected: str, missing: str) -> str:
    return (
        f"We received {paid} of the {expected} due for {title}, so the payment isn't complete yet. "
        f"Please send the remaining {missing} to the same address. Nothing has been granted yet."
    )


def payment_expired(title: str) -> str:
    return (
        f"Your payment for {title} expired before it arrived, so nothing was charged. "
        "Open the channel's link again to start a new one."
    )


def payment_failed(title: str) -> str:
    return (
        f"Your payment for {title} failed. If coins left your wallet, contact the payment "
        "provider's support with your payment id. Open the channel's link to try again."
    )


def refund_buyer(title: str, amount: Decimal, currency: str, until: datetime | None) -> str:
    ends = f" Your access now ends {when(until)}." if until else ""
    return f"Your payment of {format_amount(amount, currency)} for {title} was refunded.{ends}"


def owner_refund_notice(
    buyer: str, title: str, amount: Decimal, currency: str, until: datetime | None
) -> str:
    ends = f" Their access now ends {when(until)}." if until else ""
    return f"↩️ Payment refunded: {buyer} got back {format_amount(amount, currency)} for {title}.{ends}"


def removal_refused(title: str, user_id: int, problem: str) -> str:
    return (
        f"⚠️ A subscription to {title} ended, but Telegram would not remove the member (user id "
        f"{user_id}): {problem}. I'll keep trying; if they are an administrator of the channel, "
        "please remove their admin rights."
    )


JOIN_DECLINED = (
    "Sorry, I couldn't let you into this channel: access is for subscribers with an active "
    "subscription, and links can't be shared. Open the channel's offer to subscribe."
)


RENEW_BUTTON = "🔄 Renew"


def reminder(title: str, until: datetime, now: datetime) -> str:
    left = until - now
    days = left.days
    hours = left.seconds // 3600
    remaining = (
        f"{days} day{'s' if days != 1 else ''}"
        if days >= 1
        else f"{max(hours, 1)} hour{'s' if hours > 1 else ''}"
    )
    return (
        f"⏰ Your access to {title} ends on {when(until)} (in about {remaining}).\n\n"
        "Renew now to keep it: the new time is added after your current expiry."
    )


def channel_moved(title: str, expires_at: datetime) -> str:
    return (
        f"📦 {title} has moved to a new private channel. Your access comes with it, until {when(expires_at)}: "
        "tap below to join."
    )


def access_ended(title: str, ended: datetime) -> str:
    return (
        f"Your access to {title} ended on {when(ended)}, so you've been removed from the channel. "
        "Thanks for being with us! Tap Renew to come back."
    )


def subscribed(title: str, until: datetime, in_channel: bool) -> str:
    back = "" if in_channel else "\n\nTap Join to get (back) in; I'll approve you right away."
    return f"You're subscribed to {title} until {when(until)}. ✅{back}"


def subscription_line(title: str, until: datetime, active: bool) -> str:
    title = listed_title(title)
    return f"• {title}: until {when(until)}" if active else f"• {title}: ended on {when(until)}"


SUBSCRIPTIONS_HEADER = "Your subscriptions:"
NO_SUBSCRIPTIONS = "You have no subscriptions yet. Open a channel's link to see its offer."
JOIN_UNAVAILABLE = "I can't create a join link for this channel right now; its owner has been told."
JOIN_NOT_ACTIVE = "You have no active subscription to this channel. Open its link to see the offer."


def join_link_ready(title: str) -> str:
    return (
        f"Here's your way into {listed_title(title)}: tap Join and I'll approve you right away. "
        "The link works only for you."
    )


def rights_lost(title: str, problem: str) -> str:
    return (
        f"⚠️ I couldn't remove an expired subscriber from {title}: Telegram said “{problem}”.\n\n"
        "Please make me an admin of the private channel with the right to ban users and to invite "
        "users via link; members whose access ended may stay in the channel until then."
    )


NOT_AN_OWNER = "Only a channel's owner can re-post its offer."


def broadcast_queued(title: str) -> str:
    return f"📣 Re-posting the offer of {title} now."


def broadcast_cooldown(title: str, minutes: int) -> str:
    return f"The offer of {title} was re-posted recently. You can re-post it again in {minutes} minute{'s' if minutes != 1 else ''}."


def broadcast_paused(title: str, problem: str, failures: int) -> str:
    return (
        f"⚠️ I've paused the daily offer post of {title}: the last {failures} attempts failed "
        f"(Telegram said “{problem}”).\n\n"
        "To fix it, add me to the public channel as an admin who can post messages, then send "
        "/broadcast here: a successful post turns the daily post back on."
    )
