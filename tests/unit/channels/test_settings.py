"""The channel settings rules shared by the bot's conversation and the operator CLI."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared_schemas.documents import ChannelDoc, PayoutStrategy
from telepay.channels import settings as cs
from telepay.channels import wallets
from telepay.channels.settings import FieldError, Invalid
from telepay.donations.keypad_rules import MAX_INTEGER_DIGITS
from tests.conftest import demo_channel

TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # the USDT contract on Tron
ETH = "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"


def invalid(result: object) -> str:
    assert isinstance(result, Invalid), result
    return result.reason


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("5", "5.00"), ("4.99", "4.99"), ("$4.99", "4.99"), ("12.5 USD", "12.50"), (" 1000 ", "1000.00")],
)
def test_prices_accepted(typed: str, expected: str) -> None:
    assert cs.parse_price(typed) == Decimal(expected)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("-5", "as a number"),
        ("4.999", "at most two decimals"),
        ("4,99", "Use a dot for cents, e.g. 4.99"),
        ("five", "as a number"),
        ("", "as a number"),
        ("1e3", "as a number"),
        ("100000", "at most $99,999.99."),
    ],
)
def test_prices_refused_with_a_reason(typed: str, reason: str) -> None:
    assert reason in invalid(cs.parse_price(typed))


def test_days_from_1_to_3650() -> None:
    assert cs.parse_days("1") == 1
    assert cs.parse_days(3650) == 3650
    assert "from 1 to 3650" in invalid(cs.parse_days("0"))
    assert "from 1 to 3650" in invalid(cs.parse_days("3651"))
    assert "whole number" in invalid(cs.parse_days("30.5"))
    assert "whole number" in invalid(cs.parse_days(True))


def test_texts() -> None:
    assert cs.parse_title("  Night   Owls ") == "Night Owls"
    assert "can't be empty" in invalid(cs.parse_title("   "))
    assert "at most 128" in invalid(cs.parse_title("x" * 129))
    assert cs.parse_description("") == ""
    assert "at most 1024" in invalid(cs.parse_description("x" * 1025))
    assert cs.parse_label("") is None
    assert cs.parse_label("Monthly") == "Monthly"
    assert "at most 40" in invalid(cs.parse_label("x" * 41))
    assert cs.parse_donation_message("  ") is None
    assert "at most 500" in invalid(cs.parse_donation_message("x" * 501))


def test_tiers() -> None:
    tiers = cs.parse_tiers([{"price": "5", "days": 30, "label": "Monthly"}, {"price": "12.50", "days": "90"}])
    assert isinstance(tiers, list)
    assert [(t.tier_id, t.price, t.days, t.label) for t in tiers] == [  # type: ignore[union-attr]
        ("t1", Decimal("5.00"), 30, "Monthly"),
        ("t2", Decimal("12.50"), 90, None),
    ]
    assert cs.parse_tiers([]) == [FieldError("tiers", "Give from 1 to 3 tiers.")]
    assert cs.parse_tiers([{"price": 1, "days": 1}] * 4) == [FieldError("tiers", "Give from 1 to 3 tiers.")]
    errors = cs.parse_tiers([{"price": "5", "days": 30}, {"price": "4.999", "days": 0}])
    assert [e.field for e in errors] == ["tiers[1].price", "tiers[1].days"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "stars"),
    [
        *[("", None), (None, None), ("auto", None), (" Auto ", None)],
        *[("250", 250), (250, 250), ("⭐250", 250), ("1", 1), ("10000", 10000), (10000.0, 10000)],
    ],
)
def test_star_prices_accepted(typed: object, stars: int | None) -> None:
    assert cs.parse_star_price(typed) == stars


WHOLE = "Send the price in Stars as a whole number, e.g. 250, or auto to convert the USD price."
RANGE = "Telegram takes from 1 to 10,000 Stars for one payment; send a number in that range."


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        *[
            ("2.5", WHOLE),
            ("250 stars", WHOLE),
            ("1,000", WHOLE),
            (True, WHOLE),
            (2.5, WHOLE),
            ("٢٥٠", WHOLE),
        ],
        *[("0", RANGE), ("-5", RANGE), ("10001", RANGE), (10001, RANGE)],
    ],
)
def test_star_prices_refused_with_a_reason(typed: object, reason: str) -> None:
    assert invalid(cs.parse_star_price(typed)) == reason


def test_a_tier_has_its_own_star_price_or_a_converted_one() -> None:
    tiers = cs.parse_tiers([{"price": "5", "days": 30, "stars": "300"}, {"price": "12.50", "days": 90}])
    assert [(t.tier_id, t.stars) for t in tiers] == [("t1", 300), ("t2", None)]  # type: ignore[union-attr]
    errors = cs.parse_tiers([{"price": "5", "days": 30}, {"price": "5", "days": 30, "stars": 20000}])
    assert errors == [FieldError("tiers[1].stars", RANGE)]
    channel = cs.validate_channel(_channel(tiers=[{"price": "5", "days": 30, "stars": "auto"}]))
    assert isinstance(channel, ChannelDoc) and channel.tiers[0].stars is None


def test_a_converted_star_price_beyond_telegrams_limit_is_noted_not_refused() -> None:
    rate = Decimal("0.02")
    assert cs.star_note(Decimal("200.00"), None, rate) is None  # exactly 10,000 Stars
    assert cs.star_note(Decimal("200.01"), None, rate) == (
        "Heads-up: $200.01 is more than ⭐10,000 at $0.02 a Star, Telegram's limit, so this tier is sold "
        "in crypto only. Set a price in Stars of your own to sell it in Stars too."
    )
    assert cs.star_note(Decimal("500.00"), 9000, rate) is None  # the owner's own Star price
    channel = cs.validate_channel(_channel(tiers=[{"price": "5", "days": 30}, {"price": "500", "days": 365}]))
    assert isinstance(channel, ChannelDoc)
    assert [field for field, _ in cs.star_notes(None, channel, rate)] == ["tiers[1].stars"]
    assert cs.star_notes(channel, channel, rate) == []  # said when the price is set, not at every change


def test_donation_limits() -> None:
    assert cs.parse_donation_limits("1", "500") == (Decimal("1.00"), Decimal("500.00"))
    assert cs.parse_donation_limits("10", "5") == [
        FieldError("donation_max", "The maximum donation can't be less than the minimum.")
    ]
    [error] = cs.parse_donation_limits("1", "10000")  # type: ignore[misc]
    assert error.field == "donation_max" and "at most $9,999.99." in error.reason
    assert cs.check_donation_max(Decimal("5"), "20") == Decimal("20.00")
    assert "less than the minimum" in invalid(cs.check_donation_max(Decimal("5"), "2"))


def test_the_donation_ceiling_is_what_the_keypad_can_type() -> None:
    assert Decimal(10**MAX_INTEGER_DIGITS) - Decimal("0.01") == cs.DONATION_CEILING


def test_grace_period() -> None:
    assert cs.parse_grace_minutes("0") == 0
    assert cs.parse_grace_minutes("10080") == 10080
    assert "from 0 to 10080" in invalid(cs.parse_grace_minutes("10081"))


def test_a_wallet_address_is_trimmed_and_a_wrong_one_refused_with_its_format() -> None:
    assert cs.parse_wallet_address("trx", f" {TRON} ") == TRON
    reason = invalid(cs.parse_wallet_address("trx", TRON[:-1] + "u"))
    assert reason == (
        "That doesn't look like a Tron (TRC-20) address (T followed by 33 letters and digits). "
        "Please copy it again from your wallet."
    )
    assert invalid(cs.parse_wallet_address("btc", "")) == "Send your Bitcoin wallet address."


def test_currency_and_network() -> None:
    assert cs.parse_payout_currency("USDT") == "usdt"
    assert "I can pay out in BTC, ETH, USDT" in invalid(cs.parse_payout_currency("doge"))
    assert [n.code for n in wallets.networks_for("usdt")] == ["eth", "trx"]
    assert cs.parse_payout_network("usdt", "TRX") == "trx"
    assert "USDT is paid out on Ethereum (ERC-20), Tron (TRC-20)" in invalid(
        cs.parse_payout_network("usdt", "btc")
    )
    assert "network first" in invalid(cs.parse_wallet_address("doge", "x"))


def test_strategy() -> None:
    assert cs.parse_payout_strategy("Threshold") is PayoutStrategy.THRESHOLD
    assert "instant" in invalid(cs.parse_payout_strategy("weekly"))
    assert cs.parse_payout_threshold("100") == Decimal("100.00")


def _channel(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "token": "AbCdEf123456",
        "owner_user_id": 7,
        "open_channel_id": -1001,
        "closed_channel_id": -1002,
        "title": "Night Owls",
        "description": "Notes",
        "tiers": [{"price": "5", "days": 30, "label": "Monthly"}],
        "donation_min": "2",
        "donation_max": "200",
        "grace_period_minutes": "60",
        "payout_currency": "USDT",
        "payout_network": "trx",
        "payout_wallet": TRON,
        "payout_strategy": "threshold",
        "payout_threshold": "50",
    }
    return data | changes


def test_a_whole_channel() -> None:
    channel = cs.validate_channel(_channel())
    assert isinstance(channel, ChannelDoc)
    assert channel.tiers[0].price == Decimal("5.00")
    assert (channel.donation_min, channel.donation_max) == (Decimal("2.00"), Decimal("200.00"))
    assert (channel.payout_currency, channel.payout_network, channel.payout_wallet) == ("usdt", "trx", TRON)
    assert channel.payout_threshold == Decimal("50.00")
    assert channel.grace_period_minutes == 60


def test_a_minimal_channel_gets_the_defaults() -> None:
    data = _channel()
    for name in ("description", "donation_min", "donation_max", "grace_period_minutes", "payout_currency"):
        del data[name]
    del data["payout_network"], data["payout_wallet"], data["payout_strategy"], data["payout_threshold"]
    channel = cs.validate_channel(data)
    assert isinstance(channel, ChannelDoc)
    assert channel.payout_strategy is PayoutStrategy.INSTANT and channel.payout_wallet is None


def test_every_problem_is_named_by_its_path() -> None:
    errors = cs.validate_channel(
        _channel(
            title="",
            tiers=[{"price": "5", "days": 30}, {"price": "0", "days": 4000, "label": "x" * 41}],
            donation_min="50",
            donation_max="10",
            payout_wallet=ETH,
            payout_threshold="",
        )
    )
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [
        "title",
        "tiers[1].price",
        "tiers[1].days",
        "tiers[1].label",
        "donation_max",
        "payout_wallet",
        "payout_threshold",
    ]
    assert "Tron (TRC-20)" in errors[5].reason


def test_ids_are_checked_by_the_document() -> None:
    errors = cs.validate_channel(_channel(owner_user_id="someone"))
    assert isinstance(errors, list) and [e.field for e in errors] == ["owner_user_id"]


def test_whole_numbers_are_bounded_and_ascii() -> None:
    assert "whole number" in invalid(cs.parse_days("9" * 5000))  # int() itself refuses over 4,300 digits
    assert "whole number" in invalid(cs.parse_grace_minutes("٣٠"))
    assert cs.parse_days("30") == 30


def test_a_channels_post_language_is_one_telepay_speaks() -> None:
    base = demo_channel().model_dump()
    assert demo_channel().language == "en"  # unless the owner chooses
    chosen = cs.validate_channel(base | {"language": "pt_BR"})
    assert isinstance(chosen, ChannelDoc) and chosen.language == "pt_BR"
    refused = cs.validate_channel(base | {"language": "Klingon"})
    assert isinstance(refused, list) and [e.field for e in refused] == ["language"]
    assert "pt_BR" in refused[0].reason  # the reason names the languages there are


# -- free trials --
@pytest.mark.parametrize(
    ("typed", "expected"),
    [(None, None), ("", None), ("off", None), ("OFF", None), ("7", 7), (1, 1), ("30", 30)],
)
def test_a_trial_is_off_or_1_to_30_days(typed: object, expected: int | None) -> None:
    assert cs.parse_trial_days(typed) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("0", "A free trial lasts from 1 to 30 days (or send off for no trial)."),
        (31, "A free trial lasts from 1 to 30 days (or send off for no trial)."),
        ("abc", "Send the free trial's length as a whole number of days, e.g. 7, or off for no trial."),
        ("7.5", "Send the free trial's length as a whole number of days, e.g. 7, or off for no trial."),
        (True, "Send the free trial's length as a whole number of days, e.g. 7, or off for no trial."),
    ],
)
def test_a_trial_outside_1_to_30_days_is_refused(typed: object, reason: str) -> None:
    assert invalid(cs.parse_trial_days(typed)) == reason


def test_a_channel_file_names_a_bad_trial_by_its_field() -> None:
    data = demo_channel().model_dump() | {"trial_days": 31}
    errors = cs.validate_channel(data)
    assert isinstance(errors, list) and [e.field for e in errors] == ["trial_days"]
    channel = cs.validate_channel(data | {"trial_days": "14"})
    assert isinstance(channel, ChannelDoc) and channel.trial_days == 14
    assert demo_channel().trial_days is None  # off by default
