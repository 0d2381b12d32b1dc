"""How task targets answer Cloud Tasks: malformed → acknowledged, transient → 503, done → 200."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask

from shared_schemas.tasks import BroadcastTask
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.tasks_entry import handle_task

app = Flask(__name__)
log = logging.getLogger("test.tasks")


def _call(
    body: str, work: Callable[[BroadcastTask, int], str], method: str = "POST", retry: str = "0"
) -> tuple[dict[str, Any], int]:
    headers = {"X-CloudTasks-TaskRetryCount": retry}
    with app.test_request_context("/task", method=method, data=body, headers=headers) as ctx:
        return handle_task(ctx.request, BroadcastTask, work, log)


def test_answers() -> None:
    good = '{"channel_token": "DemoChannel01", "day": "2026-11-26"}'
    seen: list[tuple[str, int]] = []

    def work(task: BroadcastTask, attempt: int) -> str:
        seen.append((task.channel_token, attempt))
        return "posted"

    def rate_limited(task: BroadcastTask, attempt: int) -> str:
        raise TelegramRetryAfter(3)

    assert _call(good, work, retry="2") == ({"outcome": "posted"}, 200)
    assert seen == [("DemoChannel01", 3)]
    assert _call('{"channel_token": 5}', work)[1] == 200  # a retry cannot fix it
    assert _call(good, rate_limited)[1] == 503
    assert _call(good, work, method="GET")[1] == 405
    assert len(seen) == 1
