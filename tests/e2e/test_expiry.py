"""Expiry end to end: the stack's clock is moved forward; the sweep runs from the local scheduler
or by hand (with its own scheduled time, as Cloud Scheduler sends it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from shared_schemas.names import Queue
from tests.conftest import stored
from tests.e2e.conftest import StackClock
from tests.e2e.flows import join, new_channel, queue_path, subscribe, tasks_idle, texts_in

pytestmark = pytest.mark.e2e
DAY = 86400


def sweep(endpoints: dict[str, Any], scheduled: str) -> dict[str, Any]:
    response = httpx.post(
        endpoints["functions"]["expire_subscriptions"],
        headers={"X-CloudScheduler-ScheduleTime": scheduled},
        content=b"{}",
        timeout=120,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def queue(endpoints: dict[str, Any], name: Queue, verb: str) -> None:
    path = f"{queue_path(endpoints, name)}:{verb}"
    httpx.post(f"{endpoints['tasks_emulator']}/v2/{path}", json={}, timeout=10).raise_for_status()


def test_reminders_removal_and_coming_back(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token)
    ivy = tg.user("Ivy")
    join(tg, ivy, channel, subscribe(tg, np, ivy, channel))

    clock.set(27 * DAY + 60)
    sweep(endpoints, f"{token}-1")
    first = tg.wait_message(ivy, "⏰ Your access to Night Owls Club ends on")
    assert "in about 2 days" in first["text"] or "in about 3 days" in first["text"]
    assert buttons(first)[0]["callback_data"] == f"ren:{token}:t1"
    sweep(endpoints, f"{token}-1")  # the same scheduled run again
    sweep(endpoints, f"{token}-2")  # the next minute
    tasks_idle(endpoints, Queue.TELEGRAM_ACTIONS)
    assert len(texts_in(tg, ivy, "⏰")) == 1

    clock.set(29 * DAY + 60)
    sweep(endpoints, f"{token}-3")
    wait_for("the 1-day reminder", lambda: len(texts_in(tg, ivy, "⏰")) == 2)
    assert "in about 23 hours" in texts_in(tg, ivy, "⏰")[-1]

    # Past the end: the local scheduler's own every-minute run removes her within two minutes.
    clock.set(30 * DAY + 60)
    wait_for("the removal", lambda: tg.member_status(channel.closed, ivy) != "member", timeout=130, every=1)
    ended = tg.wait_message(ivy, "ended on")
    assert "you've been removed from the channel" in ended["text"]
    assert stored(db, "subscriptions", f"{token}-{ivy}")["status"] == "expired"

    # Renew: the button opens the offer with her tier first; paying lets her back in by approval.
    tg.press(ivy, ended["message_id"], buttons(ended)[0]["callback_data"])
    offer = tg.wait_message(ivy, "Choose how long", after=ended["message_id"])
    assert buttons(offer)[0]["callback_data"] == f"buy:{token}:t1"
    receipt = subscribe(tg, np, ivy, channel)
    assert buttons(receipt), "a removed member gets a new Join link"
    assert join(tg, ivy, channel, receipt) == "member"


def test_renewed_a_second_before_removal_stays(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token)
    ray = tg.user("Ray")
    join(tg, ray, channel, subscribe(tg, np, ray, channel))
    clock.set(30 * DAY + 5)
    queue(endpoints, Queue.TELEGRAM_ACTIONS, "pause")
    try:
        counts = sweep(endpoints, f"{token}-removal")["counts"]
        assert counts["queued"] >= 1
        second = subscribe(tg, np, ray, channel)  # pays while the removal waits in the queue
    finally:
        queue(endpoints, Queue.TELEGRAM_ACTIONS, "resume")
    assert "now runs until" in second["text"]
    tasks_idle(endpoints, Queue.TELEGRAM_ACTIONS)  # the queued removal runs now and finds the renewal
    assert tg.member_status(channel.closed, ray) == "member"
    assert texts_in(tg, ray, "ended on") == []
    assert stored(db, "subscriptions", f"{token}-{ray}")["status"] == "active"


def test_tasks_carry_a_token_for_the_function_not_the_path(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str, clock: StackClock
) -> None:
    import base64
    import json

    channel = new_channel(endpoints, tg, token)
    zed = tg.user("Zed")
    join(tg, zed, channel, subscribe(tg, np, zed, channel))
    clock.set(30 * DAY + 5)
    sweep(endpoints, f"{token}-oidc")
    wait_for("the removal", lambda: tg.member_status(channel.closed, zed) != "member")

    def finished_removals() -> list[dict[str, Any]]:
        # The removal, and its reschedules ("-r1", …) when Telegram answered 429.
        records = httpx.get(
            f"{endpoints['tasks_emulator']}/_control/tasks", params={"state": "finished"}, timeout=10
        ).json()["tasks"]
        # A task's id is its name behind a hash of it (`tasks_queue.task_id`: ids spread over the
        # key space).
        return [r for r in records if r["task_id"].partition("-")[2].startswith(f"remove-{token}-{zed}")]

    removals = wait_for("the removal task to finish", finished_removals)
    for record in removals:
        bearer = record["attempts"][0]["headers"]["Authorization"].removeprefix("Bearer ")
        claims = json.loads(base64.urlsafe_b64decode(bearer.split(".")[1] + "=="))
        assert claims["aud"] == endpoints["functions"]["expire_subscriptions"]  # not .../task
        assert claims["email"].startswith("tasks-telegram-actions@")  # the queue's own identity
        assert record["url"].endswith("/task")
