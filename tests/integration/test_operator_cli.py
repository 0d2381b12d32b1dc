"""The operator CLI against the real services: `--endpoints` pointing it at the Firestore and
Pub/Sub emulators (channels, support access, users, dead letters) and at the Telegram stand-in
started in-process (webhook)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from local.background_server import BackgroundServer
from local.telegram_standin import create_app
from operator_cli.main import cli
from shared_schemas.names import DEAD_LETTER_SUBSCRIPTIONS, Topic
from shared_schemas.telegram import ALLOWED_UPDATES
from tests.integration.conftest import PROJECT, PUBSUB_PORT

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "7000000042:operator-cli-test-token-not-real"
SECRET = "operator-cli-webhook-secret-0123"
WEBHOOK_URL = "http://127.0.0.1:9/telegram_webhook"


def endpoints(tmp_path: Path, emulators: dict[str, str], **more: Any) -> Path:
    path = tmp_path / "endpoints.json"
    data = {
        "project": PROJECT,
        "firestore_emulator_host": emulators["FIRESTORE_EMULATOR_HOST"],
        "pubsub_emulator_host": emulators["PUBSUB_EMULATOR_HOST"],
        "clock_offset_file": str(tmp_path / "no-offset"),
    } | more
    path.write_text(json.dumps(data))
    return path


def telepay(stack: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--endpoints", str(stack), "--operator", "ops@test", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_channels_access_and_users_on_firestore(
    firestore_db: Any, emulators: dict[str, str], tmp_path: Path
) -> None:
    stack = endpoints(tmp_path, emulators)
    telepay(stack, "channels", "register", str(ROOT / "docs" / "channel.example.json"))
    [listed] = json.loads(telepay(stack, "--json", "channels", "list").output)
    assert listed["token"] == "NightOwls2026" and listed["tiers"][0]["price"] == "5.00"
    (tmp_path / "change.json").write_text(json.dumps({"description": "New notes"}))
    telepay(stack, "channels", "update", "NightOwls2026", str(tmp_path / "change.json"))
    assert (
        firestore_db.collection("channels").document("NightOwls2026").get().to_dict()["description"]
        == "New notes"
    )

    telepay(stack, "access", "grant", "NightOwls2026", "4242", "--days", "3", "--reason", "support case 7")
    shown = json.loads(telepay(stack, "--json", "users", "show", "4242").output)
    assert shown["subscriptions"][0]["status"] == "active"
    [action] = shown["support_actions"]
    assert (action["action"], action["operator"], action["reason"]) == ("grant", "ops@test", "support case 7")
    telepay(stack, "access", "revoke", "NightOwls2026", "4242", "--reason", "refund")
    doc = firestore_db.collection("subscriptions").document("NightOwls2026-4242").get().to_dict()
    assert doc["expires_at"] == doc["next_action_at"]


def _pull(http: httpx.Client, base: str, subscription: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = http.post(
                f"{base}/subscriptions/{subscription}:pull",
                json={"maxMessages": 10, "returnImmediately": True},
            ).json()
        except httpx.ReadTimeout:
            continue
        if answer.get("receivedMessages"):
            return list(answer["receivedMessages"])
        time.sleep(0.3)
    return []


def test_dead_letters_are_listed_in_place_and_replayed(emulators: dict[str, str], tmp_path: Path) -> None:
    stack = endpoints(tmp_path, emulators)
    base = f"http://127.0.0.1:{PUBSUB_PORT}/v1/projects/{PROJECT}"
    hold = DEAD_LETTER_SUBSCRIPTIONS[Topic.PAYMENT_EVENTS_DEAD_LETTER]
    with httpx.Client(timeout=10) as http:
        for topic in (Topic.PAYMENT_EVENTS, Topic.PAYMENT_EVENTS_DEAD_LETTER):
            http.put(f"{base}/topics/{topic.value}", json={})
        for name, topic in (
            (hold, Topic.PAYMENT_EVENTS_DEAD_LETTER),
            ("operator-observer", Topic.PAYMENT_EVENTS),
        ):
            http.delete(f"{base}/subscriptions/{name}")
            http.put(
                f"{base}/subscriptions/{name}", json={"topic": f"projects/{PROJECT}/topics/{topic.value}"}
            ).raise_for_status()
        event = {"event_id": "o1.payment.settled", "type": "payment.settled", "data": {"order_id": "o1"}}
        message = {
            "data": base64.b64encode(json.dumps(event).encode()).decode(),
            "attributes": {"event_type": "payment.settled", "CloudPubSubDeadLetterSourceSubscription": "x"},
        }
        published = http.post(
            f"{base}/topics/{Topic.PAYMENT_EVENTS_DEAD_LETTER.value}:publish", json={"messages": [message]}
        )
        [message_id] = published.json()["messageIds"]

        for _ in range(2):  # listing leaves them in place
            listed = json.loads(telepay(stack, "--json", "dead-letters", "list").output)
            assert [(e["message_id"], e["event_id"], e["order_id"]) for e in listed["events"]] == [
                (message_id, "o1.payment.settled", "o1")
            ]
        assert "o1.payment.settled" in telepay(stack, "dead-letters", "list").output

        replayed = json.loads(telepay(stack, "--json", "dead-letters", "replay", message_id).output)
        assert replayed["replayed"][0]["topic"] == "payment-events"
        [again] = _pull(http, base, "operator-observer")
        assert json.loads(base64.b64decode(again["message"]["data"])) == event
        assert again["message"]["attributes"] == {"event_type": "payment.settled"}
        assert json.loads(telepay(stack, "--json", "dead-letters", "list").output)["events"] == []
        http.delete(f"{base}/subscriptions/operator-observer")


def test_webhook_on_the_telegram_standin(emulators: dict[str, str], tmp_path: Path) -> None:
    with BackgroundServer(create_app(BOT_TOKEN, "OperatorTestBot", rate_limits=False)) as telegram:
        stack = endpoints(
            tmp_path,
            emulators,
            telegram_api=telegram.url,
            telegram_bot_token=BOT_TOKEN,
            telegram_webhook_secret=SECRET,
            functions={"telegram_webhook": WEBHOOK_URL},
        )
        for args in (("webhook", "set"), ("--json", "webhook", "info"), ("webhook", "info")):
            output = telepay(stack, *args).output
            assert BOT_TOKEN not in output and SECRET not in output
        info = json.loads(telepay(stack, "--json", "webhook", "info").output)
        assert info["url"] == WEBHOOK_URL and info["allowed_updates"] == list(ALLOWED_UPDATES)
        bot = httpx.get(f"{telegram.url}/_control/bots").json()["bots"][0]
        assert bot["webhook"]["secret_token"] == SECRET
