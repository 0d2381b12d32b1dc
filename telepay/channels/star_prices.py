"""What a tier or a donation costs in Telegram Stars, and what Telegram would refuse (pure).

A tier's Star price is the owner's own (`Tier.stars`) or its USD price divided by what a Star
costs a buyer (`STARS_USD_PRICE`), rounded up to a whole Star: the price is always read
server-side, from the channel, never from a button or an invoice.

Telegram's limits (Bot API, `sendInvoice` / `createInvoiceLink`): currency `XTR`, exactly one
price, 1 to 10,000 Stars (a Star subscription's price "must not exceed 10000 Telegram Stars"),
title 1-32 characters, description 1-255 characters, payload 1-128 bytes, and a subscription
period of exactly 30 days (2592000 seconds) - so only a 30-day tier is sold as a Star
subscription; every other duration, and a donation, is a one-time invoice.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from shared_schemas.documents import ChannelDoc, Tier
from telepay.core.i18n import in_stars, money, t

STARS_MIN = 1
STARS_MAX = 10000
SUBSCRIPTION_PERIOD_SECONDS = 2592000  # the only period Telegram allows
SUBSCRIPTION_DAYS = SUBSCRIPTION_PERIOD_SECONDS // 86400
TITLE_MAX = 32
DESCRIPTION_MAX = 255
PAYLOAD_MAX_BYTES = 128


def stars_for(amount_usd: Decimal, usd_price: Decimal) -> int:
    """USD converted to Stars at `usd_price` per Star, rounded up to a whole Star (at least one)."""
    return max(STARS_MIN, int((amount_usd / usd_price).to_integral_value(rounding=ROUND_CEILING)))


def tier_stars(tier: Tier, usd_price: Decimal) -> int:
    """The tier's price in Stars: the owner's, or its USD price converted."""
    return tier.stars if tier.stars is not None else stars_for(tier.price, usd_price)


def payable_in_stars(stars: int) -> bool:
    return STARS_MIN <= stars <= STARS_MAX


def tier_in_stars(tier: Tier, usd_price: Decimal) -> int | None:
    """The tier's Star price when Telegram takes it; None when the converted price is beyond
    Telegram's limit (the tier is then sold in crypto only)."""
    stars = tier_stars(tier, usd_price)
    return stars if payable_in_stars(stars) else None


def donation_in_stars(amount_usd: Decimal, usd_price: Decimal, enabled: bool) -> int | None:
    """A donation's price in Stars when it can be paid in Stars (Stars offered, within Telegram's
    limit); None otherwise (crypto only)."""
    stars = stars_for(amount_usd, usd_price)
    return stars if enabled and payable_in_stars(stars) else None


def is_star_subscription(tier: Tier) -> bool:
    """A 30-day tier paid in Stars is a Star subscription (Telegram renews it every 30 days)."""
    return tier.days == SUBSCRIPTION_DAYS


def stars_offered(channel: ChannelDoc, usd_price: Decimal, enabled: bool) -> dict[str, int]:
    """Tier id → Star price of the tiers a buyer may pay in Stars."""
    if not enabled:
        return {}
    prices = {tier.tier_id: tier_in_stars(tier, usd_price) for tier in channel.tiers}
    return {tier_id: stars for tier_id, stars in prices.items() if stars is not None}


def fit(text: str, limit: int) -> str:
    """A title or description cut to Telegram's limit (with an ellipsis when cut)."""
    text = " ".join(text.split()) or "TelePay"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# The two ways to pay, as the buyer's buttons say them (a tier's and a donation's).
def pay_stars_button(stars: int) -> str:
    return t("⭐ Pay with Stars ({stars})", stars=in_stars(stars))


def pay_crypto_button(amount: Decimal, currency: str) -> str:
    return t("Pay with crypto ({amount})", amount=money(amount, currency))
