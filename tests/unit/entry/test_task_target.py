"""How task targets answer Cloud Tasks: malformed or permanently refused → recorded for the
operator and acknowledged, transient → 503, done → 200."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.names import Function
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter
from telepay.core.errors import ClaimBusy
from telepay.entry.task_target import handle_task
from tests.harness import runtime
from tests.memory_store import MemoryStore

app = Flask(__name__)
log = logging.getLogger("test.tasks")
GOOD = '{"channel_token": "DemoChannel01", "day": "2026-11-26"}'


QUEUE_IDENTITY = "tasks-telegram-actions@telepay-test.iam.gserviceaccount.com"


def token_of(email: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"Bearer {part({'alg': 'RS256'})}.{part({'email': email, 'aud': 'x'})}.signature"


def _call(
    store: MemoryStore,
    body: str,
    work: Callable[[BroadcastTask, int], str],
    method: str = "POST",
    retry: str = "0",
    caller: str = QUEUE_IDENTITY,
) -> tuple[Any, int]:
    rt = runtime(ExpireSubscriptionsSettings, store, task_caller_service_account=QUEUE_IDENTITY)
    headers = {
        "X-CloudTasks-TaskRetryCount": retry,
        "X-CloudTasks-TaskName": f"task-{retry}",
        "Authorization": token_of(caller),
    }
    with app.test_request_context("/task", method=method, data=body, headers=headers) as ctx:
        return handle_task(ctx.request, BroadcastTask, work, log, rt, Function.DAILY_BROADCAST)


def test_done_work_answers_200_with_its_outcome() -> None:
    seen: list[tuple[str, int]] = []

    def work(task: BroadcastTask, attempt: int) -> str:
        seen.append((task.channel_token, attempt))
        return "posted"

    store = MemoryStore()
    assert _call(store, GOOD, work, retry="2") == ({"outcome": "posted"}, 200)
    assert seen == [("DemoChannel01", 3)]
    assert _call(store, GOOD, work, method="GET")[1] == 405
    assert len(seen) == 1


def test_transient_failures_ask_cloud_tasks_to_retry() -> None:
    def rate_limited(task: BroadcastTask, attempt: int) -> str:
        raise TelegramRetryAfter(3)

    def busy(task: BroadcastTask, attempt: int) -> str:
        raise ClaimBusy("broadcast", "x")

    store = MemoryStore()
    assert _call(store, GOOD, rate_limited)[1] == 503
    assert _call(store, GOOD, busy)[1] == 503
    assert store.failed_tasks.get("daily_broadcast-task-0") is None


def test_malformed_and_refused_tasks_are_recorded_for_the_operator_not_retried() -> None:
    def refused(task: BroadcastTask, attempt: int) -> str:
        raise TelegramForbidden("bot was kicked from the channel chat")

    store = MemoryStore()
    assert _call(store, '{"channel_token": 5}', refused)[1] == 200  # a retry cannot fix it
    malformed = store.failed_tasks.get("daily_broadcast-task-0")
    assert malformed is not None and "malformed BroadcastTask" in malformed.reason
    assert malformed.body == '{"channel_token": 5}' and malformed.function is Function.DAILY_BROADCAST

    assert _call(store, GOOD, refused, retry="4")[1] == 200
    recorded = store.failed_tasks.get("daily_broadcast-task-4")
    assert recorded is not None and recorded.attempt == 5
    assert recorded.reason == "TelegramForbidden: bot was kicked from the channel chat"


def test_a_task_call_from_another_identity_is_refused() -> None:
    """Cloud Run lets in every account allowed to invoke the function (its queue and its scheduler
    job); only the queue's identity may run tasks."""
    seen: list[str] = []

    def work(task: BroadcastTask, attempt: int) -> str:
        seen.append(task.channel_token)
        return "posted"

    store = MemoryStore()
    scheduler = "scheduler-invoker@telepay-test.iam.gserviceaccount.com"
    assert _call(store, GOOD, work, caller=scheduler)[1] == 403
    app_ctx = app.test_request_context("/task", method="POST", data=GOOD)
    with app_ctx as ctx:
        rt = runtime(ExpireSubscriptionsSettings, store, task_caller_service_account=QUEUE_IDENTITY)
        assert handle_task(ctx.request, BroadcastTask, work, log, rt, Function.DAILY_BROADCAST)[1] == 403
    assert seen == []
    assert _call(store, GOOD, work)[1] == 200 and seen == ["DemoChannel01"]


def test_a_refused_task_call_logs_the_identity_it_carried_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 403 in production means the queue's identity path is broken: the log says who called
    (and who may), so the operator can tell a wrong queue identity from a missing token."""
    store = MemoryStore()
    scheduler = "scheduler-invoker@telepay-test.iam.gserviceaccount.com"
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert _call(store, GOOD, lambda task, attempt: "posted", caller=scheduler)[1] == 403
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert scheduler in message and QUEUE_IDENTITY in message
    assert token_of(scheduler).removeprefix("Bearer ") not in message
    assert "signature" not in message and "Bearer" not in message

    caplog.clear()
    app_ctx = app.test_request_context("/task", method="POST", data=GOOD)
    with app_ctx as ctx, caplog.at_level(logging.WARNING, logger=log.name):
        rt = runtime(ExpireSubscriptionsSettings, store, task_caller_service_account=QUEUE_IDENTITY)
        assert (
            handle_task(ctx.request, BroadcastTask, lambda t, a: "x", log, rt, Function.DAILY_BROADCAST)[1]
            == 403
        )
    assert "no identity" in caplog.records[-1].getMessage()
