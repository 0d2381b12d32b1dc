from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from telepay.clock import FrozenClock
from telepay.runtime import Runtime
from tests.fakes import FakeNowPayments, FakeTelegram

IPN_SECRET = "integration-ipn-secret"
WEBHOOK_SECRET = "integration-webhook-secret"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def runtime(db: Any, kind: str = "ipn", **settings: Any) -> Runtime:
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
    cls = {
        "ipn": IpnHandlerSettings,
        "webhook": TelegramWebhookSettings,
        "invoice": CreateInvoiceSettings,
        "notify": NotifySettings,
    }[kind]
    fields = {k: v for k, v in (common | settings).items() if k in cls.model_fields}
    rt = Runtime(cls.model_construct(**{**_defaults(cls), **fields}), clock=FrozenClock(NOW))
    rt.db = db
    rt.telegram = FakeTelegram()  # type: ignore[assignment]
    rt.nowpayments = FakeNowPayments()  # type: ignore[assignment]
    return rt


def _defaults(cls: Any) -> dict[str, Any]:
    return {name: info.default for name, info in cls.model_fields.items() if not info.is_required()}
