"""Order ids and channel tokens: what each id says, and foreign ones refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.ids import (
    OrderKind,
    donation_order_id,
    is_valid_channel_token,
    new_channel_token,
    parse_order_id,
    subscription_order_id,
)

TOKENS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijk23456789", min_size=6, max_size=24)


@given(TOKENS, st.integers(min_value=1, max_value=10**15), st.sampled_from(["t1", "t2", "t3"]))
def test_subscription_order_ids_say_what_was_bought(token: str, user: int, tier: str) -> None:
    ref = parse_order_id(subscription_order_id(token, user, tier))
    assert (ref.kind, ref.channel_token, ref.user_id, ref.tier_id) == (
        OrderKind.SUBSCRIPTION,
        token,
        user,
        tier,
    )


@given(TOKENS, st.integers(min_value=1, max_value=10**15), st.integers(min_value=1, max_value=999_999_999))
def test_donation_order_ids_are_distinct_from_renewals(token: str, user: int, cents: int) -> None:
    ref = parse_order_id(donation_order_id(token, user, cents))
    assert ref.kind is OrderKind.DONATION and ref.amount_cents == cents and ref.tier_id is None


def test_order_ids_are_unique_per_order() -> None:
    ids = {subscription_order_id("DemoChannel01", 1, "t1") for _ in range(1000)}
    assert len(ids) == 1000


@pytest.mark.parametrize(
    "bad",
    [
        "PGP-123|-100456",
        "tp1-sub-DemoChannel01-1-5-abcdefghij",
        "tp1-don-DemoChannel01-1-t1-abcdefghij",
        "",
        "tp1-x",
    ],
)
def test_foreign_order_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="order id"):
        parse_order_id(bad)


def test_channel_tokens() -> None:
    assert is_valid_channel_token(new_channel_token())
    assert not is_valid_channel_token("abc")
    assert not is_valid_channel_token("DemoChannel01_DONATE")


def test_start_links_for_promo_codes_and_gifts() -> None:
    from shared_schemas.ids import (
        StartKind,
        StartLink,
        gift_start,
        is_valid_promo_code,
        new_gift_code,
        parse_start,
        promo_start,
    )

    assert parse_start(promo_start("DemoChannel01", "spring20")).code == "SPRING20"
    assert parse_start("DemoChannel01_spring20").kind is StartKind.PROMO
    assert parse_start("DemoChannel01_DONATE").kind is StartKind.DONATE
    # Not a code any owner could make: the whole parameter is read as a channel token (unknown).
    assert parse_start("DemoChannel01_price_0.01") == StartLink(StartKind.OFFER, "DemoChannel01_price_0.01")
    gift = new_gift_code()
    link = parse_start(gift_start("DemoChannel01", gift))
    assert (link.kind, link.channel_token, link.code) == (StartKind.GIFT, "DemoChannel01", gift)
    assert parse_start("DemoChannel01-t2").tier_id == "t2"
    assert is_valid_promo_code("Spring2026")
    assert not is_valid_promo_code("abc")  # too short
    assert not is_valid_promo_code("x" * 33)
    assert not is_valid_promo_code("SALE-20")  # letters and digits only
    assert not is_valid_promo_code("donate")
    assert not is_valid_promo_code(f"G{gift}")  # a gift link's shape
