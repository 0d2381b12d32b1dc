"""daily_broadcast: Cloud Scheduler target (daily), operators' trigger (POST / with
{"channel_token": ...} for one channel), and target of its own paced `broadcast` tasks
(POST /task). Every caller is OIDC-authenticated by IAM: this function is not public."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared_schemas.config import DailyBroadcastSettings
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramUnavailable
from telepay.broadcast import daily_run, day_of, post_offer
from telepay.logs import get_logger
from telepay.runtime import start

RT = start(DailyBroadcastSettings, "daily_broadcast")
log = get_logger("daily_broadcast")


@functions_framework.http
def daily_broadcast(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only (Cloud Scheduler, Cloud Tasks)"}, 405
    if request.path.rstrip("/").endswith("/task"):
        return _task(request)
    scheduled = request.headers.get("X-CloudScheduler-ScheduleTime")
    day = (
        day_of(datetime.fromisoformat(scheduled.replace("Z", "+00:00")))
        if scheduled
        else day_of(RT.clock.now())
    )
    body = request.get_json(silent=True) or {}
    only = body.get("channel_token") if isinstance(body, dict) else None
    counts = daily_run(RT, day, only=only if isinstance(only, str) else None)
    log.info("broadcast run for %s: %s", day, counts)
    return {"day": day, "counts": counts}, 200


def _task(request: Request) -> tuple[Any, int]:
    try:
        task = BroadcastTask.model_validate_json(request.get_data())
    except ValidationError as error:
        log.error("malformed broadcast task dropped: %s", error.errors()[:3])
        return {"error": "malformed task"}, 200
    try:
        outcome = post_offer(task, RT)
    except TelegramUnavailable as error:
        log.warning(
            "Telegram unavailable, task retried: %s", error, extra={"channel_token": task.channel_token}
        )
        return {"error": "retry"}, 503
    log.info("offer post: %s", outcome, extra={"channel_token": task.channel_token})
    return {"outcome": outcome}, 200
