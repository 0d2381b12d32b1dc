"""Local Cloud Scheduler: fires the cron functions on the schedules declared in `shared_schemas`
(the same ones Terraform creates), with the `X-CloudScheduler-ScheduleTime` header the real one
sends. `POST /run/<job name>` fires a job now (for the demo and tests)."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from croniter import croniter

from shared_schemas.names import SCHEDULER_JOBS, SchedulerJobSpec


def _url(job: SchedulerJobSpec) -> str:
    return os.environ[f"FUNCTION_URL_{job.target.value.upper()}"] + job.path


def fire(job: SchedulerJobSpec, scheduled: datetime) -> int:
    headers = {
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": job.name,
        "X-CloudScheduler-ScheduleTime": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Content-Type": "application/json",
    }
    for attempt in range(3):  # Cloud Scheduler retries a failed run; keep it short locally
        try:
            response = httpx.post(
                _url(job), headers=headers, content=b"{}", timeout=job.attempt_deadline_seconds
            )
            status = response.status_code
        except httpx.HTTPError as error:
            status = 599
            print(json.dumps({"severity": "WARNING", "message": f"{job.name}: {error}"}), flush=True)
        print(
            json.dumps(
                {"severity": "INFO", "message": f"fired {job.name}", "status": status, "attempt": attempt + 1}
            ),
            flush=True,
        )
        if status < 300:
            return status
        time.sleep(2**attempt)
    return status


def loop(stop: threading.Event) -> None:
    now = datetime.now(UTC)
    next_runs = {job.name: croniter(job.schedule, now).get_next(datetime) for job in SCHEDULER_JOBS}
    while not stop.is_set():
        now = datetime.now(UTC)
        for job in SCHEDULER_JOBS:
            due = next_runs[job.name]
            if now >= due:
                threading.Thread(target=fire, args=(job, due), daemon=True).start()
                next_runs[job.name] = croniter(job.schedule, due).get_next(datetime)
        stop.wait(min(1.0, max(0.05, (min(next_runs.values()) - now).total_seconds())))


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(
            200, {"ok": True, "jobs": [{"name": j.name, "schedule": j.schedule} for j in SCHEDULER_JOBS]}
        )

    def do_POST(self) -> None:
        name = self.path.removeprefix("/run/")
        job = next((j for j in SCHEDULER_JOBS if j.name == name), None)
        if job is None:
            self._answer(404, {"error": f"no job {name!r}"})
            return
        scheduled = datetime.now(UTC).replace(second=0, microsecond=0)
        self._answer(200, {"job": name, "status": fire(job, scheduled)})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoints-from-env", action="store_true")
    args = parser.parse_args()
    stop = threading.Event()
    threading.Thread(target=loop, args=(stop,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    try:
        server.serve_forever()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
