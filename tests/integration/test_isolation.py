"""What every integration test may count on, whichever tests ran before it (or none did)."""

from __future__ import annotations

import httpx
import pytest
from google.cloud import firestore

from shared_schemas.names import TOPICS, Topic
from tests.integration.conftest import EMULATOR_ENV, PUBSUB_API, PubSub

pytestmark = pytest.mark.integration


def test_the_session_creates_every_declared_topic(emulators: dict[str, str]) -> None:
    for topic in TOPICS:
        assert httpx.get(f"{PUBSUB_API}/topics/{topic.name.value}", timeout=10).status_code == 200, topic


@pytest.fixture
def leaked_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an end-to-end test leaves behind: the environment pointing at the stack's emulators."""
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")


def test_leaked_emulator_hosts_do_not_redirect_the_clients(
    leaked_hosts: None, firestore_db: firestore.Client, pubsub: PubSub
) -> None:
    firestore_db.collection("isolation").document("d").set({"ok": True}, timeout=10)
    assert firestore_db.collection("isolation").document("d").get(timeout=10).to_dict() == {"ok": True}
    from telepay.adapters.pubsub_publisher import Publisher

    pulled_from = pubsub.subscribe(Topic.PAYMENT_EVENTS, "isolation")
    Publisher(EMULATOR_ENV["GOOGLE_CLOUD_PROJECT"]).publish(Topic.PAYMENT_EVENTS, b'{"n": 1}')
    assert pubsub.pull(pulled_from) == [{"n": 1}]


def test_a_test_starts_with_no_subscriptions_and_no_documents(
    firestore_db: firestore.Client, pubsub: PubSub
) -> None:
    listed = httpx.get(f"{PUBSUB_API}/subscriptions", timeout=10).json()
    assert listed.get("subscriptions", []) == []
    assert [c.id for c in firestore_db.collections()] == []
    # What this test leaves behind is gone before the next test starts.
    pubsub.subscribe(Topic.PAYMENT_EVENTS, "left-behind")
    firestore_db.collection("left").document("behind").set({"x": 1})
