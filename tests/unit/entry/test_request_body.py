"""The two public entry points (ipn_handler, telegram_webhook) read a bounded body and never answer
5xx to a malformed one, whatever its framing (a chunked body carries no Content-Length)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from telepay.payments import signature as ipn_signature

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_SECRET = "unit-webhook-secret-0123456789"
COMMON = {
    "GOOGLE_CLOUD_PROJECT": "unit",
    "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:1",
    # Nothing listens here: a request that got past the checks would fail loudly.
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1",
    "PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
}
ENVIRONMENTS = {
    "ipn_handler": {
        "NOWPAYMENTS_API_KEY": "unit-api-key",
        "NOWPAYMENTS_IPN_SECRET": "unit-ipn-secret",
        "NOWPAYMENTS_API_BASE_URL": "http://127.0.0.1:1",
    },
    "telegram_webhook": {
        "TELEGRAM_BOT_TOKEN": "1:unit",
        "TELEGRAM_BOT_USERNAME": "unitbot",
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "NOWPAYMENTS_API_KEY": "unit-api-key",
        "CREATE_INVOICE_URL": "http://127.0.0.1:1/ci",
        "KEYPAD_URL": "http://127.0.0.1:1/kp",
        "EXPIRE_SUBSCRIPTIONS_URL": "http://127.0.0.1:1/ex",  # -- announcements --
    },
}
HEADERS = {
    "ipn_handler": {"x-nowpayments-sig": "0" * 128},
    "telegram_webhook": {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
}


def _client(name: str) -> Any:
    os.environ.update(COMMON | ENVIRONMENTS[name])
    return create_app(name, str(ROOT / "functions" / name / "main.py")).test_client()


class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that records how much of it was read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"[" * n
        self.left -= n
        self.read_bytes += n
        return n


@pytest.mark.parametrize("name", ["ipn_handler", "telegram_webhook"])
@pytest.mark.parametrize(
    "framing",
    [
        # As gunicorn (functions-framework's server) hands over a chunked body: no length, and
        # marked as safe to read to its end.
        ({"Transfer-Encoding": "chunked"}, {"wsgi.input_terminated": True}),
        ({}, {"CONTENT_LENGTH": "5000000"}),
    ],
    ids=["chunked", "content-length"],
)
def test_a_body_over_the_limit_is_refused_unread(
    env_guard: None, name: str, framing: tuple[dict[str, str], dict[str, Any]]
) -> None:
    headers, environ = framing
    client = _client(name)
    body = CountingStream(5_000_000)
    response = client.post(
        "/",
        headers={**HEADERS[name], **headers, "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": body, **environ},
    )
    assert response.status_code == 413
    # Neither the function nor functions-framework (which reads what is left after responding) reads
    # much more than the limit.
    assert body.read_bytes <= 1_100_000


@pytest.mark.parametrize(
    "body",
    [
        b'{"payment_id":"abc","payment_status":"finished","order_id":"x"}',
        b'{"payment_status":"finished","order_id":"x"}',
        b'{"payment_id":1,"order_id":"x"}',
        b'{"payment_id":1,"payment_status":"finished","a":"\\ud800"}',
        b'{"payment_id":1.5,"payment_status":"finished"}',
    ],
)
def test_signed_malformed_ipns_are_answered_400_by_the_parser(env_guard: None, body: bytes) -> None:
    """Signed as NowPayments signs (so the signature check passes): the body's parser refuses it."""
    signature = ipn_signature.sign(body, ENVIRONMENTS["ipn_handler"]["NOWPAYMENTS_IPN_SECRET"])
    response = _client("ipn_handler").post("/", data=body, headers={"x-nowpayments-sig": signature})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "malformed" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body", [b"[" * 60_000, b'{"a":' * 12_000, b'{"payment_id":NaN}', b"\xff\xfe\x00", b"", b"[1,2]"]
)
def test_bodies_no_one_can_sign_are_refused_before_parsing(env_guard: None, body: bytes) -> None:
    """Not a JSON object as NowPayments sends one (too deep, NaN, not UTF-8, empty, an array): no
    signature verifies it."""
    response = _client("ipn_handler").post("/", data=body, headers=HEADERS["ipn_handler"])
    assert response.status_code == 401


@pytest.mark.parametrize("body", [b"[" * 60_000, b'{"update_id":' * 12_000, b"\xff\xfe\x00", b"{"])
def test_malformed_updates_with_the_secret_are_acknowledged(env_guard: None, body: bytes) -> None:
    # Telegram re-delivers anything but 2xx and holds the chat's later updates back meanwhile.
    response = _client("telegram_webhook").post("/", data=body, headers=HEADERS["telegram_webhook"])
    assert response.status_code == 200 and response.get_json()["outcome"] == "not an update"
