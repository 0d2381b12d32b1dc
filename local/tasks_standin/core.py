"""The state every part of the Cloud Tasks stand-in's engine shares: the queues, the finished records,
the state file (restore, journal, compaction), the wake-up signal, and how a task ends."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from local.tasks_standin.records import (
    ApiError,
    QueuePb,
    QueueRecord,
    Sender,
    TaskPb,
    TaskRecord,
    epoch_of,
    iso_time,
)
from local.tasks_standin.state_file import (
    SavedState,
    SavedTask,
    StateFile,
    gone_entry,
    queue_entry,
    task_entry,
)


class EngineCore(ABC):
    """The engine's state; the queue, task and dispatch mixins add the methods that act on it."""

    def __init__(
        self,
        *,
        tombstone_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
        sender: Sender | None = None,
        max_finished_records: int = 100_000,
        startup_queues: list[str] | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.tombstone_seconds = tombstone_seconds
        self.clock = clock
        self._custom_sender = sender
        self._client: httpx.AsyncClient | None = None
        self._scheduler_task: asyncio.Task[None] | None = None
        self._dispatches: set[asyncio.Task[None]] = set()
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self._seq = itertools.count()
        self.startup_queues = list(startup_queues or [])
        self.scheduler_wakeups = 0
        self.queues: dict[str, QueueRecord] = {}
        self.finished: deque[dict[str, Any]] = deque(maxlen=max_finished_records)
        self._state = StateFile(state_file) if state_file is not None else None
        if self._state is not None:
            self._restore(self._state.load())
        for name in self.startup_queues:
            if name not in self.queues:
                self.create_queue(name.rsplit("/queues/", 1)[0], QueuePb(name=name))

    # ------------------------------------------------------------------ state file

    def _restore(self, saved: SavedState) -> None:
        now = self.clock()
        for name, raw in saved.queues.items():
            pb = QueuePb()
            pb.ParseFromString(raw)
            q = QueueRecord(pb=pb, tokens=float(pb.rate_limits.max_burst_size), refilled_at=now)
            q.tombstones = {i: t for i, t in saved.tombstones.get(name, {}).items() if t > now}
            for task_id, task in saved.tasks.get(name, {}).items():
                task_pb = TaskPb()
                task_pb.ParseFromString(task.pb)
                rec = TaskRecord(pb=task_pb, task_id=task_id, seq=next(self._seq), due=task.due)
                rec.first_dispatch = task.first_dispatch
                rec.execution_count = task.execution_count
                rec.last_http_status = task.last_http_status
                q.tasks[task_id] = rec
                q.heap.append((rec.due, rec.seq, task_id, rec.generation))
            heapq.heapify(q.heap)
            self.queues[name] = q

    def _save_queue(self, name: str) -> None:
        if self._state is not None:
            q = self.queues.get(name)
            entry = queue_entry(name, q.pb.SerializeToString()) if q else {"k": "queue-deleted", "q": name}
            self._state.append(entry)

    def _save_task(self, q: QueueRecord, rec: TaskRecord) -> None:
        if self._state is not None:
            saved = SavedTask(
                rec.pb.SerializeToString(),
                rec.due,
                rec.first_dispatch,
                rec.execution_count,
                rec.last_http_status,
            )
            self._state.append(task_entry(str(q.pb.name), rec.task_id, saved))
            self._compact_if_needed()

    def _save_gone(self, q: QueueRecord, task_id: str) -> None:
        if self._state is not None:
            self._state.append(gone_entry(str(q.pb.name), task_id, q.tombstones[task_id]))
            self._compact_if_needed()

    def _compact_if_needed(self) -> None:
        assert self._state is not None
        live = sum(len(q.tasks) + len(q.tombstones) + 1 for q in self.queues.values())
        if not self._state.needs_compaction(live):
            return
        saved = SavedState()
        for name, q in self.queues.items():
            saved.queues[name] = q.pb.SerializeToString()
            saved.tombstones[name] = dict(q.tombstones)
            saved.tasks[name] = {
                i: SavedTask(
                    r.pb.SerializeToString(), r.due, r.first_dispatch, r.execution_count, r.last_http_status
                )
                for i, r in q.tasks.items()
            }
        self._state.rewrite(saved.entries())

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def reset(self) -> None:
        """Back to the initial state: no tasks, tombstones or stats; only the startup queues."""
        for q in self.queues.values():
            for rec in q.tasks.values():
                rec.deleted = True
        self.queues = {}
        self.finished.clear()
        if self._state is not None:
            self._state.append({"k": "reset"})
        for name in self.startup_queues:
            self.create_queue(name.rsplit("/queues/", 1)[0], QueuePb(name=name))
        self.wake()

    def _queue(self, name: str) -> QueueRecord:
        q = self.queues.get(name)
        if q is None:
            raise ApiError(404, "Requested entity was not found.")
        return q

    def _finish(self, q: QueueRecord, rec: TaskRecord, state: str, now: float) -> None:
        q.tombstones[rec.task_id] = now + self.tombstone_seconds
        self._save_gone(q, rec.task_id)
        self.finished.append(self.task_record_view(q, rec, state, now))

    def task_record_view(
        self, q: QueueRecord, rec: TaskRecord, state: str, finished_at: float | None
    ) -> dict[str, Any]:
        return {
            "name": rec.pb.name,
            "task_id": rec.task_id,
            "queue": q.pb.name,
            "state": state,
            "url": rec.pb.http_request.url,
            "create_time": iso_time(epoch_of(rec.pb.create_time)),
            "schedule_time": iso_time(rec.due),
            "finished_at": iso_time(finished_at),
            "dispatch_count": rec.pb.dispatch_count,
            "response_count": rec.pb.response_count,
            "last_response_status": rec.last_http_status,
            "attempts": list(rec.attempts),
        }

    @abstractmethod
    def create_queue(self, parent: str, queue_pb: Any) -> Any:
        """CreateQueue (``QueuesMixin``)."""

    @abstractmethod
    def _launch(self, q: QueueRecord, rec: TaskRecord) -> None:
        """Start dispatching a task now (``DispatchMixin``)."""
