"""The Cloud Tasks stand-in, driven through the real CloudTasksClient over REST."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import tasks_v2
from google.protobuf import duration_pb2, timestamp_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from local.background_server import BackgroundServer
from local.tasks_standin import DispatchResult, TasksEngine, backoff_seconds, create_app

PARENT = "projects/demo-project/locations/us-central1"
SERVICE_ACCOUNT = "tasks-invoker@demo-project.iam.gserviceaccount.com"


# --------------------------------------------------------------------------------------------------
# A real HTTP receiver: /r/{key} answers from a per-key plan of statuses (then 200), records each request.


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.plans: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)

    async def handle(self, request: Request) -> Response:
        key = request.path_params["key"]
        body = await request.body()
        with self.lock:
            self.in_flight[key] += 1
            self.max_in_flight[key] = max(self.max_in_flight[key], self.in_flight[key])
        try:
            if self.delays.get(key):
                await asyncio.sleep(self.delays[key])
            with self.lock:
                plan = self.plans.get(key) or []
                status = plan.pop(0) if plan else 200
                self.requests[key].append(
                    {
                        "time": time.time(),
                        "method": request.method,
                        "headers": dict(request.headers),
                        "body": body,
                    }
                )
            return PlainTextResponse(f"answer {status}", status)
        finally:
            with self.lock:
                self.in_flight[key] -= 1

    def got(self, key: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests[key])


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    recv = Receiver()
    app = Starlette(routes=[Route("/r/{key}", recv.handle, methods=["GET", "POST", "PUT", "DELETE"])])
    with BackgroundServer(app, graceful_seconds=1) as server:
        yield recv, server.url


@pytest.fixture(scope="module")
def standin() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app()) as server:
        yield server


def make_client(url: str) -> tasks_v2.CloudTasksClient:
    """Exactly how the project's functions build the client against the stand-in."""
    return tasks_v2.CloudTasksClient(
        transport="rest",
        client_options=ClientOptions(api_endpoint=url),
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )


@pytest.fixture(scope="module")
def client(standin: BackgroundServer) -> tasks_v2.CloudTasksClient:
    return make_client(standin.url)


@pytest.fixture
def control(standin: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, trust_env=False, timeout=30) as http:
        yield http


def new_queue(client: tasks_v2.CloudTasksClient, **settings: Any) -> str:
    name = f"{PARENT}/queues/q-{uuid.uuid4().hex[:12]}"
    client.create_queue(parent=PARENT, queue=tasks_v2.Queue({"name": name, **settings}))
    return name


def http_task(url: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"http_request": {"http_method": tasks_v2.HttpMethod.POST, "url": url, **extra}}
    if name:
        task["name"] = name
    return task


def create_task(client: tasks_v2.CloudTasksClient, *, parent: str, task: dict[str, Any]) -> tasks_v2.Task:
    """The client converts a plain dict at run time; its types ask for the message (the same conversion)."""
    return client.create_task(parent=parent, task=tasks_v2.Task(task))


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def finished(control: httpx.Client, queue: str, state: str = "finished") -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = control.get(
        "/_control/tasks", params={"queue": queue, "state": state}
    ).json()["tasks"]
    return tasks


