"""initData validation against vectors built in the test by Telegram's documented algorithm
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app), written out
here independently of `telepay.owners.init_data`."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from telepay.owners.init_data import InvalidInitData, for_user, validate

TOKEN = "7000000001:TEST-token-for-initdata"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = 3600
USER = {"id": 4242, "first_name": "Olivia", "username": "olivia", "language_code": "en"}


def telegram_init_data(fields: list[tuple[str, str]], token: str = TOKEN) -> str:
    """Telegram's documented algorithm: secret = HMAC_SHA256("WebAppData", token); hash =
    hex(HMAC_SHA256(secret, sorted "key=value" lines joined by "\\n")); sent URL-encoded."""
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields))
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in [*fields, ("hash", digest)])


def fields(auth_date: float = NOW.timestamp() - 60) -> list[tuple[str, str]]:
    return [
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc"),
        ("user", json.dumps(USER, separators=(",", ":"))),
        ("auth_date", str(int(auth_date))),
    ]


def test_valid_init_data_gives_the_user() -> None:
    verified = validate(telegram_init_data(fields()), TOKEN, NOW, HOUR)
    assert verified.user.id == 4242
    assert verified.user.first_name == "Olivia"
    assert verified.user.username == "olivia"


def test_the_module_signs_as_telegram_does() -> None:
    made = for_user(USER, TOKEN, int(NOW.timestamp()) - 60)
    assert validate(made, TOKEN, NOW, HOUR).user.id == 4242


def test_a_tampered_field_is_refused() -> None:
    raw = telegram_init_data(fields()).replace("%22id%22%3A4242", "%22id%22%3A4243")
    assert "4243" in raw
    with pytest.raises(InvalidInitData, match="hash"):
        validate(raw, TOKEN, NOW, HOUR)


def test_another_bots_token_is_refused() -> None:
    raw = telegram_init_data(fields(), token="7000000002:another-bot")
    with pytest.raises(InvalidInitData, match="hash"):
        validate(raw, TOKEN, NOW, HOUR)


def test_a_stale_auth_date_is_refused() -> None:
    raw = telegram_init_data(fields(auth_date=NOW.timestamp() - HOUR - 1))
    with pytest.raises(InvalidInitData, match="old"):
        validate(raw, TOKEN, NOW, HOUR)
    assert validate(raw, TOKEN, NOW, 2 * HOUR).user.id == 4242  # the lifetime is configurable


def test_a_missing_hash_is_refused() -> None:
    raw = telegram_init_data(fields()).rsplit("&hash=", 1)[0]
    with pytest.raises(InvalidInitData, match="no hash"):
        validate(raw, TOKEN, NOW, HOUR)
    with pytest.raises(InvalidInitData, match="no hash"):
        validate(raw + "&hash=", TOKEN, NOW, HOUR)


def test_a_duplicate_key_is_refused() -> None:
    raw = telegram_init_data(fields())
    other = json.dumps({**USER, "id": 1}, separators=(",", ":"))
    with pytest.raises(InvalidInitData, match="twice"):
        validate(raw + "&user=" + quote(other, safe=""), TOKEN, NOW, HOUR)
    with pytest.raises(InvalidInitData, match="twice"):
        validate("user=" + quote(other, safe="") + "&" + raw, TOKEN, NOW, HOUR)


@pytest.mark.parametrize("raw", ["", "hash=abc", "garbage", "a=1&hash=" + "0" * 64])
def test_nonsense_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInitData):
        validate(raw, TOKEN, NOW, HOUR)


def test_a_signed_init_data_without_a_user_is_refused() -> None:
    raw = telegram_init_data([("auth_date", str(int(NOW.timestamp())))])
    with pytest.raises(InvalidInitData, match="user"):
        validate(raw, TOKEN, NOW, HOUR)


def test_auth_date_in_the_future_is_refused() -> None:
    raw = telegram_init_data(fields(auth_date=NOW.timestamp() + 600))
    with pytest.raises(InvalidInitData, match="future"):
        validate(raw, TOKEN, NOW, HOUR)
