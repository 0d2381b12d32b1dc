"""telegram_webhook: public HTTP entry point for every Telegram update."""

from __future__ import annotations

import hmac
from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import TelegramWebhookSettings
from telepay.bot.webhook import handle_update
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.entry.request_body import BodyTooLarge, json_object, read_bounded
from telepay.runtime import start

RT = start(TelegramWebhookSettings, "telegram_webhook")
log = get_logger("telegram_webhook")
MAX_BODY = 1_000_000


@functions_framework.http
def telegram_webhook(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only"}, 405
    # Authenticate before parsing anything (as python-telegram-bot's own webhook handler does).
    sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
    expected = RT.settings.telegram_webhook_secret.get_secret_value().encode()
    if not hmac.compare_digest(sent, expected):
        return {"error": "forbidden"}, 403
    try:
        update = json_object(read_bounded(request, MAX_BODY))
    except BodyTooLarge:
        return {"error": "too large"}, 413
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        log.warning("not a Telegram update; ignored")
        return {"ok": True, "outcome": "not an update"}, 200
    try:
        outcome = handle_update(update, RT)
    except Transient as error:
        log.warning(
            "transient failure, Telegram will re-deliver: %s", error, extra={"update_id": update["update_id"]}
        )
        return {"ok": False, "error": "try again"}, 503
    log.info("update handled: %s", outcome, extra={"update_id": update["update_id"]})
    return {"ok": True, "outcome": outcome}, 200
