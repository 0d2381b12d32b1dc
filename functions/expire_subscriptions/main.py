"""expire_subscriptions: Cloud Scheduler target (every minute; every five minutes on /reconcile)
and target of its own paced `telegram-actions` tasks (POST /task), of the sweep's pages on the
`fan-out` queue (POST /task/page), of owners' announcements (POST /task/announcement) and of the
offer and donation posts (POST /task/broadcast; all of the bot's messages in bulk share that one
paced queue). Every caller is OIDC-authenticated by IAM."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.names import Function
from shared_schemas.tasks import AnnouncementTask, BroadcastTask, ExpiryPageTask, ExpiryTask
from telepay.adapters.tasks_queue import TASK_PATH
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.entry.task_target import handle_task
from telepay.owners import announcements
from telepay.payments.ipn import flush_outbox
from telepay.payments.reconcile import reconcile
from telepay.runtime import start
from telepay.subscriptions import broadcast
from telepay.subscriptions.expiry import PAGE_PATH, run_page, run_task, sweep

RT = start(ExpireSubscriptionsSettings, "expire_subscriptions")
log = get_logger("expire_subscriptions")
RECONCILE_PATH = "/reconcile"
OUTBOX_GRACE = timedelta(seconds=30)  # ipn_handler publishes at once; older unpublished ones are stuck


@functions_framework.http
def expire_subscriptions(request: Request) -> tuple[Any, int]:
    if request.path.rstrip("/").endswith(announcements.TASK_PATH):  # -- announcements --
        return handle_task(
            request,
            AnnouncementTask,
            lambda task, attempt: announcements.run_task(task, RT, attempt),
            log,
            RT,
            Function.EXPIRE_SUBSCRIPTIONS,
        )
    if request.path.rstrip("/").endswith(broadcast.TASK_PATH):
        return handle_task(
            request,
            BroadcastTask,
            lambda task, _: broadcast.post_offer(task, RT),
            log,
            RT,
            Function.EXPIRE_SUBSCRIPTIONS,
        )
    if request.path.rstrip("/").endswith(PAGE_PATH):
        return handle_task(
            request,
            ExpiryPageTask,
            lambda page, _: run_page(page, RT),
            log,
            RT,
            Function.EXPIRE_SUBSCRIPTIONS,
        )
    if request.path.rstrip("/").endswith(TASK_PATH):
        return handle_task(
            request, ExpiryTask, lambda task, _: run_task(task, RT), log, RT, Function.EXPIRE_SUBSCRIPTIONS
        )
    if request.method != "POST":
        return {"error": "POST only (Cloud Scheduler)"}, 405
    scheduled = request.headers.get("X-CloudScheduler-ScheduleTime", "")
    if request.path.rstrip("/").endswith(RECONCILE_PATH):
        try:
            return {"counts": reconcile(RT, scheduled)}, 200
        except Transient as error:  # the next run, five minutes on, picks up what this one left
            log.warning("reconciliation %s not finished: %s", scheduled, error)
            return {"error": "try again"}, 503
    try:
        outbox_clear = flush_outbox(RT, older_than=OUTBOX_GRACE)
        counts = sweep(RT, scheduled)
    except Transient as error:  # Cloud Scheduler counts the run as failed (alerted); the next one catches up
        log.warning("sweep %s not finished: %s", scheduled, error)
        return {"error": "try again"}, 503
    log.info("sweep %s: %s; outbox %s", scheduled, counts, "clear" if outbox_clear else "still has events")
    return {"counts": counts, "outbox_clear": outbox_clear}, 200 if outbox_clear else 503
