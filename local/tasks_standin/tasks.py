"""Tasks: CreateTask (name de-duplication against pending tasks and tombstones, schedule times),
GetTask, ListTasks, DeleteTask, RunTask, and the control helper that makes every pending task due."""

from __future__ import annotations

import heapq
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from google.cloud.tasks_v2.types import target as target_types

from local.tasks_standin.core import EngineCore
from local.tasks_standin.queues import check_queue_name, normalise_retry
from local.tasks_standin.records import (
    HTTP_METHODS,
    VIEW_BASIC,
    VIEW_FULL,
    ApiError,
    QueueRecord,
    TaskPb,
    TaskRecord,
    epoch_of,
    paginate,
    set_seconds,
    timestamp_of,
    to_seconds,
)

BODY_METHODS = {"POST", "PUT", "PATCH"}
DEFAULT_DISPATCH_DEADLINE = 600.0
MAX_SCHEDULE_AHEAD = 30 * 24 * 3600.0
MAX_TASK_BYTES = 1024 * 1024

_TASK_NAME = re.compile(r"(projects/[^/]+/locations/[^/]+/queues/[^/]+)/tasks/([^/]+)")
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")


class TasksMixin(EngineCore):
    """The task methods of :class:`~local.tasks_standin.engine.TasksEngine`."""

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
        check_queue_name(parent)
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
        due = epoch_of(pb.schedule_time) if pb.HasField("schedule_time") else now
        if due > now + MAX_SCHEDULE_AHEAD:
            raise ApiError(400, "Task.schedule_time cannot be more than 30 days in the future")
        due = max(due, now)
        pb.schedule_time.CopyFrom(timestamp_of(due))
        pb.create_time.CopyFrom(timestamp_of(now))
        if not pb.HasField("dispatch_deadline"):
            set_seconds(pb.dispatch_deadline, DEFAULT_DISPATCH_DEADLINE)
        elif to_seconds(pb.dispatch_deadline) <= 0:
            raise ApiError(400, "Task.dispatch_deadline must be positive")
        if pb.HasField("retry_config"):
            normalise_retry(pb.retry_config, q.pb.retry_config)
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
        page, token = paginate(ids, page_size, page_token)
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
            rec.pb.schedule_time.CopyFrom(timestamp_of(now))
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
                rec.pb.schedule_time.CopyFrom(timestamp_of(now))
                q.heap.append((now, rec.seq, rec.task_id, rec.generation))
                self._save_task(q, rec)
                count += 1
            heapq.heapify(q.heap)
        self.wake()
        return count
