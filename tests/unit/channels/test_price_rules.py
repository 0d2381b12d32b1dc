"""The rule for a price against NowPayments' minimum payments: refused when no coin buyers can use
takes it, accepted with the coins it leaves out named, and never blocked when the minimums are unknown."""

from __future__ import annotations

from decimal import Decimal

from telepay.channels.price_rules import check_price, new_prices, prices_of
from tests.conftest import demo_channel

MINIMUMS = {
    "btc": Decimal("2.5"),
    "usdttrc20": Decimal("9"),
    "ltc": Decimal("0.3"),
    "usdtbsc": Decimal("0.5"),
}


def test_a_price_every_coin_takes_says_nothing() -> None:
    check = check_price(Decimal("9.00"), MINIMUMS, "USD")
    assert (check.refusal, check.note, check.excluded, check.payable) == (None, None, (), 4)


def test_a_price_some_coins_cannot_take_is_accepted_with_those_coins_named() -> None:
    check = check_price(Decimal("1.00"), MINIMUMS, "USD")
    assert check.refusal is None
    assert check.excluded == (("btc", Decimal("2.50")), ("usdttrc20", Decimal("9.00")))
    assert check.note == (
        "Heads-up: NowPayments can't take $1.00 in BTC (from $2.50) and USDTTRC20 "
        "(from $9.00), so buyers can pay with the other 2 coins only."
    )


def test_a_price_at_a_coins_minimum_is_one_it_takes() -> None:
    assert check_price(Decimal("2.50"), MINIMUMS, "USD").excluded == (("usdttrc20", Decimal("9.00")),)


def test_a_minimum_between_cents_counts_as_the_next_cent() -> None:
    check = check_price(Decimal("2.50"), {"btc": Decimal("2.5001"), "ltc": Decimal("0.3")}, "USD")
    assert check.excluded == (("btc", Decimal("2.51")),)
    assert "BTC (from $2.51), so buyers can pay with the other coin only." in (check.note or "")


def test_a_price_no_coin_takes_is_refused_with_the_least_that_works() -> None:
    check = check_price(Decimal("0.25"), MINIMUMS, "USD")
    assert check.note is None
    assert check.refusal == (
        "NowPayments can't take $0.25 in any coin buyers pay with. Please set at least $0.30."
    )


def test_a_long_list_names_the_cheapest_few_and_counts_the_rest() -> None:
    many = {f"coin{n}": Decimal(n) for n in range(2, 10)} | {"ltc": Decimal("0.3")}
    note = check_price(Decimal("1.00"), many, "USD").note or ""
    assert "COIN2 (from $2.00), COIN3 (from $3.00), COIN4 (from $4.00), COIN5 " in note
    assert "and 4 more coins, so buyers can pay with the other coin only." in note


def test_unknown_minimums_never_block_and_say_the_check_was_not_made() -> None:
    check = check_price(Decimal("0.25"), None, "USD")
    assert check.refusal is None
    assert check.note == (
        "I couldn't check NowPayments' minimum payments just now, so some coins may not take $0.25."
    )


def test_no_coin_listed_gives_nothing_to_say() -> None:
    check = check_price(Decimal("0.25"), {}, "USD")
    assert (check.refusal, check.note) == (None, None)


def test_the_prices_a_buyer_pays_and_those_a_change_adds() -> None:
    channel = demo_channel()
    assert prices_of(channel) == [
        ("tiers[0].price", Decimal("5.00")),
        ("tiers[1].price", Decimal("12.50")),
        ("donation_min", Decimal("4.99")),
    ]
    assert new_prices(None, channel) == prices_of(channel)
    cheaper = channel.model_copy(
        update={"tiers": [channel.tiers[0].model_copy(update={"price": Decimal("1.00")}), channel.tiers[1]]}
    )
    assert new_prices(channel, cheaper) == [("tiers[0].price", Decimal("1.00"))]
    assert new_prices(channel, channel.model_copy(update={"title": "Other"})) == []
