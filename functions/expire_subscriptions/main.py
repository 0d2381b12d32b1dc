"""expire_subscriptions: Cloud Scheduler target (every minute, OIDC-authenticated).

Today it re-publishes payment events stuck in the outbox (publishing failed right after a
settlement). Reminders and removals are tracked in their own issue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import ExpireSubscriptionsSettings
from telepay.logs import get_logger
from telepay.payments import flush_outbox
from telepay.runtime import start

RT = start(ExpireSubscriptionsSettings, "expire_subscriptions")
log = get_logger("expire_subscriptions")
OUTBOX_GRACE = timedelta(seconds=30)  # ipn_handler publishes at once; older unpublished ones are stuck


@functions_framework.http
def expire_subscriptions(request: Request) -> tuple[Any, int]:
    scheduled = request.headers.get("X-CloudScheduler-ScheduleTime", "")
    all_published = flush_outbox(RT, older_than=OUTBOX_GRACE)
    log.info("sweep %s: outbox %s", scheduled, "clear" if all_published else "still has events")
    return {"outbox_clear": all_published}, 200 if all_published else 503
