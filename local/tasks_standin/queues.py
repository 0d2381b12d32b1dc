"""Queues: CreateQueue, GetQueue, ListQueues, UpdateQueue, DeleteQueue, PurgeQueue, Pause/ResumeQueue,
with the resource-name checks and the rate-limit and retry defaults Cloud Tasks picks."""

from __future__ import annotations

import math
import re
from typing import Any

from google.protobuf import field_mask_pb2

from local.tasks_standin.core import EngineCore
from local.tasks_standin.records import (
    RUNNING,
    ApiError,
    QueuePb,
    QueueRecord,
    paginate,
    set_seconds,
    timestamp_of,
    to_seconds,
)

DEFAULT_MAX_DISPATCHES_PER_SECOND = 500.0
MAX_DISPATCHES_PER_SECOND = 500.0
DEFAULT_MAX_CONCURRENT = 1000
MAX_CONCURRENT = 5000
DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_MAX_DOUBLINGS = 16

_QUEUE_NAME = re.compile(r"projects/([^/]+)/locations/([^/]+)/queues/([^/]+)")
_PROJECT_ID = re.compile(r"[A-Za-z0-9:.\-]{1,100}")
_LOCATION_ID = re.compile(r"[A-Za-z0-9-]{1,63}")
_QUEUE_ID = re.compile(r"[A-Za-z0-9-]{1,100}")


def check_parent(parent: str) -> None:
    parts = parent.split("/")
    if (
        len(parts) != 4
        or parts[0] != "projects"
        or parts[2] != "locations"
        or not _PROJECT_ID.fullmatch(parts[1])
        or not _LOCATION_ID.fullmatch(parts[3])
    ):
        raise ApiError(400, f'Invalid resource field value in the request: parent "{parent}"')


def check_queue_name(name: str) -> None:
    match = _QUEUE_NAME.fullmatch(name)
    if match is None:
        raise ApiError(400, f'Invalid resource field value in the request: queue name "{name}"')
    check_parent(name.rsplit("/queues/", 1)[0])
    if not _QUEUE_ID.fullmatch(match.group(3)):
        raise ApiError(
            400,
            f'Queue ID "{match.group(3)}" can contain only letters ([A-Za-z]), numbers ([0-9]), '
            "or hyphens (-), and be at most 100 characters.",
        )


def normalise_retry(rc: Any, defaults: Any | None = None) -> None:
    """Fill unset (zero) fields with the defaults Cloud Tasks picks; truncate backoffs to seconds."""
    if rc.max_attempts < -1:
        raise ApiError(400, "max_attempts must be greater than or equal to -1")
    if rc.max_doublings < 0:
        raise ApiError(400, "max_doublings must be non-negative")
    for name in ("min_backoff", "max_backoff", "max_retry_duration"):
        value = to_seconds(getattr(rc, name))
        if value < 0:
            raise ApiError(400, f"{name} must be non-negative")
        set_seconds(getattr(rc, name), float(math.floor(value)))  # "truncated to the nearest second"
    if rc.max_attempts == 0:
        rc.max_attempts = defaults.max_attempts if defaults is not None else DEFAULT_MAX_ATTEMPTS
    if rc.max_doublings == 0:
        rc.max_doublings = defaults.max_doublings if defaults is not None else DEFAULT_MAX_DOUBLINGS
    if to_seconds(rc.min_backoff) == 0:
        value = to_seconds(defaults.min_backoff) if defaults is not None else DEFAULT_MIN_BACKOFF
        set_seconds(rc.min_backoff, value)
    if to_seconds(rc.max_backoff) == 0:
        value = to_seconds(defaults.max_backoff) if defaults is not None else DEFAULT_MAX_BACKOFF
        set_seconds(rc.max_backoff, value)
    if to_seconds(rc.max_retry_duration) == 0 and defaults is not None:
        set_seconds(rc.max_retry_duration, to_seconds(defaults.max_retry_duration))
    if to_seconds(rc.min_backoff) > to_seconds(rc.max_backoff):
        raise ApiError(400, "min_backoff must be less than or equal to max_backoff")


def normalise_queue(pb: Any) -> None:
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
    normalise_retry(pb.retry_config)
    check_http_target(pb)
    if pb.state == 0:
        pb.state = RUNNING


def check_http_target(pb: Any) -> None:
    """What Cloud Tasks refuses in queue-level routing: an empty host override, a non-positive
    port, and an authorization override without both its service account and its audience
    (OIDC) or scope (OAuth)."""
    if not pb.HasField("http_target"):
        return
    target = pb.http_target
    if target.HasField("uri_override"):
        override = target.uri_override
        if override.HasField("host") and not override.host:
            raise ApiError(400, "Host value cannot be an empty string")
        if override.HasField("port") and override.port < 0:
            raise ApiError(400, "Port value must be a positive integer")
    if target.HasField("oidc_token"):
        token = target.oidc_token
        if not token.service_account_email or not token.audience:
            raise ApiError(
                400,
                "Both the service account email and the audience must be specified when using "
                "the queue-level authorization override (oidc_token)",
            )
    if target.HasField("oauth_token"):
        token = target.oauth_token
        if not token.service_account_email or not token.scope:
            raise ApiError(
                400,
                "Both the service account email and the scope must be specified when using "
                "the queue-level authorization override (oauth_token)",
            )


class QueuesMixin(EngineCore):
    """The queue methods of :class:`~local.tasks_standin.engine.TasksEngine`."""

    def create_queue(self, parent: str, queue_pb: Any) -> Any:
        check_parent(parent)
        name = str(queue_pb.name)
        if not name:
            raise ApiError(400, "Queue name is required")
        check_queue_name(name)
        if not name.startswith(parent + "/queues/"):
            raise ApiError(400, f'Queue name "{name}" is not in parent "{parent}"')
        if name in self.queues:
            raise ApiError(409, "Requested entity already exists")
        pb = QueuePb()
        pb.CopyFrom(queue_pb)
        pb.ClearField("purge_time")
        if pb.state not in (0, RUNNING):
            raise ApiError(400, "The state of a new queue cannot be set")
        normalise_queue(pb)
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
        check_parent(parent)
        names = sorted(n for n in self.queues if n.startswith(parent + "/queues/"))
        page, token = paginate(names, page_size, page_token)
        return [self._queue_copy(self.queues[n]) for n in page], token

    def update_queue(self, queue_pb: Any, mask_paths: list[str]) -> Any:
        name = str(queue_pb.name)
        check_queue_name(name)
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
        normalise_queue(updated)
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
        q.pb.purge_time.CopyFrom(timestamp_of(now))
        self._save_queue(name)
        return self._queue_copy(q)
