"""The whole of TelePay on one machine: emulators, stand-ins, every function, the scheduler.

    python -m local.stack run     # foreground: prints what runs where, plays the demo, Ctrl-C stops all
    python -m local.stack up      # background: returns once everything is healthy (make up)
    python -m local.stack down    # stops every process group it started (make down)
    python -m local.stack status

`up` writes `.local/endpoints.json` (see `StackConfig.endpoints`) and `.local/pids.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from local.config import LOCAL_PROJECT, LOCAL_WEBHOOK_SECRET, ROOT, StackConfig
from local.metered_function import METER_FILE
from local.processes import (
    Running,
    Service,
    StackError,
    busy_ports,
    firestore_argv,
    kill_group,
    pubsub_argv,
    spawn,
    stop_group,
    wait_healthy,
)
from shared_schemas.names import (
    DEAD_LETTER_SUBSCRIPTIONS,
    FUNCTIONS,
    QUEUES,
    SUBSCRIPTIONS,
    TOPICS,
    SubscriptionSpec,
)
from shared_schemas.telegram import ALLOWED_UPDATES

# How long `up` waits for ports a stack stopped just before is still letting go of (a JVM emulator
# tearing down a large heap) before it calls them taken.
PORT_RELEASE_SECONDS = 15.0


def _say(message: str) -> None:
    print(f"[telepay] {message}", flush=True)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.running: list[Running] = []

    @property
    def pids_file(self) -> Path:
        return self.config.state_dir / "pids.json"

    @property
    def endpoints_file(self) -> Path:
        return self.config.state_dir / "endpoints.json"

    # -- services --------------------------------------------------------------------------------
    def infrastructure(self) -> list[Service]:
        c = self.config
        py = c.python
        services = [
            Service("firestore-emulator", firestore_argv(c.firestore_port), c.firestore_port),
            Service("pubsub-emulator", pubsub_argv(c.pubsub_port), c.pubsub_port),
            Service(
                "tasks-standin",
                [
                    py,
                    "-m",
                    "local.tasks_standin",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(c.tasks_port),
                    "--state-file",
                    str(c.tasks_state_file),
                ],
                c.tasks_port,
                health_path="/healthz",
                cwd=str(ROOT),
            ),
        ]
        if not c.real_telegram:
            argv = [
                py, "-m", "local.telegram_standin", "--host", "127.0.0.1", "--port", str(c.telegram_port),
                "--bot-token", c.telegram_bot_token, "--bot-username", c.telegram_bot_username,
            ]  # fmt: skip
            if not c.telegram_rate_limits:
                argv.append("--no-rate-limits")
            services.append(Service("telegram-standin", argv, c.telegram_port, "/healthz", cwd=str(ROOT)))
        if c.nowpayments_api_base_url is None:
            argv = [
                py, "-m", "local.nowpayments_standin", "--host", "127.0.0.1", "--port", str(c.nowpayments_port),
                "--api-key", c.nowpayments_api_key, "--ipn-secret", c.nowpayments_ipn_secret,
                "--email", c.nowpayments_email, "--password", c.nowpayments_password,
                "--totp-secret", c.nowpayments_2fa_secret,
            ]  # fmt: skip
            services.append(
                Service("nowpayments-standin", argv, c.nowpayments_port, "/healthz", cwd=str(ROOT))
            )
        return services

    def functions(self) -> list[Service]:
        c = self.config
        bin_dir = Path(c.python).parent
        services = []
        for spec in FUNCTIONS:
            env = c.function_env(spec.name)
            port = c.function_port(spec.name)
            where = [
                "--target", spec.entry_point,
                "--source", str(ROOT / "functions" / spec.name.value / "main.py"),
                "--host", "127.0.0.1", "--port", str(port),
            ]  # fmt: skip
            argv = [str(bin_dir / "functions-framework"), *where]
            # Each worker process is one instance, serving spec.concurrency requests at once on
            # that many gunicorn threads: what Terraform gives Cloud Run (THREADS and
            # max_instance_request_concurrency, from the same figure in names.py). Cloud Run
            # scales a busy function out to more instances; locally the scheduled functions get
            # two, so a long sweep and its paced tasks run side by side.
            workers = "2" if spec.trigger == "scheduler" else "1"
            service_env = {**env, "WORKERS": workers, "THREADS": str(spec.concurrency)}
            cwd = None
            if c.metered:
                argv, cwd = [c.python, "-m", "local.metered_function", *where], str(ROOT)
                service_env[METER_FILE] = str(c.meter_file(spec.name))
            services.append(
                Service(spec.name.value, argv, port, "/", service_env, any_answer_is_healthy=True, cwd=cwd)
            )
        return services

    # -- lifecycle -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        if not self.pids_file.exists():
            return False
        pids = json.loads(self.pids_file.read_text())
        return any(_alive(pid) for pid in pids.values())

    def up(self) -> dict[str, Any]:
        c = self.config
        if self.is_running():
            raise StackError(f"TelePay is already running (see {self.endpoints_file}); `make down` stops it.")
        c.state_dir.mkdir(parents=True, exist_ok=True)
        c.log_dir.mkdir(parents=True, exist_ok=True)
        if c.metered:
            c.meter_file(FUNCTIONS[0].name).parent.mkdir(parents=True, exist_ok=True)
        c.clock_offset_file.write_text("0")
        started = time.monotonic()
        infrastructure = self.infrastructure()
        functions = self.functions()
        ports = busy_ports([s.port for s in infrastructure + functions], wait=PORT_RELEASE_SECONDS)
        busy = [s for s in infrastructure + functions if s.port in ports]
        if busy:
            names = ", ".join(f"{s.name} ({s.port})" for s in busy)
            raise StackError(f"ports already in use: {names}. Set TELEPAY_PORT_BASE to move the stack.")
        try:
            self._start(infrastructure, timeout=90)
            self._create_topics_and_subscriptions()
            self._create_queues()
            self._start(functions, timeout=90)
            self._set_webhook()
            self._start([self._scheduler_service()], timeout=30)
            if c.real_telegram:
                self._start([self._forwarder_service()], timeout=30)
        except BaseException:
            self.down()
            raise
        endpoints = c.endpoints()
        self.endpoints_file.write_text(json.dumps(endpoints, indent=2) + "\n")
        _say(f"all {len(self.running)} services healthy in {time.monotonic() - started:.1f} s")
        return endpoints

    def _start(self, services: list[Service], timeout: float) -> None:
        batch = [spawn(s, self.config.log_dir) for s in services]
        self.running.extend(batch)
        self._write_pids()
        wait_healthy(batch, timeout, self.config.log_dir, on_ready=lambda r: _say(_where(r.service)))

    def _write_pids(self) -> None:
        self.pids_file.write_text(json.dumps({r.service.name: r.pid for r in self.running}, indent=2))

    def down(self) -> int:
        pids: dict[str, int] = {}
        if self.pids_file.exists():
            pids = json.loads(self.pids_file.read_text())
        pids |= {r.service.name: r.pid for r in self.running}
        for name, pid in reversed(list(pids.items())):
            if _alive(pid):
                stop_group(pid)
                _say(f"stopped {name}")
        self.pids_file.unlink(missing_ok=True)
        self.running.clear()
        return len(pids)

    # -- one service (the failure drills) -----------------------------------------------------------
    def service(self, name: str) -> Running:
        return next(r for r in self.running if r.service.name == name)

    def stop_service(self, name: str, crash: bool = False) -> None:
        """Stop one service's process group: politely, or with SIGKILL as a crash would."""
        running = self.service(name)
        (kill_group if crash else stop_group)(running.pid)

    def start_service(self, name: str, extra_argv: tuple[str, ...] = (), timeout: float = 90) -> None:
        """Start a stopped service again (same ports, same state files), and wire it up again."""
        old = self.service(name)
        service = replace(old.service, argv=[*old.service.argv, *extra_argv])
        fresh = spawn(service, self.config.log_dir)
        self.running[self.running.index(old)] = replace(old, process=fresh.process)
        self._write_pids()
        wait_healthy([fresh], timeout, self.config.log_dir)
        if name == "pubsub-emulator":  # the emulator keeps nothing: topics and subscriptions again
            self._create_topics_and_subscriptions()

    # -- wiring ------------------------------------------------------------------------------------
    def _create_topics_and_subscriptions(self) -> None:
        base = f"http://127.0.0.1:{self.config.pubsub_port}/v1/projects/{LOCAL_PROJECT}"
        with httpx.Client(timeout=10) as http:
            for topic in TOPICS:
                _ok(http.put(f"{base}/topics/{topic.name.value}", json={}), "create topic")
            for sub in SUBSCRIPTIONS:
                body = push_subscription_body(sub, LOCAL_PROJECT, self.config.function_url(sub.push_to))
                _ok(http.put(f"{base}/subscriptions/{sub.name}", json=body), "create subscription")
            for dead_topic, hold in DEAD_LETTER_SUBSCRIPTIONS.items():
                body = {"topic": f"projects/{LOCAL_PROJECT}/topics/{dead_topic.value}"}
                _ok(http.put(f"{base}/subscriptions/{hold}", json=body), "create subscription")

    def _create_queues(self) -> None:
        """UpdateQueue without a mask creates a queue or replaces its whole configuration, so a
        queue kept in the stand-in's state file from an earlier run gets today's declaration."""
        base = f"http://127.0.0.1:{self.config.tasks_port}/v2"
        with httpx.Client(timeout=10) as http:
            for queue in QUEUES:
                body = self.config.queue_body(queue)
                _ok(http.patch(f"{base}/{body['name']}", json=body), f"create queue {queue.name.value}")

    def _set_webhook(self) -> None:
        if self.config.real_telegram:
            return  # a real bot without a public URL: the forwarder feeds the local webhook
        from shared_schemas.names import Function

        url = f"{self.config.telegram_url}/bot{self.config.telegram_bot_token}/setWebhook"
        body = {
            "url": self.config.function_url(Function.TELEGRAM_WEBHOOK),
            "secret_token": LOCAL_WEBHOOK_SECRET,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        _ok(httpx.post(url, json=body, timeout=10), "setWebhook")

    def _scheduler_service(self) -> Service:
        port = self.config.scheduler_port
        argv = [self.config.python, "-m", "local.scheduler", "--port", str(port), "--endpoints-from-env"]
        env = {f"FUNCTION_URL_{s.name.value.upper()}": self.config.function_url(s.name) for s in FUNCTIONS}
        return Service("scheduler", argv, port, "/healthz", env, cwd=str(ROOT))

    def _forwarder_service(self) -> Service:
        from shared_schemas.names import Function

        port = self.config.port_base + 31
        argv = [self.config.python, "-m", "local.forwarder", "--port", str(port)]
        env = {
            "TELEGRAM_BOT_TOKEN": self.config.telegram_bot_token,
            "TELEGRAM_API_BASE_URL": self.config.telegram_url,
            "TELEGRAM_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
            "WEBHOOK_URL": self.config.function_url(Function.TELEGRAM_WEBHOOK),
        }
        return Service("forwarder", argv, port, "/healthz", env, cwd=str(ROOT))


def push_subscription_body(sub: SubscriptionSpec, project: str, push_endpoint: str) -> dict[str, Any]:
    """A push subscription as the Pub/Sub REST API takes it, from its declaration."""
    return {
        "topic": f"projects/{project}/topics/{sub.topic.value}",
        "ackDeadlineSeconds": sub.ack_deadline_seconds,
        "pushConfig": {"pushEndpoint": push_endpoint},
        "deadLetterPolicy": {
            "deadLetterTopic": f"projects/{project}/topics/{sub.dead_letter_topic.value}",
            "maxDeliveryAttempts": sub.max_delivery_attempts,
        },
        "retryPolicy": {
            "minimumBackoff": f"{sub.min_backoff_seconds}s",
            "maximumBackoff": f"{sub.max_backoff_seconds}s",
        },
    }


def owner_app_link(endpoints: dict[str, Any], owner: dict[str, Any]) -> str:
    """The owner app's URL as Telegram opens it, with a freshly signed initData in the fragment."""
    from urllib.parse import quote

    from shared_schemas.names import Function
    from telepay.core.clock import system_clock
    from telepay.owners.init_data import for_user

    # Signed at the stack's time: the demo moves the stack's clock some days forward.
    now = system_clock(endpoints.get("clock_offset_file")).now()
    init_data = for_user(owner, endpoints["telegram_bot_token"], int(now.timestamp()))
    return f"{endpoints['functions'][Function.OWNER_APP.value]}/#tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=7.0"


def _where(service: Service) -> str:
    return f"{service.name:<22} http://127.0.0.1:{service.port}"


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code >= 300 and response.status_code != 409:
        raise StackError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")


def _alive(pid: int) -> bool:
    try:
        os.killpg(os.getpgid(pid), 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "up", "down", "status"])
    parser.add_argument("--no-demo", action="store_true", help="run: skip the scripted demo")
    args = parser.parse_args(argv)
    stack = Stack(StackConfig.from_environment())
    try:
        if args.command == "up":
            stack.up()
            _say(f"endpoints: {stack.endpoints_file}")
            return 0
        if args.command == "down":
            if stack.down() == 0:
                _say("nothing was running")
            return 0
        if args.command == "status":
            running = stack.is_running()
            _say("running" if running else "not running")
            if running:
                print(stack.endpoints_file.read_text())
            return 0 if running else 1
        return _run_foreground(stack, demo=not args.no_demo)
    except StackError as error:
        _say(f"error: {error}")
        return 1


def _run_foreground(stack: Stack, demo: bool) -> int:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        endpoints = stack.up()
        _say(json.dumps(endpoints, indent=2))
        if demo and not stack.config.real_telegram:
            from local.demo import play

            played = play(endpoints, _say)
            _say("owner app of the demo owner (open in a browser; the initData is valid for an hour):")
            _say(owner_app_link(endpoints, played["user"]))
        _say("TelePay is running. Press Ctrl-C to stop everything.")
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _say("stopping…")
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
