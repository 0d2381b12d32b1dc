"""Wiring: a `Runtime[S]` builds each function's adapters lazily from its settings `S`.

The settings type parameter lets mypy catch a module reading a setting its function does not have:
a flow declares the settings it needs (`rt: Runtime[IpnHandlerSettings]`), and an adapter is only
reachable from a runtime whose settings configure it (`rt.telegram` needs `TelegramSettings`).
Tests build a Runtime on the in-memory store and fakes (`tests/harness.py`) or on the
emulators, and may replace any adapter before first use.

One Runtime serves every request of its process at once (`REQUEST_CONCURRENCY` threads of
functions-framework's gunicorn): each adapter is built once, under a lock, and shared by the
threads. That is safe because of what each holds: Google's Firestore, Pub/Sub and Cloud Tasks
clients are documented as safe to share across threads (gRPC); an `httpx.Client` (NowPayments) is
one connection pool for all threads; python-telegram-bot is not thread-safe, so `TelegramApi` keeps
its `Bot` on one event loop in one thread and every thread hands it coroutines
(`run_coroutine_threadsafe`); the reader's language is a context variable, one per thread.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shared_schemas.config import (
    CommonSettings,
    NowPaymentsSettings,
    PayoutSettings,
    PubSubSettings,
    TasksSettings,
    TelegramSettings,
    load_settings,
)
from telepay.core import logs
from telepay.core.claims import Claims
from telepay.core.clock import Clock, system_clock

if TYPE_CHECKING:
    from telepay.adapters.nowpayments_api import NowPaymentsApi
    from telepay.adapters.nowpayments_payouts import NowPaymentsPayouts
    from telepay.adapters.pubsub_publisher import Publisher
    from telepay.adapters.tasks_queue import TaskQueue
    from telepay.adapters.telegram_api import TelegramApi
    from telepay.core.store import Store

S = TypeVar("S", bound=CommonSettings, covariant=True)
S2 = TypeVar("S2", bound=CommonSettings)


class Runtime(Generic[S]):
    def __init__(self, settings: S, clock: Clock | None = None, store: Store | None = None) -> None:
        self._settings = settings
        self.clock = clock or system_clock(settings.telepay_clock_offset_file)
        self._adapters: dict[str, Any] = {}
        # Reentrant: building one adapter may build another (claims need the store).
        self._building = threading.RLock()
        if store is not None:
            self._adapters["store"] = store

    @property
    def settings(self) -> S:
        return self._settings

    def _adapter(self, name: str, build: Any) -> Any:
        adapter = self._adapters.get(name)
        if adapter is not None:
            return adapter
        with self._building:  # concurrent first requests build one client, not one each
            if name not in self._adapters:
                self._adapters[name] = build()
            return self._adapters[name]

    def replace(self, **adapters: Any) -> None:
        """Use these adapters (fakes in tests) instead of building the real ones."""
        with self._building:
            self._adapters.update(adapters)

    @property
    def store(self) -> Store:
        def build() -> Store:
            from telepay.adapters.firestore_store import FirestoreStore

            return FirestoreStore.for_project(self.settings.google_cloud_project)

        return self._adapter("store", build)  # type: ignore[no-any-return]

    @property
    def claims(self) -> Claims:
        return self._adapter("claims", lambda: Claims(self.store, self.clock))  # type: ignore[no-any-return]

    @property
    def telegram(self: Runtime[TelegramSettings]) -> TelegramApi:
        def build() -> TelegramApi:
            from telepay.adapters.telegram_api import TelegramApi

            settings = self.settings
            return TelegramApi(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url)

        return self._adapter("telegram", build)  # type: ignore[no-any-return]

    @property
    def tasks(self: Runtime[TasksSettings]) -> TaskQueue:
        def build() -> TaskQueue:
            from telepay.adapters.tasks_queue import TaskQueue

            return TaskQueue(self.settings, self.clock)

        return self._adapter("tasks", build)  # type: ignore[no-any-return]

    @property
    def publisher(self: Runtime[PubSubSettings]) -> Publisher:
        def build() -> Publisher:
            from telepay.adapters.pubsub_publisher import Publisher

            return Publisher(self.settings.google_cloud_project)

        return self._adapter("publisher", build)  # type: ignore[no-any-return]

    @property
    def nowpayments(self: Runtime[NowPaymentsSettings]) -> NowPaymentsApi:
        def build() -> NowPaymentsApi:
            from telepay.adapters.nowpayments_api import NowPaymentsApi

            settings = self.settings
            return NowPaymentsApi(
                settings.nowpayments_api_base_url,
                settings.nowpayments_api_key.get_secret_value(),
                settings.nowpayments_timeout_seconds,
            )

        return self._adapter("nowpayments", build)  # type: ignore[no-any-return]

    @property
    def payouts_api(self: Runtime[PayoutSettings]) -> NowPaymentsPayouts:
        """NowPayments with the payout credentials; its auth token is cached for the instance."""

        def build() -> NowPaymentsPayouts:
            from telepay.adapters.nowpayments_payouts import NowPaymentsPayouts

            settings = self.settings
            return NowPaymentsPayouts(
                settings.nowpayments_api_base_url,
                settings.nowpayments_api_key.get_secret_value(),
                settings.nowpayments_timeout_seconds,
                email=settings.nowpayments_email.get_secret_value(),
                password=settings.nowpayments_password.get_secret_value(),
                totp_secret=settings.nowpayments_2fa_secret.get_secret_value(),
            )

        return self._adapter("payouts_api", build)  # type: ignore[no-any-return]


def start(settings_class: type[S2], function: str) -> Runtime[S2]:
    """Load and check settings (failing with the missing names), set up logs, hide secrets."""
    settings = load_settings(settings_class)
    logs.configure(settings.log_level)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            logs.redact(value.get_secret_value())
    logs.get_logger("telepay").info("settings loaded", extra={"function": function})
    return Runtime(settings)
