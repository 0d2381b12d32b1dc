"""Gifts and owner grants end to end, over HTTP through the stand-ins: a gift bought in crypto, its
link sent to the buyer, forwarded, redeemed once (the redeemer let into the channel, a third
person refused), listed in the buyer's /subscriptions until then; an owner's /grant and /revoke
moving a member's expiry, and /stats showing the grant apart from sales."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from shared_schemas.ids import subscription_id
from tests.conftest import stored
from tests.e2e.flows import Channel, new_channel, pay

pytestmark = pytest.mark.e2e


def _expires(db: firestore.Client, channel: Channel, user: int) -> datetime:
    value = stored(db, "subscriptions", subscription_id(channel.token, user))["expires_at"]
    return datetime.fromisoformat(value.isoformat())


def _buy_gift(tg: TelegramControl, np: NowPaymentsControl, buyer: int, channel: Channel) -> dict[str, Any]:
    """The buyer's offer → 🎁 Buy as a gift → Monthly → crypto → paid; returns the gift message."""
    chat = BotChat(tg, buyer)
    chat.send(f"/start {channel.token}", "Choose how long")
    chat.tap("Buy as a gift", "Which would you like to give?")
    chat.tap("Monthly", "🎁 A gift of 1 month of Night Owls Club")
    pay_message = chat.tap("Pay with crypto", "Your invoice for the gift is ready")
    pay(np, pay_message)
    return tg.wait_message(buyer, "Your gift is ready: forward this message", after=pay_message["message_id"])


def test_a_gift_is_bought_forwarded_and_redeemed_once(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    buyer, friend, third = tg.user("Bea"), tg.user("Finn"), tg.user("Theo")
    gift = _buy_gift(tg, np, buyer, channel)
    match = re.search(r"\?start=(\S+)", gift["text"])
    assert match and match[1].startswith(f"{token}_G")
    link = match[1]
    tg.wait_message(channel.owner, "bought 1 month of Night Owls Club as a gift")
    snapshot = db.collection("subscriptions").document(subscription_id(token, buyer)).get()
    assert not snapshot.exists  # the buyer's own access did not move

    buyer_chat = BotChat(tg, buyer)
    assert link in buyer_chat.send("/subscriptions", "Gifts you bought, not redeemed yet")["text"]

    started = datetime.now(UTC)
    welcome = BotChat(tg, friend).send(f"/start {link}", "You redeemed a gift")
    until = _expires(db, channel, friend)
    assert timedelta(days=30) <= until - started < timedelta(days=30, minutes=2)
    tg.press(friend, welcome["message_id"], buttons(welcome)[0]["callback_data"])  # Join
    join_link = tg.wait_message(friend, "Here's your way into", after=welcome["message_id"])
    assert tg.join(friend, buttons(join_link)[0]["url"])["result"] == "requested"
    wait_for("the friend's join approval", lambda: tg.member_status(channel.closed, friend) == "member")
    tg.wait_message(buyer, "was redeemed. Thank you!")

    BotChat(tg, third).send(f"/start {link}", "This gift was already redeemed.")
    assert not db.collection("subscriptions").document(subscription_id(token, third)).get().exists
    assert _expires(db, channel, friend) == until
    listed = buyer_chat.send("/subscriptions", "You have no subscriptions yet")
    assert link not in listed["text"]


def test_an_owner_grants_and_revokes_days_and_stats_show_it_apart_from_sales(
    endpoints: dict[str, Any], tg: TelegramControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    username = f"mia_{token.lower()}"[:32]
    member = tg.user("Mia", username=username)
    BotChat(tg, member).send("/help")  # the bot has seen her
    owner = BotChat(tg, channel.owner)
    started = datetime.now(UTC)
    owner.send(f"/grant @{username} 7", f"Done: @{username} has 7 days more of Night Owls Club")
    tg.wait_message(member, "The owner of Night Owls Club gave you 7 days of access")
    until = _expires(db, channel, member)
    assert timedelta(days=7) <= until - started < timedelta(days=7, minutes=2)

    owner.send(f"/revoke @{username} 3", "Done: 3 days taken off")
    tg.wait_message(member, "took 3 days off your access")
    assert _expires(db, channel, member) == until - timedelta(days=3)

    stats = owner.send("/stats", "📊")
    assert "$0.00 in sales" in stats["text"]
    assert "🎁 Your grants (not sales): last 7 days: 1 grant(s), 7 day(s) given" in stats["text"]

    owner.send(f"/revoke @{username}", "access to Night Owls Club ends now")
    tg.wait_message(member, "The owner of Night Owls Club ended your access.")
