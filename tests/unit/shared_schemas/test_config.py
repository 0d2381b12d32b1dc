"""Settings: a missing or unusable one is named and refuses to start, never guessed."""

from __future__ import annotations

import os

import pytest

from shared_schemas.config import IpnHandlerSettings, MissingSettingError, load_settings

WEBHOOK_ENV = {
    "GOOGLE_CLOUD_PROJECT": "p",
    "TELEGRAM_BOT_TOKEN": "1:x",
    "TELEGRAM_BOT_USERNAME": "b",
    "CREATE_INVOICE_URL": "u",
    "KEYPAD_URL": "u",
    "EXPIRE_SUBSCRIPTIONS_URL": "u",  # -- announcements --
    "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:1",
    "NOWPAYMENTS_API_KEY": "k",
}


def test_missing_settings_are_named(env_guard: None) -> None:
    for name in ("GOOGLE_CLOUD_PROJECT", "NOWPAYMENTS_API_KEY", "NOWPAYMENTS_IPN_SECRET"):
        os.environ.pop(name, None)
    os.environ["GOOGLE_CLOUD_PROJECT"] = "p"
    with pytest.raises(MissingSettingError) as error:
        load_settings(IpnHandlerSettings)
    assert "NOWPAYMENTS_API_KEY (missing)" in str(error.value)
    assert "NOWPAYMENTS_IPN_SECRET (missing)" in str(error.value)
    assert "GOOGLE_CLOUD_PROJECT" not in str(error.value)


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
