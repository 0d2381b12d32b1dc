"""Free trials end to end: an operator registers a channel with a 7-day trial (`telepay channels
register`); a newcomer taps "🎁 Try 7 days free", joins (the join request is approved), is reminded
that the trial ends, buys during it (the new expiry is the trial's end + the tier's days) and the
owner's /stats counts one conversion; another newcomer's trial ends unconverted and they are
removed, and their second trial is refused. The stack's clock is moved forward and the sweep run
as in test_expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from tests.conftest import stored
from tests.e2e.conftest import StackClock
from tests.e2e.flows import Channel, new_channel, subscribe, texts_in

pytestmark = pytest.mark.e2e
DAY = 86400
STARTED = "7-day free trial of Night Owls Club runs until"


def sweep(endpoints: dict[str, Any], scheduled: str) -> None:
    response = httpx.post(
        endpoints["functions"]["expire_subscriptions"],
        headers={"X-CloudScheduler-ScheduleTime": scheduled},
        content=b"{}",
        timeout=120,
    )
    assert response.status_code == 200, response.text


def start_trial(tg: TelegramControl, user: int, channel: Channel) -> dict[str, Any]:
    """/start <token>, tap the trial's button, then Join and the join link; the trial's message."""
    tg.say(user, f"/start {channel.token}")
    offer = tg.wait_message(user, "Try it free for 7 days")
    [trial_button] = [b for b in buttons(offer) if b.get("callback_data") == f"try:{channel.token}"]
    assert trial_button["text"] == "🎁 Try 7 days free"
    tg.press(user, offer["message_id"], trial_button["callback_data"])
    started = tg.wait_message(user, STARTED, after=offer["message_id"])
    assert "UTC" in started["text"]
    tg.press(user, started["message_id"], buttons(started)[0]["callback_data"])  # Join
    link = tg.wait_message(user, "Here's your way into Night Owls Club", after=started["message_id"])
    assert tg.join(user, buttons(link)[0]["url"])["result"] == "requested"
    wait_for("the join approval", lambda: tg.member_status(channel.closed, user) == "member")
    return offer


def test_a_trial_reminded_then_converted_by_a_purchase_from_its_end(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token, trial_days=7)
    tia = tg.user("Tia")
    start_trial(tg, tia, channel)
    trial = stored(db, "trials", f"{token}-{tia}")
    assert trial["days"] == 7 and trial["converted_order_id"] is None

    clock.set(4 * DAY + 60)  # the 72-hour reminder is due
    sweep(endpoints, f"{token}-remind")
    reminder = tg.wait_message(tia, "⏰ Your free trial of Night Owls Club ends on")
    assert "Choose a plan to keep your access" in reminder["text"]
    assert buttons(reminder)[0]["text"] == "📋 Choose a plan"

    receipt = subscribe(tg, np, tia, channel)  # the monthly tier, during the trial
    assert "now runs until" in receipt["text"]
    sub = stored(db, "subscriptions", f"{token}-{tia}")
    assert sub["expires_at"] == trial["ends_at"] + timedelta(days=30)
    assert sub.get("trial_ends_at") is None
    converted = stored(db, "trials", f"{token}-{tia}")
    assert converted["converted_order_id"] == sub["last_order_id"]
    assert tg.member_status(channel.closed, tia) == "member"

    tg.say(channel.owner, "/stats")
    stats = tg.wait_message(channel.owner, "converted to a purchase")
    assert "Last 7 days: 1 trials started, 1 converted to a purchase" in stats["text"]
    assert "On a free trial now: 0" in stats["text"]


def test_a_trial_not_converted_ends_with_a_removal_and_a_second_is_refused(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token, trial_days=7)
    una = tg.user("Una")
    offer = start_trial(tg, una, channel)
    ends_at = stored(db, "trials", f"{token}-{una}")["ends_at"]

    clock.set(7 * DAY + 120)  # past the trial's end
    sweep(endpoints, f"{token}-end")
    wait_for("the removal", lambda: tg.member_status(channel.closed, una) != "member", timeout=130, every=1)
    ended = tg.wait_message(una, "Your free trial of Night Owls Club ended on")
    assert "you've been removed from the channel" in ended["text"]
    assert stored(db, "subscriptions", f"{token}-{una}")["status"] == "expired"

    # The old button again: why not, kindly, and the tiers; nothing granted.
    tg.press(una, offer["message_id"], f"try:{token}")
    why = tg.wait_message(una, "You've already had your free trial", after=ended["message_id"])
    plans = tg.wait_message(una, "Choose how long", after=why["message_id"])
    assert f"try:{token}" not in [b.get("callback_data") for b in buttons(plans)]
    assert stored(db, "subscriptions", f"{token}-{una}")["expires_at"] == ends_at
    assert len(texts_in(tg, una, STARTED)) == 1
