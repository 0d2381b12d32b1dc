"""Cloud Tasks: HTTP tasks with names (dedupe), schedule times and OIDC tokens.

Locally, CLOUD_TASKS_EMULATOR_HOST points the real client (REST transport) at the project's
Cloud Tasks stand-in, which dedupes names, honours schedule times, rate limits and retries.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared_schemas.config import TasksSettings
from shared_schemas.ids import spread_id
from shared_schemas.names import Queue
from telepay.core.clock import Clock, system_clock
from telepay.core.errors import Transient

if TYPE_CHECKING:
    from google.cloud.tasks_v2 import CloudTasksClient, Task


class TaskAlreadyExists(Exception):
    """A task with this name exists or ran within the last hour: the work is already queued."""


class TasksUnavailable(Transient):
    """Cloud Tasks did not take the task (unavailable, timed out, refused): try again later."""


def task_name_part(text: str) -> str:
    """Task ids allow letters, digits, hyphens and underscores, up to 500 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:500]


def task_id(name: str) -> str:
    """The Cloud Tasks id of the task TelePay names `name`: the name behind a hash of it
    (`spread_id`). Names say what the work is (`remove-<subscription>-<expiry>`), and the work of one
    sweep shares its prefix; Cloud Tasks' CreateTask reference recommends "hashed strings for the
    task id or for the prefix of the task id": ids that are sequential or have sequential prefixes
    raise latency and error rates in all task commands. So the id starts with a well-spread hash,
    the same for the same name (a repeated enqueue is still refused as a duplicate)."""
    return task_name_part(spread_id(name))[:500]


class TaskQueue:
    def __init__(self, settings: TasksSettings, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock or system_clock(settings.telepay_clock_offset_file)
        self._client: CloudTasksClient | None = None
        self._lock = threading.Lock()  # the process's request threads share one client

    def _get_client(self) -> CloudTasksClient:
        with self._lock:
            return self._build_client()

    def _build_client(self) -> CloudTasksClient:
        if self._client is None:
            from google.cloud import tasks_v2

            emulator = self._settings.cloud_tasks_emulator_host
            if emulator:
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials

                self._client = tasks_v2.CloudTasksClient(
                    transport="rest",
                    client_options=ClientOptions(api_endpoint=f"http://{emulator}"),
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                )
                # The stand-in is on loopback: no proxy or netrc to look up. requests otherwise
                # scans the whole environment for proxy settings on every call (a third of a
                # CreateTask's CPU in `python -m scripts.profile_sweep`).
                self._client._transport._session.trust_env = False  # type: ignore[attr-defined]
            else:
                self._client = tasks_v2.CloudTasksClient()
        return self._client

    def queue_path(self, queue: Queue) -> str:
        settings = self._settings
        return f"projects/{settings.google_cloud_project}/locations/{settings.tasks_location}/queues/{queue.value}"

    def enqueue(
        self,
        queue: Queue,
        url: str,
        payload: BaseModel,
        name: str | None = None,
        schedule_time: datetime | None = None,
        audience: str | None = None,
    ) -> str:
        """Create an HTTP POST task; raises TaskAlreadyExists when the name was used recently.
        `audience` is the target function's own URL when `url` adds a path to it (the OIDC token
        must name the function, not the path)."""
        # gRPC raises AlreadyExists; the REST transport maps the same 409 to its parent, Conflict.
        from google.api_core.exceptions import Conflict, GoogleAPIError
        from google.cloud import tasks_v2
        from google.protobuf import timestamp_pb2
        from requests.exceptions import RequestException

        http_request: dict[str, object] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": url,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(payload.model_dump(mode="json")).encode(),
        }
        # With TASKS_TOKEN_FROM_QUEUE the queue adds its own identity's token (production).
        if self._settings.tasks_invoker_service_account and not self._settings.tasks_token_from_queue:
            http_request["oidc_token"] = {
                "service_account_email": self._settings.tasks_invoker_service_account,
                "audience": audience or url,
            }
        task: dict[str, object] = {"http_request": http_request}
        if name:
            task["name"] = f"{self.queue_path(queue)}/tasks/{task_id(name)}"
        if schedule_time is not None:
            stamp = timestamp_pb2.Timestamp()
            # Cloud Tasks keeps wall-clock time; the local stack's clock may be moved forward.
            stamp.FromDatetime(self._clock.on_the_wall(schedule_time))
            task["schedule_time"] = stamp
        try:
            created = self._get_client().create_task(parent=self.queue_path(queue), task=task)  # type: ignore[arg-type]
        except Conflict as error:
            raise TaskAlreadyExists(name or "") from error
        except (GoogleAPIError, RequestException) as error:  # the REST transport's connection errors too
            raise TasksUnavailable(f"could not queue on {queue.value}: {error}") from error
        return str(created.name)

    def get(self, queue: Queue, name: str) -> Task | None:
        """The pending task queued as `name` (with its last attempt), or None once it is gone: done,
        or dropped after its last attempt (operators and the smoke test look)."""
        from google.api_core.exceptions import NotFound

        try:
            return self._get_client().get_task(name=f"{self.queue_path(queue)}/tasks/{task_id(name)}")
        except NotFound:
            return None

    def delete(self, queue: Queue, name: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self._get_client().delete_task(name=f"{self.queue_path(queue)}/tasks/{task_id(name)}")
        except NotFound:
            pass


# A function that is its own queue's target (expire_subscriptions, daily_broadcast) takes its
# tasks on this path, and its scheduler calls on the root.
TASK_PATH = "/task"


def enqueue_once(
    tasks: TaskQueue,
    queue: Queue,
    url: str,
    payload: BaseModel,
    name: str,
    schedule_time: datetime | None = None,
    audience: str | None = None,
) -> bool:
    """Queue a named task; False when that name was used recently (the work is already queued)."""
    try:
        tasks.enqueue(queue, url, payload, name=name, schedule_time=schedule_time, audience=audience)
    except TaskAlreadyExists:
        return False
    return True


def enqueue_to_self(
    tasks: TaskQueue,
    queue: Queue,
    function_url: str,
    payload: BaseModel,
    name: str,
    schedule_time: datetime | None = None,
    path: str = TASK_PATH,
) -> bool:
    """`enqueue_once` to `<function_url><path>` (`/task` unless the target serves several kinds of
    task on one queue), with a token whose audience is the function."""
    url = f"{function_url.rstrip('/')}{path}"
    return enqueue_once(tasks, queue, url, payload, name, schedule_time, audience=function_url)
