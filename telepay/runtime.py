"""Wiring: a `Runtime` builds each function's clients lazily from its settings.

Tests build a Runtime with settings pointing at the emulators and stand-ins, and may replace any
attribute (a clock, a publisher) before first use.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from shared_schemas.config import CommonSettings, load_settings
from telepay import logs
from telepay.adapters.firestore_db import firestore_client
from telepay.claims import Claims
from telepay.clock import Clock, system_clock

if TYPE_CHECKING:
    from google.cloud.firestore import Client

    from telepay.adapters.nowpayments_api import NowPaymentsApi
    from telepay.adapters.pubsub_publisher import Publisher
    from telepay.adapters.tasks_queue import TaskQueue
    from telepay.adapters.telegram_api import TelegramApi

S = TypeVar("S", bound=CommonSettings)


class Runtime:
    def __init__(self, settings: Any, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or system_clock(settings.telepay_clock_offset_file)

    @cached_property
    def db(self) -> Client:
        return firestore_client(self.settings.google_cloud_project)

    @cached_property
    def claims(self) -> Claims:
        return Claims(self.db, self.clock)

    @cached_property
    def telegram(self) -> TelegramApi:
        from telepay.adapters.telegram_api import TelegramApi

        return TelegramApi(
            self.settings.telegram_bot_token.get_secret_value(), self.settings.telegram_api_base_url
        )

    @cached_property
    def tasks(self) -> TaskQueue:
        from telepay.adapters.tasks_queue import TaskQueue

        return TaskQueue(self.settings)

    @cached_property
    def publisher(self) -> Publisher:
        from telepay.adapters.pubsub_publisher import Publisher

        return Publisher(self.settings.google_cloud_project)

    @cached_property
    def nowpayments(self) -> NowPaymentsApi:
        from telepay.adapters.nowpayments_api import NowPaymentsApi

        return NowPaymentsApi(
            self.settings.nowpayments_api_base_url,
            self.settings.nowpayments_api_key.get_secret_value(),
            self.settings.nowpayments_timeout_seconds,
        )


def start(settings_class: type[S], function: str) -> Runtime:
    """Load and check settings (failing with the missing names), set up logs, hide secrets."""
    settings = load_settings(settings_class)
    logs.configure(settings.log_level)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            logs.redact(value.get_secret_value())
    logs.get_logger("telepay").info("settings loaded", extra={"function": function})
    return Runtime(settings)
