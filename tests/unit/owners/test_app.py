"""The owner app's API on the in-memory store: initData required, answers scoped to the verified
owner, settings checked and recorded with /edit's rules; the bot's buttons to the app."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.documents import ChannelChangeDoc, ChannelStatus, OrderDoc, OrderStatus
from shared_schemas.ids import OrderKind
from telepay.bot.webhook import handle_update
from telepay.owners.app import Reply, handle
from telepay.owners.init_data import for_user
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

OWNER, STRANGER = 5001, 5002
TOKEN = "1:test"  # the harness's bot token
APP_URL = "https://owner-app.example.test"


@pytest.fixture
def rt() -> Runtime[OwnerAppSettings]:
    store = MemoryStore()
    channel = demo_channel()
    store.channels.set(channel.token, channel)
    store.channels.set("OtherChannel01", demo_channel("OtherChannel01", owner=STRANGER, title="Not yours"))
    store.subscriptions.set(f"{channel.token}-9001", active_subscription(9001, 3))
    store.orders.set(
        "x",
        OrderDoc(
            order_id="x",
            kind=OrderKind.SUBSCRIPTION,
            user_id=9001,
            chat_id=9001,
            buyer_name="=Sam",
            channel_token=channel.token,
            tier_id="t1",
            days=30,
            price_amount=Decimal("5.00"),
            price_currency="USD",
            status=OrderStatus.SETTLED,
            settled_at=NOW - timedelta(days=1),
            subscription_expires_at=NOW - timedelta(days=1) + timedelta(days=30),
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
        ),
    )
    made = runtime(OwnerAppSettings, store)
    telegram = fakes(made)[0]
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        telegram.members[(chat, OWNER)] = ("creator", ())
    return made


def changes_of(rt: Runtime[Any]) -> list[ChannelChangeDoc]:
    store = rt.store
    assert isinstance(store, MemoryStore)
    rows = store._memory.rows  # the in-memory store's own rows: no query lists a whole collection
    return [
        ChannelChangeDoc.model_validate(row.data)
        for (name, _), row in rows.items()
        if name == "channel_changes"
    ]


def auth(user_id: int = OWNER, age: int = 60) -> str:
    return "tma " + for_user({"id": user_id, "first_name": "Olivia"}, TOKEN, int(NOW.timestamp()) - age)


def call(rt: Runtime[OwnerAppSettings], path: str, method: str = "GET", body: Any = None, **kw: Any) -> Reply:
    return handle(rt, method, path, kw.get("authorization", auth()), body)


@pytest.mark.parametrize("header", [None, "", "tma ", "Bearer x", "tma garbage"])
def test_without_valid_init_data_everything_is_401(rt: Runtime[OwnerAppSettings], header: str | None) -> None:
    for path in ("/api/me", "/api/payouts", "/api/channels/DemoChannel01/overview"):
        assert call(rt, path, authorization=header).status == 401


def test_stale_or_other_bot_init_data_is_401(rt: Runtime[OwnerAppSettings]) -> None:
    assert call(rt, "/api/me", authorization=auth(age=3601)).status == 401
    other = "tma " + for_user({"id": OWNER}, "2:another", int(NOW.timestamp()))
    assert call(rt, "/api/me", authorization=other).status == 401


def test_me_lists_only_the_callers_channels(rt: Runtime[OwnerAppSettings]) -> None:
    reply = call(rt, "/api/me")
    assert reply.status == 200
    assert reply.body["user"]["id"] == OWNER
    assert [c["token"] for c in reply.body["channels"]] == ["DemoChannel01"]
    assert call(rt, "/api/me", authorization=auth(STRANGER)).body["channels"][0]["title"] == "Not yours"


def test_another_owners_channel_is_404(rt: Runtime[OwnerAppSettings]) -> None:
    for what in ("overview", "subscribers", "subscribers.csv", "settings"):
        assert call(rt, f"/api/channels/OtherChannel01/{what}").status == 404
    assert call(rt, "/api/channels/OtherChannel01/settings", "POST", {"title": "Mine"}).status == 404
    assert call(rt, "/api/channels/Missing000001/overview").status == 404


def test_subscribers_and_their_csv(rt: Runtime[OwnerAppSettings]) -> None:
    [row] = call(rt, "/api/channels/DemoChannel01/subscribers").body["subscribers"]
    assert (row["name"], row["tier"], row["status"], row["in_channel"]) == ("=Sam", "Monthly", "active", True)
    reply = call(rt, "/api/channels/DemoChannel01/subscribers.csv")
    assert reply.content_type.startswith("text/csv")
    [exported] = list(csv.DictReader(io.StringIO(reply.body)))
    assert exported["name"] == "'=Sam"  # never a spreadsheet formula


def test_settings_saved_checked_and_recorded(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/settings"
    tiers = [
        {"price": "7", "days": 30, "label": "Monthly"},
        {"price": "12.50", "days": 90, "label": "Quarterly"},
    ]
    reply = call(rt, path, "POST", {"tiers": tiers, "grace_period_minutes": "60"})
    assert reply.status == 200, reply.body
    assert reply.body["changed"] == ["grace_period_minutes", "tiers"]
    channel = rt.store.channels.get("DemoChannel01")
    assert (
        channel is not None
        and channel.tiers[0].price == Decimal("7.00")
        and channel.grace_period_minutes == 60
    )
    [change] = changes_of(rt)
    assert change.source == "owner_app" and change.user_id == OWNER
    assert change.changes["tiers"]["before"][0]["price"] == "5.00"
    assert rt.store.orders.get("x").price_amount == Decimal("5.00")  # type: ignore[union-attr]


def test_invalid_settings_are_refused_with_each_reason(rt: Runtime[OwnerAppSettings]) -> None:
    reply = call(
        rt,
        "/api/channels/DemoChannel01/settings",
        "POST",
        {"tiers": [{"price": "4,99", "days": 0}], "donation_max": "1"},
    )
    assert reply.status == 422
    fields = {e["field"] for e in reply.body["errors"]}
    assert {"tiers[0].price", "tiers[0].days", "donation_max"} <= fields
    assert "Use a dot for cents" in json.dumps(reply.body)


def test_a_star_price_per_tier_set_refused_and_shown_back(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/settings"
    shown = call(rt, path).body
    assert shown["stars_enabled"] is True
    # $5.00 and $12.50 at $0.02 a Star: the converted prices the page shows as placeholders.
    assert [(t["stars"], t["stars_auto"]) for t in shown["tiers"]] == [(None, 250), (None, 625)]
    tiers = [
        {"price": "5.00", "days": 30, "label": "Monthly", "stars": "200"},
        {"price": "250", "days": 90, "label": "Quarterly", "stars": ""},
    ]
    reply = call(rt, path, "POST", {"tiers": tiers})
    assert reply.status == 200, reply.body
    assert [(t["stars"], t["stars_auto"]) for t in reply.body["tiers"]] == [(200, 250), (None, None)]
    [note] = [n for n in reply.body["notes"] if n["field"] == "tiers[1].stars"]
    assert note["note"].startswith("Heads-up: $250.00 is more than ⭐10,000 at $0.02 a Star")
    channel = rt.store.channels.get("DemoChannel01")
    assert channel is not None and [t.stars for t in channel.tiers] == [200, None]
    refused = call(rt, path, "POST", {"tiers": [{"price": "5", "days": 30, "stars": "0.5"}]})
    assert (refused.status, refused.body["errors"]) == (
        422,
        [
            {
                "field": "tiers[0].stars",
                "reason": "Send the price in Stars as a whole number, e.g. 250, or auto to convert the USD price.",
            }
        ],
    )
    assert [t.stars for t in rt.store.channels.get("DemoChannel01").tiers] == [200, None]  # type: ignore[union-attr]


def test_only_an_owner_still_admin_of_both_channels_may_change(rt: Runtime[OwnerAppSettings]) -> None:
    fakes(rt)[0].members[(-1001000000002, OWNER)] = ("left", ())
    assert call(rt, "/api/channels/DemoChannel01/settings", "POST", {"title": "New"}).status == 403
    assert call(rt, "/api/channels/DemoChannel01/status", "POST", {"status": "paused"}).status == 403
    assert rt.store.channels.get("DemoChannel01").title == "Night Owls Club"  # type: ignore[union-attr]


def test_pause_and_resume_are_recorded_and_resume_queues_the_post(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/status"
    assert call(rt, path, "POST", {"status": "paused"}).body == {"status": "paused"}
    assert rt.store.channels.get("DemoChannel01").status is ChannelStatus.PAUSED  # type: ignore[union-attr]
    assert call(rt, path, "POST", {"status": "active"}).status == 200
    assert len(changes_of(rt)) == 2
    assert fakes(rt)[2].created  # today's offer post queued
    assert call(rt, path, "POST", {"status": "gone"}).status == 422


def test_the_bot_offers_the_app_to_owners() -> None:
    store = MemoryStore()
    store.channels.set("DemoChannel01", demo_channel())
    rt = runtime(TelegramWebhookSettings, store, owner_app_url=APP_URL)
    telegram = fakes(rt)[0]
    for number, command in enumerate(("/channels", "/stats")):
        handle_update(updates.start(500 + number, command, OWNER), rt)
        assert [b.web_app for b in telegram.to(OWNER)[-1].buttons()] == [APP_URL]


def test_payouts_show_the_owners_balance_pending_and_history() -> None:
    from tests.unit.payouts.test_balance import OWNER as PAYEE
    from tests.unit.payouts.test_balance import _entry, _payout

    store = MemoryStore()
    rt = runtime(OwnerAppSettings, store)
    assert call(rt, "/api/payouts", authorization=auth(PAYEE)).body["history"] == []
    _entry(store, 1, "10")
    _payout(store, "po-a", [_entry(store, 2, "2")], minutes=1)
    body = call(rt, "/api/payouts", authorization=auth(PAYEE)).body
    assert body["available"] == {"usdttrc20": "9.70"}
    assert body["pending"] == {"usdttrc20": "1.94"}
    assert [p["payout_id"] for p in body["history"]] == ["po-a"]
    assert call(rt, "/api/payouts", authorization=auth(STRANGER)).body["history"] == []


def test_payouts_show_the_stars_telegram_still_holds_apart() -> None:
    from tests.unit.payouts.stars import stars_entry
    from tests.unit.payouts.test_balance import OWNER as PAYEE
    from tests.unit.payouts.test_balance import _entry

    store = MemoryStore()
    _entry(store, 1, "10")
    for number, days in ((2, 0), (3, 3)):
        entry = stars_entry("DemoChannel01", number, 500, owner=PAYEE, booked_at=NOW + timedelta(days=days))
        store.ledger.set(entry.entry_id, entry)
    body = call(runtime(OwnerAppSettings, store), "/api/payouts", authorization=auth(PAYEE)).body
    assert body["available"] == {"usdttrc20": "9.70"}  # held Stars are not in the balance
    assert body["stars"] == {
        "held": "970",
        "held_usd": "12.60",
        "held_first_until": "2026-12-17T12:00:00+00:00",
        "held_last_until": "2026-12-20T12:00:00+00:00",
        "released": "0",
        "released_usd": "0.00",
    }
    later = runtime(OwnerAppSettings, store, NOW + timedelta(days=22))
    signed = for_user({"id": PAYEE, "first_name": "Olivia"}, TOKEN, int(later.clock.now().timestamp()))
    body = call(later, "/api/payouts", authorization="tma " + signed).body
    assert body["available"] == {"usdttrc20": "9.70", "usd": "6.30"}
    assert (body["stars"]["held"], body["stars"]["released"]) == ("485", "485")
    # The page's texts for them are translated with the others.
    texts = call(later, "/api/texts", authorization="tma " + signed).body["texts"]
    assert "Stars earnings: {stars} (≈ {usd}), held until {day}" in texts


def test_the_bots_pause_is_recorded_as_the_apps_changes_are() -> None:
    store = MemoryStore()
    channel = demo_channel()
    store.channels.set(channel.token, channel)
    rt = runtime(TelegramWebhookSettings, store)
    telegram = fakes(rt)[0]
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        telegram.members[(chat, OWNER)] = ("creator", ())
    handle_update(updates.start(700, "/pause", OWNER), rt)
    [change] = changes_of(rt)
    assert (change.source, change.changes) == ("bot", {"status": {"before": "active", "after": "paused"}})


@pytest.mark.parametrize("name", ["\t=1+2", "\r=1+2", "@SUM(A1)", "+1", "-1", "=Sam"])
def test_no_csv_cell_can_become_a_formula(rt: Runtime[OwnerAppSettings], name: str) -> None:
    """OWASP's CSV-injection rule, on every cell: one starting with =, +, -, @, a tab or a carriage
    return is prefixed with a quote (the buyer's name and the owner's tier label alike)."""
    order = rt.store.orders.get("x")
    assert order is not None
    rt.store.orders.set("x", order.model_copy(update={"buyer_name": name}))
    reply = call(
        rt,
        "/api/channels/DemoChannel01/settings",
        "POST",
        {"tiers": [{"price": "5", "days": 30, "label": "=HYPERLINK(1)"}]},
    )
    assert reply.status == 200, reply.body
    [exported] = list(
        csv.DictReader(io.StringIO(call(rt, "/api/channels/DemoChannel01/subscribers.csv").body))
    )
    assert exported["name"] == "'" + name
    assert exported["tier"] == "'=HYPERLINK(1)"
    assert exported["user_id"] == "9001" and exported["status"] == "active"


# -- free trials --
def test_the_free_trial_is_set_in_settings_with_the_bots_rule(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/settings"
    assert call(rt, path).body["trial_days"] is None
    for bad in ("0", 31, "abc"):
        reply = call(rt, path, "POST", {"trial_days": bad})
        assert reply.status == 422
        [error] = reply.body["errors"]
        assert error["field"] == "trial_days" and "trial" in error["reason"]
    assert rt.store.channels.get("DemoChannel01").trial_days is None  # type: ignore[union-attr]
    assert changes_of(rt) == []  # nothing saved
    reply = call(rt, path, "POST", {"trial_days": "7"})
    assert reply.status == 200 and reply.body["changed"] == ["trial_days"] and reply.body["trial_days"] == 7
    [change] = changes_of(rt)
    assert change.changes == {"trial_days": {"before": None, "after": 7}}
    assert call(rt, path, "POST", {"trial_days": ""}).body["trial_days"] is None  # empty: no trial


def test_the_overview_shows_the_trials_as_stats_does(rt: Runtime[OwnerAppSettings]) -> None:
    assert call(rt, "/api/channels/DemoChannel01/settings", "POST", {"trial_days": "7"}).status == 200
    webhook = runtime(TelegramWebhookSettings, rt.store)
    for update_id, user in enumerate((8001, 8002), 7000):
        assert handle_update(updates.press(update_id, "try:DemoChannel01", user), webhook) == "trial started"
    trials = call(rt, "/api/channels/DemoChannel01/overview").body["trials"]
    assert trials == {"days": 7, "running": 2, "started_30d": 2, "converted_30d": 0}
