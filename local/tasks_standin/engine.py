"""Cloud Tasks v2 semantics: queues, named-task dedupe, schedule times, rate limits, retries, dispatch.

The engine is protocol-free; ``app.py`` puts the Cloud Tasks REST surface in front of it. Queues and
tasks are kept as the real protobuf messages (``google.cloud.tasks_v2`` types), so the REST layer can
write them with the standard protobuf JSON mapping.

:class:`TasksEngine` combines one mixin per resource over the shared state of ``core.py``: queues
(``queues.py``), tasks (``tasks.py``) and the scheduler with dispatch and retries (``dispatch.py``);
``records.py`` holds the records and helpers they share.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from google.cloud.tasks_v2.types import queue as queue_types

from local.tasks_standin.dispatch import DispatchMixin, backoff_seconds
from local.tasks_standin.queues import QueuesMixin
from local.tasks_standin.records import ApiError, DispatchResult
from local.tasks_standin.tasks import TasksMixin

__all__ = ["ApiError", "DispatchResult", "TasksEngine", "backoff_seconds"]


class TasksEngine(QueuesMixin, TasksMixin, DispatchMixin):
    """The Cloud Tasks stand-in: queues, tasks and their dispatch, with the control views."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._stopping = False
        if self._custom_sender is None:
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=True)
        self._scheduler_task = asyncio.create_task(self._scheduler(), name="tasks-standin-scheduler")

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        tasks = [t for t in (self._scheduler_task, *self._dispatches) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._scheduler_task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._state is not None:
            self._state.close()

    # ------------------------------------------------------------------ control views

    def pending_views(self, queue_name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for name, q in self.queues.items():
            if queue_name and name != queue_name:
                continue
            for rec in q.tasks.values():
                out.append(self.task_record_view(q, rec, "dispatching" if rec.in_flight else "pending", None))
        return out

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        out = {}
        for name, q in self.queues.items():
            q.tombstones = {k: v for k, v in q.tombstones.items() if v > now}
            out[name] = {
                **q.stats,
                "pending": len(q.tasks),
                "in_flight": q.in_flight,
                "tombstones": len(q.tombstones),
                "state": queue_types.Queue.State(q.pb.state).name,
            }
        return out

    def idle(self, queue_name: str | None = None) -> bool:
        return all(
            not q.tasks and q.in_flight == 0
            for name, q in self.queues.items()
            if not queue_name or name == queue_name
        )