def stamp(when: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    return ts


# --------------------------------------------------------------------------------------------------
# Queues


def test_queue_crud_through_the_real_client(client: tasks_v2.CloudTasksClient) -> None:
    name = new_queue(client)
    queue = client.get_queue(name=name)
    assert queue.state == tasks_v2.Queue.State.RUNNING
    assert queue.rate_limits.max_dispatches_per_second == 500
    assert queue.rate_limits.max_concurrent_dispatches == 1000
    assert queue.retry_config.max_attempts == 100
    assert queue.retry_config.max_doublings == 16
    assert queue.retry_config.max_backoff.total_seconds() == 3600
    assert name in [q.name for q in client.list_queues(parent=PARENT)]

    updated = client.update_queue(
        queue=tasks_v2.Queue(
            {
                "name": name,
                "rate_limits": {"max_dispatches_per_second": 7, "max_concurrent_dispatches": 3},
                "retry_config": {"max_attempts": 4, "min_backoff": duration_pb2.Duration(seconds=2)},
            }
        ),
        update_mask={"paths": ["rate_limits", "retry_config"]},
    )
    assert updated.rate_limits.max_dispatches_per_second == 7
    assert updated.rate_limits.max_burst_size >= 7  # output only, picked from the rate
    assert updated.rate_limits.max_concurrent_dispatches == 3
    assert updated.retry_config.max_attempts == 4
    assert updated.retry_config.min_backoff.total_seconds() == 2
    assert client.get_queue(name=name).retry_config.max_attempts == 4

    assert client.pause_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    assert client.resume_queue(name=name).state == tasks_v2.Queue.State.RUNNING

    with pytest.raises(gexc.Conflict):
        client.create_queue(parent=PARENT, queue=tasks_v2.Queue(name=name))
    client.delete_queue(name=name)
    with pytest.raises(gexc.NotFound):
        client.get_queue(name=name)
    with pytest.raises(gexc.BadRequest):
        client.create_queue(parent=PARENT, queue=tasks_v2.Queue(name=f"{PARENT}/queues/bad_name"))


def test_rest_errors_are_google_json_errors(
    standin: BackgroundServer, client: tasks_v2.CloudTasksClient
) -> None:
    name = new_queue(client)
    response = httpx.post(f"{standin.url}/v2/{PARENT}/queues", json={"name": name}, trust_env=False)
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": 409, "message": "Requested entity already exists", "status": "ALREADY_EXISTS"}
    }
    missing = httpx.get(f"{standin.url}/v2/{PARENT}/queues/nope/tasks/x", trust_env=False)
    assert missing.json()["error"]["status"] == "NOT_FOUND"
    unknown_field = httpx.post(f"{standin.url}/v2/{name}/tasks", json={"tsak": {}}, trust_env=False)
    assert unknown_field.json()["error"]["status"] == "INVALID_ARGUMENT"


# --------------------------------------------------------------------------------------------------
# Dispatch


def test_named_task_is_dispatched_with_cloud_tasks_headers(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(client)
    key = uuid.uuid4().hex
    created = create_task(
        client,
        parent=queue,
        task=http_task(
            f"{base}/r/{key}",
            name=f"{queue}/tasks/pay-123",
            headers={"Content-Type": "application/json", "X-Custom": "yes", "User-Agent": "spoofed"},
            body=b'{"payment_id": 123}',
            oidc_token={"service_account_email": SERVICE_ACCOUNT, "audience": "https://fn.example/settle"},
        ),
    )
    assert created.name == f"{queue}/tasks/pay-123"
    assert created.view == tasks_v2.Task.View.BASIC
    assert created.http_request.body == b""  # BASIC view omits the body
    assert created.create_time and created.schedule_time
    wait_for(lambda: len(recv.got(key)) == 1)
    [request] = recv.got(key)
    headers = request["headers"]
    assert request["body"] == b'{"payment_id": 123}'
    assert headers["content-type"] == "application/json"
    assert headers["x-custom"] == "yes"
    assert headers["user-agent"] == "Google-Cloud-Tasks"
    assert headers["x-cloudtasks-queuename"] == queue.rsplit("/", 1)[1]
    assert headers["x-cloudtasks-taskname"] == "pay-123"
    assert headers["x-cloudtasks-taskretrycount"] == "0"
    assert headers["x-cloudtasks-taskexecutioncount"] == "0"
    assert "x-cloudtasks-taskpreviousresponse" not in headers
    eta = float(headers["x-cloudtasks-tasketa"])
    assert abs(eta - created.schedule_time.timestamp()) < 0.001
    # OIDC: an unsigned local token naming the service account and audience.
    scheme, token = headers["authorization"].split(" ")
    assert scheme == "Bearer"
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["email"] == SERVICE_ACCOUNT
    assert claims["aud"] == "https://fn.example/settle"
    # Done: the task is gone from the API and recorded as succeeded.
    wait_for(lambda: bool(finished(control, queue)))
    with pytest.raises(gexc.NotFound):
        client.get_task(name=created.name)
    [record] = finished(control, queue)
    assert (record["state"], record["dispatch_count"], record["last_response_status"]) == (
        "succeeded",
        1,
        200,
    )


def test_duplicate_names_are_rejected_while_pending_after_completion_and_after_deletion(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(client)
    later = stamp(datetime.now(UTC) + timedelta(minutes=5))
    pending = f"{queue}/tasks/pending-one"
    create_task(
        client, parent=queue, task={**http_task(f"{base}/r/x"), "name": pending, "schedule_time": later}
    )
    with pytest.raises(gexc.Conflict) as raised:
        create_task(client, parent=queue, task=http_task(f"{base}/r/x", name=pending))
    # The REST transport maps HTTP 409 to Conflict; AlreadyExists (a Conflict subclass) is the gRPC one.
    assert not isinstance(raised.value, gexc.AlreadyExists)
    assert "already exists" in str(raised.value)

    client.delete_task(name=pending)
    with pytest.raises(gexc.Conflict):
        create_task(client, parent=queue, task=http_task(f"{base}/r/x", name=pending))

    key = uuid.uuid4().hex
    done = f"{queue}/tasks/done-one"
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=done))
    wait_for(lambda: any(r["name"] == done for r in finished(control, queue)))
    with pytest.raises(gexc.Conflict) as raised:
        create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=done))
    assert "existed too recently" in str(raised.value)
    assert len(recv.got(key)) == 1
    stats = control.get("/_control/stats", params={"queue": queue}).json()
    assert stats["deduplicated"] == 3
    assert stats["created"] == 2


