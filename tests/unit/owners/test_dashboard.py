"""The owners' read model (`telepay.owners.dashboard`) on sales made as buyers make them: `/stats`
and the owner app's overview say the same figures for the same period; periods against the
previous one; renewals, expiries, renewal rate and churn; the total of an owner's channels."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.owners.app import handle
from telepay.owners.init_data import for_user
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, fakes, runtime
from tests.memory_store import MemoryStore
from tests.sales import sell, sweep_at

OWNER = 5001
DAY = timedelta(days=1)


@pytest.fixture
def store() -> MemoryStore:
    """Night Owls Club: a buyer who lapsed 10 days ago, a quarterly sale 20 days ago, two new monthly
    members 3 days ago, one of whom renewed yesterday."""
    store = MemoryStore()
    save_channel(store, demo_channel())
    save_channel(
        store,
        demo_channel(
            "QuietChannel1",
            title="Quiet Corner",
            closed_channel_id=-1001000000012,
            open_channel_id=-1001000000011,
        ),
    )
    sell(store, 9001, NOW - 40 * DAY)
    sweep_at(store, NOW - 10 * DAY + timedelta(minutes=1))  # 9001's month ended: removed
    sell(store, 9002, NOW - 20 * DAY, tier="t2")
    sell(store, 9003, NOW - 3 * DAY)
    sell(store, 9004, NOW - 3 * DAY)
    sell(store, 9004, NOW - 1 * DAY)  # renewed before the end
    return store


def overview(store: MemoryStore, path: str) -> dict[str, Any]:
    rt = runtime(OwnerAppSettings, store)
    auth = "tma " + for_user({"id": OWNER, "first_name": "Olivia"}, "1:test", int(NOW.timestamp()) - 60)
    reply = handle(rt, "GET", path, auth, None)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


def stats_text(store: MemoryStore) -> str:
    rt = runtime(TelegramWebhookSettings, store)
    assert handle_update(updates.start(1, "/stats", OWNER), rt) == "stats shown"
    return str(fakes(rt)[0].to(OWNER)[-1].text)


def test_stats_and_the_overview_agree_figure_by_figure(store: MemoryStore) -> None:
    text = stats_text(store)
    block = text.split("📊 Quiet Corner")[0]
    for days in (7, 30):
        body = overview(store, f"/api/channels/DemoChannel01/overview/{days}")
        now = body["current"]
        assert f"Active subscribers: {body['active']}" in block
        assert f"Ending in the next 7 days: {body['expiring_7d']}" in block
        line = (
            f"Last {days} days: {now['new']} new, {now['renewed']} renewed, ${now['crypto']} in sales, "
            f"${now['donations']} in donations"
        )
        assert line in block
        rates = re.search(rf"Last {days} days: renewal rate (\S+), churn (\S+)", block)
        assert rates is not None
        shown = [None if v == "—" else v.rstrip("%") for v in rates.groups()]
        assert shown == [_short(body["renewal_rate"]), _short(body["churn"])]


def _short(value: str | None) -> str | None:
    return None if value is None else value.removesuffix(".0")


def test_the_figures_of_a_period_and_the_one_before(store: MemoryStore) -> None:
    body = overview(store, "/api/channels/DemoChannel01/overview/30")
    assert (body["active"], body["expiring_7d"]) == (3, 0)
    now = body["current"]
    assert (now["new"], now["renewed"], now["expired"], now["sales"]) == (3, 1, 1, 4)
    assert (now["crypto"], now["revenue"]) == ("27.50", "27.50")  # 12.50 + 3 times 5.00
    assert body["previous"]["new"] == 1 and body["previous"]["crypto"] == "5.00"  # 40 days ago
    assert body["change"]["new"] == "200" and body["change"]["revenue"] == "450"
    # Of the two members whose paid days came to an end (or were extended), one renewed.
    assert body["renewal_rate"] == "50.0"
    assert body["active_at_start"] == 1 and body["churn"] == "100.0"
    assert len(body["series"]) == 30 and body["series"][-1]["day"] == "2026-11-26"
    by_day = {d["day"]: d for d in body["series"]}
    assert by_day["2026-11-23"]["new"] == 2 and by_day["2026-11-23"]["crypto"] == "10.00"
    assert by_day["2026-11-16"]["expired"] == 1
    assert [d["active"] for d in body["series"][-4:]] == [3, 3, 3, 3]
    assert by_day["2026-11-22"]["active"] == 1 and by_day["2026-11-15"]["active"] == 2
    tiers = {t["label"]: (t["sales"], t["revenue"]) for t in body["tiers"]}
    assert tiers == {"Monthly": (3, "15.00"), "Quarterly": (1, "12.50")}


def test_a_week_and_all_channels_together(store: MemoryStore) -> None:
    week = overview(store, "/api/channels/DemoChannel01/overview/7")
    assert (week["current"]["new"], week["current"]["renewed"], week["current"]["expired"]) == (2, 1, 0)
    assert len(week["series"]) == 7
    total = overview(store, "/api/overview/30")
    assert total["channels"] == 2 and total["token"] is None
    assert total["current"]["crypto"] == "27.50"
    assert {t["channel"] for t in total["tiers"]} == {"Night Owls Club", "Quiet Corner"}


def test_a_channel_with_no_sales_is_empty() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    body = overview(store, "/api/channels/DemoChannel01/overview/90")
    assert body["empty"] is True and body["current"]["sales"] == 0
    assert body["renewal_rate"] is None and body["change"]["revenue"] is None
    assert len(body["series"]) == 90
