"""How every Cloud Task target answers: parse the payload into its model, do the work, and tell
Cloud Tasks whether to retry. A malformed payload is logged and acknowledged (a retry cannot fix
it); a transient failure answers 503 so Cloud Tasks retries with the queue's backoff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

from telepay.adapters.telegram_api import TelegramRetryAfter, TelegramUnavailable

T = TypeVar("T", bound=BaseModel)
TRANSIENT: tuple[type[Exception], ...] = (TelegramRetryAfter, TelegramUnavailable)


def handle_task(
    request: Request,
    model: type[T],
    work: Callable[[T, int], str],
    log: logging.Logger,
    retry_on: tuple[type[Exception], ...] = TRANSIENT,
) -> tuple[Any, int]:
    """`work(task, attempt)` returns an outcome for the log; attempt counts from 1."""
    if request.method != "POST":
        return {"error": "POST only"}, 405
    try:
        task = model.model_validate_json(request.get_data())
    except ValidationError as error:
        log.error("malformed %s dropped: %s", model.__name__, error.errors(include_input=False)[:3])
        return {"error": "malformed task"}, 200
    ids = {key: value for key, value in task.model_dump().items() if key in _LOGGED_IDS}
    attempt = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0")) + 1
    try:
        outcome = work(task, attempt)
    except retry_on as error:
        log.warning("retried later: %s", error, extra=ids)
        return {"error": "retry"}, 503
    log.info("%s: %s", model.__name__, outcome, extra=ids)
    return {"outcome": outcome}, 200


_LOGGED_IDS = {"order_id", "user_id", "subscription_id", "channel_token"}