def test_tombstone_window_is_configurable(receiver: tuple[Receiver, str]) -> None:
    _, base = receiver
    with BackgroundServer(create_app(tombstone_seconds=0.3)) as server:
        client = make_client(server.url)
        queue = new_queue(client)
        name = f"{queue}/tasks/reused"
        later = stamp(datetime.now(UTC) + timedelta(minutes=5))
        create_task(
            client, parent=queue, task={**http_task(f"{base}/r/x", name=name), "schedule_time": later}
        )
        client.delete_task(name=name)
        with pytest.raises(gexc.Conflict):
            create_task(client, parent=queue, task=http_task(f"{base}/r/x", name=name))
        time.sleep(0.4)
        assert create_task(client, parent=queue, task=http_task(f"{base}/r/x", name=name)).name == name


def test_unnamed_tasks_get_generated_names(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str]
) -> None:
    recv, base = receiver
    queue = new_queue(client)
    key = uuid.uuid4().hex
    first = create_task(client, parent=queue, task=http_task(f"{base}/r/{key}"))
    second = create_task(client, parent=queue, task=http_task(f"{base}/r/{key}"))
    assert first.name != second.name
    assert first.name.startswith(f"{queue}/tasks/") and second.name.startswith(f"{queue}/tasks/")
    wait_for(lambda: len(recv.got(key)) == 2)


def test_schedule_time_is_honoured(client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str]) -> None:
    recv, base = receiver
    queue = new_queue(client)
    key = uuid.uuid4().hex
    when = datetime.now(UTC) + timedelta(seconds=1.2)
    created = create_task(
        client, parent=queue, task={**http_task(f"{base}/r/{key}"), "schedule_time": stamp(when)}
    )
    assert abs(created.schedule_time.timestamp() - when.timestamp()) < 0.001
    time.sleep(0.6)
    assert recv.got(key) == []
    wait_for(lambda: len(recv.got(key)) == 1)
    [request] = recv.got(key)
    assert request["time"] >= when.timestamp()
    assert abs(float(request["headers"]["x-cloudtasks-tasketa"]) - when.timestamp()) < 0.001


def test_failing_twice_then_success_retries_with_growing_backoff(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(
        client, retry_config={"min_backoff": duration_pb2.Duration(seconds=1), "max_attempts": 5}
    )
    key = uuid.uuid4().hex
    recv.plans[key] = [503, 400]
    name = f"{queue}/tasks/flaky"
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=name))
    wait_for(lambda: len(recv.got(key)) == 3, timeout=15)
    got = recv.got(key)
    gaps = [got[1]["time"] - got[0]["time"], got[2]["time"] - got[1]["time"]]
    assert 0.9 <= gaps[0] < 1.8
    assert 1.9 <= gaps[1] < 3.5
    headers = [g["headers"] for g in got]
    assert [h["x-cloudtasks-taskretrycount"] for h in headers] == ["0", "1", "2"]
    assert [h.get("x-cloudtasks-taskpreviousresponse") for h in headers] == [None, "503", "400"]
    # Execution count: previous responses from the handler, 5xx excluded (as documented).
    assert [h["x-cloudtasks-taskexecutioncount"] for h in headers] == ["0", "0", "1"]
    wait_for(lambda: bool(finished(control, queue)))
    [record] = finished(control, queue)
    assert record["state"] == "succeeded"
    assert [a["http_status"] for a in record["attempts"]] == [503, 400, 200]
    stats = control.get("/_control/stats", params={"queue": queue}).json()
    assert (stats["dispatched"], stats["retried"], stats["succeeded"], stats["failed"]) == (3, 2, 1, 0)


