"""The smoke test: every path of a running TelePay, tried once, with the fix for each that fails.

    python -m scripts.smoke --endpoints .local/endpoints.json      # the local stack (`make smoke`)
    python -m scripts.smoke --project PROJECT --region REGION      # a deployed project (terraform/README.md)

Run it right after the first `terraform apply` (and the webhook), or after `make up`. In order:

- `channel`: a test channel registered through the operator CLI (`telepay channels register`),
  read back (`telepay channels show`), then removed again (before the jobs run, so the sweep and
  the broadcast never act on it);
- `ipn`: a signed test IPN for an order that does not exist: ipn_handler answers 200 and keeps it
  in `unknown_ipns`;
- `task:<queue>`: one malformed task on each queue, created without a token as the functions create
  them: each target records it in `failed_tasks` and answers 2xx (a 403 means the queue's identity
  path is broken);
- `event`: a test payment event for nobody published to `payment-events`, with its outbox record:
  notify marks the record handled;
- `job:<job>`: each Cloud Scheduler job fired once: its target answers 2xx;
- `webhook`: getWebhookInfo: telegram_webhook's URL, the updates TelePay handles, no recent error.

It prints a table of what passed and the fix for each failure, removes everything it created (the
records, the tasks, the channel), and exits 1 if anything failed. On a deployed project it uses the
application default credentials (`gcloud auth application-default login`) with the roles of the
runbook's deployer; firing `daily-broadcast` posts today's offers of active channels that have not
been posted today yet (never twice).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from operator_cli.context import Operator
from operator_cli.failed_tasks import queue_to_target
from operator_cli.output import table
from operator_cli.webhook import webhook_info
from shared_schemas.config import TasksSettings
from shared_schemas.documents import OutboxDoc
from shared_schemas.ids import OrderKind
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from shared_schemas.names import FUNCTIONS, QUEUES, SCHEDULER_JOBS, Function, SchedulerJobSpec, Topic
from shared_schemas.telegram import ALLOWED_UPDATES
from telepay.adapters import tasks_queue
from telepay.adapters.pubsub_publisher import Publisher
from telepay.adapters.tasks_queue import TaskQueue
from telepay.entry.task_target import failed_task_id
from telepay.payments.signature import nowpayments_signature

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = "terraform/README.md"
POLL_SECONDS = 0.5
GRPC_PERMISSION_DENIED = 7


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    fix: str = ""


@dataclass
class Cleanup:
    """What the smoke test created, undone in reverse order whatever happened."""

    steps: list[tuple[str, Callable[[], object]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, what: str, undo: Callable[[], object]) -> None:
        self.steps.append((what, undo))

    def undo(self, what: str, undo: Callable[[], object]) -> None:
        try:
            undo()
        except Exception as error:  # keep undoing the rest
            self.failures.append(f"{what}: {type(error).__name__}: {error}")

    def run(self) -> list[str]:
        while self.steps:
            self.undo(*self.steps.pop())
        return self.failures


class SmokeProbe(BaseModel):
    """The body of every smoke task: no task target's payload (each forbids unknown fields and has
    required ones), so each target records it as malformed and answers 2xx."""

    model_config = ConfigDict(extra="forbid")
    smoke: str


def wait_until(condition: Callable[[], Any], timeout: float, every: float = POLL_SECONDS) -> Any:
    """The first truthy value of `condition()` within `timeout` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def run_service(function: Function) -> str:
    """A function's Cloud Run service: its name with "_" as "-" (locals.tf run_services)."""
    return function.value.replace("_", "-")


# --- Where it runs -----------------------------------------------------------------------------------


class Environment(ABC):
    """The local stack or a deployed project: the same checks, reached the way each is reached."""

    def __init__(self, op: Operator, cli_args: list[str], timeout: float) -> None:
        self.op = op
        self.cli_args = cli_args  # how the operator CLI is pointed at it
        self.timeout = timeout

    def function_url(self, function: Function) -> str:
        return self.op.setting(f"{function.value.upper()}_URL", f"functions.{function.value}")

    @abstractmethod
    def ipn_secret(self) -> str: ...

    @abstractmethod
    def fire_job(self, job: SchedulerJobSpec) -> tuple[int | None, str]:
        """Fire a job now: the status its target answered (None: no answer seen), and a detail."""

    @abstractmethod
    def logs_hint(self, function: Function) -> str: ...

    def bot_token(self) -> None:
        """Make the bot token available to the operator CLI's Telegram calls (`TELEGRAM_BOT_TOKEN`);
        the local stack's endpoints already have it."""
        return


