"""What the bot says to buyers and donors, and about them to owners: short and friendly; amounts
with their currency; UTC dates. Each text is made in the current language (`telepay.core.i18n`):
the caller decides whose (the sender's in the webhook; `speaking_to` a buyer or an owner, or
`speaking(channel.language)` for a post in a channel). Module-level texts are marked `N_` and
translated where they are used: `t(texts.WELCOME)`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, Tier
from telepay.channels.paging import listed_title
from telepay.core.i18n import N_, in_stars, money, t, tn, when

__all__ = ["duration", "when"]  # owners' texts use these too


def duration(days: int) -> str:
    """`1 month`, `3 months`, `1 year`, `7 days`."""
    if days % 365 == 0:
        return tn("{n} year", "{n} years", days // 365)
    if days % 30 == 0 and days < 365:
        return tn("{n} month", "{n} months", days // 30)
    return tn("{n} day", "{n} days", days)


def tier_button(tier: Tier, currency: str, stars: int | None = None) -> str:
    """A tier's button: its name, price (and Star price, when it can be paid in Stars) and length."""
    if stars is not None:
        return tier_button_with_stars(tier, currency, stars)
    price, length = money(tier.price, currency), duration(tier.days)
    if tier.label:
        return t("{label} · {price} · {duration}", label=tier.label, price=price, duration=length)
    return t("{price} · {duration}", price=price, duration=length)


def tier_button_with_stars(tier: Tier, currency: str, stars: int) -> str:
    price, length = money(tier.price, currency), duration(tier.days)
    star_price = in_stars(stars)
    if tier.label:
        return t(
            "{label} · {price} or {stars} · {duration}",
            label=tier.label,
            price=price,
            stars=star_price,
            duration=length,
        )
    return t("{price} or {stars} · {duration}", price=price, stars=star_price, duration=length)


def rail_choice(title: str, tier: Tier, currency: str, stars: int, star_subscription: bool) -> str:
    what = tier.label or duration(tier.days)
    if star_subscription:
        return t(
            "{title}, {what}: {price} or {stars}.\n\nHow would you like to pay? In Telegram Stars it is "
            "a subscription that renews by itself every 30 days (cancel any time in /subscriptions); "
            "in crypto you pay once.",
            title=title,
            what=what,
            price=money(tier.price, currency),
            stars=in_stars(stars),
        )
    return t(
        "{title}, {what}: {price} or {stars}.\n\nHow would you like to pay?",
        title=title,
        what=what,
        price=money(tier.price, currency),
        stars=in_stars(stars),
    )


def star_pay_prompt(title: str, stars: int, days: int | None, subscription: bool) -> str:
    price = in_stars(stars)
    if subscription:
        return t(
            "Your Star subscription is ready: {price} every 30 days for {title}.\n\n"
            "Tap the button to pay in Telegram; it renews by itself until you cancel it in /subscriptions.",
            price=price,
            title=title,
        )
    if days:
        return t(
            "Your invoice is ready: {price} for {duration} of access to {title}. Tap Pay below it.",
            price=price,
            duration=duration(days),
            title=title,
        )
    return t(
        "Your invoice is ready: {price} for your donation to {title}. Tap Pay below it.",
        price=price,
        title=title,
    )


def star_renewed(title: str, until: datetime, stars: Decimal, renews_on: datetime | None) -> str:
    """A Star subscription Telegram renewed by itself: the buyer did nothing, so say what happened."""
    text = t(
        "⭐ Your Star subscription to {title} renewed by itself: {price} for 30 more days. "
        "Access until {until}.",
        title=title,
        price=in_stars(stars),
        until=when(until),
    )
    return f"{text}\n\n{star_renews_on(renews_on)}" if renews_on else text


def star_renews_on(renews_on: datetime) -> str:
    return t(
        "It renews by itself on {date}; to stop that, use /subscriptions (you keep the days you paid for).",
        date=when(renews_on),
    )


def owner_star_renewal_notice(buyer: str, title: str, stars: Decimal, until: datetime) -> str:
    return t(
        "⭐ Star subscription renewed for {title}\n{buyer} was charged {price} by Telegram for 30 more days.\n"
        "Their access runs until {until}.",
        title=title,
        buyer=buyer,
        price=in_stars(stars),
        until=when(until),
    )


