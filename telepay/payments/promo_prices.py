"""What an order with a promo code costs, decided by create_invoice from the code and the channel as
they are now (never from the button): the code is checked again for this buyer and tier (a code
used up since the offer admits no new order), the price discounted (`telepay.channels.promo_rules`),
and a crypto invoice raised to NowPayments' least minimum (never below it)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared_schemas.config import CreateInvoiceSettings
from shared_schemas.documents import ChannelDoc, Tier
from shared_schemas.ids import PayRail
from telepay.channels import promo_rules
from telepay.channels.minimums import coin_minimums
from telepay.channels.settings import CURRENCY
from telepay.runtime import Runtime
from telepay.subscriptions import promos


@dataclass(frozen=True)
class Priced:
    price: Decimal
    full: Decimal


def price_with_code(
    rt: Runtime[CreateInvoiceSettings],
    channel: ChannelDoc,
    tier: Tier,
    user_id: int,
    typed: str,
    rail: PayRail,
    full: Decimal,
) -> Priced | str:
    """The order's price and full price (`full`: the tier's USD price, or its Star price), or the
    sentence that tells the buyer why the code no longer applies."""
    found = promos.check(rt, channel, typed, user_id, tier.tier_id)
    if found.refused is not None or found.code is None:
        why = found.refused or promo_rules.Refused.UNKNOWN
        return promo_rules.refusal_text(why, found.name, channel.title)
    code = found.code
    if rail is PayRail.STARS:
        return Priced(Decimal(promo_rules.discounted_stars(int(full), tier.price, code)), full)
    cut = promo_rules.discounted(tier.price, code)
    if cut == 0:
        return Priced(cut, full)
    minimums = coin_minimums(rt.nowpayments, CURRENCY) if cut < full else None
    return Priced(promo_rules.invoice_price(full, cut, minimums), full)
