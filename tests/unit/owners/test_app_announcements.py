"""The owner app's Announcements (GET/POST /api/channels/<token>/announcements): the compose form
(text only) with the bot's limits, sent the bot's way (once per form), listed with status and
counts; strangers and an owner no longer the creator refused; the daily limit."""

from __future__ import annotations

from shared_schemas.config import OwnerAppSettings
from shared_schemas.tasks import AnnouncementTask
from telepay.runtime import Runtime
from tests.harness import fakes
from tests.unit.owners.test_app import STRANGER, auth, call
from tests.unit.owners.test_app import rt as rt  # the owner app's fixture

PATH = "/api/channels/DemoChannel01/announcements"
FORM = {
    "text": "New schedule from Monday",
    "audience": "active",
    "button": "renew",
    "request_id": "form-aa11bb22",
}


def test_compose_once_then_listed(rt: Runtime[OwnerAppSettings]) -> None:
    first = call(rt, PATH, "POST", FORM)
    assert first.status == 200, first.body
    assert first.body["recipients"] == 1 and first.body["announcement"]["status"] == "sending"
    assert (
        call(rt, PATH, "POST", FORM).body["announcement"]["id"] == first.body["announcement"]["id"]
    )  # a double tap
    queued = [c for c in fakes(rt)[2].created if isinstance(c[2], AnnouncementTask)]
    assert [c[3] for c in queued] == [f"ann-{first.body['announcement']['id']}-fanout"]
    listed = call(rt, PATH).body
    assert [a["id"] for a in listed["announcements"]] == [first.body["announcement"]["id"]]
    assert listed["announcements"][0]["text"] == "New schedule from Monday" and listed["per_day"] == 3


def test_the_form_is_checked_as_the_bot_checks(rt: Runtime[OwnerAppSettings]) -> None:
    for wrong in (
        {"text": "x" * 4097},
        {"text": " "},
        {"audience": "everyone"},
        {"audience": "ending", "days": 400},
        {"button": "url", "url": "http://example.com"},
        {"request_id": "x"},
    ):
        assert call(rt, PATH, "POST", FORM | wrong).status == 422, wrong
    assert call(rt, PATH, "POST", FORM | {"audience": "lapsed", "days": 30}).status == 422  # nobody
    assert call(rt, PATH, authorization=auth(STRANGER)).status == 404
    assert call(rt, PATH, "POST", FORM, authorization=auth(STRANGER)).status == 404
    fakes(rt)[0].members[(-1001000000002, 5001)] = ("administrator", ())  # no longer the creator
    assert call(rt, PATH, "POST", FORM).status == 403


def test_the_daily_limit(rt: Runtime[OwnerAppSettings]) -> None:
    for n in range(3):
        assert call(rt, PATH, "POST", FORM | {"request_id": f"form-limit{n}"}).status == 200
    refused = call(rt, PATH, "POST", FORM | {"request_id": "form-limit9"})
    assert refused.status == 403 and "try again tomorrow (UTC)" in refused.body["error"]
