"""`telepay users show`: the gifts a user bought and redeemed, and the owners' grants among the
support actions (each made as people make them: a gift bought and paid through the bot, redeemed
through its link; a grant with the owner's /grant)."""

from __future__ import annotations

import json

from shared_schemas.config import TelegramWebhookSettings
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from tests import updates
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.subscriptions.test_gifts import BUYER, FRIEND, OWNER, TOKEN, _buy_gift, _link_code, _pay


def test_users_show_lists_gifts_and_owner_grants() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    code = _link_code(_pay(store, _buy_gift(store), 81))
    webhook = runtime(TelegramWebhookSettings, store)
    telegram = fakes(webhook)[0]
    handle_update(updates.start(900001, f"/start {TOKEN}_G{code}", FRIEND), webhook)
    for chat in (demo_channel().open_channel_id, demo_channel().closed_channel_id):
        telegram.members[(chat, OWNER)] = ("creator", ())
    assert handle_update(updates.start(900002, f"/grant {FRIEND} 7", OWNER), webhook) == "access granted"

    buyer = ok(run(store, "users", "show", str(BUYER))).output
    assert "Gifts bought" in buyer and code in buyer and "redeemed" in buyer
    friend = json.loads(ok(run(store, "--json", "users", "show", str(FRIEND))).output)
    assert [g["code"] for g in friend["gifts_redeemed"]] == [code]
    [grant] = friend["support_actions"]
    assert grant["operator"] == f"owner {OWNER} (bot)" and grant["source"] == "owner" and grant["days"] == 7