class LocalStack(Environment):
    def __init__(self, endpoints_file: Path, timeout: float) -> None:
        op = Operator.from_endpoints(endpoints_file)
        super().__init__(op, ["--endpoints", str(endpoints_file)], timeout)
        self.endpoints = op.endpoints or {}

    def ipn_secret(self) -> str:
        return self.op.setting("NOWPAYMENTS_IPN_SECRET", "nowpayments_ipn_secret")

    def fire_job(self, job: SchedulerJobSpec) -> tuple[int | None, str]:
        scheduler = self.endpoints.get("scheduler")
        if not scheduler:
            return None, "no `scheduler` in the endpoints file (an older stack: `make down`, `make up`)"
        answer = httpx.post(f"{scheduler}/run/{job.name}", timeout=job.attempt_deadline_seconds * 3 + 30)
        status = answer.json().get("status") if answer.status_code == 200 else None
        return status, f"{job.target.value}{job.path or '/'} answered {status}"

    def logs_hint(self, function: Function) -> str:
        return f"{self.endpoints.get('logs', '.local/logs')}/{function.value}.log"


GOOGLE_APIS_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class GoogleApis:
    """Google's REST APIs with the application default credentials, billed to the project (as the
    Terraform providers are, `user_project_override`). `transport` and `token` are for tests."""

    def __init__(
        self,
        project: str,
        transport: httpx.BaseTransport | None = None,
        token: Callable[[], str] | None = None,
    ) -> None:
        self.project = project
        self._http = httpx.Client(transport=transport, timeout=30)
        self._token = token or self._default_token()

    @staticmethod
    def _default_token() -> Callable[[], str]:
        import google.auth
        import google.auth.transport.requests

        credentials, _ = google.auth.default(scopes=[GOOGLE_APIS_SCOPE])

        def token() -> str:
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
            return str(credentials.token)

        return token

    def call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token()}", "x-goog-user-project": self.project}
        response = self._http.request(method, url, json=body, headers=headers)
        if response.status_code >= 300:
            message = response.text[:300]
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise RuntimeError(f"{method} {urlsplit(url).netloc}: HTTP {response.status_code}: {message}")
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    def project_number(self) -> str:
        answer = self.call("GET", f"https://cloudresourcemanager.googleapis.com/v3/projects/{self.project}")
        return str(answer["name"]).removeprefix("projects/")

    def secret(self, secret_id: str, version: str = "latest") -> str:
        url = (
            f"https://secretmanager.googleapis.com/v1/projects/{self.project}/secrets/{secret_id}"
            f"/versions/{version}:access"
        )
        return base64.b64decode(self.call("GET", url)["payload"]["data"]).decode()

    def run_job(self, region: str, job: str) -> None:
        name = f"projects/{self.project}/locations/{region}/jobs/{job}"
        self.call("POST", f"https://cloudscheduler.googleapis.com/v1/{name}:run", {})

    def requests_since(self, service: str, since: datetime, user_agent: str) -> list[dict[str, Any]]:
        """Cloud Run's request log entries of a service since a time, made by one kind of caller."""
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        filter_ = (
            f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" '
            f'AND log_id("run.googleapis.com/requests") AND httpRequest.userAgent:"{user_agent}" '
            f'AND timestamp>="{stamp}"'
        )
        body = {"resourceNames": [f"projects/{self.project}"], "filter": filter_, "pageSize": 50}
        entries: list[dict[str, Any]] = self.call(
            "POST", "https://logging.googleapis.com/v2/entries:list", body
        ).get("entries", [])
        return entries


def run_app_url(function: Function, project_number: str, region: str) -> str:
    """A function's deterministic Cloud Run URL, as Terraform names it (locals.tf function_urls)."""
    return f"https://{run_service(function)}-{project_number}.{region}.run.app"


