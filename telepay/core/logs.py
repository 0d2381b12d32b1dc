"""Structured logging: one JSON object per line with `severity`, `message` and the ids in play.

Secrets never reach the output: every secret setting is registered with `redact()` when settings
load, and any log text containing one (a bot token inside a URL, say) is masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_SECRETS: set[str] = set()
_BOT_TOKEN_IN_URL = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
_IDS = (
    "update_id",
    "order_id",
    "payment_id",
    "event_id",
    "user_id",
    "channel_token",
    "task_name",
    "subscription_id",
    "function",
)


def redact(*secrets: str | None) -> None:
    for secret in secrets:
        if secret and len(secret) >= 6:
            _SECRETS.add(secret)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return _BOT_TOKEN_IN_URL.sub("/bot[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": scrub(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        for key in _IDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update({k: v for k, v in extra.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return scrub(json.dumps(entry, default=str))


_configured = False


def configure(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # These libraries log request URLs, and Telegram's carry the bot token: keep them quiet.
    for noisy in ("httpx", "httpcore", "telegram", "urllib3", "google", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