def star_subscribe_button(stars: int) -> str:
    return t("⭐ Subscribe for {price} a month", price=in_stars(stars))


STARS_UNAVAILABLE = N_(
    "Sorry, Telegram didn't take this Stars invoice, so nothing was charged. You can pay in crypto instead."
)


def offer(channel: ChannelDoc, trial_days: int | None = None) -> str:
    """The offer; `trial_days`: the free trial is mentioned (to a reader who may start it)."""
    parts = [channel.title]
    if channel.description:
        parts.append(channel.description)
    if trial_days:
        parts.append(offer_trial_line(trial_days))
    parts.append(t("Choose how long you'd like access:"))
    return "\n\n".join(parts)


DONATE_BUTTON = N_("💝 Donate")


def donation_post(title: str, message: str | None) -> str:
    """The closed channel's donation post (not the daily offer: that one sells access)."""
    body = message or t("Enjoying {title}? You can support it with a donation of any amount.", title=title)
    return t("💝 Support {title}\n\n{body}", title=title, body=body)


def donation_post_refused(title: str, problem: str) -> str:
    return t(
        "⚠️ I couldn't post the donation message in the private channel of {title}: Telegram said "
        "“{problem}”.\n\nTo have it there, give me the right to post messages (and to edit them) "
        "in the private channel; then save the donation message again with /edit.",
        title=title,
        problem=problem,
    )


WELCOME = N_(
    "Hi! I sell access to private channels and take donations in crypto. "
    "Open a channel's link to see its offer.\n\n"
    "Own a channel? Send /newchannel to sell access to it."
)
UNKNOWN_OFFER = N_("Sorry, I can't find that offer. Please check the link with the channel owner.")
PAUSED_OFFER = N_("Sorry, this channel isn't taking new subscribers right now. Please try again later.")
OFFER_CHANGED = N_("This offer has changed. Please open the channel's link again to see the current prices.")
PREPARING_INVOICE = N_("Preparing your invoice…")
BUTTON_GONE = N_("This button no longer works.")


def pay_prompt(title: str, amount: Decimal, currency: str, days: int | None) -> str:
    price = money(amount, currency)
    if days:
        return t(
            "Your invoice is ready: {amount} for {duration} of access to {title}.\n\n"
            "Tap Pay to choose a coin. Access is granted as soon as the payment is confirmed.",
            amount=price,
            duration=duration(days),
            title=title,
        )
    return t(
        "Your invoice is ready: {amount} for your donation to {title}.\n\n"
        "Tap Pay to choose a coin. I'll thank you here as soon as the payment is confirmed.",
        amount=price,
        title=title,
    )


def pay_button(amount: Decimal, currency: str) -> str:
    return t("Pay {amount}", amount=money(amount, currency))


def invoice_description(title: str, days: int | None) -> str:
    """What the buyer reads on the payment page: what the invoice is for."""
    if days:
        return t("{duration} of {title}", duration=duration(days), title=title)
    return t("Donation to {title}", title=title)


INVOICE_FAILED = N_(
    "Sorry, the payment service isn't answering, so I couldn't create your invoice. "
    "Nothing was charged. Please try again in a few minutes."
)


def access_granted(title: str, until: datetime, amount: Decimal, currency: str, days: int) -> str:
    return t(
        "Payment received, thank you! ✅\n\n"
        "Receipt: {duration} of {title} for {amount}.\n"
        "Access until {until}.\n\n"
        "Tap Join to request access; I'll approve you right away. The link works only for you.",
        duration=duration(days),
        title=title,
        amount=money(amount, currency),
        until=when(until),
    )


def access_extended(title: str, until: datetime, amount: Decimal, currency: str, days: int) -> str:
    return t(
        "Payment received, thank you! ✅\n\n"
        "Receipt: {duration} more of {title} for {amount}.\n"
        "Your access now runs until {until}.",
        duration=duration(days),
        title=title,
        amount=money(amount, currency),
        until=when(until),
    )


def access_delayed(title: str, until: datetime) -> str:
    return t(
        "Payment received, thank you! ✅ Your access to {title} runs until {until}.\n\n"
        "I can't create your join link right now (the channel's settings need a fix from its owner, "
        "who has been told). I'll send it here as soon as I can.",
        title=title,
        until=when(until),
    )


