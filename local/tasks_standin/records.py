"""What the Cloud Tasks stand-in's engine modules share: the protobuf types and enums, the queue and
task records, the API error, the dispatch result, and the protobuf time and paging helpers."""

from __future__ import annotations

import base64
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from google.cloud.tasks_v2.types import queue as queue_types
from google.cloud.tasks_v2.types import task as task_types
from google.protobuf import timestamp_pb2

QueuePb: Any = queue_types.Queue.pb()
TaskPb: Any = task_types.Task.pb()
AttemptPb: Any = task_types.Attempt.pb()

RUNNING = int(queue_types.Queue.State.RUNNING)
PAUSED = int(queue_types.Queue.State.PAUSED)
DISABLED = int(queue_types.Queue.State.DISABLED)
VIEW_BASIC = int(task_types.Task.View.BASIC)
VIEW_FULL = int(task_types.Task.View.FULL)
HTTP_METHODS = {1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", 6: "PATCH", 7: "OPTIONS"}  # HttpMethod
MAX_PAGE_SIZE = 1000


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


def to_seconds(d: Any) -> float:
    return float(d.seconds) + float(d.nanos) / 1e9


def set_seconds(d: Any, value: float) -> None:
    seconds = math.floor(value)
    d.seconds = seconds
    d.nanos = round((value - seconds) * 1e9)


def timestamp_of(value: float) -> Any:
    stamp = timestamp_pb2.Timestamp()
    micros = round(value * 1_000_000)
    stamp.seconds, rest = divmod(micros, 1_000_000)
    stamp.nanos = rest * 1000
    return stamp


def epoch_of(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def iso_time(value: float | None) -> str | None:
    if value is None:
        return None
    return str(timestamp_of(value).ToJsonString())


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


def paginate(items: list[str], page_size: int, page_token: str) -> tuple[list[str], str]:
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