class CloudProject(Environment):
    def __init__(self, project: str, region: str, timeout: float, apis: GoogleApis | None = None) -> None:
        self.apis = apis or GoogleApis(project)
        self.region = region
        number = self.apis.project_number()
        env = dict(os.environ)
        for spec in FUNCTIONS:  # what the functions are given (locals.tf): their run.app URLs
            env.setdefault(f"{spec.name.value.upper()}_URL", run_app_url(spec.name, number, region))
        op = Operator(project_=project, env=env)
        # As the functions create tasks: without a token (the queue adds its own, tasks.tf).
        tasks = TasksSettings(
            google_cloud_project=project, tasks_location=region, tasks_token_from_queue=True
        )
        op.tasks_ = TaskQueue(tasks, op.clock)
        super().__init__(op, ["--project", project], timeout)

    def ipn_secret(self) -> str:
        return self.apis.secret("nowpayments-ipn-secret")

    def bot_token(self) -> None:
        if not self.op.env.get("TELEGRAM_BOT_TOKEN"):
            self.op.env["TELEGRAM_BOT_TOKEN"] = self.apis.secret("telegram-bot-token")

    def fire_job(self, job: SchedulerJobSpec) -> tuple[int | None, str]:
        fired = datetime.now(UTC) - timedelta(seconds=5)
        self.apis.run_job(self.region, job.name)
        service = run_service(job.target)

        def answered() -> int | None:
            for entry in self.apis.requests_since(service, fired, "Google-Cloud-Scheduler"):
                request = entry.get("httpRequest", {})
                if urlsplit(request.get("requestUrl", "")).path.rstrip("/") == job.path.rstrip("/"):
                    return int(request.get("status", 0)) or None
            return None

        # Request logs arrive within seconds to a minute; the Logging API allows 60 reads a minute.
        status = wait_until(answered, job.attempt_deadline_seconds + self.timeout, every=5.0)
        return status, f"{service}{job.path or '/'} answered {status} (Cloud Run's request log)"

    def logs_hint(self, function: Function) -> str:
        service = run_service(function)
        return (
            f"gcloud logging read 'resource.labels.service_name=\"{service}\" AND severity>=WARNING' "
            f"--project={self.op.project} --freshness=15m --limit=20"
        )


# --- The checks ----------------------------------------------------------------------------------------


def telepay_cli(env: Environment, *args: str) -> Any:
    """The operator's command, as an operator runs it (its own process), with `--json`."""
    command = [
        sys.executable,
        "-c",
        "from operator_cli.main import main; main()",
        *env.cli_args,
        "--json",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"telepay {' '.join(args[:2])}: {(done.stderr or done.stdout).strip()[:300]}")
    return json.loads(done.stdout)


def check_channel(env: Environment, run: str, cleanup: Cleanup) -> Check:
    token = f"Smoke{run}"
    chat = -1009000000000 - secrets.randbelow(10**9)
    channel = {
        "token": token,
        "owner_user_id": 1,
        "open_channel_id": chat,
        "closed_channel_id": chat - 1,
        "title": "TelePay smoke test",
        "description": "Made and removed by scripts/smoke.py.",
        "tiers": [{"price": "5.00", "days": 30}],
    }
    fix = (
        "the operator's access to Firestore: `gcloud auth application-default login` as an account "
        "with Cloud Datastore User (or Owner), and the `(default)` database (firestore.tf); "
        f'see {RUNBOOK}, "Prerequisites"'
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "smoke-channel.json"
            path.write_text(json.dumps(channel))
            registered = telepay_cli(env, "channels", "register", str(path))
        shown = telepay_cli(env, "channels", "show", token)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        return Check("channel", False, str(error), fix)
    finally:  # removed at once, so the jobs fired later never act on it
        cleanup.undo(f"channel {token}", lambda: _remove_channel(env, token, (chat, chat - 1)))
    if registered.get("token") != token or shown.get("title") != channel["title"]:
        return Check("channel", False, f"registered {registered.get('token')}, read back {shown}", fix)
    return Check("channel", True, f"{token}: registered, read back, removed")


def _remove_channel(env: Environment, token: str, chats: tuple[int, ...]) -> None:
    store = env.op.store
    for chat in chats:
        record = store.chat_offers.get(str(chat))
        if record is not None and record.channel_token == token:
            store.chat_offers.delete(str(chat))
    store.channels.delete(token)


def check_ipn(env: Environment, run: str, cleanup: Cleanup) -> Check:
    payment_id = 900_000_000_000 + secrets.randbelow(10**11)
    body = {
        "payment_id": payment_id,
        "payment_status": "waiting",
        "order_id": f"smoke-{run}",
        "price_amount": 1,
        "price_currency": "usd",
        "pay_amount": 1,
        "pay_currency": "usdttrc20",
        "actually_paid": 0,
    }
    record_id = f"{payment_id}-waiting"  # as ipn_handler keys an unknown IPN
    cleanup.add(f"unknown_ipns/{record_id}", lambda: env.op.store.unknown_ipns.delete(record_id))
    url = env.function_url(Function.IPN_HANDLER)
    signature = nowpayments_signature(body, env.ipn_secret())
    try:
        answer = httpx.post(
            url,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "x-nowpayments-sig": signature},
            timeout=env.timeout,
        )
    except httpx.HTTPError as error:
        return Check(
            "ipn", False, f"{url}: {type(error).__name__}: {error}", _unreachable(env, Function.IPN_HANDLER)
        )
    fixes = {
        401: "the IPN secret ipn_handler reads is not nowpayments-ipn-secret's latest version: pin the "
        f'version in `secret_versions` or add the dashboard\'s secret again ({RUNBOOK}, "Rotating secrets")',
        403: "ipn_handler is not public: `allUsers` needs run.invoker on it (functions.tf public_invoker); "
        'an organization policy "Domain restricted sharing" refuses allUsers (Prerequisites)',
        404: "ipn_handler is not deployed at its run.app URL: `terraform apply`",
    }
    if answer.status_code != 200:
        fix = fixes.get(answer.status_code, f"ipn_handler's errors: {env.logs_hint(Function.IPN_HANDLER)}")
        return Check("ipn", False, f"answered {answer.status_code}: {answer.text[:120]}", fix)
    record = wait_until(lambda: env.op.store.unknown_ipns.get(record_id), env.timeout)
    if record is None:
        fix = f"ipn_handler's Firestore access (roles/datastore.user): {env.logs_hint(Function.IPN_HANDLER)}"
        return Check("ipn", False, "answered 200 but kept no unknown_ipns record", fix)
    return Check("ipn", True, f"200, kept in unknown_ipns ({record.reason})")


