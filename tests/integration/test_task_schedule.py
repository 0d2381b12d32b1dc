"""Cloud Tasks keeps wall-clock time, also while the local stack's clock is moved forward (the
end-to-end tests do that): a task rescheduled "in 1 s" by a function must be due in 1 s, not in
1 s plus the offset. Against the Cloud Tasks stand-in, in process."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from local.background_server import BackgroundServer
from local.tasks_standin.app import create_app
from shared_schemas.config import TasksSettings
from shared_schemas.names import Queue
from shared_schemas.tasks import BroadcastTask
from telepay.adapters.tasks_queue import TaskQueue
from telepay.core.clock import system_clock

pytestmark = pytest.mark.integration
DAYS_AHEAD = 27


def test_a_schedule_time_from_a_moved_clock_is_due_on_the_wall_clock(tmp_path: Path) -> None:
    offset_file = tmp_path / "clock_offset_seconds"
    offset_file.write_text(str(DAYS_AHEAD * 86400))
    parent = "projects/p/locations/here"
    with BackgroundServer(create_app(queues=[f"{parent}/queues/{Queue.TELEGRAM_ACTIONS.value}"])) as server:
        settings = TasksSettings.model_construct(
            google_cloud_project="p",
            tasks_location="here",
            cloud_tasks_emulator_host=server.url.removeprefix("http://"),
            tasks_invoker_service_account=None,
            telepay_clock_offset_file=str(offset_file),
        )
        in_a_second = system_clock(str(offset_file)).now() + timedelta(seconds=1)
        TaskQueue(settings).enqueue(
            Queue.TELEGRAM_ACTIONS,
            "http://127.0.0.1:1/task",
            BroadcastTask(channel_token="DemoChannel01", day="2026-11-26"),
            name="moved-clock",
            schedule_time=in_a_second,
        )
        [task] = httpx.get(f"{server.url}/_control/tasks", params={"state": "all"}, timeout=10).json()[
            "tasks"
        ]

    due_in = datetime.fromisoformat(task["schedule_time"]).timestamp() - time.time()
    assert due_in < 60, f"due in {due_in / 86400:.1f} days"
