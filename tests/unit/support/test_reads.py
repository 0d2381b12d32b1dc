"""Support threads where they are read: the owner app's Support tab (GET
/api/channels/<token>/support: the owner's channels only) and `telepay users show`."""

from __future__ import annotations

import json

from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.ids import support_thread_id
from telepay.bot.webhook import handle_update
from tests import updates
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.owners.test_app import STRANGER, call
from tests.unit.support.test_threads import BUYER, OWNER, TOKEN, _paid
from tests.unit.support.test_threads import store as store  # the demo channel's fixture


def _thread(store: MemoryStore) -> str:
    _paid(store, 1)
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(20, "/support", BUYER), rt)
    handle_update(updates.start(21, "The link expired", BUYER), rt)
    [card] = telegram.to(OWNER)
    handle_update(updates.reply(22, "Try this one", OWNER, card.message_id), rt)
    return support_thread_id(BUYER, 21)


def test_the_owner_app_lists_the_channels_threads_with_their_messages(store: MemoryStore) -> None:
    thread_id = _thread(store)
    app = runtime(OwnerAppSettings, store)
    reply = call(app, f"/api/channels/{TOKEN}/support")
    assert reply.status == 200
    [thread] = reply.body["threads"]
    assert (
        thread["thread_id"] == thread_id and thread["status"] == "open" and thread["buyer_user_id"] == BUYER
    )
    assert [(m["from"], m["text"]) for m in thread["messages"]] == [
        ("buyer", "The link expired"),
        ("owner", "Try this one"),
    ]
    assert thread["messages"][0]["at"].endswith("+00:00")
    from tests.unit.owners.test_app import auth

    assert call(app, f"/api/channels/{TOKEN}/support", authorization=auth(STRANGER)).status == 404
    assert call(app, f"/api/channels/{TOKEN}/support", "POST", {}).status == 405


def test_users_show_lists_the_users_support_threads(store: MemoryStore) -> None:
    thread_id = _thread(store)
    text = ok(run(store, "users", "show", str(BUYER))).output
    assert "Support threads" in text and thread_id in text and "The link expired" in text
    [thread] = json.loads(ok(run(store, "--json", "users", "show", str(BUYER))).output)["support_threads"]
    assert thread["status"] == "open" and thread["message_count"] == 2
