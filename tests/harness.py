"""Runtimes for tests: one function's settings, a store (in memory for unit tests, the Firestore
emulator for integration tests), a frozen clock, and fakes of the non-Google edges."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import SecretStr

from local.background_server import BackgroundServer
from local.nowpayments_standin import create_app
from local.nowpayments_standin.model import NowPaymentsStandin
from shared_schemas.config import (
    CommonSettings,
    CreateInvoiceSettings,
    ExpireSubscriptionsSettings,
    IpnHandlerSettings,
    KeypadSettings,
    NotifySettings,
    PayoutSettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import SubscriptionDoc
from shared_schemas.names import Topic
from telepay.adapters.nowpayments_api import NowPaymentsApi
from telepay.core.clock import FrozenClock
from telepay.core.store import Store
from telepay.runtime import Runtime
from tests.fakes import FakeNowPayments, FakeTelegram, RecordingTasks

S = TypeVar("S", bound=CommonSettings)
D = TypeVar("D")
IPN_SECRET = "test-ipn-secret-0123456789"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PROJECT = "telepay-test"

COMMON: dict[str, Any] = {
    "google_cloud_project": PROJECT,
    "telegram_bot_token": SecretStr("1:test"),
    "telegram_bot_username": "TelePayTestBot",
    "nowpayments_api_key": SecretStr("test-key"),
    "nowpayments_ipn_secret": SecretStr(IPN_SECRET),
    "telegram_webhook_secret": SecretStr(WEBHOOK_SECRET),
    "create_invoice_url": "http://127.0.0.1:1/create_invoice",
    "keypad_url": "http://127.0.0.1:1/keypad",
    "ipn_callback_url": "http://127.0.0.1:1/ipn",
    "expire_subscriptions_url": "http://127.0.0.1:1/expire_subscriptions",
    "cloud_tasks_emulator_host": "127.0.0.1:1",
    "nowpayments_email": SecretStr("merchant@example.test"),
    "nowpayments_password": SecretStr("test-password"),
    "nowpayments_2fa_secret": SecretStr("JBSWY3DPEHPK3PXP"),
}


@dataclass
class RecordingPublisher:
    """Pub/Sub in unit tests: what was published, and optional failures of the next publishes."""

    published: list[tuple[Topic, bytes, dict[str, str]]] = field(default_factory=list)
    fail_next: int = 0

    def publish(self, topic: Topic, data: bytes, **attributes: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("Pub/Sub unavailable")
        self.published.append((topic, data, attributes))
        return str(len(self.published))


def settings(cls: type[S], **changes: Any) -> S:
    """A function's settings with test values (no environment read)."""
    defaults = {name: info.default for name, info in cls.model_fields.items() if not info.is_required()}
    given = {k: v for k, v in (COMMON | changes).items() if k in cls.model_fields}
    made: S = cls.model_construct(**(defaults | given))  # type: ignore[assignment]
    return made


def runtime(cls: type[S], store: Store, now: datetime = NOW, **changes: Any) -> Runtime[S]:
    rt = Runtime(settings(cls, **changes), clock=FrozenClock(now), store=store)
    rt.replace(
        telegram=FakeTelegram(),
        nowpayments=FakeNowPayments(),
        tasks=RecordingTasks(),
        publisher=RecordingPublisher(),
    )
    return rt


@contextmanager
def nowpayments_standin(rt: Runtime[Any] | None = None) -> Iterator[tuple[str, NowPaymentsStandin]]:
    """The NowPayments stand-in on a free port (its URL and state), with the real adapter in `rt`
    instead of the fake."""
    key = COMMON["nowpayments_api_key"].get_secret_value()
    app = create_app(key, IPN_SECRET)
    with BackgroundServer(app) as server:
        if rt is not None:
            rt.replace(nowpayments=NowPaymentsApi(server.url, key, 2.0))
        yield server.url, app.state.standin


def present(doc: D | None) -> D:
    """A document that must exist."""
    assert doc is not None, "the document does not exist"
    return doc


def telegram_of(rt: Runtime[Any]) -> FakeTelegram:
    return fakes(rt)[0]


def nowpayments_of(rt: Runtime[Any]) -> FakeNowPayments:
    return fakes(rt)[1]


def fakes(rt: Runtime[Any]) -> tuple[FakeTelegram, FakeNowPayments, RecordingTasks]:
    """The fakes a harness runtime was built with, typed."""
    telegram, nowpayments, tasks = rt.telegram, rt.nowpayments, rt.tasks
    assert isinstance(telegram, FakeTelegram)
    assert isinstance(nowpayments, FakeNowPayments)
    assert isinstance(tasks, RecordingTasks)
    return telegram, nowpayments, tasks


def active_subscription(user_id: int, days: float, token: str = "DemoChannel01") -> SubscriptionDoc:
    """A member of the demo channel whose access, bought at NOW, ends `days` later."""
    return SubscriptionDoc(
        channel_token=token,
        user_id=user_id,
        closed_channel_id=-1001000000002,
        expires_at=NOW + timedelta(days=days),
        started_at=NOW,
        renewed_at=NOW,
        tier_id="t1",
        last_order_id="x",
        in_channel=True,
        next_action_at=NOW,
        updated_at=NOW,
    )


KINDS: dict[str, type[CommonSettings]] = {
    "ipn": IpnHandlerSettings,
    "webhook": TelegramWebhookSettings,
    "invoice": CreateInvoiceSettings,
    "notify": NotifySettings,
    "keypad": KeypadSettings,
    "expiry": ExpireSubscriptionsSettings,
    "broadcast": ExpireSubscriptionsSettings,  # the offers are posted by expire_subscriptions
    "payout": PayoutSettings,
}
