"""A real bot from a laptop: the forwarder long-polls getUpdates and hands each update to the local
webhook with the secret header, retrying a failed one before the next (tried against the
Telegram stand-in with no webhook set, as the real Bot API would be)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from local.background_server import BackgroundServer
from local.forwarder import forward_forever
from local.telegram_standin import create_app

TOKEN = "4242:forwarder-test-token"


def test_updates_reach_the_webhook_with_the_secret_in_order() -> None:
    received: list[dict[str, Any]] = []
    answers = iter([500])  # the first delivery fails once

    async def webhook(request: Request) -> JSONResponse:
        received.append(
            {"secret": request.headers.get("x-telegram-bot-api-secret-token"), **(await request.json())}
        )
        return JSONResponse({}, status_code=next(answers, 200))

    receiver = BackgroundServer(Starlette(routes=[Route("/", webhook, methods=["POST"])])).start()
    telegram = BackgroundServer(create_app(TOKEN, "ForwardBot", rate_limits=False)).start()
    stop = threading.Event()
    worker = threading.Thread(
        target=forward_forever,
        args=(stop, telegram.url, TOKEN, receiver.url, "s3cret"),
        kwargs={"poll_seconds": 1},
    )
    worker.start()
    try:
        control = httpx.Client(base_url=f"{telegram.url}/_control")
        user = control.post("/users", json={"first_name": "Pat"}).json()["user"]["id"]
        control.post(f"/users/{user}/messages", json={"text": "/start one"})
        control.post(f"/users/{user}/messages", json={"text": "/start two"})
        deadline = time.monotonic() + 15
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
        telegram.stop()
        receiver.stop()
    texts = [r["message"]["text"] for r in received]
    assert texts == ["/start one", "/start one", "/start two"]  # retried before the next one
    assert {r["secret"] for r in received} == {"s3cret"}