def test_max_attempts_reached_is_recorded_failed(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(
        client, retry_config={"min_backoff": duration_pb2.Duration(seconds=1), "max_attempts": 2}
    )
    key = uuid.uuid4().hex
    recv.plans[key] = [500] * 10
    name = f"{queue}/tasks/doomed"
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=name))
    wait_for(lambda: any(r["state"] == "failed" for r in finished(control, queue)), timeout=10)
    [record] = finished(control, queue, "failed")
    assert record["dispatch_count"] == 2
    assert record["last_response_status"] == 500
    assert [a["grpc_code"] for a in record["attempts"]] == [13, 13]
    time.sleep(0.3)
    assert len(recv.got(key)) == 2
    with pytest.raises(gexc.NotFound):
        client.get_task(name=name)
    with pytest.raises(gexc.Conflict):
        create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=name))
    assert control.get("/_control/stats", params={"queue": queue}).json()["failed"] == 1


def test_dispatch_deadline_counts_as_a_failed_attempt(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(client, retry_config={"max_attempts": 1})
    key = uuid.uuid4().hex
    recv.delays[key] = 1.0
    create_task(
        client,
        parent=queue,
        task={**http_task(f"{base}/r/{key}"), "dispatch_deadline": duration_pb2.Duration(nanos=300_000_000)},
    )
    wait_for(lambda: bool(finished(control, queue, "failed")), timeout=5)
    [record] = finished(control, queue, "failed")
    [attempt] = record["attempts"]
    assert attempt["http_status"] is None
    assert attempt["grpc_code"] == 4  # DEADLINE_EXCEEDED
    assert attempt["response_time"] - attempt["dispatch_time"] < 0.9


def test_backoff_formula_matches_the_documented_example() -> None:
    delays = [backoff_seconds(n, 10, 300, 3) for n in range(8)]
    assert delays == [10, 20, 40, 80, 160, 240, 300, 300]
    assert [backoff_seconds(n, 0.1, 3600, 16) for n in range(3)] == [0.1, 0.2, 0.4]


def test_rate_limit_is_honoured(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(client, rate_limits={"max_dispatches_per_second": 10})
    burst = client.get_queue(name=queue).rate_limits.max_burst_size
    assert burst == 10
    key = uuid.uuid4().hex
    client.pause_queue(name=queue)  # create all 30 first, then release them together
    for _ in range(30):
        create_task(client, parent=queue, task=http_task(f"{base}/r/{key}"))
    client.resume_queue(name=queue)
    wait_for(lambda: len(recv.got(key)) == 30, timeout=15)
    times = sorted(r["time"] for r in recv.got(key))
    # A full bucket of 10 goes at once; the other 20 need 20 tokens at 10 per second.
    assert times[-1] - times[0] >= 1.6
    assert times[9] - times[0] < 1.0


def test_max_concurrent_dispatches_is_honoured(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str]
) -> None:
    recv, base = receiver
    queue = new_queue(client, rate_limits={"max_concurrent_dispatches": 2})
    key = uuid.uuid4().hex
    recv.delays[key] = 0.25
    for _ in range(6):
        create_task(client, parent=queue, task=http_task(f"{base}/r/{key}"))
    wait_for(lambda: len(recv.got(key)) == 6, timeout=10)
    assert recv.max_in_flight[key] == 2


def test_delete_list_get_and_views(
    client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str], control: httpx.Client
) -> None:
    recv, base = receiver
    queue = new_queue(client)
    later = stamp(datetime.now(UTC) + timedelta(minutes=10))
    key = uuid.uuid4().hex
    names = []
    for i in range(5):
        task = {
            **http_task(f"{base}/r/{key}", body=b"payload"),
            "name": f"{queue}/tasks/t{i}",
            "schedule_time": later,
        }
        names.append(create_task(client, parent=queue, task=task).name)
    pager = client.list_tasks(request={"parent": queue, "page_size": 2})
    assert sorted(t.name for t in pager) == sorted(names)
    full = client.get_task(request={"name": names[0], "response_view": tasks_v2.Task.View.FULL})
    assert full.http_request.body == b"payload"
    assert full.view == tasks_v2.Task.View.FULL
    assert client.get_task(name=names[0]).http_request.body == b""
    client.delete_task(name=names[0])
    with pytest.raises(gexc.NotFound):
        client.get_task(name=names[0])
    with pytest.raises(gexc.NotFound):
        client.delete_task(name=names[0])
    assert len(list(client.list_tasks(parent=queue))) == 4
    assert {r["state"] for r in finished(control, queue)} == {"deleted"}
    assert len(finished(control, queue, "pending")) == 4
    assert recv.got(key) == []


