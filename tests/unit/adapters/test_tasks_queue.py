"""The Cloud Tasks adapter: a queue that cannot be reached is a passing trouble (`TasksUnavailable`,
so the trigger is retried), whatever the transport raises."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from shared_schemas.config import TasksSettings
from shared_schemas.names import Queue
from telepay.adapters.tasks_queue import TaskQueue, TasksUnavailable


class Payload(BaseModel):
    n: int = 1


def test_an_unreachable_queue_is_unavailable_not_a_defect(
    env_guard: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "unit")
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", "127.0.0.1:1")  # nothing listens there
    queue = TaskQueue(TasksSettings())
    with pytest.raises(TasksUnavailable, match="could not queue on keypad"):
        queue.enqueue(Queue.KEYPAD, "http://127.0.0.1:1/kp", Payload(), "press-1")
