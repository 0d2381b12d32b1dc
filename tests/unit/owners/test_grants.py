"""An owner gives or takes days of a member's access from the bot: `/grant @alice 7`, `/grant 123 30`,
`/grant @alice -7`, `/revoke @alice 7`, `/revoke @alice`, or step by step; recorded like support's
actions, the member told, `/stats` shows grants apart from sales. Only the channel's owner (still
creator of both chats) may; days 1..3660, a note up to 500 characters; an unknown @name is said so."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import SupportAction
from shared_schemas.ids import subscription_id
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import SUPPORT_ACTIONS_OF_USER
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core.claims import Claim
from telepay.owners.grant_rules import Asked, Who, check_form, parse_command
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram
from tests.harness import NOW, fakes, present, runtime
from tests.memory_store import MemoryStore

OWNER, ALICE, STRANGER = 5001, 6001, 6002
TOKEN = "DemoChannel01"
OPEN, CLOSED = -1001000000001, -1001000000002
IDS = itertools.count(2000)


def said(rt: Runtime[TelegramWebhookSettings], user_id: int, text: str, username: str | None = None) -> str:
    update: dict[str, Any] = updates.start(next(IDS), text, user_id)
    if username:
        update["message"]["from"]["username"] = username
    return handle_update(update, rt)


@pytest.fixture
def rt() -> Runtime[TelegramWebhookSettings]:
    store = MemoryStore()
    save_channel(store, demo_channel())
    rt = runtime(TelegramWebhookSettings, store)
    telegram = fakes(rt)[0]
    for chat in (OPEN, CLOSED):
        telegram.members[(chat, OWNER)] = ("creator", ())
    said(rt, ALICE, "/help", username="Alice_W")  # Alice has spoken to the bot once
    return rt


def tg(rt: Runtime[TelegramWebhookSettings]) -> FakeTelegram:
    return fakes(rt)[0]


def test_grant_with_arguments_adds_days_records_and_tells_the_member(
    rt: Runtime[TelegramWebhookSettings],
) -> None:
    assert said(rt, OWNER, "/grant @alice_w 7") == "access granted"
    assert tg(rt).to(OWNER)[-1].text.startswith("Done: @alice_w has 7 days more of Night Owls Club, until")
    sub = present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE)))
    assert sub.expires_at == NOW + timedelta(days=7)
    told = tg(rt).to(ALICE)[-1]
    assert told.text.startswith("🎁 The owner of Night Owls Club gave you 7 days of access, until")
    assert [b.text for b in told.buttons()] == ["Join Night Owls Club"]
    [record] = rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=ALICE)
    assert record.action is SupportAction.GRANT and record.days == 7 and record.source == "owner"
    assert record.operator == f"owner {OWNER} (bot)" and record.expires_after == sub.expires_at

    assert said(rt, OWNER, f"/grant {ALICE} 30") == "access granted"  # by user id, from the expiry
    assert present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE))).expires_at == NOW + timedelta(
        days=37
    )
    assert said(rt, OWNER, "/grant @alice_w -7") == "access revoked"
    assert said(rt, OWNER, "/revoke @alice_w 10") == "access revoked"
    assert present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE))).expires_at == NOW + timedelta(
        days=20
    )
    assert tg(rt).to(ALICE)[-1].text.startswith("The owner of Night Owls Club took 10 days off your access")
    assert said(rt, OWNER, "/revoke @alice_w") == "access revoked"
    assert present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE))).expires_at == NOW
    assert tg(rt).to(ALICE)[-1].text == "The owner of Night Owls Club ended your access."
    assert said(rt, OWNER, "/revoke @alice_w") == "grant refused"  # nothing left to take
    assert "no active access" in tg(rt).to(OWNER)[-1].text

    # /stats: the grants apart from sales.
    said(rt, OWNER, "/stats")
    stats = tg(rt).to(OWNER)[-1].text
    assert "0 new, 0 renewed, $0.00 in sales" in stats
    assert "🎁 Your grants (not sales): last 7 days: 2 grant(s), 37 day(s) given" in stats


def test_refusals_unknown_names_bad_days_and_strangers(rt: Runtime[TelegramWebhookSettings]) -> None:
    assert said(rt, OWNER, "/grant @bob_unknown 7") == "grant refused (unknown user)"
    assert tg(rt).to(OWNER)[-1].text == (
        "I don't know @bob_unknown yet: ask them to open the bot once, or use their user id."
    )
    for wrong in ("/grant @alice_w 0", "/grant @alice_w 3661", "/grant @alice_w seven", "/grant alice 7"):
        assert said(rt, OWNER, wrong) == "grant refused (arguments)"
    assert rt.store.subscriptions.get(subscription_id(TOKEN, ALICE)) is None
    # Someone who owns no channel; an owner no longer the creator of the closed chat.
    assert said(rt, STRANGER, "/grant @alice_w 7") == "no channels"
    tg(rt).members[(CLOSED, OWNER)] = ("administrator", ())
    assert said(rt, OWNER, "/grant @alice_w 7") == "grant refused"
    assert rt.store.subscriptions.get(subscription_id(TOKEN, ALICE)) is None


def test_the_conversation_asks_who_how_many_days_a_note_and_confirms(
    rt: Runtime[TelegramWebhookSettings],
) -> None:
    assert said(rt, OWNER, "/grant") == "asked grant_who"
    assert said(rt, OWNER, "@nobody_here") == "invalid grant_who"
    assert "I don't know @nobody_here yet" in tg(rt).to(OWNER)[-1].text
    assert said(rt, OWNER, "@Alice_W") == "asked grant_days"
    days = tg(rt).to(OWNER)[-1]
    assert [b.text for b in days.buttons()] == ["7", "30", "90"]
    assert said(rt, OWNER, "4000") == "invalid grant_days"
    assert said(rt, OWNER, "14") == "asked grant_reason"
    assert said(rt, OWNER, "x" * 501) == "invalid grant_reason"
    assert said(rt, OWNER, "Thanks for the feedback") == "asked grant_confirm"
    assert tg(rt).to(OWNER)[-1].text.startswith("Give @alice_w 14 days of Night Owls Club?")
    confirm = tg(rt).to(OWNER)[-1].buttons()[0].callback_data or ""
    assert handle_update(updates.press(next(IDS), confirm, OWNER), rt) == "access granted"
    assert present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE))).expires_at == NOW + timedelta(
        days=14
    )
    [record] = rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=ALICE)
    assert record.reason == "Thanks for the feedback"


def test_an_owner_of_two_channels_picks_one(rt: Runtime[TelegramWebhookSettings]) -> None:
    save_channel(
        rt.store,
        demo_channel(
            token="SecondChan01", title="Early Birds", open_channel_id=-1003, closed_channel_id=-1004
        ),
    )
    for chat in (-1003, -1004):
        tg(rt).members[(chat, OWNER)] = ("creator", ())
    assert said(rt, OWNER, "/grant @alice_w 7") == "asked grant_channel"
    pick = tg(rt).to(OWNER)[-1]
    early = next(b for b in pick.buttons() if b.text == "Early Birds")
    assert handle_update(updates.press(next(IDS), early.callback_data or "", OWNER), rt) == "access granted"
    assert present(
        rt.store.subscriptions.get(subscription_id("SecondChan01", ALICE))
    ).expires_at == NOW + timedelta(days=7)
    assert rt.store.subscriptions.get(subscription_id(TOKEN, ALICE)) is None


def test_a_redelivered_grant_changes_nothing_twice(rt: Runtime[TelegramWebhookSettings]) -> None:
    update = updates.start(next(IDS), "/grant @alice_w 7", OWNER)
    assert handle_update(update, rt) == "access granted"
    rt.store.claims.delete(
        Claim(ClaimPurpose.UPDATE, str(update["update_id"])).doc_id
    )  # the update's claim gone: delivered again
    assert handle_update(update, rt) == "access granted"
    assert present(rt.store.subscriptions.get(subscription_id(TOKEN, ALICE))).expires_at == NOW + timedelta(
        days=7
    )
    assert len(rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=ALICE)) == 1
    assert len([m for m in tg(rt).to(ALICE) if "gave you" in m.text]) == 1


def test_the_rules() -> None:
    assert parse_command(False, "@Alice_W 7") == Asked(Who(username="alice_w"), 7, False)
    assert parse_command(False, "@alice_w, -7") == Asked(Who(username="alice_w"), 7, True)
    assert parse_command(True, "123456") == Asked(Who(user_id=123456), None, True)
    assert parse_command(True, "123456 3660") == Asked(Who(user_id=123456), 3660, True)
    for wrong in ("", "@alice_w", "@al 7", "12 1 2", "１２ 7", "@alice_w 3661"):
        assert not isinstance(parse_command(False, wrong), Asked), wrong
    assert check_form(42, 7, False, "") == (42, 7, False, "", None)
    assert check_form(42, None, True, None, "form-1a2b3c4d") == (42, None, True, "", "form-1a2b3c4d")
    errors = check_form("42", 0, False, "x" * 501)
    assert isinstance(errors, list) and {e["field"] for e in errors} == {"user_id", "days", "reason"}
