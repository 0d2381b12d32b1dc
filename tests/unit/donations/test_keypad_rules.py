"""The keypad's input rules, driven by random press sequences against a small reference model."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from telepay.donations.keypad_rules import (
    KEY_BACK,
    KEY_CLEAR,
    KEY_POINT,
    amount_of,
    apply_key,
    confirm_refusal,
    shown,
)
from tests.conftest import demo_channel

EDIT_KEYS = st.sampled_from([*"0123456789", KEY_POINT, KEY_BACK, KEY_CLEAR])
ALLOWED = re.compile(r"^(0|[1-9]\d{0,3})?(\.\d{0,2})?$")


def reference(text: str, key: str) -> str:
    """What a user expects: the press is kept when the result is still a well-formed amount."""
    if key == KEY_CLEAR:
        return ""
    if key == KEY_BACK:
        return text[:-1]
    candidate = ("0" if key == KEY_POINT and not text else "") + text + key
    if candidate.startswith("0") and len(candidate) > 1 and candidate[1] != ".":
        candidate = candidate[1:]  # a digit after a lone 0 replaces it
    return candidate if ALLOWED.match(candidate) else text


@given(st.lists(EDIT_KEYS, max_size=40))
def test_keypad_matches_the_reference_model(keys: list[str]) -> None:
    text = model = ""
    for key in keys:
        text, refusal = apply_key(text, key)
        expected = reference(model, key)
        assert text == expected, (keys, text, expected)
        if refusal is None and key not in (KEY_BACK, KEY_CLEAR):
            assert text != model or (key == "0" and model == "0")
        model = expected
        assert ALLOWED.match(text)
        assert "." not in text or len(text.partition(".")[2]) <= 2


def test_refusals_say_why() -> None:
    assert apply_key("12.34", "5") == ("12.34", "Two decimals at most")
    assert apply_key("1.", KEY_POINT) == ("1.", "Only one decimal point")
    assert apply_key("9999", "9") == ("9999", "That's the longest amount I take")
    assert apply_key("", KEY_BACK) == ("", "Nothing to delete")


def test_confirm_only_within_the_channel_limits() -> None:
    channel = demo_channel()
    assert confirm_refusal("", channel) == "Type an amount first"
    assert confirm_refusal("4.98", channel) == "The minimum is $4.99"
    assert confirm_refusal("4.99", channel) is None
    assert confirm_refusal("9999.99", channel) is None
    assert confirm_refusal("0.", channel) == "Type an amount first"
    assert amount_of("12.") == Decimal("12")
    assert shown("", "USD") == "$0.00"
    assert shown("12.5", "USD") == "$12.5"