def test_run_task_purge_and_pause(client: tasks_v2.CloudTasksClient, receiver: tuple[Receiver, str]) -> None:
    recv, base = receiver
    queue = new_queue(client)
    later = stamp(datetime.now(UTC) + timedelta(minutes=10))
    key = uuid.uuid4().hex
    task = create_task(client, parent=queue, task={**http_task(f"{base}/r/{key}"), "schedule_time": later})
    client.run_task(name=task.name)
    wait_for(lambda: len(recv.got(key)) == 1)

    client.pause_queue(name=queue)
    paused_key = uuid.uuid4().hex
    create_task(client, parent=queue, task=http_task(f"{base}/r/{paused_key}"))
    time.sleep(0.3)
    assert recv.got(paused_key) == []
    client.resume_queue(name=queue)
    wait_for(lambda: len(recv.got(paused_key)) == 1)

    purge_key = uuid.uuid4().hex
    for _ in range(3):
        create_task(client, parent=queue, task={**http_task(f"{base}/r/{purge_key}"), "schedule_time": later})
    purged = client.purge_queue(name=queue)
    assert purged.purge_time.timestamp() > 0
    assert list(client.list_tasks(parent=queue)) == []


def test_control_run_due_now_and_reset(standin: BackgroundServer, receiver: tuple[Receiver, str]) -> None:
    recv, base = receiver
    with BackgroundServer(create_app(queues=[f"{PARENT}/queues/preset"])) as server:
        client = make_client(server.url)
        queue = f"{PARENT}/queues/preset"
        assert client.get_queue(name=queue).state == tasks_v2.Queue.State.RUNNING
        key = uuid.uuid4().hex
        later = stamp(datetime.now(UTC) + timedelta(hours=1))
        create_task(client, parent=queue, task={**http_task(f"{base}/r/{key}"), "schedule_time": later})
        with httpx.Client(base_url=server.url, trust_env=False) as control:
            assert control.post("/_control/run_due_now", json={}).json() == {"rescheduled": 1}
            assert control.post("/_control/wait_idle", json={"timeout": 5}).json()["idle"] is True
            assert len(recv.got(key)) == 1
            control.post("/_control/reset").raise_for_status()
            stats = control.get("/_control/stats").json()["queues"]
        assert stats == {
            queue: {
                "created": 0,
                "dispatched": 0,
                "succeeded": 0,
                "retried": 0,
                "failed": 0,
                "deduplicated": 0,
                "deleted": 0,
                "purged": 0,
                "pending": 0,
                "in_flight": 0,
                "tombstones": 0,
                "state": "RUNNING",
            }
        }


# --------------------------------------------------------------------------------------------------
# Queue-level routing: the queue's http_target overrides every task's URI parts and token, as
# Terraform configures TelePay's queues (tasks.tf), and a target refuses a task call that carries
# another identity than its queue's.

QUEUE_IDENTITY = "tasks-smoke@demo-project.iam.gserviceaccount.com"
OTHER_IDENTITY = "fn-telegram-webhook@demo-project.iam.gserviceaccount.com"


