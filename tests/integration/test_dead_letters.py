"""A payment event notify keeps refusing ends in the dead-letter topic (Pub/Sub emulator), with the
subscription built exactly as the stack builds it from `shared_schemas` (only the attempt count and
backoff shortened for the test)."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.background_server import BackgroundServer
from local.stack import push_subscription_body
from shared_schemas.names import DEAD_LETTER_SUBSCRIPTIONS, SUBSCRIPTIONS
from tests.integration.conftest import PROJECT, PubSub

pytestmark = pytest.mark.integration


def test_refused_events_are_dead_lettered(pubsub: PubSub) -> None:
    attempts: list[int] = []

    async def refuse(request: Request) -> Response:
        attempts.append(1)
        return Response(status_code=500)

    spec = dataclasses.replace(
        SUBSCRIPTIONS[0], max_delivery_attempts=5, min_backoff_seconds=0, max_backoff_seconds=1
    )
    with BackgroundServer(Starlette(routes=[Route("/", refuse, methods=["POST"])])) as notify:
        hold = pubsub.subscribe(spec.dead_letter_topic, DEAD_LETTER_SUBSCRIPTIONS[spec.dead_letter_topic])
        pubsub.subscribe(spec.topic, spec.name, push_subscription_body(spec, PROJECT, notify.url))
        pubsub.publish(spec.topic, {"event_id": "poison"})

        dead = pubsub.pull(hold, expect=1, timeout=60)
        pubsub.delete_all_subscriptions()  # before the refusing endpoint goes away

    assert dead == [{"event_id": "poison"}], f"dead-lettered after {len(attempts)} attempts: {dead}"
    assert len(attempts) >= spec.max_delivery_attempts
