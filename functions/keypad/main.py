"""keypad: Cloud Task target (OIDC-authenticated) for the donation keypad: opening it and each press."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared_schemas.config import KeypadSettings
from shared_schemas.tasks import KeypadAction, KeypadTask
from telepay.adapters.telegram_api import TelegramRetryAfter, TelegramUnavailable
from telepay.keypad_logic import open_keypad, press
from telepay.logs import get_logger
from telepay.runtime import start

RT = start(KeypadSettings, "keypad")
log = get_logger("keypad")


@functions_framework.http
def keypad(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only (Cloud Tasks)"}, 405
    try:
        task = KeypadTask.model_validate_json(request.get_data())
    except ValidationError as error:
        log.error("malformed keypad task dropped: %s", error.errors()[:3])
        return {"error": "malformed task"}, 200
    try:
        if task.action is KeypadAction.OPEN:
            outcome = open_keypad(task, RT)
        else:
            outcome = press(task, RT).outcome
    except (TelegramRetryAfter, TelegramUnavailable) as error:
        log.warning("Telegram unavailable, task retried: %s", error, extra={"user_id": task.user_id})
        return {"error": "retry"}, 503
    log.info("keypad %s: %s", task.action.value, outcome, extra={"user_id": task.user_id})
    return {"outcome": outcome}, 200
