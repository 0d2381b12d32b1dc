"""daily_broadcast: Cloud Scheduler target (daily) and operators' trigger (POST / with
{"channel_token": ...} for one channel). It queues each active channel's post on the paced
`telegram-actions` queue, whose target (expire_subscriptions) posts them; it sends nothing itself.
Every caller is OIDC-authenticated by IAM: this function is not public."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import DailyBroadcastSettings
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.runtime import start
from telepay.subscriptions.broadcast import daily_run, day_of

RT = start(DailyBroadcastSettings, "daily_broadcast")
log = get_logger("daily_broadcast")


@functions_framework.http
def daily_broadcast(request: Request) -> tuple[Any, int]:
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
