"""The owner app's grant form (POST /api/channels/<token>/grants): the bot's rules (days 1..3660, a
note up to 500 characters, only the channel's owner who is creator of both chats), the member's
expiry moved and recorded, the overview counting grants apart from sales."""

from __future__ import annotations

from datetime import timedelta

from shared_schemas.config import OwnerAppSettings
from shared_schemas.ids import subscription_id
from shared_schemas.queries import SUPPORT_ACTIONS_OF_USER
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
    assert overview["revenue_30d"] == "5.00"  # sales unchanged

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
