"""What NowPayments' minimum payments mean for a price an owner sets (pure: minimums in, words out).

A TelePay invoice names no coin: the buyer picks one of the coins the NowPayments account accepts,
and NowPayments refuses a payment below that coin's minimum (`GET /v1/min-amount`, worth a few
cents in Litecoin and several dollars in USDT on Tron or Ethereum). So a tier price or a donation
minimum below a coin's minimum is one buyers cannot pay with that coin:

    check = check_price(Decimal("1.00"), {"btc": Decimal("2.5"), "ltc": Decimal("0.3")}, "USD")
    check.refusal    # None: Litecoin takes it
    check.note       # "Heads-up: NowPayments can't take $1.00 in BTC (from $2.50), so ..."

A price no coin takes is refused (`refusal`, with the least that works); one some coins cannot
take is accepted with a `note` naming them; minimums that could not be read (`None`) never block
the owner: the note says the check was not made. Both are said in the current language
(`telepay.core.i18n`): read them where the owner is spoken to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from shared_schemas.documents import ChannelDoc
from shared_schemas.money import CENT
from telepay.core.i18n import listing, money, t, tn

NAMED_AT_MOST = 4  # coins a note names; the rest are counted


@dataclass(frozen=True)
class PriceCheck:
    price: Decimal
    currency: str
    checked: bool  # False: NowPayments could not say, nothing is known
    excluded: tuple[tuple[str, Decimal], ...] = ()  # (coin, its minimum rounded up to the cent), least first
    payable: int = 0  # coins that take the price

    @property
    def refusal(self) -> str | None:
        """Why the price cannot be set: no coin buyers can use takes it."""
        if not self.checked or self.payable or not self.excluded:
            return None
        return t(
            "NowPayments can't take {price} in any coin buyers pay with. Please set at least {least}.",
            price=self._money(self.price),
            least=self._money(self.excluded[0][1]),
        )

    @property
    def note(self) -> str | None:
        """What the owner should know about an accepted price, if anything."""
        price = self._money(self.price)
        if not self.checked:
            return t(
                "I couldn't check NowPayments' minimum payments just now, so some coins may not take {price}.",
                price=price,
            )
        if not self.excluded or not self.payable:
            return None
        named = [
            t("{coin} (from {least})", coin=coin.upper(), least=self._money(least))
            for coin, least in self.excluded[:NAMED_AT_MOST]
        ]
        more = len(self.excluded) - len(named)
        if more:
            named.append(tn("{n} more coin", "{n} more coins", more))
        coins = listing(named)
        if self.payable == 1:
            return t(
                "Heads-up: NowPayments can't take {price} in {coins}, so buyers can pay with the other coin only.",
                price=price,
                coins=coins,
            )
        return tn(
            "Heads-up: NowPayments can't take {price} in {coins}, so buyers can pay with the other {n} coin only.",
            "Heads-up: NowPayments can't take {price} in {coins}, so buyers can pay with the other {n} coins only.",
            self.payable,
            price=price,
            coins=coins,
        )

    def _money(self, amount: Decimal) -> str:
        return money(amount, self.currency)


def check_price(price: Decimal, minimums: Mapping[str, Decimal] | None, currency: str) -> PriceCheck:
    """`minimums`: each coin buyers may use → the least NowPayments takes in it, in `currency`;
    None when they could not be read. A coin whose minimum is above the price cannot take it."""
    if minimums is None:
        return PriceCheck(price, currency, checked=False)
    # Prices have cents: a minimum of 2.501 needs 2.51, so minimums are compared and shown rounded up.
    least = {coin: value.quantize(CENT, rounding=ROUND_CEILING) for coin, value in minimums.items()}
    excluded = sorted(
        ((coin, value) for coin, value in least.items() if value > price), key=lambda c: (c[1], c[0])
    )
    return PriceCheck(price, currency, True, tuple(excluded), payable=len(least) - len(excluded))


def prices_of(channel: ChannelDoc) -> list[tuple[str, Decimal]]:
    """The prices a buyer pays in a channel, each named by its field's path (as the channel rules
    name problems): its tiers' prices, and the donation minimum (the least a donation may be)."""
    tiers = [(f"tiers[{i}].price", tier.price) for i, tier in enumerate(channel.tiers)]
    return [*tiers, ("donation_min", channel.donation_min)]


def new_prices(before: ChannelDoc | None, after: ChannelDoc) -> list[tuple[str, Decimal]]:
    """The prices of `after` that `before` did not have (all of them for a new channel): a price
    already set is not checked again at every change of something else."""
    old = set(prices_of(before)) if before is not None else set()
    return [price for price in prices_of(after) if price not in old]
