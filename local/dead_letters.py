"""What the dead-letter places of a running local stack hold, read from the outside.

The places: the Pub/Sub hold subscriptions of the dead-letter topics (peeked: pulled, then handed
back at once with an ack deadline of 0, so nothing is consumed), and the Firestore collections
`failed_tasks`, `failed_updates` and `unknown_ipns`. The operator's `telepay dead-letters list` reads
the same places; the drills use this module until that command is on main.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from local.clients import firestore
from shared_schemas.names import DEAD_LETTER_SUBSCRIPTIONS

COLLECTIONS = ("failed_tasks", "failed_updates", "unknown_ipns")


def dead_letters(endpoints: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Place → what it holds (message attributes and data, or the documents)."""
    places: dict[str, list[dict[str, Any]]] = {}
    base = f"http://{endpoints['pubsub_emulator_host']}/v1/projects/{endpoints['project']}/subscriptions"
    with httpx.Client(timeout=10) as http:
        for hold in DEAD_LETTER_SUBSCRIPTIONS.values():
            places[hold] = _peek(http, f"{base}/{hold}")
    db = firestore(endpoints)
    for collection in COLLECTIONS:
        places[collection] = [{"id": d.id, **(d.to_dict() or {})} for d in db.collection(collection).stream()]
    return places


def _peek(http: httpx.Client, subscription: str) -> list[dict[str, Any]]:
    response = http.post(f"{subscription}:pull", json={"maxMessages": 1000, "returnImmediately": True})
    if response.status_code == 404:
        return []
    response.raise_for_status()
    received = response.json().get("receivedMessages", [])
    if received:
        http.post(
            f"{subscription}:modifyAckDeadline",
            json={"ackIds": [m["ackId"] for m in received], "ackDeadlineSeconds": 0},
        ).raise_for_status()
    return [_message(m["message"]) for m in received]


def _message(message: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64decode(message.get("data", "")).decode(errors="replace")
    try:
        body: Any = json.loads(data)
    except ValueError:
        body = data
    return {"id": message.get("messageId"), "attributes": message.get("attributes", {}), "data": body}


def summary(places: dict[str, list[dict[str, Any]]]) -> str:
    """One line: each place with what it holds ("empty" when all are)."""
    held = [f"{place} {len(items)}" for place, items in places.items() if items]
    return ", ".join(held) or "empty"
