"""Telegram's webhook: setWebhook with the configured URL, secret token and the updates TelePay
handles (`shared_schemas.telegram.ALLOWED_UPDATES`), and getWebhookInfo. The bot token and the
secret token are never printed: any text that may quote them (an error) is redacted first."""

from __future__ import annotations

from typing import Any

import httpx

from operator_cli.context import Operator
from operator_cli.output import Failed
from shared_schemas.config import WEBHOOK_SECRET_PATTERN
from shared_schemas.telegram import ALLOWED_UPDATES, Keyboard


def _config(op: Operator) -> tuple[str, str]:
    base = op.setting("TELEGRAM_API_BASE_URL", "telegram_api", "https://api.telegram.org")
    token = op.setting("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    return base.rstrip("/"), token


def _call(op: Operator, method: str, body: dict[str, Any], secrets: tuple[str, ...]) -> Any:
    base, token = _config(op)

    def redact(text: str) -> str:
        for secret in (token, *secrets):
            text = text.replace(secret, "***")
        return text

    try:
        with op.http() as http:
            response = http.post(f"{base}/bot{token}/{method}", json=body)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise Failed(redact(f"Telegram {method} at {base}: {type(error).__name__}: {error}")) from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        description = answer.get("description") if isinstance(answer, dict) else None
        raise Failed(redact(f"Telegram refused {method}: {description or response.status_code}"))
    return answer.get("result")


def set_webhook(op: Operator, url: str | None, max_connections: int | None) -> dict[str, Any]:
    url = url or op.setting("TELEGRAM_WEBHOOK_URL", "functions.telegram_webhook")
    secret = op.setting("TELEGRAM_WEBHOOK_SECRET", "telegram_webhook_secret")
    if not WEBHOOK_SECRET_PATTERN.fullmatch(secret):
        raise Failed("TELEGRAM_WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and -")
    body: dict[str, Any] = {"url": url, "secret_token": secret, "allowed_updates": list(ALLOWED_UPDATES)}
    if max_connections:
        body["max_connections"] = max_connections
    _call(op, "setWebhook", body, (secret,))
    return {"url": url, "allowed_updates": list(ALLOWED_UPDATES), "secret_token": "set (not shown)"}


def webhook_info(op: Operator) -> dict[str, Any]:
    info = _call(op, "getWebhookInfo", {}, ())
    return info if isinstance(info, dict) else {}


def send_message(op: Operator, chat_id: int, text: str, keyboard: Keyboard | None = None) -> None:
    """A message from the bot (an operator's change the owner must hear of, with its buttons)."""
    body: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if keyboard:
        body["reply_markup"] = {
            "inline_keyboard": [
                [{"text": b.text, "callback_data": b.callback_data} for b in row] for row in keyboard
            ]
        }
    _call(op, "sendMessage", body, ())


def chat_member_status(op: Operator, chat_id: int, user_id: int) -> str:
    """Telegram's status of a user in a chat (`creator`, `administrator`, `left`, ...)."""
    member = _call(op, "getChatMember", {"chat_id": chat_id, "user_id": user_id}, ())
    return str(member.get("status")) if isinstance(member, dict) else "unknown"
