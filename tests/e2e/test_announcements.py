"""An owner's announcement end to end: five subscribers buy through the bot and NowPayments (three
the 30-day tier, two the 90-day one), one of the three then blocks the bot; the owner sends
`/announce` with a bold word (the entities as her Telegram app made them), picks those ending
within 40 days, the Renew button, sees the preview and the count (3), and sends. The queue sends
one message per recipient: the two get the text with its bold entity intact and the Renew button,
the owner is told "2 sent, 1 blocked"; a recipient's task delivered again sends nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from shared_schemas.config import TasksSettings
from shared_schemas.names import Queue
from shared_schemas.tasks import AnnouncementStep, AnnouncementTask
from telepay.adapters.tasks_queue import TaskQueue, task_id
from telepay.owners.announcements import TASK_PATH
from tests.e2e.flows import docs_where, new_channel, subscribe, tasks_idle

pytestmark = pytest.mark.e2e
TEXT = "Big news: a live session on Friday!"
BOLD = {"type": "bold", "offset": 0, "length": 8}


def _announcement_texts(tg: TelegramControl, user: int) -> list[dict[str, Any]]:
    return [m for m in tg.transcript(user) if m.get("text") == TEXT]


def test_an_announcement_to_three_of_five_one_blocked(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: Any, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    monthly = [tg.user(name) for name in ("Ann", "Ben", "Cid")]
    quarterly = [tg.user(name) for name in ("Dee", "Eve")]
    for user in monthly:
        subscribe(tg, np, user, channel, tier_index=0)  # 30 days
    for user in quarterly:
        subscribe(tg, np, user, channel, tier_index=1)  # 90 days
    tg.block(monthly[1])  # Ben blocks the bot after buying

    owner = BotChat(tg, channel.owner)
    owner.send("/announce", expect="Send me the announcement")
    tg.say(channel.owner, TEXT, entities=[BOLD])  # bold, as the owner's Telegram app formats it
    owner.next("Who gets it?")
    owner.send("ending 40", expect="Add a button under it?")
    owner.tap("Renew", expect="This is how your subscribers will see it")
    preview = owner.next(TEXT)
    assert BOLD in preview["entities"]
    assert [b["text"] for b in buttons(preview)] == ["Renew"]
    owner.next("Send it to 3 people in Night Owls Club (subscribers ending within 40 days)?")
    owner.tap("📣 Send", expect="📣 Sending to 3 subscribers…")
    owner.next("📣 Announcement sent: 2 sent, 1 blocked, 0 failed")

    for user in (monthly[0], monthly[2]):
        [got] = _announcement_texts(tg, user)
        assert got["entities"] == [BOLD]  # intact: the same offset and length in UTF-16 units
        [renew] = buttons(got)
        assert renew["text"] == "Renew" and renew["url"].endswith(f"?start={channel.token}")
    for user in (monthly[1], *quarterly):
        assert _announcement_texts(tg, user) == []
    [made] = docs_where(db, "announcements", "channel_token", channel.token)
    assert (made["status"], made["total"], made["sent"], made["blocked"], made["failed"]) == (
        "done",
        3,
        2,
        1,
        0,
    )
    blocked = db.collection("users").document(str(monthly[1])).get().to_dict()
    assert blocked["blocked_bot"] is True

    # Cloud Tasks delivers a recipient's task once more (at least once): nothing is sent twice.
    settings = TasksSettings(
        google_cloud_project=endpoints["project"],
        tasks_location=endpoints["tasks_location"],
        cloud_tasks_emulator_host=endpoints["tasks_emulator"].removeprefix("http://"),
        tasks_token_from_queue=True,
    )
    url = endpoints["functions"]["expire_subscriptions"]
    again = AnnouncementTask(
        step=AnnouncementStep.SEND, announcement_id=made["announcement_id"], user_id=monthly[0]
    )
    TaskQueue(settings).enqueue(
        Queue.TELEGRAM_ACTIONS, f"{url}{TASK_PATH}", again, name=f"again-{made['announcement_id']}"
    )
    tasks_idle(endpoints, Queue.TELEGRAM_ACTIONS)
    wait_for(
        "the re-delivered task's answer",
        lambda: (
            any(
                "already counted" in (a.get("response_body") or "")
                for t in _finished(endpoints, f"again-{made['announcement_id']}")
                for a in t["attempts"]
            )
            or None
        ),
    )
    assert len(_announcement_texts(tg, monthly[0])) == 1
    assert tg.transcript(channel.owner)[-1]["text"] == "📣 Announcement sent: 2 sent, 1 blocked, 0 failed"


def _finished(endpoints: dict[str, Any], name: str) -> list[dict[str, Any]]:
    import httpx

    answer = httpx.get(
        f"{endpoints['tasks_emulator']}/_control/tasks",
        params={"state": "all", "name": task_id(name)},
        timeout=10,
    )
    tasks: list[dict[str, Any]] = answer.json()["tasks"]
    return tasks
