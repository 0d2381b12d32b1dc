"""The smoke test's pieces (`scripts/smoke.py`). The whole of it runs in CI against a local stack
(`.ci/run`), and against a deployed project from the runbook (terraform/README.md)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from operator_cli.context import Operator
from scripts import smoke
from shared_schemas.names import FUNCTIONS, QUEUES, SCHEDULER_JOBS, Function, SchedulerJobSpec
from shared_schemas.tasks import TASK_PAYLOADS
from shared_schemas.telegram import ALLOWED_UPDATES
from tests.infra import terraform_checks as tc

ROOT = tc.ROOT
WEBHOOK_URL = "https://telegram-webhook-123.europe-west1.run.app"


def test_the_smoke_task_is_malformed_for_every_task_target() -> None:
    """So each target records it in failed_tasks and answers 2xx, and nothing else happens."""
    assert set(TASK_PAYLOADS) == {spec.name for spec in QUEUES}
    body = smoke.SmokeProbe(smoke="0102").model_dump_json()
    for queue, model in TASK_PAYLOADS.items():
        with pytest.raises(ValidationError):
            model.model_validate_json(body)
        assert queue in {spec.name for spec in QUEUES}


def test_the_smoke_test_calls_each_function_at_the_url_terraform_gives_it() -> None:
    terraform = tc.load()
    hosts = tc.expr(terraform.locals["function_hosts"])
    template = re.search(r'=> "([^"]+)"', hosts)
    assert template, hosts
    assert tc.expr(terraform.locals["run_services"]).endswith('replace(name, "_", "-")}')
    for spec in FUNCTIONS:
        host = (
            template.group(1)
            .replace("${service}", spec.name.value.replace("_", "-"))
            .replace("${data.google_project.this.number}", "123")
            .replace("${var.region}", "europe-west1")
        )
        assert smoke.run_app_url(spec.name, "123", "europe-west1") == f"https://{host}"


def test_cleanup_undoes_everything_in_reverse_and_names_what_it_could_not() -> None:
    undone: list[str] = []
    cleanup = smoke.Cleanup()
    cleanup.add("first", lambda: undone.append("first"))

    def broken() -> None:
        raise RuntimeError("permission denied")

    cleanup.add("second", broken)
    cleanup.add("third", lambda: undone.append("third"))
    cleanup.undo("now", lambda: undone.append("now"))
    assert cleanup.run() == ["second: RuntimeError: permission denied"]
    assert undone == ["now", "third", "first"]
    assert cleanup.run() == ["second: RuntimeError: permission denied"]  # nothing runs twice
    assert undone == ["now", "third", "first"]


def test_a_check_that_breaks_is_a_failed_row_and_the_report_gives_each_fix() -> None:
    def breaks() -> smoke.Check:
        raise PermissionError("403 caller lacks cloudtasks.tasks.create")

    checks = [
        smoke.Check("ipn", True, "200, kept in unknown_ipns (unknown order)"),
        *smoke.guarded("tasks", breaks),
        smoke.Check(
            "job:daily-broadcast",
            False,
            "daily_broadcast/ answered 403",
            "scheduler-invoker needs run.invoker",
        ),
    ]
    assert checks[1].name == "tasks" and not checks[1].passed
    assert "cloudtasks.tasks.create" in checks[1].detail
    text = smoke.report(checks)
    lines = text.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "DETAIL"]
    assert re.search(r"^ipn\s+passed\s+200", text, re.M)
    assert re.search(r"^job:daily-broadcast\s+FAILED\s+daily_broadcast/ answered 403", text, re.M)
    assert "fix job:daily-broadcast: scheduler-invoker needs run.invoker" in text
    assert "fix tasks: the error says what is missing" in text
    assert lines[-1] == "[smoke] 3 checks: 1 passed, 2 failed"


class Telegram:
    """getWebhookInfo as Telegram answers it."""

    def __init__(self, **info: Any) -> None:
        self.info = {"url": WEBHOOK_URL, "allowed_updates": list(ALLOWED_UPDATES), "pending_update_count": 0}
        self.info |= info

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/bot42:token/getWebhookInfo"
        return httpx.Response(200, json={"ok": True, "result": self.info})


class Deployed(smoke.Environment):
    def __init__(self, transport: httpx.BaseTransport) -> None:
        env = {"TELEGRAM_BOT_TOKEN": "42:token", "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL}
        super().__init__(Operator(project_="p", env=env, http_transport=transport), ["--project", "p"], 1)

    def ipn_secret(self) -> str:
        return "secret"

    def fire_job(self, job: SchedulerJobSpec) -> tuple[int | None, str]:
        return 200, "ok"

    def logs_hint(self, function: Function) -> str:
        return f"logs of {function.value}"


def test_the_webhook_check_wants_the_url_the_updates_and_no_recent_error() -> None:
    good = smoke.check_webhook(Deployed(httpx.MockTransport(Telegram().handle)))
    assert good.passed, good.detail
    stale = Telegram(allowed_updates=[u for u in ALLOWED_UPDATES if u != "chat_member"], url="")
    check = smoke.check_webhook(Deployed(httpx.MockTransport(stale.handle)))
    assert not check.passed
    assert "url is not set" in check.detail and "allowed_updates" in check.detail
    assert "set_webhook_command" in check.fix
    failing = Telegram(
        last_error_date=int(datetime.now(UTC).timestamp()) - 60, last_error_message="Wrong response: 403"
    )
    check = smoke.check_webhook(Deployed(httpx.MockTransport(failing.handle)))
    assert not check.passed and "Wrong response: 403" in check.detail
    assert "webhook secret" in check.fix


class Google:
    """The Google APIs the smoke test calls on a deployed project, as they answer."""

    def __init__(self, statuses: dict[str, int]) -> None:
        self.statuses = statuses  # request path => status in Cloud Run's request log
        self.calls: list[tuple[str, str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, str(request.url), body))
        assert request.headers["authorization"] == "Bearer adc-token"
        assert request.headers["x-goog-user-project"] == "telepay-prod"
        host, path = request.url.host, request.url.path
        if host == "cloudresourcemanager.googleapis.com":
            return httpx.Response(200, json={"name": "projects/123", "projectId": "telepay-prod"})
        if host == "secretmanager.googleapis.com":
            if "missing" in path:
                return httpx.Response(
                    403, json={"error": {"code": 403, "message": "Permission denied on secret"}}
                )
            return httpx.Response(200, json={"payload": {"data": base64.b64encode(b"value of it").decode()}})
        if host == "cloudscheduler.googleapis.com":
            return httpx.Response(200, json={})
        if host == "logging.googleapis.com":
            found = re.search(r'service_name="([^"]+)"', str(body and body["filter"]))
            assert found
            service = found.group(1)
            entries = [
                {
                    "httpRequest": {
                        "requestUrl": f"https://{service}-123.europe-west1.run.app{path}",
                        "status": status,
                    }
                }
                for path, status in self.statuses.items()
            ]
            return httpx.Response(200, json={"entries": entries})
        return httpx.Response(404)


def deployed(google: Google) -> smoke.CloudProject:
    apis = smoke.GoogleApis("telepay-prod", httpx.MockTransport(google.handle), token=lambda: "adc-token")
    return smoke.CloudProject("telepay-prod", "europe-west1", 1, apis=apis)


def test_on_a_deployed_project_the_functions_are_called_at_their_run_app_urls(env_guard: None) -> None:
    project = deployed(Google({}))
    for spec in FUNCTIONS:
        assert project.function_url(spec.name) == smoke.run_app_url(spec.name, "123", "europe-west1")
    assert project.cli_args == ["--project", "telepay-prod"]
    assert project.ipn_secret() == "value of it"
    project.bot_token()
    assert project.op.env["TELEGRAM_BOT_TOKEN"] == "value of it"
    with pytest.raises(RuntimeError, match="HTTP 403: Permission denied on secret"):
        project.apis.secret("missing")


def test_a_fired_job_is_judged_by_the_answer_its_own_path_got(env_guard: None) -> None:
    """The sweep and reconciliation share a function: each job's answer is the one on its path."""
    google = Google({"/": 200, "/reconcile": 403})
    project = deployed(google)
    jobs = {job.name: job for job in SCHEDULER_JOBS}
    assert project.fire_job(jobs["expire-subscriptions-every-minute"])[0] == 200
    status, detail = project.fire_job(jobs["reconcile-every-5-minutes"])
    assert status == 403 and "expire-subscriptions/reconcile answered 403" in detail
    runs = [url for method, url, _ in google.calls if url.endswith(":run")]
    assert runs[-1] == (
        "https://cloudscheduler.googleapis.com/v1/projects/telepay-prod/locations/europe-west1/"
        "jobs/reconcile-every-5-minutes:run"
    )
    [*_, (_, _, query)] = [c for c in google.calls if "logging" in c[1]]
    assert 'httpRequest.userAgent:"Google-Cloud-Scheduler"' in query["filter"]
    assert 'log_id("run.googleapis.com/requests")' in query["filter"]