def _unreachable(env: Environment, function: Function) -> str:
    return f"{function.value} is not reachable at {env.function_url(function)}: is it deployed (or the stack up)?"


def check_tasks(env: Environment, run: str, cleanup: Cleanup) -> list[Check]:
    """One malformed task per queue, all queued first and then awaited together."""
    queued = {}
    checks = []
    for spec in QUEUES:
        task_id = f"smoke-{run}-{spec.name.value}"
        cleanup.add(f"task {task_id}", partial(env.op.tasks.delete, spec.name, task_id))
        record = failed_task_id(spec.target, tasks_queue.task_id(task_id))
        cleanup.add(f"failed_tasks/{record}", partial(env.op.store.failed_tasks.delete, record))
        try:
            queue_to_target(env.op, spec, SmokeProbe(smoke=run), task_id)
        except Exception as error:
            fix = (
                "the operator may not create tasks: Cloud Tasks Enqueuer (or Admin) on the queues; "
                f"the queue {env.op.tasks.queue_path(spec.name)} exists (tasks.tf)"
            )
            checks.append(Check(f"task:{spec.name.value}", False, f"not queued: {error}", fix))
            continue
        queued[spec] = task_id
    for spec, task_id in queued.items():
        checks.append(_task_outcome(env, spec, task_id))
    return checks


def _task_outcome(env: Environment, spec: Any, task_id: str) -> Check:
    name = f"task:{spec.name.value}"
    record = failed_task_id(spec.target, tasks_queue.task_id(task_id))
    identity_fix = (
        f"the queue's identity path: the queue's http_target must carry the OIDC token of "
        f"tasks-{spec.name.value} (tasks.tf), that account needs run.invoker on {spec.target.value} "
        f"(functions.tf queue_invoker) and {spec.target.value}'s TASK_CALLER_SERVICE_ACCOUNT must name it "
        f"(its log says which identity it refused: {env.logs_hint(spec.target)}); after changing a "
        f"queue's routing, pause it first ({RUNBOOK}, \"Changing a queue's routing\")"
    )

    def outcome() -> tuple[bool, str] | None:
        task = env.op.tasks.get(spec.name, task_id)
        if task is None:  # gone: done, or dropped after its last attempt
            return (env.op.store.failed_tasks.get(record) is not None, "gone")
        attempt = task.last_attempt
        if attempt.response_time and attempt.response_status.code != 0:
            return (False, str(attempt.response_status.message or attempt.response_status.code))
        return None

    result = wait_until(outcome, env.timeout)
    if result is None:
        return Check(
            name,
            False,
            "not run in time",
            f"is the queue paused? `gcloud tasks queues describe {spec.name.value}`",
        )
    passed, seen = result
    if passed:
        return Check(name, True, f"{spec.target.value}: 2xx, recorded in failed_tasks")
    if "403" in seen or "PERMISSION" in seen.upper():
        return Check(name, False, f"{spec.target.value} answered {seen}", identity_fix)
    if seen == "gone":
        return Check(name, False, "the task is gone but no failed_tasks record was written", identity_fix)
    return Check(
        name,
        False,
        f"{spec.target.value} answered {seen}",
        f"{spec.target.value}'s errors: {env.logs_hint(spec.target)}",
    )


