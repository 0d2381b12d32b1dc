"""The closed channel's donation post, end to end: posted when a channel goes live, the same post
showing the owner's new message after /edit, a member donating from it; and, without the right to
post there, nothing posted and the owner told which right to grant."""

from __future__ import annotations

from typing import Any

import pytest

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from local.demo import CLOSED_TITLE, DEMO_ANSWERS, OPEN_TITLE, answer_all, new_owner, token_of
from local.fixtures import CLOSED_RIGHTS, OPEN_RIGHTS
from tests.e2e.flows import Channel, join, pay, subscribe

pytestmark = pytest.mark.e2e


def _go_live(tg: TelegramControl, closed_rights: list[str]) -> tuple[Channel, BotChat]:
    owner, chat = new_owner(tg)
    open_id = tg.channel(OPEN_TITLE, owner, username=f"owls_{owner}")
    closed_id = tg.channel(CLOSED_TITLE, owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, closed_rights)
    chat.wait_all(f"admin of {OPEN_TITLE}.", f"admin of {CLOSED_TITLE}.")
    chat.send("/newchannel", "Which channel is the open one")
    chat.tap(OPEN_TITLE, "closed one")
    chat.tap(CLOSED_TITLE, "name buyers will see")
    answer_all(chat, DEMO_ANSWERS)
    token = token_of(chat.tap("Go live", "is live!"))
    return Channel(token, owner, open_id, closed_id), chat


def _posts(tg: TelegramControl, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in tg.transcript(chat_id) if "💝 Support" in (m.get("text") or "")]


def test_the_donation_post_goes_live_follows_edits_and_takes_donations(
    tg: TelegramControl, np: NowPaymentsControl
) -> None:
    channel, chat = _go_live(tg, CLOSED_RIGHTS)
    post = wait_for("the donation post", lambda: _posts(tg, channel.closed) or None)[0]
    donate = buttons(post)[0]
    assert donate["text"] == "💝 Donate" and donate["url"].endswith(f"?start={channel.token}_DONATE")

    chat.send("/edit", "Which channel do you want to change?")
    chat.tap(OPEN_TITLE, "What do you want to change?")
    chat.tap("Donations", "smallest amount")
    chat.tap("$4.99", "largest donation")
    chat.tap("$9,999.99", "donation post")
    chat.send("Every coffee keeps the night shift going ☕", "Saved")
    wait_for(
        "the post to show the new message",
        lambda: "Every coffee keeps" in (_posts(tg, channel.closed)[0].get("text") or "") or None,
    )
    assert len(_posts(tg, channel.closed)) == 1  # the same post, edited

    # A member taps Donate (the link opens the bot with /start <token>_DONATE) and gives.
    mia = tg.user("Mia")
    join(tg, mia, channel, subscribe(tg, np, mia, channel))
    tg.say(mia, f"/start {channel.token}_DONATE")
    keypad = tg.wait_message(mia, "Amount: $0.00")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    for label in ("7", "✅ Confirm"):
        tg.press(mia, keypad["message_id"], keys[label])
        if label == "7":
            wait_for(
                "7 on the keypad", lambda: "Amount: $7" in tg.transcript(mia)[-1].get("text", "") or None
            )
    tg.choose_payment(mia, message_id=keypad["message_id"])  # crypto
    invoice = tg.wait_message(mia, "Your invoice is ready: $7.00")
    pay(np, invoice)
    tg.wait_message(mia, "Thank you for your donation of $7.00")
    tg.wait_message(channel.owner, "New donation")


def test_without_the_right_to_post_nothing_is_posted_and_the_owner_is_told(tg: TelegramControl) -> None:
    no_posting = [r for r in CLOSED_RIGHTS if r not in ("can_post_messages", "can_edit_messages")]
    channel, chat = _go_live(tg, no_posting)
    chat.next("right to post messages")
    assert _posts(tg, channel.closed) == []