def test_ci_runs_the_smoke_test_on_a_stack_of_its_own_and_always_stops_it() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    lines = [  # a stage's command, without the `stage` that times it
        line.strip().removeprefix("stage ")
        for line in script.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "set -euo pipefail" in lines  # a failing smoke test ends the run (and the trap stops the stack)
    helper = next(line for line in lines if line.startswith("smoke_stack()"))
    port_base = re.search(r"TELEPAY_PORT_BASE=(\d+) make", helper)
    assert port_base and int(port_base.group(1)) not in (18500, 18700, 18800, 29000)  # nobody else's ports
    order = [
        "make test",
        "trap 'smoke_stack down' EXIT",
        "smoke_stack up",
        "smoke_stack smoke",
        "smoke_stack down",
        "trap - EXIT",
        "make test-modules",
    ]
    assert [line for line in lines if line in order] == order
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/python -m scripts.smoke $(SMOKE_ARGS)" in makefile
    assert "SMOKE_ARGS ?= --endpoints .local/endpoints.json" in makefile


def test_the_smoke_test_is_documented_where_operators_and_developers_look() -> None:
    runbook = (ROOT / "terraform" / "README.md").read_text()
    assert "python -m scripts.smoke --project" in runbook
    readme = (ROOT / "README.md").read_text()
    assert "make smoke" in readme and "scripts.smoke" in readme
