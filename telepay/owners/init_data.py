"""Telegram Mini App `initData`, validated exactly as Telegram documents it
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app):

    secret_key = HMAC_SHA256(key="WebAppData", message=<bot token>)
    data_check_string = the received fields except `hash`, as `key=<value>` lines sorted by key
    valid when hex(HMAC_SHA256(key=secret_key, message=data_check_string)) == hash

The hash is compared in constant time. TelePay also refuses: a field given twice (the string
would not say which value was signed), an `auth_date` older than the allowed lifetime (or in the
future beyond a small skew), and a `user` field that is not a user object. `sign` makes a valid
initData for tests and the local stack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

CLOCK_SKEW_SECONDS = 60


class InvalidInitData(Exception):
    """Not a valid, fresh initData of this bot; the message says why (for logs, never for users)."""


@dataclass(frozen=True)
class WebAppUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None  # the user's Telegram app language (an IETF tag), if sent


@dataclass(frozen=True)
class InitData:
    user: WebAppUser
    auth_date: int
    fields: dict[str, str]


def _secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def _hash(fields: dict[str, str], bot_token: str) -> str:
    return hmac.new(_secret_key(bot_token), _check_string(fields).encode(), hashlib.sha256).hexdigest()


def validate(raw: str, bot_token: str, now: datetime, max_age_seconds: int) -> InitData:
    """The verified initData, or InvalidInitData."""
    pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise InvalidInitData(f"field {key!r} given twice")
        fields[key] = value
    sent = fields.get("hash")
    if not sent:
        raise InvalidInitData("no hash")
    if not hmac.compare_digest(_hash(fields, bot_token).encode(), sent.encode()):
        raise InvalidInitData("hash does not match")
    auth_date = fields.get("auth_date", "")
    if not re.fullmatch(r"[0-9]{1,12}", auth_date):
        raise InvalidInitData("no auth_date")
    age = now.timestamp() - int(auth_date)
    if age > max_age_seconds:
        raise InvalidInitData(f"auth_date is {int(age)} s old (at most {max_age_seconds})")
    if age < -CLOCK_SKEW_SECONDS:
        raise InvalidInitData("auth_date is in the future")
    return InitData(_user(fields.get("user")), int(auth_date), fields)


def _user(raw: str | None) -> WebAppUser:
    try:
        value: Any = json.loads(raw or "")
    except ValueError:
        raise InvalidInitData("user is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("id"), int) or isinstance(value["id"], bool):
        raise InvalidInitData("no user id")
    return WebAppUser(
        id=value["id"],
        first_name=str(value.get("first_name") or ""),
        last_name=value.get("last_name") if isinstance(value.get("last_name"), str) else None,
        username=value.get("username") if isinstance(value.get("username"), str) else None,
        language_code=value.get("language_code") if isinstance(value.get("language_code"), str) else None,
    )


def sign(fields: dict[str, str], bot_token: str) -> str:
    """An initData string with these fields and their hash, as Telegram makes it."""
    return urlencode({**fields, "hash": _hash(fields, bot_token)})


def for_user(user: dict[str, Any], bot_token: str, auth_date: int, **extra: str) -> str:
    """A signed initData for one user (tests and the local stack's demo owner)."""
    fields = {"auth_date": str(auth_date), "user": json.dumps(user, separators=(",", ":")), **extra}
    return sign(fields, bot_token)
