"""daily_broadcast: Cloud Scheduler target (daily), operators' trigger (POST / with
{"channel_token": ...} for one channel), and target of its own paced `broadcast` tasks
(POST /task). Every caller is OIDC-authenticated by IAM: this function is not public."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import DailyBroadcastSettings
from shared_schemas.names import Function
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.tasks_queue import TASK_PATH
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.entry.task_target import handle_task
from telepay.runtime import start
from telepay.subscriptions.broadcast import daily_run, day_of, post_offer

RT = start(DailyBroadcastSettings, "daily_broadcast")
log = get_logger("daily_broadcast")


@functions_framework.http
def daily_broadcast(request: Request) -> tuple[Any, int]:
    if request.path.rstrip("/").endswith(TASK_PATH):
        return handle_task(
            request, BroadcastTask, lambda task, _: post_offer(task, RT), log, RT, Function.DAILY_BROADCAST
        )
    if request.method != "POST":
        return {"error": "POST only (Cloud Scheduler)"}, 405
    scheduled = request.headers.get("X-CloudScheduler-ScheduleTime")
    day = (
        day_of(datetime.fromisoformat(scheduled.replace("Z", "+00:00")))
        if scheduled
        else day_of(RT.clock.now())
    )
    body = request.get_json(silent=True) or {}
    only = body.get("channel_token") if isinstance(body, dict) else None
    try:
        counts = daily_run(RT, day, only=only if isinstance(only, str) else None)
    except Transient as error:  # Cloud Scheduler retries the run; named tasks make that harmless
        log.warning("broadcast run for %s not finished: %s", day, error)
        return {"error": "try again"}, 503
    log.info("broadcast run for %s: %s", day, counts)
    return {"day": day, "counts": counts}, 200
