"""A payment event notify keeps refusing ends in the dead-letter topic (Pub/Sub emulator), with the
subscription built exactly as the stack builds it from `shared_schemas` (only the attempt count and
backoff shortened for the test)."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.background_server import BackgroundServer
from local.stack import push_subscription_body
from shared_schemas.names import DEAD_LETTER_SUBSCRIPTIONS, SUBSCRIPTIONS
from tests.integration.conftest import PROJECT, PUBSUB_PORT

pytestmark = pytest.mark.integration


def test_refused_events_are_dead_lettered(emulators: Any) -> None:
    attempts: list[int] = []

    async def refuse(request: Request) -> Response:
        attempts.append(1)
        return Response(status_code=500)

    spec = dataclasses.replace(
        SUBSCRIPTIONS[0], max_delivery_attempts=5, min_backoff_seconds=0, max_backoff_seconds=1
    )
    base = f"http://127.0.0.1:{PUBSUB_PORT}/v1/projects/{PROJECT}"
    hold = DEAD_LETTER_SUBSCRIPTIONS[spec.dead_letter_topic]
    with (
        BackgroundServer(Starlette(routes=[Route("/", refuse, methods=["POST"])])) as notify,
        httpx.Client(timeout=10) as http,
    ):
        for topic in (spec.topic, spec.dead_letter_topic):
            http.put(f"{base}/topics/{topic.value}", json={})
        for name in (spec.name, hold):
            http.delete(f"{base}/subscriptions/{name}")
        http.put(
            f"{base}/subscriptions/{hold}",
            json={"topic": f"projects/{PROJECT}/topics/{spec.dead_letter_topic.value}"},
        ).raise_for_status()
        http.put(
            f"{base}/subscriptions/{spec.name}", json=push_subscription_body(spec, PROJECT, notify.url)
        ).raise_for_status()
        payload = base64.b64encode(json.dumps({"event_id": "poison"}).encode()).decode()
        http.post(
            f"{base}/topics/{spec.topic.value}:publish", json={"messages": [{"data": payload}]}
        ).raise_for_status()

        dead: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not dead and time.monotonic() < deadline:
            try:  # a pull waits for messages for a while before answering empty
                answer = http.post(
                    f"{base}/subscriptions/{hold}:pull", json={"maxMessages": 10, "returnImmediately": True}
                ).json()
            except httpx.ReadTimeout:
                continue
            dead = answer.get("receivedMessages", [])
            time.sleep(0.5)
        http.delete(f"{base}/subscriptions/{spec.name}")

    assert len(dead) == 1, f"not dead-lettered after {len(attempts)} attempts"
    assert json.loads(base64.b64decode(dead[0]["message"]["data"])) == {"event_id": "poison"}
    assert len(attempts) >= spec.max_delivery_attempts
