"""An owner goes live entirely inside Telegram, through the stand-ins: the bot made admin of two
channels (one right missing at first, then granted), /newchannel with some wrong answers, the
deep link; a buyer buys through it, the owner is paid out in USDT on Tron to the wallet given in
/newchannel, sees the sale in /stats, pauses, and the next buyer is told sales are paused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local.clients import wait_for
from local.demo import CLOSED_TITLE, DEMO_ANSWERS, OPEN_TITLE, TRON_WALLET, answer_all, new_owner, token_of
from local.fixtures import CLOSED_RIGHTS, OPEN_RIGHTS
from tests.e2e.flows import Channel, subscribe

pytestmark = pytest.mark.e2e


def test_an_owner_goes_live_and_sells(stack, endpoints, tg, np) -> None:  # type: ignore[no-untyped-def]
    owner, chat = new_owner(tg)
    open_id = tg.channel(OPEN_TITLE, owner, username=f"owls_{owner}")
    closed_id = tg.channel(CLOSED_TITLE, owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, ["can_invite_users"])  # the ban right forgotten
    chat.wait_all(f"admin of {OPEN_TITLE}.", "I still need the right to ban users")

    chat.send("/newchannel", "Which channel is the open one")
    chat.tap(OPEN_TITLE, "closed one")
    refused = chat.tap(CLOSED_TITLE, "I'm missing the right to ban users")
    assert "Give me that right" in refused["text"]
    tg.make_bot_admin(closed_id, CLOSED_RIGHTS)
    chat.next("It can be your closed channel")
    chat.tap(CLOSED_TITLE, "name buyers will see")

    # Wrong answers on the way: each refused with its reason, the question asked again.
    title, description, language, count, price, days, *rest = DEMO_ANSWERS
    answer_all(chat, [title, description, language, count])
    assert "Use a dot for cents" in chat.send("4,99", "Use a dot")["text"]
    # The webhook read NowPayments' minimum payments (the stand-in's): $5 is too little in some coins.
    days_question = answer_all(chat, [price])
    assert "Heads-up: NowPayments can't take $5.00 in USDTTRC20 (from $9.00)" in days_question["text"]
    assert "from 1 to 3650" in chat.send("4000", "from 1 to 3650")["text"]
    answer_all(chat, [days, *rest[:-2]])  # up to the wallet address
    assert "doesn't look like a Tron (TRC-20) address" in chat.send("T123", "doesn't look like")["text"]
    summary = answer_all(chat, rest[-2:])
    assert "Tier 1 (Monthly): $5.00 or ⭐250 for 1 month" in summary["text"]
    assert "Tier 2 (Quarterly): $12.50 or ⭐625 for 3 months" in summary["text"]

    live = chat.tap("Go live", "is live!")
    token = token_of(live)
    assert f"?start={token}_DONATE" in live["text"]

    # Other tests' owners may have menus already: wait for this owner's.
    def owners_menu() -> dict[str, Any] | None:
        bot: dict[str, Any] = tg.bot()
        return bot if f"chat:{owner}" in bot["scoped_commands"] else None

    menus = wait_for("the owner's command menu", owners_menu)
    assert [c["command"] for c in menus["commands"]] == [
        "start",
        "subscriptions",
        "paysupport",
        "language",
        "help",
        "support",
    ]
    assert "newchannel" in [c["command"] for c in menus["scoped_commands"][f"chat:{owner}"]]
    offer_post = tg.wait_message(open_id, "Choose how long")
    assert [b["text"] for b in offer_post["reply_markup"]["inline_keyboard"][0]] == [
        "Monthly · $5.00 or ⭐250 · 1 month"
    ]

    # A buyer buys through the deep link; the owner sees the sale in /stats.
    channel = Channel(token, owner, open_id, closed_id)
    buyer = tg.user("Sam")
    subscribe(tg, np, buyer, channel)
    tg.wait_message(owner, "New payment")

    # The owner's payout goes out in NowPayments' code for USDT on Tron, to the wallet she typed.
    scheduler = f"http://127.0.0.1:{stack.config.port_base + 30}"
    httpx.post(f"{scheduler}/run/payouts-every-minute", timeout=200).raise_for_status()
    payouts = wait_for(
        "the owner's payout at NowPayments",
        lambda: (
            [w for w in np.withdrawals() if str(w["unique_external_id"]).startswith(f"po-{token}-")] or None
        ),
        timeout=60,
    )
    assert [(w["currency"], w["address"]) for w in payouts] == [("usdttrc20", TRON_WALLET)]
    stats = chat.send("/stats", "📊")["text"]
    assert "Active subscribers: 1" in stats
    assert "Last 7 days: 1 new, 0 renewed, $5.00 in sales" in stats

    # Paused: the next buyer is told, and nothing else changes for the first.
    assert "is paused" in chat.send("/pause", "paused")["text"]
    late = tg.user("Max")
    tg.say(late, f"/start {token}")
    tg.wait_message(late, "isn't taking new subscribers right now")
    assert "⏸ paused" in chat.send("/channels", "Link:")["text"]