class QueueTarget:
    """A task target as TelePay's are: 403 unless the call's OIDC token names its queue's identity
    (`telepay.entry.task_target.caller_identity`, the check the functions make), else 200."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def handle(self, request: Request) -> Response:
        from telepay.entry.task_target import caller_identity

        caller = caller_identity(request.headers.get("authorization", ""))
        self.calls.append({"path": request.url.path, "query": request.url.query, "caller": caller,
                           "method": request.method, "body": await request.body(),
                           "authorization": request.headers.get("authorization", ""),
                           "x-queue-header": request.headers.get("x-queue-header")})  # fmt: skip
        return PlainTextResponse(
            "ok" if caller == QUEUE_IDENTITY else "forbidden", 200 if caller == QUEUE_IDENTITY else 403
        )


@pytest.fixture
def queue_target() -> Iterator[tuple[QueueTarget, BackgroundServer]]:
    target = QueueTarget()
    routes = [Route("/{path:path}", target.handle, methods=["GET", "POST"])]
    with BackgroundServer(Starlette(routes=routes), graceful_seconds=1) as server:
        yield target, server


def routed_queue(client: tasks_v2.CloudTasksClient, port: int, **overrides: Any) -> str:
    """A queue pinned to the target on `port` with its own identity, as tasks.tf pins each queue."""
    http_target: dict[str, Any] = {
        "http_method": tasks_v2.HttpMethod.POST,
        "uri_override": {
            "scheme": tasks_v2.UriOverride.Scheme.HTTP,
            "host": "127.0.0.1",
            "port": port,
            "uri_override_enforce_mode": tasks_v2.UriOverride.UriOverrideEnforceMode.ALWAYS,
        },
        "oidc_token": {"service_account_email": QUEUE_IDENTITY, "audience": "https://target.example"},
    }
    return new_queue(client, http_target=http_target | overrides, retry_config={"max_attempts": 2})


def claims_of(authorization: str) -> dict[str, Any]:
    payload = authorization.removeprefix("Bearer ").split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_the_queue_routes_every_task_to_its_target_with_its_own_identity(
    client: tasks_v2.CloudTasksClient,
    receiver: tuple[Receiver, str],
    queue_target: tuple[QueueTarget, BackgroundServer],
    control: httpx.Client,
) -> None:
    recv, base = receiver
    target, server = queue_target
    queue = routed_queue(client, server.port)
    wrong = uuid.uuid4().hex
    # One task written to another URL with another identity's token, one with no token at all.
    create_task(
        client,
        parent=queue,
        task=http_task(
            f"{base}/r/{wrong}/task?x=1",
            name=f"{queue}/tasks/elsewhere",
            oidc_token={"service_account_email": OTHER_IDENTITY, "audience": f"{base}/r/{wrong}"},
            headers={"Authorization": "Bearer forged"},
        ),
    )
    create_task(client, parent=queue, task=http_task(f"{base}/r/{wrong}", name=f"{queue}/tasks/no-token"))
    wait_for(lambda: len(finished(control, queue)) == 2)
    assert {r["state"] for r in finished(control, queue)} == {"succeeded"}
    assert recv.got(wrong) == []  # the task's own host was never called
    by_path = {call["path"]: call for call in target.calls}
    # Only the host part is replaced (scheme, host, port): the path and query stay the task's.
    assert set(by_path) == {f"/r/{wrong}/task", f"/r/{wrong}"}
    assert by_path[f"/r/{wrong}/task"]["query"] == "x=1"
    for call in target.calls:
        assert call["caller"] == QUEUE_IDENTITY
        assert claims_of(call["authorization"])["aud"] == "https://target.example"
    [record] = [r for r in finished(control, queue) if r["task_id"] == "elsewhere"]
    assert record["url"] == f"{base}/r/{wrong}/task?x=1"  # the task keeps its own URL
    assert record["attempts"][0]["url"] == f"http://127.0.0.1:{server.port}/r/{wrong}/task?x=1"


def test_without_queue_routing_the_target_refuses_a_task_with_another_identity(
    client: tasks_v2.CloudTasksClient,
    queue_target: tuple[QueueTarget, BackgroundServer],
    control: httpx.Client,
) -> None:
    target, server = queue_target
    queue = new_queue(
        client, retry_config={"max_attempts": 2, "min_backoff": duration_pb2.Duration(seconds=0)}
    )
    create_task(
        client,
        parent=queue,
        task=http_task(
            f"{server.url}/fn/task",
            name=f"{queue}/tasks/wrong-identity",
            oidc_token={"service_account_email": OTHER_IDENTITY, "audience": server.url},
        ),
    )
    wait_for(lambda: bool(finished(control, queue)), timeout=15)
    [record] = finished(control, queue)
    assert record["state"] == "failed"
    assert [a["http_status"] for a in record["attempts"]] == [403, 403]
    assert [call["caller"] for call in target.calls] == [OTHER_IDENTITY, OTHER_IDENTITY]


def test_queue_routing_applies_to_tasks_already_queued_and_can_be_removed(
    client: tasks_v2.CloudTasksClient,
    receiver: tuple[Receiver, str],
    queue_target: tuple[QueueTarget, BackgroundServer],
    control: httpx.Client,
) -> None:
    """Google's procedure for changing a queue's routing: pause, update, wait, resume."""
    recv, base = receiver
    target, server = queue_target
    queue = new_queue(client)
    client.pause_queue(name=queue)
    key = uuid.uuid4().hex
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=f"{queue}/tasks/queued"))
    routed = tasks_v2.Queue(
        {
            "name": queue,
            "http_target": {
                "uri_override": {"host": "127.0.0.1", "port": server.port, "scheme": tasks_v2.UriOverride.Scheme.HTTP,
                                 "path_override": {"path": "/routed"}, "query_override": {"query_params": "q=2"}},
                "oidc_token": {"service_account_email": QUEUE_IDENTITY, "audience": "https://target.example"},
                "header_overrides": [{"header": {"key": "X-Queue-Header", "value": "from-queue"}}],
            },
        }
    )  # fmt: skip
    updated = client.update_queue(queue=routed, update_mask={"paths": ["http_target"]})
    assert updated.http_target.uri_override.host == "127.0.0.1"
    client.resume_queue(name=queue)
    wait_for(lambda: bool(finished(control, queue)))
    assert recv.got(key) == []
    [call] = target.calls
    assert (call["path"], call["query"], call["caller"], call["x-queue-header"]) == (
        "/routed", "q=2", QUEUE_IDENTITY, "from-queue",
    )  # fmt: skip
    # An empty http_target with its mask removes the routing: tasks go to their own URL again.
    client.update_queue(queue=tasks_v2.Queue({"name": queue}), update_mask={"paths": ["http_target"]})
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}", name=f"{queue}/tasks/after"))
    wait_for(lambda: len(recv.got(key)) == 1)


def test_queue_routing_with_an_incomplete_token_or_an_empty_host_is_refused(
    client: tasks_v2.CloudTasksClient,
) -> None:
    """Both the service account and the audience must be given for a queue-level OIDC override,
    and a host override cannot be empty (INVALID_ARGUMENT)."""
    incomplete = {"oidc_token": {"service_account_email": QUEUE_IDENTITY}}
    with pytest.raises(gexc.BadRequest, match="audience"):
        new_queue(client, http_target=incomplete)
    with pytest.raises(gexc.BadRequest, match="Host"):
        new_queue(client, http_target={"uri_override": {"host": ""}})
    with pytest.raises(gexc.BadRequest, match="scope"):
        new_queue(client, http_target={"oauth_token": {"service_account_email": QUEUE_IDENTITY}})


def test_if_not_exists_routing_leaves_a_task_with_its_own_url_alone(
    client: tasks_v2.CloudTasksClient,
    receiver: tuple[Receiver, str],
    queue_target: tuple[QueueTarget, BackgroundServer],
    control: httpx.Client,
) -> None:
    recv, base = receiver
    target, server = queue_target
    mode = tasks_v2.UriOverride.UriOverrideEnforceMode.IF_NOT_EXISTS
    queue = new_queue(
        client,
        http_target={
            "uri_override": {"host": "127.0.0.1", "port": server.port, "uri_override_enforce_mode": mode}
        },
    )
    key = uuid.uuid4().hex
    create_task(client, parent=queue, task=http_task(f"{base}/r/{key}"))
    wait_for(lambda: len(recv.got(key)) == 1)
    assert target.calls == []


# --------------------------------------------------------------------------------------------------
# Scale: the heap scheduler with 10,000 tasks (in-process engine, dispatch replaced by a recorder).


def test_ten_thousand_tasks_are_handled_efficiently() -> None:
    queue = f"{PARENT}/queues/big"

    async def scenario() -> None:
        sent: list[tuple[float, str]] = []
        target = {"count": 10}
        reached = asyncio.Event()

        async def sender(
            method: str, url: str, headers: dict[str, str], body: bytes | None, deadline: float
        ) -> DispatchResult:
            sent.append((time.time(), headers["X-CloudTasks-TaskName"]))
            if len(sent) >= target["count"]:
                reached.set()
            return DispatchResult(200)

        engine = TasksEngine(sender=sender)
        await engine.start()
        try:
            engine.create_queue(PARENT, tasks_v2.Queue.pb()(name=queue))
            now = time.time()
            started = time.perf_counter()
            for i in range(10_000):
                task = tasks_v2.Task.pb()()
                task.name = f"{queue}/tasks/t{i}"
                task.http_request.url = "http://127.0.0.1:9/never"
                # 10 due in 0.2 s; 9,990 an hour or more ahead, created in reverse order of due time.
                due = now + 0.2 if i < 10 else now + 3600 + (10_000 - i)
                task.schedule_time.FromNanoseconds(int(due * 1e9))
                engine.create_task(queue, task, 1)
            assert time.perf_counter() - started < 10
            wakeups_before = engine.scheduler_wakeups
            await asyncio.wait_for(reached.wait(), 5)
            await asyncio.sleep(0.2)
            assert sorted(name for _, name in sent) == sorted(f"t{i}" for i in range(10))
            assert all(t >= now + 0.2 for t, _ in sent)
            # Woken by events and due times, not by polling: a handful of wakeups for 10 dispatches.
            assert engine.scheduler_wakeups - wakeups_before < 60
            assert engine.stats()[queue]["pending"] == 9_990
            # Releasing 1,000 of them at once: all go out, through the heap and the token bucket.
            reached.clear()
            target["count"] = 1010
            for rec in list(engine.queues[queue].tasks.values())[:1000]:
                engine.run_task(rec.pb.name, 1)
            await asyncio.wait_for(reached.wait(), 10)
            assert len(sent) == 1010
        finally:
            await engine.stop()

    asyncio.run(scenario())


# --------------------------------------------------------------------------------------------------
# A state file: the queue survives a restart, as Cloud Tasks' does


def test_a_restart_keeps_queues_pending_and_in_flight_tasks_and_tombstones(
    receiver: tuple[Receiver, str], tmp_path: Any
) -> None:
    recv, base = receiver
    state = tmp_path / "tasks.jsonl"
    queue = f"{PARENT}/queues/kept"
    slow, later, done = (uuid.uuid4().hex for _ in range(3))
    recv.delays[slow] = 3.0  # still in flight when the stand-in stops (recorded only once answered)
    with BackgroundServer(create_app(state_file=state)) as first:
        client = make_client(first.url)
        client.create_queue(
            parent=PARENT,
            queue=tasks_v2.Queue({"name": queue, "rate_limits": {"max_dispatches_per_second": 7}}),
        )
        create_task(client, parent=queue, task=http_task(f"{base}/r/{done}", name=f"{queue}/tasks/done"))
        wait_for(lambda: len(recv.got(done)) == 1)
        create_task(client, parent=queue, task=http_task(f"{base}/r/{slow}", name=f"{queue}/tasks/slow"))
        wait_for(lambda: recv.in_flight[slow] == 1)
        soon = stamp(datetime.now(UTC) + timedelta(seconds=2))
        create_task(
            client,
            parent=queue,
            task={**http_task(f"{base}/r/{later}"), "name": f"{queue}/tasks/later", "schedule_time": soon},
        )
    recv.delays[slow] = 0.0
    with BackgroundServer(create_app(state_file=state)) as second:
        client = make_client(second.url)
        assert client.get_queue(name=queue).rate_limits.max_dispatches_per_second == 7
        wait_for(lambda: len(recv.got(later)) == 1, timeout=15)
        # the first dispatch is answered to nobody; the restarted stand-in dispatches the task again
        wait_for(lambda: len(recv.got(slow)) == 2, timeout=15)
        with pytest.raises(gexc.Conflict):  # a name used before the restart is still taken
            create_task(client, parent=queue, task=http_task(f"{base}/r/{done}", name=f"{queue}/tasks/done"))
        assert len(recv.got(done)) == 1
