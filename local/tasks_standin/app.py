"""The Cloud Tasks v2 REST surface (as used by ``CloudTasksClient(transport="rest")``) and ``/_control``.

Requests and responses use the protobuf JSON mapping (camelCase; enums as names, or as numbers when
the client asks with ``$alt=json;enum-encoding=int`` as the Python client does). Errors are Google JSON
errors: ``{"error": {"code": 409, "message": "...", "status": "ALREADY_EXISTS"}}``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from google.cloud.tasks_v2.types import cloudtasks
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.tasks_standin.engine import TasksEngine
from local.tasks_standin.records import PAUSED, RUNNING, VIEW_BASIC, ApiError, QueuePb, Sender

__all__ = ["create_app"]

_P = r"projects/[^/:]+/locations/[^/:]+"
_QUEUES = re.compile(rf"({_P})/queues")
_QUEUE = re.compile(rf"({_P}/queues/[^/:]+)(?::(purge|pause|resume))?")
_TASKS = re.compile(rf"({_P}/queues/[^/:]+)/tasks")
_TASK = re.compile(rf"({_P}/queues/[^/:]+/tasks/[^/:]+)(?::(run))?")

CreateTaskRequestPb: Any = cloudtasks.CreateTaskRequest.pb()
_VIEWS = {"VIEW_UNSPECIFIED": 0, "BASIC": 1, "FULL": 2}  # Task.View


def _snake(path: str) -> str:
    """FieldMask JSON paths are lowerCamelCase; protobuf paths are snake_case."""
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), path)


def google_error(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": error.code, "message": error.message, "status": error.status}},
        status_code=error.code,
    )


class TasksApi:
    def __init__(self, engine: TasksEngine) -> None:
        self.engine = engine

    @staticmethod
    def _ints(request: Request) -> bool:
        return "enum-encoding=int" in request.query_params.get("$alt", "")

    def _render(self, request: Request, message: Any) -> JSONResponse:
        return JSONResponse(json_format.MessageToDict(message, use_integers_for_enums=self._ints(request)))

    @staticmethod
    async def _parse(request: Request, message: Any) -> Any:
        raw = await request.body()
        try:
            json_format.Parse(raw.decode() or "{}", message)
        except (json_format.ParseError, UnicodeDecodeError) as error:
            raise ApiError(400, f"Invalid JSON payload received. {error}") from error
        return message

    @staticmethod
    def _view(request: Request, default: int = VIEW_BASIC) -> int:
        raw = request.query_params.get("responseView") or request.query_params.get("response_view")
        if not raw:
            return default
        try:
            return int(raw) if raw.isdigit() else _VIEWS[raw]
        except KeyError as error:
            raise ApiError(400, f"Invalid value at 'response_view': \"{raw}\"") from error

    @staticmethod
    def _int_param(request: Request, *names: str) -> int:
        for name in names:
            raw = request.query_params.get(name)
            if raw:
                try:
                    return int(raw)
                except ValueError as error:
                    raise ApiError(400, f"Invalid value at '{name}': \"{raw}\"") from error
        return 0

    async def v2(self, request: Request) -> Response:
        try:
            return await self._route(request, request.path_params["path"], request.method)
        except ApiError as error:
            return google_error(error)

    async def _route(self, request: Request, path: str, method: str) -> Response:
        e = self.engine
        if m := _QUEUES.fullmatch(path):
            parent = m.group(1)
            if method == "POST":
                queue = await self._parse(request, QueuePb())
                return self._render(request, e.create_queue(parent, queue))
            if method == "GET":
                size = self._int_param(request, "pageSize", "page_size")
                token = request.query_params.get("pageToken") or request.query_params.get("page_token") or ""
                queues, next_token = e.list_queues(parent, size, token)
                out: dict[str, Any] = {
                    "queues": [
                        json_format.MessageToDict(q, use_integers_for_enums=self._ints(request))
                        for q in queues
                    ]
                }
                if next_token:
                    out["nextPageToken"] = next_token
                return JSONResponse(out)
        elif m := _TASKS.fullmatch(path):
            parent = m.group(1)
            if method == "POST":
                create = await self._parse(request, CreateTaskRequestPb())
                view = int(create.response_view) or VIEW_BASIC
                return self._render(request, e.create_task(parent, create.task, view))
            if method == "GET":
                size = self._int_param(request, "pageSize", "page_size")
                token = request.query_params.get("pageToken") or request.query_params.get("page_token") or ""
                tasks, next_token = e.list_tasks(parent, size, token, self._view(request))
                out = {
                    "tasks": [
                        json_format.MessageToDict(t, use_integers_for_enums=self._ints(request))
                        for t in tasks
                    ]
                }
                if next_token:
                    out["nextPageToken"] = next_token
                return JSONResponse(out)
        elif m := _TASK.fullmatch(path):
            name, verb = m.group(1), m.group(2)
            if verb == "run" and method == "POST":
                body = json.loads((await request.body()) or b"{}")
                view = body.get("responseView", 0) if isinstance(body, dict) else 0
                if isinstance(view, str):
                    view = _VIEWS.get(view, 0)
                return self._render(request, e.run_task(name, int(view) or VIEW_BASIC))
            if verb is None and method == "GET":
                return self._render(request, e.get_task(name, self._view(request)))
            if verb is None and method == "DELETE":
                e.delete_task(name)
                return JSONResponse({})
        elif m := _QUEUE.fullmatch(path):
            name, verb = m.group(1), m.group(2)
            if verb is None and method == "GET":
                return self._render(request, e.get_queue(name))
            if verb is None and method == "DELETE":
                e.delete_queue(name)
                return JSONResponse({})
            if verb is None and method == "PATCH":
                queue = await self._parse(request, QueuePb())
                queue.name = name
                raw_mask = (
                    request.query_params.get("updateMask") or request.query_params.get("update_mask") or ""
                )
                paths = [_snake(p.strip()) for p in raw_mask.split(",") if p.strip()]
                return self._render(request, e.update_queue(queue, paths))
            if method == "POST" and verb == "purge":
                return self._render(request, e.purge_queue(name))
            if method == "POST" and verb == "pause":
                return self._render(request, e.set_queue_state(name, PAUSED))
            if method == "POST" and verb == "resume":
                return self._render(request, e.set_queue_state(name, RUNNING))
        raise ApiError(404, f"Method not found: {method} /v2/{path}")

    # ---------------------------------------------------------------- control

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def c_stats(self, request: Request) -> Response:
        stats = self.engine.stats()
        queue = request.query_params.get("queue")
        if queue:
            return JSONResponse(
                stats.get(queue) or {"error": "no such queue"}, 200 if queue in stats else 404
            )
        return JSONResponse({"queues": stats, "scheduler_wakeups": self.engine.scheduler_wakeups})

    async def c_tasks(self, request: Request) -> Response:
        queue = request.query_params.get("queue")
        state = request.query_params.get("state", "finished")
        name = request.query_params.get("name")
        records: list[dict[str, Any]] = []
        if state in ("pending", "all"):
            records.extend(self.engine.pending_views(queue))
        if state != "pending":
            for record in self.engine.finished:
                if queue and record["queue"] != queue:
                    continue
                if state not in ("all", "finished") and record["state"] != state:
                    continue
                records.append(record)
        if name:
            records = [r for r in records if r["name"] == name or r["task_id"] == name]
        return JSONResponse({"tasks": records})

    async def c_reset(self, request: Request) -> Response:
        self.engine.reset()
        return JSONResponse({"reset": True})

    async def c_run_due_now(self, request: Request) -> Response:
        body = json.loads((await request.body()) or b"{}")
        return JSONResponse({"rescheduled": self.engine.run_due_now(body.get("queue"))})

    async def c_wait_idle(self, request: Request) -> Response:
        body = json.loads((await request.body()) or b"{}")
        queue = body.get("queue")
        deadline = time.monotonic() + float(body.get("timeout", 10))
        while not self.engine.idle(queue):
            if time.monotonic() > deadline:
                return JSONResponse({"idle": False, "stats": self.engine.stats()})
            await asyncio.sleep(0.02)
        return JSONResponse({"idle": True, "stats": self.engine.stats()})


def create_app(
    *,
    tombstone_seconds: float = 3600.0,
    queues: list[str] | None = None,
    sender: Sender | None = None,
    clock: Callable[[], float] = time.time,
    state_file: Path | None = None,
) -> Starlette:
    """The stand-in as a Starlette app; the engine is ``app.state.engine``.

    ``queues``: full queue names created at startup (and again on reset) with default settings.
    ``state_file``: queues, tasks and tombstones are kept there and read back on start.
    ``sender``: replaces the HTTP dispatcher (``async (method, url, headers, body, timeout) ->
    DispatchResult``), for in-process tests.
    """
    engine = TasksEngine(
        tombstone_seconds=tombstone_seconds,
        startup_queues=queues,
        sender=sender,
        clock=clock,
        state_file=state_file,
    )
    api = TasksApi(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    routes = [
        Route("/healthz", api.healthz),
        Route("/v2/{path:path}", api.v2, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/_control/stats", api.c_stats),
        Route("/_control/tasks", api.c_tasks),
        Route("/_control/reset", api.c_reset, methods=["POST"]),
        Route("/_control/run_due_now", api.c_run_due_now, methods=["POST"]),
        Route("/_control/wait_idle", api.c_wait_idle, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.engine = engine
    return app
