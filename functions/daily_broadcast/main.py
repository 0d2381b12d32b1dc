"""daily_broadcast: Cloud Scheduler target (daily, OIDC-authenticated). Not built yet: answers 501
so the scheduler's run shows as failed instead of silently doing nothing."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import DailyBroadcastSettings
from telepay.logs import get_logger
from telepay.runtime import start

RT = start(DailyBroadcastSettings, "daily_broadcast")
log = get_logger("daily_broadcast")


@functions_framework.http
def daily_broadcast(request: Request) -> tuple[Any, int]:
    log.error("daily broadcast is not built yet")
    return {"error": "daily broadcast is not built yet"}, 501
