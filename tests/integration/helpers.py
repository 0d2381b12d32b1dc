from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from pydantic import SecretStr

from shared_schemas.config import (
    CommonSettings,
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from telepay.clock import FrozenClock
from telepay.runtime import Runtime
from tests.fakes import FakeNowPayments, FakeTelegram, RecordingTasks

IPN_SECRET = "integration-ipn-secret"
WEBHOOK_SECRET = "integration-webhook-secret"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS: dict[str, type[CommonSettings]] = {
    "ipn": IpnHandlerSettings,
    "webhook": TelegramWebhookSettings,
    "invoice": CreateInvoiceSettings,
    "notify": NotifySettings,
}


class FakeRuntime(Runtime):
    """A Runtime on the Firestore emulator with a frozen clock and the fakes in place of Telegram,
    NowPayments and Cloud Tasks, typed as the fakes so tests can inspect them."""

    clock: FrozenClock
    telegram: FakeTelegram  # type: ignore[assignment]
    nowpayments: FakeNowPayments  # type: ignore[assignment]
    tasks: RecordingTasks  # type: ignore[assignment]

    def __init__(self, settings: CommonSettings, db: firestore.Client) -> None:
        super().__init__(settings, clock=FrozenClock(NOW))
        self.db = db
        self.telegram = FakeTelegram()
        self.nowpayments = FakeNowPayments()
        self.tasks = RecordingTasks()


def runtime(db: firestore.Client, kind: str = "ipn", **settings: Any) -> FakeRuntime:
    common = {
        "google_cloud_project": db.project,
        "telegram_bot_token": SecretStr("1:test"),
        "telegram_bot_username": "TelePayTestBot",
        "nowpayments_api_key": SecretStr("test-key"),
        "nowpayments_ipn_secret": SecretStr(IPN_SECRET),
        "telegram_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "create_invoice_url": "http://127.0.0.1:1/create_invoice",
        "keypad_url": "http://127.0.0.1:1/keypad",
        "ipn_callback_url": "http://127.0.0.1:1/ipn",
    }
    return FakeRuntime(settings_for(SETTINGS[kind], common | settings), db)


def as_function(rt: FakeRuntime, cls: type[CommonSettings], **fields: Any) -> FakeRuntime:
    """`rt` with the settings of another function (`cls`), keeping what the two have in common."""
    rt.settings = settings_for(cls, rt.settings.model_dump() | fields)
    return rt


def settings_for(cls: type[CommonSettings], fields: dict[str, Any]) -> CommonSettings:
    """Settings of `cls` from `fields` (those it has) and its defaults, without reading the environment."""
    defaults = {name: info.default for name, info in cls.model_fields.items() if not info.is_required()}
    return cls.model_construct(**(defaults | {k: v for k, v in fields.items() if k in cls.model_fields}))


def documents(db: firestore.Client, collection: str) -> list[dict[str, Any]]:
    return [s.to_dict() or {} for s in db.collection(collection).stream()]
