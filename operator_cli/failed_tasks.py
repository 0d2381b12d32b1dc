"""Failed Cloud Tasks (`failed_tasks`): replaying one queues its body again as a new task, on the
queue and to the path it came on, as recorded with it (a sweep's page to `fan-out` and `/task/page`,
a removal to `telegram-actions` and `/task`, an announcement's page of recipients to `fan-out` and
its fan-out, sends and tally to `telegram-actions`, both on `/task/announcement`, ...), then drops
the record; if it fails again, the function records it again. A record kept before the queue and
path were is one of its function's tasks on the first queue that targets it (what those releases
recorded); an offer post recorded by daily_broadcast (which posted them before they went on
`telegram-actions`) is replayed as a post."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from operator_cli.context import Operator
from operator_cli.output import Failed
from shared_schemas.documents import FailedTaskDoc
from shared_schemas.names import QUEUES, Function, Queue, QueueSpec, function_spec
from shared_schemas.tasks import (
    TASK_PAYLOADS,
    AnnouncementTask,
    BroadcastTask,
    CreateInvoiceTask,
    ExpiryPageTask,
    ExpiryTask,
    KeypadTask,
)
from telepay.adapters.tasks_queue import TASK_PATH, enqueue_once, enqueue_to_self, task_name_part
from telepay.core.store import Stored
from telepay.owners import announcements
from telepay.subscriptions import broadcast
from telepay.subscriptions.expiry import PAGE_PATH


@dataclass(frozen=True)
class Route:
    """One kind of task a function takes: on this path (the function's root: ""), from this queue,
    with this body."""

    function: Function
    path: str
    queue: Queue
    model: type[BaseModel]


# Every kind of task and where it came from, as the functions queue and dispatch them (their
# main.py: the longer paths first); an announcement's tasks come on one path from two queues, the
# paced one first (most of them are there). A test replays one of each kind the function recorded.
ROUTES: tuple[Route, ...] = (
    Route(Function.CREATE_INVOICE, "", Queue.CREATE_INVOICE, CreateInvoiceTask),
    Route(Function.KEYPAD, "", Queue.KEYPAD, KeypadTask),
    Route(Function.EXPIRE_SUBSCRIPTIONS, announcements.TASK_PATH, Queue.TELEGRAM_ACTIONS, AnnouncementTask),
    Route(Function.EXPIRE_SUBSCRIPTIONS, announcements.TASK_PATH, Queue.FAN_OUT, AnnouncementTask),
    Route(Function.EXPIRE_SUBSCRIPTIONS, PAGE_PATH, Queue.FAN_OUT, ExpiryPageTask),
    Route(Function.EXPIRE_SUBSCRIPTIONS, broadcast.TASK_PATH, Queue.TELEGRAM_ACTIONS, BroadcastTask),
    Route(Function.EXPIRE_SUBSCRIPTIONS, TASK_PATH, Queue.TELEGRAM_ACTIONS, ExpiryTask),
)
# An earlier release posted the offers from daily_broadcast, on a `broadcast` queue of its own: a
# post it recorded is replayed where posts go now.
EARLIER_POSTS = Function.DAILY_BROADCAST


def route_of(doc: FailedTaskDoc) -> Route:
    """The kind of task a record is: the path it came on picks the body (as the function's dispatch
    does), the queue it came from the queue. A record without a queue (a call not from Cloud Tasks)
    takes the path's first queue; one from before paths were kept, its function's first queue (the
    only kind those releases recorded)."""
    if doc.function is EARLIER_POSTS:
        return next(r for r in ROUTES if r.model is BroadcastTask)
    routes = [r for r in ROUTES if r.function is doc.function]
    if not routes:
        raise Failed(f"{doc.function.value} takes no tasks; not replayed")
    if doc.path is None:
        first = next(q for q in QUEUES if q.target is doc.function).name
        return next(r for r in routes if r.queue is first and r.model is TASK_PAYLOADS[first])
    path = doc.path.rstrip("/")
    # A function that takes one kind at its root ("") takes it on any path.
    matched = next((r.path for r in routes if path.endswith(r.path)), None)
    on_path = [r for r in routes if r.path == matched]
    if not on_path:
        raise Failed(f"{doc.function.value} takes no tasks on {doc.path}; not replayed")
    if doc.queue is None:
        return on_path[0]
    route = next((r for r in on_path if r.queue.value == doc.queue), None)
    if route is None:
        raise Failed(f"{doc.function.value} takes no tasks from {doc.queue} on {doc.path}; not replayed")
    return route


def replay(op: Operator, stored: Stored[FailedTaskDoc]) -> dict[str, Any]:
    doc = stored.doc
    route = route_of(doc)
    try:
        payload = route.model.model_validate_json(doc.body)
    except ValidationError as error:
        raise Failed(
            f"{stored.id}: its body is no {route.model.__name__} ({error.error_count()} problems); not replayed"
        ) from None
    name = task_name_part(f"replay-{doc.task_name}-{int(op.clock.now().timestamp() * 1000)}")
    spec = next(q for q in QUEUES if q.name is route.queue)
    url = target_url(op, spec)
    enqueue_to_self(op.tasks, spec.name, url, payload, name, path=route.path)
    op.store.failed_tasks.delete(stored.id)
    return {"id": stored.id, "queue": spec.name.value, "path": route.path or "/", "task_name": name}


def target_url(op: Operator, spec: QueueSpec) -> str:
    """The URL of the function `spec`'s queue targets: `<FUNCTION>_URL`, or the stack's endpoints."""
    return op.setting(f"{spec.target.value.upper()}_URL", f"functions.{spec.target.value}")


def queue_to_target(op: Operator, spec: QueueSpec, payload: BaseModel, name: str) -> bool:
    """A named task on `spec`'s queue to its target, as the functions queue them: the target's URL
    (`<FUNCTION>_URL`, or the stack's endpoints), its `/task` path for a scheduled function.
    False when that name was used recently."""
    url = target_url(op, spec)
    if function_spec(spec.target).trigger == "scheduler":  # it takes its tasks on /task
        return enqueue_to_self(op.tasks, spec.name, url, payload, name)
    return enqueue_once(op.tasks, spec.name, url, payload, name)
