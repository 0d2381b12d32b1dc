"""How every Cloud Task target answers, one policy for all of them:

- a malformed payload, or a `Permanent` error while doing the work, cannot succeed on a retry: it is
  recorded in `failed_tasks` for the operator (with an error log) and answered 200, so Cloud Tasks
  stops retrying it;
- a call whose token names another identity than this function's queue answers 403;
- a `Transient` error (a service down, rate limited, a claim busy elsewhere) answers 503, so
  Cloud Tasks retries with the queue's backoff;
- anything else is a bug: it propagates (500) and Cloud Tasks retries it until its attempts run out.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request
from pydantic import BaseModel, ValidationError

from shared_schemas.config import TaskTargetSettings
from shared_schemas.documents import FAILED_TASK_LIFETIME, FailedTaskDoc
from shared_schemas.names import Function
from telepay.core.errors import Permanent, Transient
from telepay.runtime import Runtime

T = TypeVar("T", bound=BaseModel)
MAX_BODY_KEPT = 10_000
TASK_NAME_HEADER = "X-CloudTasks-TaskName"


def handle_task(
    request: Request,
    model: type[T],
    work: Callable[[T, int], str],
    log: logging.Logger,
    rt: Runtime[TaskTargetSettings],
    function: Function,
) -> tuple[Any, int]:
    """`work(task, attempt)` returns an outcome for the log; attempt counts from 1."""
    if request.method != "POST":
        return {"error": "POST only"}, 405
    expected = rt.settings.task_caller_service_account
    caller = caller_identity(request.headers.get("Authorization", "")) if expected else None
    if expected and caller not in {identity.strip() for identity in expected.split(",")}:
        # The identity only (a token is a credential): a wrong one, or none, tells which part of
        # the queue's identity path is broken (terraform/README.md, "Smoke test").
        log.warning("a task call refused: it carried %s, only %s may call", caller or "no identity", expected)
        return {"error": "forbidden"}, 403
    body = request.get_data(as_text=True)
    attempt = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0")) + 1
    try:
        task = model.model_validate_json(body)
    except ValidationError as error:
        reason = f"malformed {model.__name__}: {error.errors(include_input=False)[:3]}"
        _record(rt, function, request, body, attempt, reason, log)
        return {"error": "malformed task", "recorded": True}, 200
    ids = {key: value for key, value in task.model_dump().items() if key in _LOGGED_IDS}
    try:
        outcome = work(task, attempt)
    except Transient as error:
        log.warning("retried later: %s", error, extra=ids)
        return {"error": "retry"}, 503
    except Permanent as error:
        _record(rt, function, request, body, attempt, f"{type(error).__name__}: {error}", log)
        return {"error": "cannot succeed", "recorded": True}, 200
    log.info("%s: %s", model.__name__, outcome, extra=ids)
    return {"outcome": outcome}, 200


def caller_identity(authorization: str) -> str | None:
    """The `email` of the OIDC token a call carries. Cloud Run has verified the token's signature
    and audience before the request arrives (IAM invoker check); this tells which of the accounts
    allowed to invoke the function made the call."""
    scheme, _, token = authorization.partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email if isinstance(email, str) else None


def _record(
    rt: Runtime[TaskTargetSettings],
    function: Function,
    request: Request,
    body: str,
    attempt: int,
    reason: str,
    log: logging.Logger,
) -> None:
    import hashlib

    name = request.headers.get(TASK_NAME_HEADER) or hashlib.sha256(body.encode()).hexdigest()[:32]
    now = rt.clock.now()
    log.error("task cannot succeed, recorded in failed_tasks: %s", reason, extra={"task_name": name})
    doc = FailedTaskDoc(
        function=function,
        task_name=name,
        reason=reason[:2000],
        body=body[:MAX_BODY_KEPT],
        attempt=attempt,
        path=request.path,
        queue=request.headers.get("X-CloudTasks-QueueName"),
        recorded_at=now,
        expire_at=now + FAILED_TASK_LIFETIME,
    )
    rt.store.failed_tasks.set(failed_task_id(function, name), doc)


def failed_task_id(function: Function, task_name: str) -> str:
    """The `failed_tasks` document of a task (its `X-CloudTasks-TaskName`) that `function` recorded."""
    return f"{function.value}-{task_name}"[:1500].replace("/", "_")


_LOGGED_IDS = {"order_id", "user_id", "subscription_id", "channel_token"}
