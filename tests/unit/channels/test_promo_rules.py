"""The promo codes' rules: what an owner may type, the discounted price (two decimals, half up,
never below zero), the Star price (rounded up), the invoice's floor at NowPayments' minimum, and
whether a code applies (status, dates, limits, tiers, new subscribers only)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.documents import PromoCodeDoc, PromoStatus
from telepay.channels import promo_rules as rules
from telepay.channels.promo_rules import Discount, Refused
from telepay.channels.settings import FieldError, Invalid
from tests.conftest import demo_channel
from tests.harness import NOW


def code(**values: Any) -> PromoCodeDoc:
    made = rules.validate_code({"code": "Summer20", "discount": "20%"} | values, demo_channel(), 5001, NOW)
    assert isinstance(made, PromoCodeDoc), made
    return made


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("20%", Discount(percent_off=20)),
        (" 100 % ", Discount(percent_off=100)),
        ("5", Discount(amount_off=Decimal("5.00"))),
        ("$4.99", Discount(amount_off=Decimal("4.99"))),
        ("2 USD", Discount(amount_off=Decimal("2.00"))),
    ],
)
def test_discounts_owners_type(typed: str, expected: Discount) -> None:
    assert rules.parse_discount(typed) == expected


@pytest.mark.parametrize("typed", ["0%", "101%", "2.5%", "0", "4,99", "4.999", "-5", "free", ""])
def test_discounts_refused(typed: str) -> None:
    assert isinstance(rules.parse_discount(typed), Invalid)


def test_codes_are_upper_cased_and_checked() -> None:
    assert rules.parse_code(" summer20 ") == "SUMMER20"
    for wrong in ("abc", "x" * 33, "with space", "DONATE", "GABCDEFGHJKLM", "ÄBCD"):
        assert isinstance(rules.parse_code(wrong), Invalid), wrong


@pytest.mark.parametrize(
    ("price", "discount", "expected"),
    [
        ("5.00", "20%", "4.00"),
        ("4.99", "15%", "4.24"),
        ("0.99", "50%", "0.50"),
        ("12.50", "33%", "8.38"),
        ("5.00", "$7", "0.00"),
        ("5.00", "$1.25", "3.75"),
        ("9.99", "100%", "0.00"),
    ],
)
def test_the_discounted_price_has_two_decimals_rounded_half_up(
    price: str, discount: str, expected: str
) -> None:
    assert rules.discounted(Decimal(price), code(discount=discount)) == Decimal(expected)


def test_the_star_price_is_rounded_up() -> None:
    assert rules.discounted_stars(250, Decimal("5.00"), code(discount="20%")) == 200
    assert rules.discounted_stars(249, Decimal("4.99"), code(discount="15%")) == 212  # 211.65
    assert rules.discounted_stars(250, Decimal("5.00"), code(discount="$1.01")) == 200  # 199.5
    assert rules.discounted_stars(250, Decimal("5.00"), code(discount="100%")) == 0


def test_a_crypto_invoice_is_raised_to_the_least_minimum_never_above_the_price() -> None:
    minimums = {"btc": Decimal("2.501"), "ltc": Decimal("1.2")}
    assert rules.invoice_price(Decimal("5.00"), Decimal("0.50"), minimums) == Decimal("1.20")
    assert rules.invoice_price(Decimal("5.00"), Decimal("4.00"), minimums) == Decimal("4.00")
    assert rules.invoice_price(Decimal("1.00"), Decimal("0.50"), minimums) == Decimal("1.00")
    assert rules.invoice_price(Decimal("5.00"), Decimal("0.50"), None) == Decimal("0.50")  # unknown: as is


def test_whether_a_code_applies() -> None:
    assert rules.refusal(None, NOW) is Refused.UNKNOWN
    assert rules.refusal(code(), NOW) is None
    assert rules.refusal(code().model_copy(update={"status": PromoStatus.PAUSED}), NOW) is Refused.PAUSED
    assert rules.refusal(code().model_copy(update={"status": PromoStatus.ENDED}), NOW) is Refused.ENDED
    assert rules.refusal(code(starts_at="2026-12-01"), NOW) is Refused.NOT_STARTED
    ends = code(ends_at="2026-11-30")
    assert (
        rules.refusal(ends, NOW + timedelta(days=4, hours=11, minutes=59)) is None
    )  # through 30 November, UTC
    assert rules.refusal(ends, NOW + timedelta(days=4, hours=12)) is Refused.EXPIRED  # 1 December, 00:00
    limited = code(max_uses=10, max_uses_per_buyer=2)
    assert rules.refusal(limited.model_copy(update={"uses": 9}), NOW, buyer_uses=1) is None
    assert rules.refusal(limited.model_copy(update={"uses": 10}), NOW) is Refused.USED_UP
    assert rules.refusal(limited, NOW, buyer_uses=2) is Refused.BUYER_USED_UP
    assert rules.refusal(code(new_subscribers_only=True), NOW, member=True) is Refused.NEW_ONLY
    assert rules.refusal(code(tier_ids=["t2"]), NOW, tier_id="t1") is Refused.NOT_FOR_TIER
    assert rules.refusal(code(tier_ids=["t2"]), NOW, tier_id="t2") is None


def test_a_whole_code_names_each_problem() -> None:
    problems = rules.validate_code(
        {"code": "x", "discount": "200%", "tier_ids": ["t9"], "ends_at": "2026-01-01", "max_uses": "0"},
        demo_channel(),
        5001,
        NOW,
    )
    assert isinstance(problems, list)
    assert [p.field for p in problems if isinstance(p, FieldError)] == [
        "code",
        "discount",
        "tier_ids",
        "ends_at",
        "max_uses",
    ]


def test_a_code_below_the_minimum_is_said_per_tier() -> None:
    notes = rules.minimum_notes(demo_channel(), code(discount="80%"), {"btc": Decimal("2.5")})
    assert notes == [
        "Heads-up: with this code Monthly would cost $1.00, below the least NowPayments takes ($2.50), so "
        "crypto invoices for it are made at $2.50."
    ]
    assert rules.minimum_notes(demo_channel(), code(discount="100%"), {"btc": Decimal("2.5")}) == []  # free
