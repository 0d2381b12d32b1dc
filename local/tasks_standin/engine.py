"""Cloud Tasks v2 semantics: queues, named-task dedupe, schedule times, rate limits, retries, dispatch.

The engine is protocol-free; ``app.py`` puts the Cloud Tasks REST surface in front of it. Queues and
tasks are kept as the real protobuf messages (``google.cloud.tasks_v2`` types), so the REST layer can
write them with the standard protobuf JSON mapping.

Scheduling: every queue has a heap of ``(due, seq, task_id, generation)``. One asyncio scheduler task
pops due entries while the queue is RUNNING, has a token in its bucket and is under
``maxConcurrentDispatches``; then it sleeps until the earliest of the next due time and the next
token, or until woken (task created, dispatch finished, queue changed). Rescheduling a task bumps its
generation, so stale heap entries are skipped instead of searched for.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import heapq
import itertools
import json
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from google.cloud.tasks_v2.types import queue as queue_types
from google.cloud.tasks_v2.types import target as target_types
from google.cloud.tasks_v2.types import task as task_types
from google.protobuf import field_mask_pb2, timestamp_pb2

from local.tasks_standin.state_file import (
    SavedState,
    SavedTask,
    StateFile,
    gone_entry,
    queue_entry,
    task_entry,
)

__all__ = ["ApiError", "DispatchResult", "TasksEngine", "backoff_seconds"]

log = logging.getLogger(__name__)

QueuePb: Any = queue_types.Queue.pb()
TaskPb: Any = task_types.Task.pb()
AttemptPb: Any = task_types.Attempt.pb()

RUNNING = int(queue_types.Queue.State.RUNNING)
PAUSED = int(queue_types.Queue.State.PAUSED)
DISABLED = int(queue_types.Queue.State.DISABLED)
VIEW_BASIC = int(task_types.Task.View.BASIC)
VIEW_FULL = int(task_types.Task.View.FULL)
HTTP_METHODS = {1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", 6: "PATCH", 7: "OPTIONS"}  # HttpMethod
BODY_METHODS = {"POST", "PUT", "PATCH"}

DEFAULT_MAX_DISPATCHES_PER_SECOND = 500.0
MAX_DISPATCHES_PER_SECOND = 500.0
DEFAULT_MAX_CONCURRENT = 1000
MAX_CONCURRENT = 5000
DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_MAX_DOUBLINGS = 16
DEFAULT_DISPATCH_DEADLINE = 600.0
MAX_SCHEDULE_AHEAD = 30 * 24 * 3600.0
MAX_TASK_BYTES = 1024 * 1024
MAX_PAGE_SIZE = 1000

_QUEUE_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/queues/([^/]+)")
_TASK_NAME = re.compile(r"(projects/[^/]+/locations/[^/]+/queues/[^/]+)/tasks/([^/]+)")
_PROJECT_ID = re.compile(r"[A-Za-z0-9:.\-]{1,100}")
_LOCATION_ID = re.compile(r"[A-Za-z0-9-]{1,63}")
_QUEUE_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
_DROPPED_HEADERS = ("host", "content-length", "user-agent", "x-google-", "x-appengine-", "x-cloudtasks-")

# google.rpc.Code values used in Attempt.response_status.
_GRPC_FOR_HTTP = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 412: 9, 429: 8, 499: 1, 501: 12, 503: 14, 504: 4}
GRPC_DEADLINE_EXCEEDED = 4
GRPC_UNAVAILABLE = 14


class ApiError(Exception):
    """An API error; the REST layer writes it as a Google JSON error."""

    STATUS = {
        400: "INVALID_ARGUMENT",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        501: "UNIMPLEMENTED",
    }

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or self.STATUS.get(code, "UNKNOWN")


@dataclass
class DispatchResult:
    status: int | None  # HTTP status, None when no response arrived
    body: str = ""
    retry_after: float | None = None
    error: str | None = None
    grpc_code: int | None = None  # for failures without a response


Sender = Callable[[str, str, dict[str, str], bytes | None, float], Awaitable[DispatchResult]]


def _seconds(d: Any) -> float:
    return float(d.seconds) + float(d.nanos) / 1e9


def _set_seconds(d: Any, value: float) -> None:
    seconds = math.floor(value)
    d.seconds = seconds
    d.nanos = round((value - seconds) * 1e9)


def _timestamp(value: float) -> Any:
    stamp = timestamp_pb2.Timestamp()
    micros = round(value * 1_000_000)
    stamp.seconds, rest = divmod(micros, 1_000_000)
    stamp.nanos = rest * 1000
    return stamp


def _epoch(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return str(_timestamp(value).ToJsonString())


def backoff_seconds(retry_index: int, min_backoff: float, max_backoff: float, max_doublings: int) -> float:
    """Delay before retry number ``retry_index`` (0 = first retry), as Cloud Tasks documents it.

    min * 2**n for n <= max_doublings, then growing linearly by min * 2**max_doublings, capped at
    max_backoff. min=10s, max=300s, doublings=3: 10, 20, 40, 80, 160, 240, 300, 300...
    """
    if retry_index <= max_doublings:
        delay = min_backoff * (2**retry_index)
    else:
        delay = min_backoff * (2**max_doublings) * (retry_index - max_doublings + 1)
    return float(min(delay, max_backoff))


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return b64({"alg": "none", "typ": "JWT", "kid": "tasks-standin"}) + "." + b64(claims) + "."


@dataclass
class TaskRecord:
    pb: Any
    task_id: str
    seq: int
    due: float
    generation: int = 0
    in_flight: bool = False
    deleted: bool = False
    first_dispatch: float | None = None
    execution_count: int = 0  # responses received, excluding 5xx (X-CloudTasks-TaskExecutionCount)
    last_http_status: int | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QueueRecord:
    pb: Any
    tokens: float
    refilled_at: float
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    heap: list[tuple[float, int, str, int]] = field(default_factory=list)
    tombstones: dict[str, float] = field(default_factory=dict)
    in_flight: int = 0
    stats: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("created", "dispatched", "succeeded", "retried", "failed", "deduplicated", "deleted", "purged"),
            0,
        )
    )

    @property
    def short_name(self) -> str:
        return str(self.pb.name).rsplit("/", 1)[-1]


class TasksEngine:
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

    # ------------------------------------------------------------------ queues

    def _queue(self, name: str) -> QueueRecord:
        q = self.queues.get(name)
        if q is None:
            raise ApiError(404, "Requested entity was not found.")
        return q

    @staticmethod
    def _check_parent(parent: str) -> None:
        parts = parent.split("/")
        if (
            len(parts) != 4
            or parts[0] != "projects"
            or parts[2] != "locations"
            or not _PROJECT_ID.fullmatch(parts[1])
            or not _LOCATION_ID.fullmatch(parts[3])
        ):
            raise ApiError(400, f'Invalid resource field value in the request: parent "{parent}"')

    def _check_queue_name(self, name: str) -> None:
        match = _QUEUE_NAME.fullmatch(name)
        if match is None:
            raise ApiError(400, f'Invalid resource field value in the request: queue name "{name}"')
        self._check_parent(name.rsplit("/queues/", 1)[0])
        if not _QUEUE_ID.fullmatch(match.group(3)):
            raise ApiError(
                400,
                f'Queue ID "{match.group(3)}" can contain only letters ([A-Za-z]), numbers ([0-9]), '
                "or hyphens (-), and be at most 100 characters.",
            )

    @staticmethod
    def _normalise_retry(rc: Any, defaults: Any | None = None) -> None:
        """Fill unset (zero) fields with the defaults Cloud Tasks picks; truncate backoffs to seconds."""
        if rc.max_attempts < -1:
            raise ApiError(400, "max_attempts must be greater than or equal to -1")
        if rc.max_doublings < 0:
            raise ApiError(400, "max_doublings must be non-negative")
        for name in ("min_backoff", "max_backoff", "max_retry_duration"):
            value = _seconds(getattr(rc, name))
            if value < 0:
                raise ApiError(400, f"{name} must be non-negative")
            _set_seconds(getattr(rc, name), float(math.floor(value)))  # "truncated to the nearest second"
        if rc.max_attempts == 0:
            rc.max_attempts = defaults.max_attempts if defaults is not None else DEFAULT_MAX_ATTEMPTS
        if rc.max_doublings == 0:
            rc.max_doublings = defaults.max_doublings if defaults is not None else DEFAULT_MAX_DOUBLINGS
        if _seconds(rc.min_backoff) == 0:
            value = _seconds(defaults.min_backoff) if defaults is not None else DEFAULT_MIN_BACKOFF
            _set_seconds(rc.min_backoff, value)
        if _seconds(rc.max_backoff) == 0:
            value = _seconds(defaults.max_backoff) if defaults is not None else DEFAULT_MAX_BACKOFF
            _set_seconds(rc.max_backoff, value)
        if _seconds(rc.max_retry_duration) == 0 and defaults is not None:
            _set_seconds(rc.max_retry_duration, _seconds(defaults.max_retry_duration))
        if _seconds(rc.min_backoff) > _seconds(rc.max_backoff):
            raise ApiError(400, "min_backoff must be less than or equal to max_backoff")

    def _normalise_queue(self, pb: Any) -> None:
        rl = pb.rate_limits
        if rl.max_dispatches_per_second < 0 or rl.max_dispatches_per_second > MAX_DISPATCHES_PER_SECOND:
            raise ApiError(400, "max_dispatches_per_second must be in the range (0, 500]")
        if rl.max_dispatches_per_second == 0:
            rl.max_dispatches_per_second = DEFAULT_MAX_DISPATCHES_PER_SECOND
        if rl.max_concurrent_dispatches < 0 or rl.max_concurrent_dispatches > MAX_CONCURRENT:
            raise ApiError(400, "max_concurrent_dispatches must be in the range (0, 5000]")
        if rl.max_concurrent_dispatches == 0:
            rl.max_concurrent_dispatches = DEFAULT_MAX_CONCURRENT
        # Output only: Cloud Tasks picks it from the rate ("generally at least equal" to it).
        rl.max_burst_size = max(1, math.ceil(rl.max_dispatches_per_second))
        self._normalise_retry(pb.retry_config)
        if pb.state == 0:
            pb.state = RUNNING

    def create_queue(self, parent: str, queue_pb: Any) -> Any:
        self._check_parent(parent)
        name = str(queue_pb.name)
        if not name:
            raise ApiError(400, "Queue name is required")
        self._check_queue_name(name)
        if not name.startswith(parent + "/queues/"):
            raise ApiError(400, f'Queue name "{name}" is not in parent "{parent}"')
        if name in self.queues:
            raise ApiError(409, "Requested entity already exists")
        pb = QueuePb()
        pb.CopyFrom(queue_pb)
        pb.ClearField("purge_time")
        if pb.state not in (0, RUNNING):
            raise ApiError(400, "The state of a new queue cannot be set")
        self._normalise_queue(pb)
        now = self.clock()
        self.queues[name] = QueueRecord(pb=pb, tokens=float(pb.rate_limits.max_burst_size), refilled_at=now)
        self._save_queue(name)
        self.wake()
        return self._queue_copy(self.queues[name])

    @staticmethod
    def _queue_copy(q: QueueRecord) -> Any:
        out = QueuePb()
        out.CopyFrom(q.pb)
        return out

    def get_queue(self, name: str) -> Any:
        return self._queue_copy(self._queue(name))

    def list_queues(self, parent: str, page_size: int, page_token: str) -> tuple[list[Any], str]:
        self._check_parent(parent)
        names = sorted(n for n in self.queues if n.startswith(parent + "/queues/"))
        page, token = _page(names, page_size, page_token)
        return [self._queue_copy(self.queues[n]) for n in page], token

    def update_queue(self, queue_pb: Any, mask_paths: list[str]) -> Any:
        name = str(queue_pb.name)
        self._check_queue_name(name)
        existing = self.queues.get(name)
        if existing is None:  # UpdateQueue creates the queue when it does not exist.
            return self.create_queue(name.rsplit("/queues/", 1)[0], queue_pb)
        updated = QueuePb()
        updated.CopyFrom(existing.pb)
        if mask_paths:
            allowed = {
                "rate_limits",
                "retry_config",
                "stackdriver_logging_config",
                "http_target",
                "app_engine_routing_override",
            }
            for path in mask_paths:
                if path.split(".")[0] not in allowed:
                    raise ApiError(400, f'Invalid update_mask path "{path}"')
            mask = field_mask_pb2.FieldMask(paths=mask_paths)
            mask.MergeMessage(queue_pb, updated, replace_message_field=True, replace_repeated_field=True)
        else:  # no mask: every field is replaced, except the output-only state and purge time
            updated.CopyFrom(queue_pb)
            updated.state = existing.pb.state
            updated.ClearField("purge_time")
            if existing.pb.HasField("purge_time"):
                updated.purge_time.CopyFrom(existing.pb.purge_time)
        updated.rate_limits.max_burst_size = 0
        self._normalise_queue(updated)
        existing.pb = updated
        burst = float(updated.rate_limits.max_burst_size)
        existing.tokens = min(existing.tokens, burst)
        self._save_queue(name)
        self.wake()
        return self._queue_copy(existing)

    def delete_queue(self, name: str) -> None:
        q = self._queue(name)
        for rec in q.tasks.values():
            rec.deleted = True
        del self.queues[name]
        self._save_queue(name)

    def set_queue_state(self, name: str, state: int) -> Any:
        q = self._queue(name)
        q.pb.state = state
        self._save_queue(name)
        self.wake()
        return self._queue_copy(q)

    def purge_queue(self, name: str) -> Any:
        q = self._queue(name)
        now = self.clock()
        for task_id, rec in list(q.tasks.items()):
            rec.deleted = True
            self._finish(q, rec, "purged", now)
            q.stats["purged"] += 1
            del q.tasks[task_id]
        q.heap.clear()
        q.pb.purge_time.CopyFrom(_timestamp(now))
        self._save_queue(name)
        return self._queue_copy(q)

    # ------------------------------------------------------------------ tasks

    def _effective_retry(self, q: QueueRecord, rec: TaskRecord) -> Any:
        return rec.pb.retry_config if rec.pb.HasField("retry_config") else q.pb.retry_config

    def task_view(self, rec: TaskRecord, view: int) -> Any:
        out = TaskPb()
        out.CopyFrom(rec.pb)
        out.view = VIEW_FULL if view == VIEW_FULL else VIEW_BASIC
        if out.view == VIEW_BASIC and out.HasField("http_request"):
            out.http_request.ClearField("body")
        return out

    def _new_task_id(self, q: QueueRecord) -> str:
        while True:
            task_id = str(10**18 + secrets.randbelow(9 * 10**19))
            if task_id not in q.tasks and task_id not in q.tombstones:
                return task_id

    def create_task(self, parent: str, task_pb: Any, view: int) -> Any:
        self._check_queue_name(parent)
        q = self._queue(parent)
        now = self.clock()
        pb = TaskPb()
        pb.CopyFrom(task_pb)
        if pb.HasField("app_engine_http_request"):
            raise ApiError(501, "App Engine tasks are not supported by the local Cloud Tasks stand-in")
        if not pb.HasField("http_request"):
            raise ApiError(400, "Task.http_request is required")
        req = pb.http_request
        url = str(req.url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2083:
            raise ApiError(400, f'HttpRequest.url must be an absolute http:// or https:// URL, got "{url}"')
        if req.http_method == 0:
            req.http_method = int(target_types.HttpMethod.POST)
        if req.http_method not in HTTP_METHODS:
            raise ApiError(400, "HttpRequest.http_method is invalid")
        if req.body and HTTP_METHODS[req.http_method] not in BODY_METHODS:
            raise ApiError(400, "A request body is only allowed for POST, PUT and PATCH tasks")
        if pb.ByteSize() > MAX_TASK_BYTES:
            raise ApiError(400, "Task size exceeds the maximum of 1 MB")
        for output_only in ("create_time", "first_attempt", "last_attempt"):
            pb.ClearField(output_only)
        pb.dispatch_count = 0
        pb.response_count = 0
        if pb.name:
            match = _TASK_NAME.fullmatch(pb.name)
            if match is None or match.group(1) != parent:
                raise ApiError(400, f'Task name "{pb.name}" must be of the form {parent}/tasks/TASK_ID')
            task_id = match.group(2)
            if not _TASK_ID.fullmatch(task_id):
                raise ApiError(
                    400,
                    f'Task ID "{task_id}" can contain only letters ([A-Za-z]), numbers ([0-9]), '
                    "hyphens (-), or underscores (_), and be at most 500 characters.",
                )
            if task_id in q.tasks:
                q.stats["deduplicated"] += 1
                raise ApiError(409, "Requested entity already exists")
            expires = q.tombstones.get(task_id)
            if expires is not None:
                if expires > now:
                    q.stats["deduplicated"] += 1
                    raise ApiError(
                        409,
                        "The task cannot be created because a task with this name existed too recently. "
                        "For more information about task de-duplication see "
                        "https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create"
                        "#body.request_body.FIELDS.task.",
                    )
                del q.tombstones[task_id]
        else:
            task_id = self._new_task_id(q)
            pb.name = f"{parent}/tasks/{task_id}"
        due = _epoch(pb.schedule_time) if pb.HasField("schedule_time") else now
        if due > now + MAX_SCHEDULE_AHEAD:
            raise ApiError(400, "Task.schedule_time cannot be more than 30 days in the future")
        due = max(due, now)
        pb.schedule_time.CopyFrom(_timestamp(due))
        pb.create_time.CopyFrom(_timestamp(now))
        if not pb.HasField("dispatch_deadline"):
            _set_seconds(pb.dispatch_deadline, DEFAULT_DISPATCH_DEADLINE)
        elif _seconds(pb.dispatch_deadline) <= 0:
            raise ApiError(400, "Task.dispatch_deadline must be positive")
        if pb.HasField("retry_config"):
            self._normalise_retry(pb.retry_config, q.pb.retry_config)
        rec = TaskRecord(pb=pb, task_id=task_id, seq=next(self._seq), due=due)
        q.tasks[task_id] = rec
        heapq.heappush(q.heap, (due, rec.seq, task_id, rec.generation))
        q.stats["created"] += 1
        self._save_task(q, rec)
        self.wake()
        return self.task_view(rec, view)

    def _task(self, name: str) -> tuple[QueueRecord, TaskRecord]:
        match = _TASK_NAME.fullmatch(name)
        if match is None:
            raise ApiError(400, f'Invalid resource field value in the request: task name "{name}"')
        q = self._queue(match.group(1))
        rec = q.tasks.get(match.group(2))
        if rec is None:
            raise ApiError(404, "Requested entity was not found.")
        return q, rec

    def get_task(self, name: str, view: int) -> Any:
        return self.task_view(self._task(name)[1], view)

    def list_tasks(self, parent: str, page_size: int, page_token: str, view: int) -> tuple[list[Any], str]:
        q = self._queue(parent)
        ids = list(q.tasks)
        page, token = _page(ids, page_size, page_token)
        return [self.task_view(q.tasks[i], view) for i in page], token

    def delete_task(self, name: str) -> None:
        q, rec = self._task(name)
        rec.deleted = True
        del q.tasks[rec.task_id]
        q.stats["deleted"] += 1
        self._finish(q, rec, "deleted", self.clock())

    def run_task(self, name: str, view: int) -> Any:
        """RunTask: dispatch now, ignoring the schedule time, rate limits and a paused queue."""
        q, rec = self._task(name)
        if not rec.in_flight:
            now = self.clock()
            rec.generation += 1
            rec.due = now
            rec.pb.schedule_time.CopyFrom(_timestamp(now))
            self._launch(q, rec)
        return self.task_view(rec, view)

    def run_due_now(self, queue_name: str | None = None) -> int:
        """Control helper: make every pending task of a queue (or of all queues) due now."""
        now = self.clock()
        count = 0
        for name, q in self.queues.items():
            if queue_name and name != queue_name:
                continue
            q.heap = []
            for rec in q.tasks.values():
                if rec.in_flight:
                    continue
                rec.generation += 1
                rec.due = now
                rec.pb.schedule_time.CopyFrom(_timestamp(now))
                q.heap.append((now, rec.seq, rec.task_id, rec.generation))
                self._save_task(q, rec)
                count += 1
            heapq.heapify(q.heap)
        self.wake()
        return count

    # ------------------------------------------------------------------ scheduler and dispatch

    async def _scheduler(self) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            self._wakeup.clear()
            self.scheduler_wakeups += 1
            now = self.clock()
            next_wake = now + 60.0
            for q in list(self.queues.values()):
                try:
                    wake_at = self._dispatch_due(q, now)
                except Exception:  # pragma: no cover - keep the scheduler alive
                    log.exception("tasks stand-in: scheduling queue %s failed", q.pb.name)
                    continue
                if wake_at is not None:
                    next_wake = min(next_wake, wake_at)
            delay = max(0.0, next_wake - self.clock())
            if delay > 0 and not self._stopping:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wakeup.wait()

    def _dispatch_due(self, q: QueueRecord, now: float) -> float | None:
        """Start every dispatch allowed now; return when to look again (None: wait to be woken)."""
        if q.pb.state != RUNNING:
            return None
        rl = q.pb.rate_limits
        rate = float(rl.max_dispatches_per_second)
        burst = float(rl.max_burst_size)
        q.tokens = min(burst, q.tokens + (now - q.refilled_at) * rate)
        q.refilled_at = now
        heap = q.heap
        while heap:
            due, _, task_id, generation = heap[0]
            rec = q.tasks.get(task_id)
            if rec is None or rec.generation != generation or rec.in_flight:
                heapq.heappop(heap)
                continue
            if due > now:
                return due
            if q.in_flight >= rl.max_concurrent_dispatches:
                return None
            if q.tokens < 1.0:
                return now + (1.0 - q.tokens) / rate
            q.tokens -= 1.0
            heapq.heappop(heap)
            self._launch(q, rec)
        return None

    def _launch(self, q: QueueRecord, rec: TaskRecord) -> None:
        rec.in_flight = True
        q.in_flight += 1
        job = asyncio.create_task(self._dispatch(q, rec))
        self._dispatches.add(job)
        job.add_done_callback(self._dispatches.discard)

    def _headers(self, q: QueueRecord, rec: TaskRecord, now: float) -> dict[str, str]:
        req = rec.pb.http_request
        headers = {k: v for k, v in req.headers.items() if not k.lower().startswith(_DROPPED_HEADERS)}
        headers["User-Agent"] = "Google-Cloud-Tasks"
        headers["X-CloudTasks-QueueName"] = q.short_name
        headers["X-CloudTasks-TaskName"] = rec.task_id
        headers["X-CloudTasks-TaskRetryCount"] = str(rec.pb.dispatch_count)
        headers["X-CloudTasks-TaskExecutionCount"] = str(rec.execution_count)
        headers["X-CloudTasks-TaskETA"] = f"{_epoch(rec.pb.schedule_time):.6f}"
        if rec.last_http_status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(rec.last_http_status)
        if req.HasField("oidc_token"):
            email = str(req.oidc_token.service_account_email)
            claims = {
                "iss": "https://accounts.google.com",
                "aud": str(req.oidc_token.audience) or str(req.url),
                "azp": email,
                "email": email,
                "email_verified": True,
                "sub": str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16)),
                "iat": int(now),
                "exp": int(now) + 3600,
                "standin": "local Cloud Tasks stand-in: unsigned, NOT a Google-issued token",
            }
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = "Bearer " + _unsigned_jwt(claims)
        elif req.HasField("oauth_token"):
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer standin-oauth-token.{req.oauth_token.service_account_email}"
        return headers

    async def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, deadline: float
    ) -> DispatchResult:
        if self._custom_sender is not None:
            return await self._custom_sender(method, url, headers, body, deadline)
        assert self._client is not None
        try:
            response = await self._client.request(
                method, url, headers=headers, content=body if body else None, timeout=deadline
            )
        except httpx.TimeoutException as error:
            return DispatchResult(
                None, error=f"deadline exceeded: {type(error).__name__}", grpc_code=GRPC_DEADLINE_EXCEEDED
            )
        except httpx.HTTPError as error:
            return DispatchResult(None, error=f"{type(error).__name__}: {error}", grpc_code=GRPC_UNAVAILABLE)
        retry_after = None
        raw = response.headers.get("retry-after")
        if raw and raw.strip().isdigit():
            retry_after = float(raw.strip())
        return DispatchResult(response.status_code, body=response.text[:2000], retry_after=retry_after)

    async def _dispatch(self, q: QueueRecord, rec: TaskRecord) -> None:
        now = self.clock()
        pb = rec.pb
        headers = self._headers(q, rec, now)
        attempt = AttemptPb()
        attempt.schedule_time.CopyFrom(pb.schedule_time)
        attempt.dispatch_time.CopyFrom(_timestamp(now))
        if pb.dispatch_count == 0:
            rec.first_dispatch = now
            pb.first_attempt.CopyFrom(AttemptPb(dispatch_time=_timestamp(now)))
        pb.dispatch_count += 1
        q.stats["dispatched"] += 1
        method = HTTP_METHODS[pb.http_request.http_method]
        deadline = _seconds(pb.dispatch_deadline)
        try:
            async with asyncio.timeout(deadline + 1.0):
                result = await self._send(
                    method, str(pb.http_request.url), headers, bytes(pb.http_request.body), deadline
                )
        except TimeoutError:
            result = DispatchResult(None, error="deadline exceeded", grpc_code=GRPC_DEADLINE_EXCEEDED)
        except Exception as error:  # a custom sender failing counts as a failed attempt
            result = DispatchResult(
                None, error=f"{type(error).__name__}: {error}", grpc_code=GRPC_UNAVAILABLE
            )
        finally:
            q.in_flight -= 1
            rec.in_flight = False
            self.wake()
        done = self.clock()
        attempt.response_time.CopyFrom(_timestamp(done))
        if result.status is not None:
            pb.response_count += 1
            if result.status < 500:
                rec.execution_count += 1
            rec.last_http_status = result.status
            ok = 200 <= result.status < 300
            attempt.response_status.code = (
                0 if ok else _GRPC_FOR_HTTP.get(result.status, 13 if result.status >= 500 else 9)
            )
            attempt.response_status.message = "OK" if ok else f"HTTP status code {result.status}"
        else:
            ok = False
            attempt.response_status.code = result.grpc_code or GRPC_UNAVAILABLE
            attempt.response_status.message = result.error or "no response"
        pb.last_attempt.CopyFrom(attempt)
        rec.attempts.append(
            {
                "attempt": pb.dispatch_count,
                "schedule_time": _epoch(attempt.schedule_time),
                "dispatch_time": now,
                "response_time": done,
                "http_status": result.status,
                "grpc_code": int(attempt.response_status.code),
                "error": result.error,
                "response_body": result.body[:500],
                "headers": headers,
            }
        )
        if rec.deleted:
            return
        if ok:
            q.stats["succeeded"] += 1
            self._remove(q, rec, "succeeded", done)
            return
        rc = self._effective_retry(q, rec)
        if self._exhausted(rc, pb.dispatch_count, done - (rec.first_dispatch or done)):
            q.stats["failed"] += 1
            self._remove(q, rec, "failed", done)
            return
        delay = backoff_seconds(
            pb.dispatch_count - 1, _seconds(rc.min_backoff), _seconds(rc.max_backoff), int(rc.max_doublings)
        )
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, _seconds(rc.max_backoff)))
        rec.generation += 1
        rec.due = done + delay
        pb.schedule_time.CopyFrom(_timestamp(rec.due))
        heapq.heappush(q.heap, (rec.due, rec.seq, rec.task_id, rec.generation))
        q.stats["retried"] += 1
        self._save_task(q, rec)
        self.wake()

    @staticmethod
    def _exhausted(rc: Any, attempts: int, age: float) -> bool:
        """Stop only when both max_attempts and max_retry_duration are satisfied (unset = satisfied)."""
        max_attempts = int(rc.max_attempts)
        max_duration = _seconds(rc.max_retry_duration)
        if max_attempts == -1 and max_duration == 0:
            return False
        attempts_done = max_attempts == -1 or attempts >= max_attempts
        duration_done = max_duration == 0 or age >= max_duration
        return attempts_done and duration_done

    def _remove(self, q: QueueRecord, rec: TaskRecord, state: str, now: float) -> None:
        if q.tasks.get(rec.task_id) is rec:
            del q.tasks[rec.task_id]
        self._finish(q, rec, state, now)

    def _finish(self, q: QueueRecord, rec: TaskRecord, state: str, now: float) -> None:
        q.tombstones[rec.task_id] = now + self.tombstone_seconds
        self._save_gone(q, rec.task_id)
        self.finished.append(self.task_record_view(q, rec, state, now))

    # ------------------------------------------------------------------ control views

    def task_record_view(
        self, q: QueueRecord, rec: TaskRecord, state: str, finished_at: float | None
    ) -> dict[str, Any]:
        return {
            "name": rec.pb.name,
            "task_id": rec.task_id,
            "queue": q.pb.name,
            "state": state,
            "url": rec.pb.http_request.url,
            "create_time": _iso(_epoch(rec.pb.create_time)),
            "schedule_time": _iso(rec.due),
            "finished_at": _iso(finished_at),
            "dispatch_count": rec.pb.dispatch_count,
            "response_count": rec.pb.response_count,
            "last_response_status": rec.last_http_status,
            "attempts": list(rec.attempts),
        }

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


def _page(items: list[str], page_size: int, page_token: str) -> tuple[list[str], str]:
    if page_size < 0:
        raise ApiError(400, "page_size must be non-negative")
    size = min(page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    start = 0
    if page_token:
        try:
            start = int(base64.urlsafe_b64decode(page_token.encode()).decode())
        except ValueError as error:
            raise ApiError(400, "Invalid page_token") from error
    page = items[start : start + size]
    end = start + len(page)
    token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return page, token
