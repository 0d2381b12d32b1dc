"""Contracts: order ids, settings, money and dates as users see them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.config import IpnHandlerSettings, MissingSettingError, load_settings
from shared_schemas.ids import (
    OrderKind,
    donation_order_id,
    is_valid_channel_token,
    new_channel_token,
    parse_order_id,
    subscription_order_id,
)
from shared_schemas.money import format_amount
from telepay.subscriptions import texts

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


def test_missing_settings_are_named(env_guard: None) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "NOWPAYMENTS_API_KEY", "NOWPAYMENTS_IPN_SECRET"):
        os.environ.pop(name, None)
    os.environ["GOOGLE_CLOUD_PROJECT"] = "p"
    with pytest.raises(MissingSettingError) as error:
        load_settings(IpnHandlerSettings)
    assert "NOWPAYMENTS_API_KEY (missing)" in str(error.value)
    assert "NOWPAYMENTS_IPN_SECRET (missing)" in str(error.value)
    assert "GOOGLE_CLOUD_PROJECT" not in str(error.value)


def test_amounts_and_dates_read_well() -> None:
    assert format_amount(Decimal("5"), "USD") == "$5.00 USD"
    assert format_amount(Decimal("1234.5"), "usd") == "$1,234.50 USD"
    assert format_amount(Decimal("0.00005000"), "btc") == "0.00005 BTC"
    assert texts.when(datetime(2026, 12, 26, 9, 5, tzinfo=UTC)) == "Saturday, 26 December 2026, 09:05 UTC"
    assert (
        texts.duration(30) == "1 month" and texts.duration(90) == "3 months" and texts.duration(7) == "7 days"
    )


def test_tasks_need_an_identity_outside_the_local_stack(env_guard: None) -> None:
    from shared_schemas.config import KeypadSettings

    os.environ.update(
        {
            "GOOGLE_CLOUD_PROJECT": "p",
            "TELEGRAM_BOT_TOKEN": "1:x",
            "TELEGRAM_BOT_USERNAME": "b",
            "CREATE_INVOICE_URL": "u",
        }
    )
    for name in ("CLOUD_TASKS_EMULATOR_HOST", "TASKS_INVOKER_SERVICE_ACCOUNT"):
        os.environ.pop(name, None)
    with pytest.raises(
        MissingSettingError, match="TASKS_INVOKER_SERVICE_ACCOUNT is required outside the local stack"
    ):
        load_settings(KeypadSettings)
    os.environ["TASKS_INVOKER_SERVICE_ACCOUNT"] = "tasks@p.iam.gserviceaccount.com"
    assert load_settings(KeypadSettings).tasks_invoker_service_account


WEBHOOK_ENV = {
    "GOOGLE_CLOUD_PROJECT": "p",
    "TELEGRAM_BOT_TOKEN": "1:x",
    "TELEGRAM_BOT_USERNAME": "b",
    "CREATE_INVOICE_URL": "u",
    "KEYPAD_URL": "u",
    "DAILY_BROADCAST_URL": "u",
    "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:1",
}


@pytest.mark.parametrize(
    "secret", ["", "short-secret", "x" * 15, "sixteen chars ok", "sixteen-chars-é!", "a" * 257]
)
def test_an_unusable_webhook_secret_refuses_to_start(env_guard: None, secret: str) -> None:
    from shared_schemas.config import TelegramWebhookSettings

    os.environ.update(WEBHOOK_ENV | {"TELEGRAM_WEBHOOK_SECRET": secret})
    with pytest.raises(MissingSettingError, match="TELEGRAM_WEBHOOK_SECRET") as error:
        load_settings(TelegramWebhookSettings)
    if secret:
        assert secret not in str(error.value)  # a secret is never printed


@pytest.mark.parametrize("secret", ["x" * 16, "A-z_0-9" * 3, "f" * 64, "a" * 256])
def test_a_webhook_secret_of_telegrams_alphabet_is_accepted(env_guard: None, secret: str) -> None:
    from shared_schemas.config import TelegramWebhookSettings

    os.environ.update(WEBHOOK_ENV | {"TELEGRAM_WEBHOOK_SECRET": secret})
    settings = load_settings(TelegramWebhookSettings)
    assert settings.telegram_webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize("name", ["NOWPAYMENTS_API_KEY", "NOWPAYMENTS_IPN_SECRET"])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_nowpayments_secrets_refuse_to_start(env_guard: None, name: str, value: str) -> None:
    os.environ.update(
        {"GOOGLE_CLOUD_PROJECT": "p", "NOWPAYMENTS_API_KEY": "k", "NOWPAYMENTS_IPN_SECRET": "s"}
    )
    os.environ[name] = value
    with pytest.raises(MissingSettingError, match=name):
        load_settings(IpnHandlerSettings)