def check_event(env: Environment, run: str, cleanup: Cleanup) -> Check:
    """A payment event nobody is told about (user ids 0), published with its outbox record as a
    settlement publishes it: notify answers the push and marks the record handled."""
    now = env.op.clock.now()
    event_id = f"smoke-{run}"
    envelope = Envelope[PaymentEvent](
        event_id=event_id,
        type=EventType.PAYMENT_FAILED,  # the payout subscription ignores it
        occurred_at=now,
        data=PaymentEvent(
            order_id=f"smoke-{run}",
            kind=OrderKind.SUBSCRIPTION,
            user_id=0,
            chat_id=0,
            channel_token=f"Smoke{run}",
            channel_title="TelePay smoke test",
            owner_user_id=0,
            closed_channel_id=0,
            price_amount=Decimal("5.00"),
            price_currency="USD",
            payment_id=0,
            payment_status="failed",
        ),
    )
    doc = OutboxDoc(
        event_id=event_id,
        topic=Topic.PAYMENT_EVENTS.value,
        order_id=envelope.data.order_id,
        envelope=envelope.model_dump(mode="json"),
        published=True,
        created_at=now,
        published_at=now,
        expire_at=now + timedelta(days=1),
    )
    store = env.op.store
    cleanup.add(f"outbox/{event_id}", lambda: store.outbox.delete(event_id))
    store.outbox.set(event_id, doc)
    try:
        Publisher(env.op.project).publish(
            Topic.PAYMENT_EVENTS,
            json.dumps(doc.envelope).encode(),
            event_id=event_id,
            event_type=envelope.type.value,
        )
    except Exception as error:
        fix = "the operator may not publish: Pub/Sub Publisher (or Admin) on payment-events; the topic exists (pubsub.tf)"
        return Check("event", False, f"not published: {type(error).__name__}: {error}", fix)

    def handled() -> bool:
        record = store.outbox.get(event_id)
        return record is not None and record.handled

    if not wait_until(handled, env.timeout):
        fix = (
            "the push to notify: pubsub-pusher needs run.invoker on notify (functions.tf invoker), the "
            "subscription pushes to notify's run.app URL with pubsub-pusher's token (pubsub.tf), and in "
            "projects created before April 2021 the Pub/Sub service agent needs Service Account Token "
            f"Creator on pubsub-pusher (pubsub_token_creator); notify's errors: {env.logs_hint(Function.NOTIFY)}"
        )
        return Check("event", False, "published; notify did not mark it handled in time", fix)
    return Check("event", True, "published to payment-events, notify handled it")


def check_jobs(env: Environment) -> list[Check]:
    checks = []
    for job in SCHEDULER_JOBS:
        name = f"job:{job.name}"
        try:
            status, detail = env.fire_job(job)
        except Exception as error:
            fix = "the operator may not run jobs (Cloud Scheduler Admin), or the job does not exist (scheduler.tf)"
            checks.append(Check(name, False, f"not fired: {type(error).__name__}: {error}", fix))
            continue
        if status is not None and 200 <= status < 300:
            checks.append(Check(name, True, detail))
            continue
        fixes = {
            403: f"scheduler-invoker needs run.invoker on {job.target.value} (functions.tf invoker); the job's "
            "OIDC token names it (scheduler.tf)",
            404: f"{job.target.value} is not deployed at its run.app URL, or its internal ingress refuses the "
            f'caller ({RUNBOOK}, "Why it looks like this")',
            503: "the sweep found payment events it could not publish: Pub/Sub publish errors in "
            f"{env.logs_hint(job.target)}"
            if job.target is Function.EXPIRE_SUBSCRIPTIONS
            else "",
        }
        fix = fixes.get(status or 0) or f"{job.target.value}'s errors: {env.logs_hint(job.target)}"
        checks.append(Check(name, False, detail if status else "no answer seen in time", fix))
    return checks


