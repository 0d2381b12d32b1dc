"""The local stack's layout: ports, local-only credentials, and the environment of each function.

Values here are local development values only; they are never real credentials.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_schemas.names import FUNCTIONS, QUEUES, Function, Queue, QueueSpec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT_BASE = 18500

LOCAL_PROJECT = "telepay-local"
LOCAL_BOT_TOKEN = "7000000001:LOCAL-development-token-not-real"
LOCAL_BOT_USERNAME = "TelePayLocalBot"
LOCAL_WEBHOOK_SECRET = "local-webhook-secret-not-real"
LOCAL_NOWPAYMENTS_API_KEY = "local-nowpayments-api-key-not-real"
LOCAL_NOWPAYMENTS_IPN_SECRET = "local-ipn-secret-not-real"
# The stand-in's payout account (`/v1/auth`) and its 2FA secret (base32), local only.
LOCAL_NOWPAYMENTS_EMAIL = "payouts@telepay.local"
LOCAL_NOWPAYMENTS_PASSWORD = "local-payout-password-not-real"
LOCAL_NOWPAYMENTS_2FA_SECRET = "LOCALTOTPSECRETNOTREAL234567ABCD"
LOCAL_TASKS_LOCATION = "us-central1"


def queue_identity(queue: Queue) -> str:
    """The identity in the token of every task of a queue: its own service account, named as
    Terraform names it (`tasks-<queue>`, iam.tf)."""
    return f"tasks-{queue.value}@{LOCAL_PROJECT}.iam.gserviceaccount.com"


@dataclass
class StackConfig:
    port_base: int = DEFAULT_PORT_BASE
    state_dir: Path = ROOT / ".local"
    python: str = sys.executable
    telegram_rate_limits: bool = True
    # Explicit external services (real Telegram / NowPayments sandbox) instead of the stand-ins.
    telegram_api_base_url: str | None = None
    nowpayments_api_base_url: str | None = None
    telegram_bot_token: str = LOCAL_BOT_TOKEN
    telegram_bot_username: str = LOCAL_BOT_USERNAME
    nowpayments_api_key: str = LOCAL_NOWPAYMENTS_API_KEY
    nowpayments_ipn_secret: str = LOCAL_NOWPAYMENTS_IPN_SECRET
    nowpayments_email: str = LOCAL_NOWPAYMENTS_EMAIL
    nowpayments_password: str = LOCAL_NOWPAYMENTS_PASSWORD
    nowpayments_2fa_secret: str = LOCAL_NOWPAYMENTS_2FA_SECRET
    extra_env: dict[str, str] = field(default_factory=dict)
    # Functions served by local.metered_function: a line per request in meter_dir (benchmarks).
    metered: bool = False

    @classmethod
    def from_environment(cls, **overrides: object) -> StackConfig:
        config = cls(**overrides)  # type: ignore[arg-type]
        env = os.environ
        if env.get("TELEPAY_PORT_BASE"):
            config.port_base = int(env["TELEPAY_PORT_BASE"])
        if env.get("TELEGRAM_API_BASE_URL"):
            config.telegram_api_base_url = env["TELEGRAM_API_BASE_URL"]
        if env.get("NOWPAYMENTS_API_BASE_URL"):
            config.nowpayments_api_base_url = env["NOWPAYMENTS_API_BASE_URL"]
        if env.get("TELEGRAM_BOT_TOKEN"):
            config.telegram_bot_token = env["TELEGRAM_BOT_TOKEN"]
            config.telegram_bot_username = env.get("TELEGRAM_BOT_USERNAME", config.telegram_bot_username)
        if env.get("NOWPAYMENTS_API_KEY"):
            config.nowpayments_api_key = env["NOWPAYMENTS_API_KEY"]
        if env.get("NOWPAYMENTS_IPN_SECRET"):
            config.nowpayments_ipn_secret = env["NOWPAYMENTS_IPN_SECRET"]
        if env.get("NOWPAYMENTS_EMAIL"):
            config.nowpayments_email = env["NOWPAYMENTS_EMAIL"]
            config.nowpayments_password = env.get("NOWPAYMENTS_PASSWORD", config.nowpayments_password)
            config.nowpayments_2fa_secret = env.get("NOWPAYMENTS_2FA_SECRET", config.nowpayments_2fa_secret)
        return config

    # -- ports ---------------------------------------------------------------------------------
    @property
    def firestore_port(self) -> int:
        return self.port_base + 10

    @property
    def pubsub_port(self) -> int:
        return self.port_base + 11

    @property
    def tasks_port(self) -> int:
        return self.port_base + 12

    @property
    def telegram_port(self) -> int:
        return self.port_base + 13

    @property
    def nowpayments_port(self) -> int:
        return self.port_base + 14

    @property
    def scheduler_port(self) -> int:
        return self.port_base + 30

    def function_port(self, function: Function) -> int:
        return self.port_base + 20 + [spec.name for spec in FUNCTIONS].index(function)

    # -- derived -------------------------------------------------------------------------------
    @property
    def real_telegram(self) -> bool:
        """A real bot: updates are forwarded from getUpdates to the local webhook."""
        return self.telegram_api_base_url is not None

    @property
    def telegram_url(self) -> str:
        return self.telegram_api_base_url or f"http://127.0.0.1:{self.telegram_port}"

    @property
    def nowpayments_url(self) -> str:
        return self.nowpayments_api_base_url or f"http://127.0.0.1:{self.nowpayments_port}"

    def function_url(self, function: Function) -> str:
        return f"http://127.0.0.1:{self.function_port(function)}"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def tasks_state_file(self) -> Path:
        """The Cloud Tasks stand-in's queues and tasks, kept across its restarts."""
        return self.state_dir / "tasks-standin-state.jsonl"

    def meter_file(self, function: Function) -> Path:
        """Where a metered function writes a line per request (local.metered_function)."""
        return self.state_dir / "meter" / f"{function.value}.jsonl"

    @property
    def clock_offset_file(self) -> Path:
        return self.state_dir / "clock_offset_seconds"

    def function_env(self, function: Function | None = None) -> dict[str, str]:
        """The environment of a function (each settings model reads what it needs): the same for
        all, except that a task target accepts task calls from its own queue's identity only."""
        env = {
            "GOOGLE_CLOUD_PROJECT": LOCAL_PROJECT,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.firestore_port}",
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.pubsub_port}",
            "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{self.tasks_port}",
            "TASKS_LOCATION": LOCAL_TASKS_LOCATION,
            # As in production: tasks are created without a token; each queue adds its own
            # identity's (the stand-in's token is unsigned), see `queue_body`.
            "TASKS_TOKEN_FROM_QUEUE": "true",
            "TELEGRAM_BOT_TOKEN": self.telegram_bot_token,
            "TELEGRAM_BOT_USERNAME": self.telegram_bot_username,
            "TELEGRAM_API_BASE_URL": self.telegram_url,
            "TELEGRAM_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
            "NOWPAYMENTS_API_KEY": self.nowpayments_api_key,
            "NOWPAYMENTS_API_BASE_URL": self.nowpayments_url,
            "NOWPAYMENTS_IPN_SECRET": self.nowpayments_ipn_secret,
            "NOWPAYMENTS_EMAIL": self.nowpayments_email,
            "NOWPAYMENTS_PASSWORD": self.nowpayments_password,
            "NOWPAYMENTS_2FA_SECRET": self.nowpayments_2fa_secret,
            "IPN_CALLBACK_URL": self.function_url(Function.IPN_HANDLER),
            "CREATE_INVOICE_URL": self.function_url(Function.CREATE_INVOICE),
            "KEYPAD_URL": self.function_url(Function.KEYPAD),
            "EXPIRE_SUBSCRIPTIONS_URL": self.function_url(Function.EXPIRE_SUBSCRIPTIONS),
            "OWNER_APP_URL": self.function_url(Function.OWNER_APP),
            "TELEPAY_CLOCK_OFFSET_FILE": str(self.clock_offset_file),
            "PYTHONUNBUFFERED": "1",
        }
        queues_of = [spec.name for spec in QUEUES if spec.target is function]
        if queues_of:
            env["TASK_CALLER_SERVICE_ACCOUNT"] = ",".join(queue_identity(queue) for queue in queues_of)
        return env | self.extra_env

    def queue_body(self, queue: QueueSpec) -> dict[str, Any]:
        """A queue as the Cloud Tasks REST API takes it, configured as Terraform configures it
        (tasks.tf): its rates and retries, and queue-level routing that forces every task's host to
        the queue's target and puts the queue's own identity's token on it."""
        parent = f"projects/{LOCAL_PROJECT}/locations/{LOCAL_TASKS_LOCATION}"
        return {
            "name": f"{parent}/queues/{queue.name.value}",
            "rateLimits": {
                "maxDispatchesPerSecond": queue.max_dispatches_per_second,
                "maxConcurrentDispatches": queue.max_concurrent_dispatches,
                **({"maxBurstSize": queue.max_burst_size} if queue.max_burst_size else {}),
            },
            "retryConfig": {
                "maxAttempts": queue.max_attempts,
                "minBackoff": f"{queue.min_backoff_seconds}s",
                "maxBackoff": f"{queue.max_backoff_seconds}s",
                "maxDoublings": queue.max_doublings,
            },
            "httpTarget": {
                "httpMethod": "POST",
                "uriOverride": {
                    "scheme": "HTTP",  # Terraform: HTTPS and the run.app host
                    "host": "127.0.0.1",
                    "port": self.function_port(queue.target),
                    "uriOverrideEnforceMode": "ALWAYS",
                },
                "oidcToken": {
                    "serviceAccountEmail": queue_identity(queue.name),
                    "audience": self.function_url(queue.target),
                },
            },
        }

    def endpoints(self) -> dict[str, Any]:
        """`.local/endpoints.json`: a stable, machine-readable description of the running stack."""
        return {
            "functions": {spec.name.value: self.function_url(spec.name) for spec in FUNCTIONS},
            "telegram_api": self.telegram_url,
            "nowpayments_api": self.nowpayments_url,
            "firestore_emulator_host": f"127.0.0.1:{self.firestore_port}",
            "pubsub_emulator_host": f"127.0.0.1:{self.pubsub_port}",
            "tasks_emulator": f"http://127.0.0.1:{self.tasks_port}",
            "project": LOCAL_PROJECT,
            "tasks_location": LOCAL_TASKS_LOCATION,
            "telegram_bot_token": self.telegram_bot_token if not self.real_telegram else None,
            "telegram_bot_username": self.telegram_bot_username,
            "telegram_webhook_secret": LOCAL_WEBHOOK_SECRET,
            "nowpayments_api_key": self.nowpayments_api_key if not self.nowpayments_api_base_url else None,
            "nowpayments_ipn_secret": self.nowpayments_ipn_secret
            if not self.nowpayments_api_base_url
            else None,
            "clock_offset_file": str(self.clock_offset_file),
            "logs": str(self.log_dir),
            "scheduler": f"http://127.0.0.1:{self.scheduler_port}",
        }
