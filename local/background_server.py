"""Run an ASGI app with uvicorn in a background thread on a pre-bound loopback socket (for tests)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["KEEP_ALIVE_SECONDS", "BackgroundServer", "serve"]

# How long a stand-in keeps an idle connection open. uvicorn's default (5 s) is httpx's own idle
# expiry, so a client reusing a connection just as the server closed it met a reset socket; well
# past the clients' expiry, a connection a client reuses is still open.
KEEP_ALIVE_SECONDS = 75


def serve(app: Any, host: str, port: int, log_level: str) -> None:
    """Serve a stand-in in the foreground (its ``python -m`` entry)."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=KEEP_ALIVE_SECONDS)


class BackgroundServer:
    """``with BackgroundServer(app) as server: httpx.get(server.url + "/healthz")``.

    Binds ``host`` (default 127.0.0.1) on ``port`` (default 0: a free ephemeral port, bound before
    the server starts so there is no race), runs the app's lifespan, and stops it on exit.
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, graceful_seconds: float = 2.0
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._graceful = graceful_seconds
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=int(max(1, self._graceful)),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