def access_blocked(title: str, problem: str) -> str:
    return t(
        "⚠️ A subscriber paid for {title}, but I couldn't create their join link: Telegram said "
        "“{problem}”.\n\nPlease make me an admin of the private channel with the right to invite "
        "users via link (and to ban users). I'll send the pending links as soon as I can.",
        title=title,
        problem=problem,
    )


def join_button(title: str) -> str:
    return t("Join {title}", title=listed_title(title))


def buyer_name(name: str | None, user_id: int) -> str:
    """How a buyer or donor is named in the owner's notices."""
    if name:
        return t("{name} (id {user_id})", name=name, user_id=user_id)
    return t("User {user_id}", user_id=user_id)


def paid_with(amount: Decimal | None, coin: str | None) -> str:
    """What actually arrived, in the coin the buyer paid with."""
    if amount is not None and coin:
        return money(amount, coin)
    return t("in crypto")


def owner_subscription_notice(
    buyer: str, title: str, tier: str, amount: Decimal, currency: str, paid: str, until: datetime
) -> str:
    return t(
        "💰 New payment for {title}\n"
        "{buyer} bought {tier} for {amount} (paid {paid}).\n"
        "Their access runs until {until}.",
        title=title,
        buyer=buyer,
        tier=tier,
        amount=money(amount, currency),
        paid=paid,
        until=when(until),
    )


def donation_thanks(title: str, amount: Decimal, currency: str) -> str:
    return t(
        "Thank you for your donation of {amount} to {title}! 💝", amount=money(amount, currency), title=title
    )


def owner_donation_notice(donor: str, title: str, amount: Decimal, currency: str, paid: str) -> str:
    return t(
        "💝 New donation to {title}\n{donor} donated {amount} (paid {paid}).",
        title=title,
        donor=donor,
        amount=money(amount, currency),
        paid=paid,
    )


def partially_paid(title: str, paid: Decimal, expected: Decimal | None, coin: str) -> str:
    """A payment short of what was due: what came, and what is still missing (when NowPayments
    said what was due)."""
    missing = (expected or Decimal(0)) - paid
    if expected and missing > 0:
        return t(
            "We received {paid} of the {expected} due for {title}, so the payment isn't complete yet. "
            "Please send the remaining {missing} to the same address. Nothing has been granted yet.",
            paid=money(paid, coin),
            expected=money(expected, coin),
            missing=money(missing, coin),
            title=title,
        )
    return t(
        "We received {paid} for {title}, so the payment isn't complete yet. "
        "Please send the rest to the same address. Nothing has been granted yet.",
        paid=money(paid, coin),
        title=title,
    )


def payment_expired(title: str) -> str:
    return t(
        "Your payment for {title} expired before it arrived, so nothing was charged. "
        "Open the channel's link again to start a new one.",
        title=title,
    )


def payment_failed(title: str) -> str:
    return t(
        "Your payment for {title} failed. If coins left your wallet, contact the payment "
        "provider's support with your payment id. Open the channel's link to try again.",
        title=title,
    )


def refund_buyer(title: str, amount: Decimal, currency: str, until: datetime | None) -> str:
    price = money(amount, currency)
    if until:
        return t(
            "Your payment of {amount} for {title} was refunded. Your access now ends {until}.",
            amount=price,
            title=title,
            until=when(until),
        )
    return t("Your payment of {amount} for {title} was refunded.", amount=price, title=title)


def owner_refund_notice(
    buyer: str, title: str, amount: Decimal, currency: str, until: datetime | None
) -> str:
    price = money(amount, currency)
    if until:
        return t(
            "↩️ Payment refunded: {buyer} got back {amount} for {title}. Their access now ends {until}.",
            buyer=buyer,
            amount=price,
            title=title,
            until=when(until),
        )
    return t(
        "↩️ Payment refunded: {buyer} got back {amount} for {title}.", buyer=buyer, amount=price, title=title
    )


def removal_refused(title: str, user_id: int, problem: str) -> str:
    return t(
        "⚠️ A subscription to {title} ended, but Telegram would not remove the member (user id "
        "{user_id}): {problem}. I'll keep trying; if they are an administrator of the channel, "
        "please remove their admin rights.",
        title=title,
        user_id=user_id,
        problem=problem,
    )


