"""What the bot says about gifts: to the buyer (the button, the invoice, the gift to forward, its
redemption), to whoever opens a gift's link, and to the channel's owner."""

from __future__ import annotations

from datetime import datetime

from telepay.channels.paging import listed_title
from telepay.core.i18n import N_, t, when
from telepay.subscriptions.texts import duration

GIFT_BUTTON = N_("🎁 Buy as a gift")
WHICH_GIFT = N_("🎁 Which would you like to give? The person you forward the gift to gets the days.")
GIFT_TAKEN = N_("This gift was already redeemed.")
GIFT_MINE = N_("You redeemed this gift already: /subscriptions shows your access.")
GIFT_UNKNOWN = N_("I don't know this gift. Please check the link you were sent.")
GIFT_VOIDED = N_("This gift is no longer valid: its payment was refunded.")
GIFTS_HEADER = N_("🎁 Gifts you bought, not redeemed yet (forward the link):")


def gift_rail_choice(title: str, days: int) -> str:
    return t(
        "🎁 A gift of {duration} of {title}. How would you like to pay?",
        duration=duration(days),
        title=title,
    )


def gift_pay_prompt(title: str, price: str, days: int | None) -> str:
    return t(
        "🎁 Your invoice for the gift is ready: {price} for {duration} of {title}.\n\n"
        "Once it is paid I'll send you the gift to forward.",
        price=price,
        duration=duration(days or 0),
        title=title,
    )


def gift_ready(title: str, days: int, link: str) -> str:
    return t(
        "🎁 Your gift is ready: forward this message to whoever it is for.\n\n"
        "{duration} of {title}, for the first person who opens this link: {link}",
        duration=duration(days),
        title=title,
        link=link,
    )


def owner_gift_notice(buyer: str, title: str, days: int, amount: str, paid: str) -> str:
    return t(
        "🎁 {buyer} bought {duration} of {title} as a gift: {amount} ({paid}). "
        "The days start when someone redeems it.",
        buyer=buyer,
        duration=duration(days),
        title=title,
        amount=amount,
        paid=paid,
    )


def gift_redeemed(title: str, days: int, until: datetime) -> str:
    return t(
        "🎁 You redeemed a gift: {duration} of {title}, until {until}.",
        duration=duration(days),
        title=title,
        until=when(until),
    )


def gift_redeemed_buyer(title: str, days: int) -> str:
    return t(
        "🎁 Your gift of {duration} of {title} was redeemed. Thank you!",
        duration=duration(days),
        title=title,
    )


def gift_line(title: str, days: int, link: str) -> str:
    return t("• {duration} of {title}: {link}", duration=duration(days), title=listed_title(title), link=link)
