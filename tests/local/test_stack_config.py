"""The local stack's promises that don't need it running: stand-ins replaced by configured
services, a clear error for a missing emulator, and a second `up` refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from local.config import LOCAL_PROJECT, StackConfig
from local.processes import StackError, emulator_binary
from local.stack import Stack
from shared_schemas.config import FUNCTION_SETTINGS, load_settings
from shared_schemas.names import FUNCTIONS, QUEUES


def test_configured_services_replace_the_stand_ins(env_guard: None) -> None:
    os.environ["TELEGRAM_API_BASE_URL"] = "https://api.telegram.org"
    os.environ["TELEGRAM_BOT_TOKEN"] = "123:real-looking"
    os.environ["NOWPAYMENTS_API_BASE_URL"] = "https://api-sandbox.nowpayments.io"
    config = StackConfig.from_environment()
    names = [s.name for s in Stack(config).infrastructure()]
    assert "telegram-standin" not in names and "nowpayments-standin" not in names
    env = config.function_env()
    assert env["TELEGRAM_API_BASE_URL"] == "https://api.telegram.org"
    assert env["NOWPAYMENTS_API_BASE_URL"] == "https://api-sandbox.nowpayments.io"
    endpoints = config.endpoints()
    assert endpoints["telegram_bot_token"] is None  # never a real value in endpoints.json
    assert endpoints["nowpayments_api"] == "https://api-sandbox.nowpayments.io"


def test_default_stack_describes_every_function() -> None:
    endpoints = StackConfig().endpoints()
    assert set(endpoints["functions"]) == {spec.name.value for spec in FUNCTIONS}
    for key in (
        "telegram_api",
        "nowpayments_api",
        "firestore_emulator_host",
        "pubsub_emulator_host",
        "tasks_emulator",
        "project",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "nowpayments_api_key",
        "nowpayments_ipn_secret",
        "scheduler",
    ):
        assert endpoints[key], key


def test_a_missing_emulator_is_named(env_guard: None, tmp_path: Path) -> None:
    os.environ["CLOUDSDK_ROOT_DIR"] = str(tmp_path)
    with pytest.raises(StackError, match="firestore emulator binary is missing"):
        emulator_binary("firestore")


def test_a_second_up_says_so(tmp_path: Path) -> None:
    stack = Stack(StackConfig(state_dir=tmp_path))
    (tmp_path / "pids.json").write_text(json.dumps({"me": os.getpid()}))
    with pytest.raises(StackError, match="already running"):
        stack.up()


def test_the_local_queues_and_task_targets_are_configured_as_terraform_configures_them(
    env_guard: None,
) -> None:
    """As tasks.tf: each queue pins its target's host and puts its own identity's token on every
    task (the enqueuers create tasks without one), and each target accepts only its queue."""
    config = StackConfig(port_base=31000)
    for queue in QUEUES:
        identity = f"tasks-{queue.name.value}@{LOCAL_PROJECT}.iam.gserviceaccount.com"
        body = config.queue_body(queue)
        assert body["httpTarget"] == {
            "httpMethod": "POST",
            "uriOverride": {
                "scheme": "HTTP",
                "host": "127.0.0.1",
                "port": config.function_port(queue.target),
                "uriOverrideEnforceMode": "ALWAYS",
            },
            "oidcToken": {"serviceAccountEmail": identity, "audience": config.function_url(queue.target)},
        }, queue.name
        assert identity in config.function_env(queue.target)["TASK_CALLER_SERVICE_ACCOUNT"].split(",")
    for spec in FUNCTIONS:
        env = config.function_env(spec.name)
        assert env["TASKS_TOKEN_FROM_QUEUE"] == "true", spec.name
        assert "TASKS_INVOKER_SERVICE_ACCOUNT" not in env, spec.name
        os.environ.clear()
        os.environ.update(env)
        settings = load_settings(FUNCTION_SETTINGS[spec.name])
        targets = {q.target for q in QUEUES}
        assert bool(getattr(settings, "task_caller_service_account", None)) is (spec.name in targets)


def test_each_function_runs_as_an_instance_with_its_concurrency_in_threads(tmp_path: Path) -> None:
    """As Cloud Run runs it (Terraform gives the same figure): THREADS is the function's
    concurrency; a metered stack serves each through local.metered_function with a meter file."""
    functions = {s.name: s for s in Stack(StackConfig(state_dir=tmp_path)).functions()}
    metered = {s.name: s for s in Stack(StackConfig(state_dir=tmp_path, metered=True)).functions()}
    for spec in FUNCTIONS:
        service = functions[spec.name.value]
        assert service.env["THREADS"] == str(spec.concurrency)
        assert service.env["WORKERS"] == ("2" if spec.trigger == "scheduler" else "1")
        assert "TELEPAY_METER_FILE" not in service.env and service.argv[0].endswith("functions-framework")
        counted = metered[spec.name.value]
        assert counted.argv[1:3] == ["-m", "local.metered_function"]
        assert counted.env["TELEPAY_METER_FILE"].endswith(f"meter/{spec.name.value}.jsonl")
        assert counted.env["THREADS"] == str(spec.concurrency)


def test_the_metered_logger_writes_a_line_per_request(tmp_path: Path, env_guard: None) -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config  # type: ignore[import-untyped]

    from local.metered_function import MeteredLogger

    meter = tmp_path / "ipn_handler.jsonl"
    os.environ["TELEPAY_METER_FILE"] = str(meter)
    logger = MeteredLogger(Config())
    for _ in range(2):
        logger.access(
            SimpleNamespace(status="200 OK"), SimpleNamespace(path="/"), {}, timedelta(milliseconds=40)
        )
    lines = [json.loads(line) for line in meter.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["pid"] == os.getpid() and lines[0]["seconds"] == 0.04 and lines[0]["status"] == "200"
    assert set(lines[0]["firestore"]) == {"reads", "writes", "deletes"}
