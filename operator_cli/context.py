"""What every command works with: the store, the clock, the operator's identity and the settings,
from `--endpoints` (the local stack) or the environment, as Google's clients take them. Tests build
an `Operator` on the in-memory store and hand it to the command as click's context object."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import SecretStr

from operator_cli.output import Failed
from shared_schemas.config import CommonSettings
from telepay.core.clock import Clock, system_clock

if TYPE_CHECKING:
    from telepay.adapters.nowpayments_api import NowPaymentsApi
    from telepay.adapters.tasks_queue import TaskQueue
    from telepay.core.store import Store
    from telepay.runtime import Runtime

S = TypeVar("S", bound=CommonSettings)


@dataclass
class Operator:
    store_: Store | None = None
    clock: Clock = field(default_factory=Clock)
    endpoints: dict[str, Any] | None = None
    project_: str | None = None
    operator: str | None = None
    as_json: bool = False
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    http_transport: httpx.BaseTransport | None = None  # tests: a MockTransport
    tasks_: TaskQueue | None = None
    adapters_: dict[str, Any] = field(default_factory=dict)  # tests: fakes for `runtime` (telegram, ...)

    @classmethod
    def from_endpoints(cls, path: Path) -> Operator:
        """The local stack: its emulators and project, its clock (moved forward by tests)."""
        try:
            endpoints = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise Failed(f"{path}: cannot read the stack's endpoints ({error})") from None
        os.environ["FIRESTORE_EMULATOR_HOST"] = endpoints["firestore_emulator_host"]
        os.environ["PUBSUB_EMULATOR_HOST"] = endpoints["pubsub_emulator_host"]
        return cls(
            endpoints=endpoints,
            project_=endpoints["project"],
            clock=system_clock(endpoints.get("clock_offset_file")),
        )

    @property
    def project(self) -> str:
        """`--project`, the environment, or the application default credentials' project."""
        if self.project_:
            return self.project_
        for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
            if self.env.get(name):
                self.project_ = self.env[name]
                return self.project_
        try:
            import google.auth

            _, project = google.auth.default()
        except Exception as error:
            raise Failed(
                f"no Google Cloud project: give --project or set GOOGLE_CLOUD_PROJECT ({error})"
            ) from None
        if not project:
            raise Failed("no Google Cloud project: give --project or set GOOGLE_CLOUD_PROJECT")
        self.project_ = str(project)
        return self.project_

    @property
    def store(self) -> Store:
        if self.store_ is None:
            from telepay.adapters.firestore_store import FirestoreStore

            self.store_ = FirestoreStore.for_project(self.project)
        return self.store_

    @property
    def tasks(self) -> TaskQueue:
        """Cloud Tasks as the functions reach it (the local stack's stand-in with `--endpoints`)."""
        if self.tasks_ is None:
            from pydantic import ValidationError

            from shared_schemas.config import TasksSettings
            from telepay.adapters.tasks_queue import TaskQueue

            given: dict[str, Any] = {"google_cloud_project": self.project}
            if self.endpoints is not None:  # the stack's queues add their tokens, as Terraform's do
                given |= {
                    "cloud_tasks_emulator_host": self.endpoints["tasks_emulator"].split("://", 1)[-1],
                    "tasks_location": self.endpoints["tasks_location"],
                    "tasks_token_from_queue": True,
                }
            try:
                settings = TasksSettings(**given)
            except ValidationError as error:
                raise Failed(f"Cloud Tasks settings: {error.errors()[0]['msg']}") from None
            self.tasks_ = TaskQueue(settings, self.clock)
        return self.tasks_

    def nowpayments(self) -> NowPaymentsApi | None:
        """NowPayments as the functions reach it (the stack's stand-in with `--endpoints`, else
        NOWPAYMENTS_API_BASE_URL and NOWPAYMENTS_API_KEY); None without an API key."""
        try:
            key = self.setting("NOWPAYMENTS_API_KEY", "nowpayments_api_key")
        except Failed:
            return None
        from telepay.adapters.nowpayments_api import NowPaymentsApi

        base = self.setting("NOWPAYMENTS_API_BASE_URL", "nowpayments_api", "https://api.nowpayments.io")
        return NowPaymentsApi(base, key, timeout=10.0)

    def runtime(self, settings_class: type[S], **given: Any) -> Runtime[S]:
        """A function's runtime for a command that does what a function does (e.g. a refund): this
        store and clock, the bot token and Telegram's URL from the stack or the environment, the
        class's defaults otherwise, `given` over them. Only what the command uses is read."""
        from telepay.runtime import Runtime

        values = {
            name: info.default for name, info in settings_class.model_fields.items() if not info.is_required()
        }
        values |= {"google_cloud_project": self.project}
        if "telegram_bot_token" in settings_class.model_fields:
            values["telegram_bot_token"] = SecretStr(self.setting("TELEGRAM_BOT_TOKEN", "telegram_bot_token"))
            values["telegram_api_base_url"] = self.setting(
                "TELEGRAM_API_BASE_URL", "telegram_api", "https://api.telegram.org"
            )
        if (
            "pubsub_emulator_host" in settings_class.model_fields
        ):  # the local stack's, never Google's by mistake
            try:
                values["pubsub_emulator_host"] = self.setting("PUBSUB_EMULATOR_HOST", "pubsub_emulator_host")
            except Failed:
                pass  # a deployed project: the real Pub/Sub, with the operator's credentials
        settings: S = settings_class.model_construct(**(values | given))  # type: ignore[assignment]
        rt: Runtime[S] = Runtime(settings, clock=self.clock, store=self.store)
        rt.replace(**self.adapters_)
        return rt

    def who(self) -> str:
        """Who runs a support action: `--operator`, TELEPAY_OPERATOR, the gcloud account, the OS user."""
        if self.operator:
            return self.operator
        if self.env.get("TELEPAY_OPERATOR"):
            return self.env["TELEPAY_OPERATOR"]
        if shutil.which("gcloud"):
            try:
                account = subprocess.run(
                    ["gcloud", "config", "get-value", "account"],
                    capture_output=True,
                    text=True,
                    timeout=15,
                    check=False,
                ).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                account = ""
            if account and "(unset)" not in account:
                return account
        return getpass.getuser()

    def setting(self, name: str, endpoint_key: str | None = None, default: str | None = None) -> str:
        """A value from the stack's endpoints (when given and set there), else the environment."""
        if self.endpoints is not None and endpoint_key is not None:
            value: Any = self.endpoints
            for part in endpoint_key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value:
                return str(value)
        value = self.env.get(name) or default
        if not value:
            raise Failed(f"{name} is not set (set it in the environment, or give --endpoints)")
        return str(value)

    def http(self) -> httpx.Client:
        return httpx.Client(transport=self.http_transport, timeout=30)
