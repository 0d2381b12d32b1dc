"""The daily offer broadcast end to end."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local.clients import TelegramControl, buttons, wait_for
from shared_schemas.names import Queue
from tests.e2e.flows import new_channel, tasks_idle, texts_in

pytestmark = pytest.mark.e2e


def run(endpoints: dict[str, Any], day: str, only: str | None = None) -> dict[str, Any]:
    response = httpx.post(
        endpoints["functions"]["daily_broadcast"],
        headers={"X-CloudScheduler-ScheduleTime": f"{day}T09:00:00Z"},
        json={"channel_token": only} if only else {},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def offers(tg: Any, chat: int) -> list[dict[str, Any]]:
    return [m for m in tg.transcript(chat) if "Choose how long" in (m.get("text") or "")]


def test_offers_are_posted_replaced_and_paused(
    endpoints: dict[str, Any], tg: TelegramControl, token: str
) -> None:
    a = new_channel(endpoints, tg, token + "a")
    b = new_channel(endpoints, tg, token + "b")
    bot = endpoints["telegram_bot_username"]

    for channel in (a, b):
        run(endpoints, "2030-01-01", only=channel.token)
        run(endpoints, "2030-01-01", only=channel.token)  # a repeated run
    first = wait_for("A's offer", lambda: offers(tg, a.open))
    wait_for("B's offer", lambda: offers(tg, b.open))
    tasks_idle(endpoints, Queue.TELEGRAM_ACTIONS)
    assert len(offers(tg, a.open)) == 1 and len(offers(tg, b.open)) == 1
    assert [x["url"] for x in buttons(first[0])] == [
        f"https://t.me/{bot}?start={a.token}-t1",
        f"https://t.me/{bot}?start={a.token}-t2",
        f"https://t.me/{bot}?start={a.token}_DONATE",
    ]

    run(endpoints, "2030-01-02", only=a.token)
    wait_for(
        "the next day's post",
        lambda: offers(tg, a.open) and offers(tg, a.open)[0]["message_id"] != first[0]["message_id"],
    )
    assert len(offers(tg, a.open)) == 1

    # The bot loses its admin rights in B's open channel: paused after three failures, owner told once.
    bot_id = int(endpoints["telegram_bot_token"].split(":")[0])
    tg.http.request("DELETE", f"/chats/{b.open}/admins/{bot_id}", json={"status": "left"}).raise_for_status()
    for day in ("2030-01-02", "2030-01-03", "2030-01-04", "2030-01-05"):
        run(endpoints, day, only=b.token)
        tasks_idle(endpoints, Queue.TELEGRAM_ACTIONS)  # each day's attempt counts before the next
    notice = tg.wait_message(b.owner, "paused the daily offer post")
    assert len(texts_in(tg, b.owner, "paused the daily offer post")) == 1
    assert "/broadcast" in notice["text"]
    state = wait_for("the pause", lambda: _broadcast_state(endpoints, b.token).get("paused_reason"))
    assert "member" in state or "rights" in state or "not" in state


def _broadcast_state(endpoints: dict[str, Any], token: str) -> dict[str, Any]:
    from local.clients import firestore

    data = firestore(endpoints).collection("channels").document(token).get().to_dict() or {}
    return data.get("broadcast") or {}


def test_owner_repost_has_a_cooldown(endpoints: dict[str, Any], tg: TelegramControl, token: str) -> None:
    channel = new_channel(endpoints, tg, token)
    tg.say(channel.owner, "/broadcast")
    tg.wait_message(channel.owner, "Re-posting the offer of Night Owls Club now")
    wait_for("the re-posted offer", lambda: offers(tg, channel.open))
    tg.say(channel.owner, "/broadcast")
    reply = tg.wait_message(channel.owner, "re-posted recently")
    assert "again in 60 minutes" in reply["text"]
    assert len(offers(tg, channel.open)) == 1

    stranger = tg.user("Nope")
    tg.say(stranger, "/broadcast")
    tg.wait_message(stranger, "Only a channel's owner can re-post its offer.")