JOIN_DECLINED = N_(
    "Sorry, I couldn't let you into this channel: access is for subscribers with an active "
    "subscription, and links can't be shared. Open the channel's offer to subscribe."
)


RENEW_BUTTON = N_("🔄 Renew")


def reminder(title: str, until: datetime, now: datetime) -> str:
    left = until - now
    if left.days >= 1:
        return tn(
            "⏰ Your access to {title} ends on {until} (in about {n} day).\n\n"
            "Renew now to keep it: the new time is added after your current expiry.",
            "⏰ Your access to {title} ends on {until} (in about {n} days).\n\n"
            "Renew now to keep it: the new time is added after your current expiry.",
            left.days,
            title=title,
            until=when(until),
        )
    return tn(
        "⏰ Your access to {title} ends on {until} (in about {n} hour).\n\n"
        "Renew now to keep it: the new time is added after your current expiry.",
        "⏰ Your access to {title} ends on {until} (in about {n} hours).\n\n"
        "Renew now to keep it: the new time is added after your current expiry.",
        max(left.seconds // 3600, 1),
        title=title,
        until=when(until),
    )


def star_reminder(title: str, until: datetime, stars: int) -> str:
    return t(
        "⏰ Your Star subscription to {title} renews by itself on {until} for {price}. "
        "To stop it, use /subscriptions; you keep the days you paid for.",
        title=title,
        until=when(until),
        price=in_stars(stars),
    )


def channel_moved(title: str, expires_at: datetime) -> str:
    return t(
        "📦 {title} has moved to a new private channel. Your access comes with it, until {until}: "
        "tap below to join.",
        title=title,
        until=when(expires_at),
    )


def access_ended(title: str, ended: datetime) -> str:
    return t(
        "Your access to {title} ended on {ended}, so you've been removed from the channel. "
        "Thanks for being with us! Tap Renew to come back.",
        title=title,
        ended=when(ended),
    )


def subscribed(title: str, until: datetime, in_channel: bool) -> str:
    if in_channel:
        return t("You're subscribed to {title} until {until}. ✅", title=title, until=when(until))
    return t(
        "You're subscribed to {title} until {until}. ✅\n\nTap Join to get (back) in; I'll approve you right away.",
        title=title,
        until=when(until),
    )


def subscription_line(title: str, until: datetime, active: bool) -> str:
    if active:
        return t("• {title}: until {until}", title=listed_title(title), until=when(until))
    return t("• {title}: ended on {until}", title=listed_title(title), until=when(until))


def renewal_on_line(period_end: datetime, stars: Decimal) -> str:
    return t("  ⭐ renews by itself on {date} for {price}", date=when(period_end), price=in_stars(stars))


def renewal_off_line(period_end: datetime) -> str:
    return t(
        "  ⭐ auto-renewal is off; it ends on {date} (to turn it back on: Telegram's Settings, My Stars)",
        date=when(period_end),
    )


def renewal_off_button() -> str:
    return t("Stop auto-renewal")


def renewal_stopped(title: str, until: datetime) -> str:
    return t(
        "Auto-renewal of {title} is off: Telegram won't charge you again. You keep your access until {until}.",
        title=title,
        until=when(until),
    )


def renewal_restarted(title: str, period_end: datetime) -> str:
    return t(
        "You can turn auto-renewal of {title} back on in Telegram (Settings, My Stars) before {date}.",
        title=title,
        date=when(period_end),
    )


RENEWAL_REFUSED = N_("Telegram didn't accept that change just now. Please try again in a minute.")
SUBSCRIPTIONS_HEADER = N_("Your subscriptions:")
NO_SUBSCRIPTIONS = N_("You have no subscriptions yet. Open a channel's link to see its offer.")
JOIN_UNAVAILABLE = N_("I can't create a join link for this channel right now; its owner has been told.")
JOIN_NOT_ACTIVE = N_("You have no active subscription to this channel. Open its link to see the offer.")


def join_link_ready(title: str) -> str:
    return t(
        "Here's your way into {title}: tap Join and I'll approve you right away. "
        "The link works only for you.",
        title=listed_title(title),
    )


def rights_lost(title: str, problem: str) -> str:
    return t(
        "⚠️ I couldn't remove an expired subscriber from {title}: Telegram said “{problem}”.\n\n"
        "Please make me an admin of the private channel with the right to ban users and to invite "
        "users via link; members whose access ended may stay in the channel until then.",
        title=title,
        problem=problem,
    )


NOT_AN_OWNER = N_("Only a channel's owner can re-post its offer.")


def broadcast_queued(title: str) -> str:
    return t("📣 Re-posting the offer of {title} now.", title=title)


def broadcast_cooldown(title: str, minutes: int) -> str:
    return tn(
        "The offer of {title} was re-posted recently. You can re-post it again in {n} minute.",
        "The offer of {title} was re-posted recently. You can re-post it again in {n} minutes.",
        minutes,
        title=title,
    )


def broadcast_paused(title: str, problem: str, failures: int) -> str:
    return tn(
        "⚠️ I've paused the daily offer post of {title}: the last {n} attempt failed "
        "(Telegram said “{problem}”).\n\n"
        "To fix it, add me to the public channel as an admin who can post messages, then send "
        "/broadcast here: a successful post turns the daily post back on.",
        "⚠️ I've paused the daily offer post of {title}: the last {n} attempts failed "
        "(Telegram said “{problem}”).\n\n"
        "To fix it, add me to the public channel as an admin who can post messages, then send "
        "/broadcast here: a successful post turns the daily post back on.",
        failures,
        title=title,
        problem=problem,
    )


# -- free trials --
def trial_button(days: int) -> str:
    return tn("🎁 Try {n} day free", "🎁 Try {n} days free", days)


def offer_trial_line(days: int) -> str:
    """Under the offer, when the reader may start the trial (the offer in the bot) or anyone who never
    had one may (the daily post)."""
    return tn(
        "🎁 New here? Try it free for {n} day, no payment needed.",
        "🎁 New here? Try it free for {n} days, no payment needed.",
        days,
    )


def trial_started(title: str, days: int, until: datetime) -> str:
    return tn(
        "🎁 Your {n}-day free trial of {title} runs until {until}.\n\n"
        "Tap Join to request access; I'll approve you right away. The link works only for you.",
        "🎁 Your {n}-day free trial of {title} runs until {until}.\n\n"
        "Tap Join to request access; I'll approve you right away. The link works only for you.",
        days,
        title=title,
        until=when(until),
    )


def trial_already_used(title: str) -> str:
    return t(
        "You've already had your free trial of {title} (one per account). "
        "I'd love to have you back: choose a plan below.",
        title=title,
    )


def trial_for_newcomers(title: str) -> str:
    return t(
        "The free trial of {title} is for newcomers, and you've been a subscriber before. "
        "Welcome back: choose a plan below.",
        title=title,
    )


def trial_not_offered(title: str) -> str:
    return t("{title} doesn't offer a free trial right now. Here are the plans:", title=title)


def trial_reminder(title: str, until: datetime, now: datetime) -> str:
    left = until - now
    if left.days >= 1:
        return tn(
            "⏰ Your free trial of {title} ends on {until} (in about {n} day).\n\n"
            "Enjoying it? Choose a plan to keep your access: it starts when the trial ends.",
            "⏰ Your free trial of {title} ends on {until} (in about {n} days).\n\n"
            "Enjoying it? Choose a plan to keep your access: it starts when the trial ends.",
            left.days,
            title=title,
            until=when(until),
        )
    return tn(
        "⏰ Your free trial of {title} ends on {until} (in about {n} hour).\n\n"
        "Enjoying it? Choose a plan to keep your access: it starts when the trial ends.",
        "⏰ Your free trial of {title} ends on {until} (in about {n} hours).\n\n"
        "Enjoying it? Choose a plan to keep your access: it starts when the trial ends.",
        max(left.seconds // 3600, 1),
        title=title,
        until=when(until),
    )


def trial_ended(title: str, ended: datetime) -> str:
    return t(
        "Your free trial of {title} ended on {ended}, so you've been removed from the channel. "
        "Thanks for trying it! Tap Choose a plan to come back.",
        title=title,
        ended=when(ended),
    )


PLANS_BUTTON = N_("📋 Choose a plan")


# -- support --
HELP_BUTTON = N_("💬 Help")  # under receipts and reminders: a support conversation with the owner
