"""The owner app's grant form (POST /api/channels/<token>/grants): the bot's rules (days 1..3660, a
note up to 500 characters, only the channel's owner who is creator of both chats), the member's
expiry moved and recorded, the overview counting grants apart from sales."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared_schemas.config import OwnerAppSettings
from shared_schemas.ids import subscription_id
from shared_schemas.queries import SUPPORT_ACTIONS_OF_USER
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.owners.app import handle
from telepay.runtime import Runtime
from tests.harness import NOW, fakes, present
from tests.unit.owners.test_app import OWNER, STRANGER, auth, call
from tests.unit.owners.test_app import rt as rt  # the owner app's fixture

MEMBER = 9001  # has 3 days left (the fixture's subscriber)


def test_a_grant_and_a_revoke_from_the_form(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/grants"
    reply = call(rt, path, "POST", {"user_id": MEMBER, "days": 30, "take": False, "reason": "loyal reader"})
    assert reply.status == 200 and reply.body["action"] == "grant"
    sub = present(rt.store.subscriptions.get(subscription_id("DemoChannel01", MEMBER)))
    assert sub.expires_at == NOW + timedelta(days=33)
    assert fakes(rt)[0].to(MEMBER)[-1].text.startswith("🎁 The owner of Night Owls Club gave you 1 month")
    [record] = rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=MEMBER)
    assert record.operator == f"owner {OWNER} (owner_app)" and record.reason == "loyal reader"
    overview = call(rt, "/api/channels/DemoChannel01/overview").body
    assert (overview["grants_30d"], overview["granted_days_30d"]) == (1, 30)
    assert overview["current"]["sales"] == 0  # a grant is no sale

    assert call(rt, path, "POST", {"user_id": MEMBER, "days": None, "take": True}).status == 200
    assert present(rt.store.subscriptions.get(subscription_id("DemoChannel01", MEMBER))).expires_at == NOW


def test_the_form_is_checked_as_the_bot_checks(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/grants"
    for body in (
        {"user_id": MEMBER, "days": 0},
        {"user_id": MEMBER, "days": 3661},
        {"user_id": "9001", "days": 7},
        {"user_id": MEMBER, "days": 7, "reason": "x" * 501},
        {"user_id": 123, "days": 7, "take": True},  # nothing to take off
    ):
        assert call(rt, path, "POST", body).status == 422, body
    assert (
        call(rt, "/api/channels/OtherChannel01/grants", "POST", {"user_id": MEMBER, "days": 7}).status == 404
    )
    assert call(rt, path, "POST", {"user_id": MEMBER, "days": 7}, authorization=auth(STRANGER)).status == 404
    fakes(rt)[0].members[(-1001000000002, OWNER)] = ("administrator", ())  # no longer the creator
    assert call(rt, path, "POST", {"user_id": MEMBER, "days": 7}).status == 403
    assert rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=MEMBER) == []


def test_a_double_tap_on_the_form_gives_the_days_once(rt: Runtime[OwnerAppSettings]) -> None:
    """The form sends one request id per filled form: the same request twice (a double tap, or a
    retry after a lost answer) changes the member's access once and records one grant."""
    path = "/api/channels/DemoChannel01/grants"
    body = {"user_id": MEMBER, "days": 7, "take": False, "request_id": "form-1a2b3c4d"}
    first, second = call(rt, path, "POST", body), call(rt, path, "POST", body)
    assert first.status == second.status == 200 and first.body == second.body
    sub = present(rt.store.subscriptions.get(subscription_id("DemoChannel01", MEMBER)))
    assert sub.expires_at == NOW + timedelta(days=10)  # 3 days left + 7, once
    assert len(rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=MEMBER)) == 1
    told = [m for m in fakes(rt)[0].to(MEMBER) if m.text.startswith("🎁 The owner of Night Owls Club")]
    assert len(told) == 1
    # The next grant (a new form, a new id) gives days again.
    assert call(rt, path, "POST", body | {"request_id": "form-5e6f7a8b"}).status == 200
    sub = present(rt.store.subscriptions.get(subscription_id("DemoChannel01", MEMBER)))
    assert sub.expires_at == NOW + timedelta(days=17)


def test_a_grant_in_a_busy_second_is_answered_and_the_member_told(rt: Runtime[OwnerAppSettings]) -> None:
    """Telegram answers the member's message 429 (the bot's 30 a second met, as right after many
    members opened its link): the message waits the second out and goes; the form is answered as
    done, not "try again" after the days were given."""
    fakes(rt)[0].fail_method["send_message"] = [TelegramRetryAfter(1)]
    body = {"user_id": MEMBER, "days": 7, "take": False, "request_id": "form-9c8d7e6f"}
    reply = call(rt, "/api/channels/DemoChannel01/grants", "POST", body)
    assert reply.status == 200 and reply.body["action"] == "grant"
    told = [m for m in fakes(rt)[0].to(MEMBER) if m.text.startswith("🎁 The owner of Night Owls Club")]
    assert len(told) == 1


def test_a_request_id_that_no_form_makes_is_refused(rt: Runtime[OwnerAppSettings]) -> None:
    path = "/api/channels/DemoChannel01/grants"
    for request_id in ("short", "x" * 65, "has spaces in it", 12345678):
        reply = call(rt, path, "POST", {"user_id": MEMBER, "days": 7, "request_id": request_id})
        assert reply.status == 422, request_id
        assert [e["field"] for e in reply.body["errors"]] == ["request_id"]
    assert rt.store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=MEMBER) == []


def test_subscribers_come_a_page_at_a_time_active_or_ended(rt: Runtime[OwnerAppSettings]) -> None:
    """A big channel's Subscribers list: 50 at a time, `next` to ask for the following page; the
    ended ones asked for on their own; a page cursor of another channel or an unknown status refused."""
    grants = "/api/channels/DemoChannel01/grants"
    for user in range(70):  # the owner gives 70 readers a week each, from the form
        assert call(rt, grants, "POST", {"user_id": 20_000 + user, "days": 7}).status == 200
    path = "/api/channels/DemoChannel01/subscribers"
    first = call(rt, path).body
    assert (first["status"], len(first["subscribers"])) == ("active", 50) and first["next"]
    second = handle_page(rt, path, {"after": first["next"]})
    assert len(second["subscribers"]) == 21 and second["next"] is None  # 70 + the fixture's member
    ids = {r["user_id"] for r in first["subscribers"] + second["subscribers"]}
    assert ids == {MEMBER, *range(20_000, 20_070)}
    ended = handle_page(rt, path, {"status": "expired"})  # nobody's access has ended (been removed) yet
    assert (ended["status"], ended["subscribers"], ended["next"]) == ("expired", [], None)
    assert handle(rt, "GET", path, auth(), None, {"status": "gone"}).status == 422
    assert handle(rt, "GET", path, auth(), None, {"after": "OtherChannel01-5"}).status == 422


def handle_page(rt: Runtime[OwnerAppSettings], path: str, query: dict[str, str]) -> dict[str, Any]:
    reply = handle(rt, "GET", path, auth(), None, query)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body
