"""The real Firestore and Pub/Sub emulators, started once per test session with every topic of
`shared_schemas.names` created. Each test gets them clean: `firestore_db` empties Firestore before
the test, `pubsub` deletes every subscription after it, and both point the environment at these
emulators for the test (an end-to-end test may have pointed it at the stack's)."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from local.clients import wait_for
from local.processes import Running, Service, firestore_argv, pubsub_argv, spawn, stop_group, wait_healthy
from shared_schemas.names import TOPICS, Topic
from tests.conftest import INTEGRATION_PORT_BASE

PROJECT = "telepay-test"
FIRESTORE_PORT = INTEGRATION_PORT_BASE + 10
PUBSUB_PORT = INTEGRATION_PORT_BASE + 11
EMULATOR_ENV = {
    "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{FIRESTORE_PORT}",
    "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{PUBSUB_PORT}",
    "GOOGLE_CLOUD_PROJECT": PROJECT,
}
PUBSUB_API = f"http://127.0.0.1:{PUBSUB_PORT}/v1/projects/{PROJECT}"


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, str]]:
    """Both emulators, and the session's resources: every topic the system declares."""
    log_dir = Path(tempfile.mkdtemp(prefix="telepay-emulators-"))
    services = [
        Service("firestore-emulator", firestore_argv(FIRESTORE_PORT), FIRESTORE_PORT),
        Service("pubsub-emulator", pubsub_argv(PUBSUB_PORT), PUBSUB_PORT),
    ]
    running: list[Running] = [spawn(s, log_dir) for s in services]
    try:
        wait_healthy(running, timeout=90, log_dir=log_dir)
        with httpx.Client(timeout=10) as http:
            for topic in TOPICS:
                http.put(f"{PUBSUB_API}/topics/{topic.name.value}", json={}).raise_for_status()
        yield EMULATOR_ENV
    finally:
        for item in running:
            stop_group(item.pid)
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture
def emulator_env(emulators: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment points at the session's emulators for this test, and is restored after it."""
    for key, value in emulators.items():
        monkeypatch.setenv(key, value)
    return emulators


@pytest.fixture
def firestore_db(emulator_env: dict[str, str]) -> firestore.Client:
    """A Firestore client on an emptied emulator database."""
    reset = f"http://127.0.0.1:{FIRESTORE_PORT}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    httpx.delete(reset, timeout=10).raise_for_status()
    return firestore.Client(project=PROJECT)


class PubSub:
    """The Pub/Sub emulator over REST. Topics belong to the session; subscriptions to one test."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def subscribe(self, topic: Topic, name: str, body: dict[str, Any] | None = None) -> str:
        """Creates subscription `name` on `topic` (pull unless `body` says push); returns its URL."""
        url = f"{PUBSUB_API}/subscriptions/{name}"
        body = {"topic": f"projects/{PROJECT}/topics/{topic.value}"} | (body or {})
        self.http.put(url, json=body).raise_for_status()
        return url

    def publish(self, topic: Topic, payload: dict[str, Any]) -> None:
        data = base64.b64encode(json.dumps(payload).encode()).decode()
        self.http.post(
            f"{PUBSUB_API}/topics/{topic.value}:publish", json={"messages": [{"data": data}]}
        ).raise_for_status()

    def pull(self, subscription_url: str, expect: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        """The payloads of `expect` messages (waited for), and of any more already there."""
        payloads: list[dict[str, Any]] = []

        def pulled_enough() -> bool:
            payloads.extend(self._pull_now(subscription_url))
            return len(payloads) >= expect

        if expect:
            wait_for(f"{expect} message(s) on {subscription_url}", pulled_enough, timeout=timeout, every=0.2)
        payloads.extend(self._pull_now(subscription_url))
        return payloads

    def _pull_now(self, subscription_url: str) -> list[dict[str, Any]]:
        answer = self.http.post(
            f"{subscription_url}:pull", json={"maxMessages": 50, "returnImmediately": True}
        ).json()
        received = answer.get("receivedMessages", [])
        if received:
            self.http.post(
                f"{subscription_url}:acknowledge", json={"ackIds": [m["ackId"] for m in received]}
            ).raise_for_status()
        return [json.loads(base64.b64decode(m["message"]["data"])) for m in received]

    def delete_all_subscriptions(self) -> None:
        listed = self.http.get(f"{PUBSUB_API}/subscriptions").raise_for_status().json()
        for subscription in listed.get("subscriptions", []):
            self.http.delete(f"http://127.0.0.1:{PUBSUB_PORT}/v1/{subscription['name']}").raise_for_status()


@pytest.fixture
def pubsub(emulator_env: dict[str, str]) -> Iterator[PubSub]:
    """The Pub/Sub emulator with no subscriptions when the test starts (whatever a test that did not
    use this fixture left), and none left after it."""
    with httpx.Client(timeout=10) as http:
        client = PubSub(http)
        client.delete_all_subscriptions()
        try:
            yield client
        finally:
            client.delete_all_subscriptions()
