"""`telepay announcements list TOKEN` and `telepay announcements stop ID`: an owner's announcement
made in the bot is listed with its status and counts; stopped, its recipients' tasks send nothing."""

from __future__ import annotations

import json

from shared_schemas.documents import AnnouncementStatus
from tests.harness import present
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.owners import test_announcements as bot


def test_list_then_stop_a_running_announcement() -> None:
    rt = bot.bot_runtime()
    assert isinstance(rt.store, MemoryStore)
    bot.members(rt)
    bot.said(rt, "/announce")
    bot.said(rt, "Hello")
    bot.pressed(rt, "All active subscribers")
    bot.pressed(rt, "No button")
    bot.pressed(rt, "📣 Send")
    listed = ok(run(rt.store, "--json", "announcements", "list", "DemoChannel01"))
    [shown] = json.loads(listed.output)
    assert (shown["status"], shown["audience"], shown["via"]) == ("sending", "active", "bot")
    table = ok(run(rt.store, "announcements", "list", "DemoChannel01")).output
    assert shown["announcement_id"] in table and "sending" in table

    stopped = ok(run(rt.store, "announcements", "stop", shown["announcement_id"])).output
    assert stopped.startswith(f"{shown['announcement_id']}: stopped")
    after = present(rt.store.announcements.get(shown["announcement_id"]))
    assert after.status is AnnouncementStatus.STOPPED
    outcomes = bot.run_queued(rt, set())
    assert outcomes[0] == "announcement stopped"  # the fan-out queues nobody
    assert not [m for m in bot.tg(rt).sent if m.text == "Hello" and m.chat_id != bot.OWNER]
    assert run(rt.store, "announcements", "stop", "DemoChannel01-20261126-9").exit_code == 1
    assert run(rt.store, "announcements", "list", "NoSuchChannel").exit_code == 1
