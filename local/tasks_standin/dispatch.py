"""Dispatch: the scheduler, rate limits, queue-level routing, HTTP attempts with Cloud Tasks' headers
and OIDC/OAuth tokens, and retries with Cloud Tasks' backoff.

Queue-level routing (the queue's ``httpTarget``) is applied at each attempt, so it reaches tasks
already queued, as Cloud Tasks documents: its ``uriOverride`` replaces the parts of the task's URL it
sets (scheme, host, port, path, query; ``ALWAYS``, the default, for every task; ``IF_NOT_EXISTS`` only
where the task has no URL, which CreateTask never allows), its ``httpMethod`` the task's method (GET
drops the body), its ``headerOverrides`` the task's headers of those names, and its ``oidcToken`` or
``oauthToken`` the task's own token.

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
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from google.cloud.tasks_v2.types import target as target_types

from local.tasks_standin.core import EngineCore
from local.tasks_standin.records import (
    HTTP_METHODS,
    RUNNING,
    AttemptPb,
    DispatchResult,
    QueueRecord,
    TaskRecord,
    epoch_of,
    timestamp_of,
    to_seconds,
)

log = logging.getLogger(__name__)

_DROPPED_HEADERS = ("host", "content-length", "user-agent", "x-google-", "x-appengine-", "x-cloudtasks-")

# google.rpc.Code values used in Attempt.response_status.
_GRPC_FOR_HTTP = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 412: 9, 429: 8, 499: 1, 501: 12, 503: 14, 504: 4}
GRPC_DEADLINE_EXCEEDED = 4
GRPC_UNAVAILABLE = 14


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


_HTTP = int(target_types.UriOverride.Scheme.HTTP)
_IF_NOT_EXISTS = int(target_types.UriOverride.UriOverrideEnforceMode.IF_NOT_EXISTS)


@dataclass(frozen=True)
class Routed:
    """What one attempt sends: the task's request after the queue's routing."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    auth: Any  # the message whose oidc_token / oauth_token applies (the queue's or the task's)


def override_url(url: str, override: Any) -> str:
    """The task's URL with the parts a queue's ``UriOverride`` sets replaced."""
    if int(override.uri_override_enforce_mode) == _IF_NOT_EXISTS and url:
        return url
    parts = urlsplit(url)
    scheme, host, port = parts.scheme, parts.hostname or "", parts.port
    path, query = parts.path, parts.query
    if override.HasField("scheme"):
        scheme = "http" if int(override.scheme) == _HTTP else "https"  # unspecified means HTTPS
    if override.HasField("host"):
        host = override.host
    if override.HasField("port"):
        port = int(override.port) or None  # 0 clears the port
    if override.HasField("path_override"):
        path = override.path_override.path
    if override.HasField("query_override"):
        query = override.query_override.query_params
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((scheme, netloc, path, query, ""))


def route(queue_pb: Any, task_pb: Any) -> Routed:
    """The task's HTTP request as the queue's ``httpTarget`` (if any) says to send it."""
    req = task_pb.http_request
    method = HTTP_METHODS[req.http_method]
    url, headers, body, auth = str(req.url), dict(req.headers), bytes(req.body), req
    if queue_pb.HasField("http_target"):
        target = queue_pb.http_target
        if target.HasField("uri_override"):
            url = override_url(url, target.uri_override)
        if target.http_method:
            method = HTTP_METHODS[target.http_method]
            if method == "GET":
                body = b""
        for override in target.header_overrides:
            named = override.header.key.lower()
            headers = {k: v for k, v in headers.items() if k.lower() != named}
            headers[override.header.key] = override.header.value
        if target.HasField("oidc_token") or target.HasField("oauth_token"):
            auth = target
    return Routed(method, url, headers, body, auth)


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return b64({"alg": "none", "typ": "JWT", "kid": "tasks-standin"}) + "." + b64(claims) + "."


class DispatchMixin(EngineCore):
    """The scheduler and dispatch of :class:`~local.tasks_standin.engine.TasksEngine`."""

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

    def _headers(self, q: QueueRecord, rec: TaskRecord, routed: Routed, now: float) -> dict[str, str]:
        req = routed.auth
        headers = {k: v for k, v in routed.headers.items() if not k.lower().startswith(_DROPPED_HEADERS)}
        headers["User-Agent"] = "Google-Cloud-Tasks"
        headers["X-CloudTasks-QueueName"] = q.short_name
        headers["X-CloudTasks-TaskName"] = rec.task_id
        headers["X-CloudTasks-TaskRetryCount"] = str(rec.pb.dispatch_count)
        headers["X-CloudTasks-TaskExecutionCount"] = str(rec.execution_count)
        headers["X-CloudTasks-TaskETA"] = f"{epoch_of(rec.pb.schedule_time):.6f}"
        if rec.last_http_status is not None:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(rec.last_http_status)
        if req.HasField("oidc_token"):
            email = str(req.oidc_token.service_account_email)
            claims = {
                "iss": "https://accounts.google.com",
                "aud": str(req.oidc_token.audience) or routed.url,
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
        routed = route(q.pb, pb)
        headers = self._headers(q, rec, routed, now)
        attempt = AttemptPb()
        attempt.schedule_time.CopyFrom(pb.schedule_time)
        attempt.dispatch_time.CopyFrom(timestamp_of(now))
        if pb.dispatch_count == 0:
            rec.first_dispatch = now
            pb.first_attempt.CopyFrom(AttemptPb(dispatch_time=timestamp_of(now)))
        pb.dispatch_count += 1
        q.stats["dispatched"] += 1
        deadline = to_seconds(pb.dispatch_deadline)
        try:
            async with asyncio.timeout(deadline + 1.0):
                result = await self._send(routed.method, routed.url, headers, routed.body, deadline)
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
        attempt.response_time.CopyFrom(timestamp_of(done))
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
                "method": routed.method,
                "url": routed.url,
                "schedule_time": epoch_of(attempt.schedule_time),
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
            pb.dispatch_count - 1,
            to_seconds(rc.min_backoff),
            to_seconds(rc.max_backoff),
            int(rc.max_doublings),
        )
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, to_seconds(rc.max_backoff)))
        rec.generation += 1
        rec.due = done + delay
        pb.schedule_time.CopyFrom(timestamp_of(rec.due))
        heapq.heappush(q.heap, (rec.due, rec.seq, rec.task_id, rec.generation))
        q.stats["retried"] += 1
        self._save_task(q, rec)
        self.wake()

    def _effective_retry(self, q: QueueRecord, rec: TaskRecord) -> Any:
        return rec.pb.retry_config if rec.pb.HasField("retry_config") else q.pb.retry_config

    @staticmethod
    def _exhausted(rc: Any, attempts: int, age: float) -> bool:
        """Stop only when both max_attempts and max_retry_duration are satisfied (unset = satisfied)."""
        max_attempts = int(rc.max_attempts)
        max_duration = to_seconds(rc.max_retry_duration)
        if max_attempts == -1 and max_duration == 0:
            return False
        attempts_done = max_attempts == -1 or attempts >= max_attempts
        duration_done = max_duration == 0 or age >= max_duration
        return attempts_done and duration_done

    def _remove(self, q: QueueRecord, rec: TaskRecord, state: str, now: float) -> None:
        if q.tasks.get(rec.task_id) is rec:
            del q.tasks[rec.task_id]
        self._finish(q, rec, state, now)
