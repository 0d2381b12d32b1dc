"""How task targets answer Cloud Tasks: malformed or permanently refused → recorded for the
operator and acknowledged, transient → 503, done → 200."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask

from shared_schemas.config import DailyBroadcastSettings
from shared_schemas.names import Function
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter
from telepay.errors import ClaimBusy
from telepay.tasks_entry import handle_task
from tests.harness import runtime
from tests.memory_store import MemoryStore

app = Flask(__name__)
log = logging.getLogger("test.tasks")
GOOD = '{"channel_token": "DemoChannel01", "day": "2026-11-26"}'


def _call(
    store: MemoryStore,
    body: str,
    work: Callable[[BroadcastTask, int], str],
    method: str = "POST",
    retry: str = "0",
) -> tuple[Any, int]:
    rt = runtime(DailyBroadcastSettings, store)
    headers = {"X-CloudTasks-TaskRetryCount": retry, "X-CloudTasks-TaskName": f"task-{retry}"}
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