def check_webhook(env: Environment) -> Check:
    fix = (
        f'set the webhook again: `eval "$(terraform output -raw set_webhook_command)"` ({RUNBOOK}, '
        '"Setting the Telegram webhook"), then `telepay webhook info`'
    )
    try:
        env.bot_token()
        info = webhook_info(env.op)
    except Exception as error:
        return Check(
            "webhook", False, f"getWebhookInfo failed: {error}", "the bot token (telegram-bot-token): " + fix
        )
    url = env.function_url(Function.TELEGRAM_WEBHOOK)
    problems = []
    if info.get("url") != url:
        problems.append(f"url is {info.get('url') or 'not set'}, not {url}")
    allowed = sorted(info.get("allowed_updates") or [])
    if allowed != sorted(ALLOWED_UPDATES):
        problems.append(f"allowed_updates are {allowed}")
    last_error = info.get("last_error_date")
    if last_error and time.time() - float(last_error) < 3600:
        problems.append(f"last delivery error: {info.get('last_error_message')}")
        fix = (
            "Telegram could not deliver updates: a 403 means the webhook secret differs from "
            "telegram-webhook-secret's version the function reads (set the webhook again); a 5xx: "
            f"{env.logs_hint(Function.TELEGRAM_WEBHOOK)}"
        )
    if problems:
        return Check("webhook", False, "; ".join(problems), fix)
    return Check(
        "webhook", True, f"{url}, {len(allowed)} update types, {info.get('pending_update_count', 0)} pending"
    )


# --- Running it ------------------------------------------------------------------------------------------


def guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check that fails unexpectedly (a permission, an API down) is a failed row, not the end."""
    try:
        result = check()
    except Exception as error:
        fix = "the error says what is missing (a permission of the operator's account, an API, a resource)"
        return [Check(name, False, f"{type(error).__name__}: {error}", fix)]
    return result if isinstance(result, list) else [result]


def run_checks(env: Environment) -> list[Check]:
    run = datetime.now(UTC).strftime("%m%d%H%M%S") + secrets.token_hex(2)
    cleanup = Cleanup()
    checks: list[Check] = []
    try:
        checks += guarded("channel", lambda: check_channel(env, run, cleanup))
        checks += guarded("ipn", lambda: check_ipn(env, run, cleanup))
        checks += guarded("tasks", lambda: check_tasks(env, run, cleanup))
        checks += guarded("event", lambda: check_event(env, run, cleanup))
        checks += guarded("jobs", lambda: check_jobs(env))
        checks += guarded("webhook", lambda: check_webhook(env))
    finally:
        failures = cleanup.run()
        checks.append(
            Check("cleanup", not failures, "; ".join(failures) or "everything the smoke test made is removed",
                  "remove what is named by hand (Firestore console, `gcloud tasks delete`)")
        )  # fmt: skip
    return checks


def report(checks: list[Check]) -> str:
    rows = [
        {"check": c.name, "result": "passed" if c.passed else "FAILED", "detail": c.detail} for c in checks
    ]
    lines = [table(rows, ["check", "result", "detail"])]
    failed = [c for c in checks if not c.passed]
    for check in failed:
        lines.append(f"\nfix {check.name}: {check.fix}")
        if len(check.detail) > 60:
            lines.append(f"  ({check.detail})")
    passed = len(checks) - len(failed)
    lines.append(f"\n[smoke] {len(checks)} checks: {passed} passed, {len(failed)} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.smoke",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--endpoints", type=Path, help="the local stack's .local/endpoints.json")
    target.add_argument("--project", help="a deployed project (default: GOOGLE_CLOUD_PROJECT)")
    parser.add_argument("--region", help="its region, the Terraform variable (default: TASKS_LOCATION)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds each check waits (default 120)")
    args = parser.parse_args(argv)
    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    region = args.region or os.environ.get("TASKS_LOCATION")
    if not args.endpoints and not (project and region):
        parser.error(
            "give --endpoints, or --project and --region (or GOOGLE_CLOUD_PROJECT and TASKS_LOCATION)"
        )
    env: Environment
    try:
        if args.endpoints:
            env = LocalStack(args.endpoints, args.timeout)
        else:
            env = CloudProject(str(project), str(region), args.timeout)
    except Exception as error:
        print(f"[smoke] cannot reach it: {getattr(error, 'message', None) or error}", file=sys.stderr)
        print(
            "[smoke] fix: `make up` for the local stack; `gcloud auth application-default login` for a "
            f'project ({RUNBOOK}, "Smoke test")',
            file=sys.stderr,
        )
        return 1
    checks = run_checks(env)
    print(report(checks), flush=True)
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
