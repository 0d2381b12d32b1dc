"""Donations end to end: the keypad, its state in Firestore, the payment, the thanks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from tests.e2e.flows import new_channel, pay, pay_button_in_place, texts_in

pytestmark = pytest.mark.e2e


def _keypad(tg: Any, chat: int) -> dict[str, Any]:
    return next(
        m
        for m in reversed(tg.transcript(chat))
        if "Donate to" in (m.get("text") or "") or "Donation of" in (m.get("text") or "")
    )


def _send_update(endpoints: dict[str, Any], update: dict[str, Any]) -> int:
    return httpx.post(
        endpoints["functions"]["telegram_webhook"],
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": endpoints["telegram_webhook_secret"]},
        timeout=10,
    ).status_code


def test_donate_with_the_keypad(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    dee = tg.user("Dee", username="dee_gives")
    tg.say(dee, f"/start {token}")
    offer = tg.wait_message(dee, "Choose how long")
    donate = next(b for b in buttons(offer) if b["text"] == "💝 Donate")
    tg.press(dee, offer["message_id"], donate["callback_data"])
    keypad = tg.wait_message(dee, "Amount: $0.00")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}

    for label in ("1", "0"):
        tg.press(dee, keypad["message_id"], keys[label])
        wait_for(
            "the press to show",
            lambda: _keypad(tg, dee)["text"].count("$") and "$1" in _keypad(tg, dee)["text"],
        )
    wait_for("10 on the keypad", lambda: "Amount: $10" in _keypad(tg, dee)["text"])

    # The same press update delivered twice, and the same press in a second update: applied once.
    # Presses apply in update-id order, so these ids come after the real ones (Telegram's ids only
    # grow); the stand-in's ids start below 900,000,000, so ids from 1,000,000,000 never meet its own.
    update_id = 1_000_000_000 + (dee % 100_000) * 2
    assert update_id > max(d["update_id"] for d in tg.updates()["deliveries"])
    press: dict[str, Any] = {
        "update_id": update_id,
        "callback_query": {
            "id": f"dup-{dee}",
            "from": {"id": dee, "is_bot": False, "first_name": "Dee"},
            "chat_instance": "x",
            "data": keys["5"],
            "message": {
                "message_id": keypad["message_id"],
                "date": 0,
                "chat": {"id": dee, "type": "private"},
            },
        },
    }
    assert _send_update(endpoints, press) == 200
    assert _send_update(endpoints, press) == 200
    press["update_id"] += 1
    assert _send_update(endpoints, press) == 200
    wait_for("105 on the keypad", lambda: "Amount: $105" in _keypad(tg, dee)["text"])

    query = tg.press(dee, keypad["message_id"], keys["✅ Confirm"])
    choice = tg.choose_payment(dee, message_id=keypad["message_id"])  # the amount in USD and in Stars
    assert "$105.00 or ⭐5,250" in choice["text"]
    pay_message = pay_button_in_place(tg, dee, keypad["message_id"])
    assert "$105.00 for your donation to Night Owls Club" in pay_message["text"]
    # create_invoice may replace the keypad before the keypad task has answered the press.
    assert (
        wait_for("the confirm's answer", lambda: tg.callback_answer(query))["text"]
        == "Preparing your invoice…"
    )
    assert any("Amount: $105" in h["text"] for h in pay_message["history"])  # it was the keypad

    pay(np, pay_message)
    thanks = tg.wait_message(dee, "Thank you for your donation")
    assert "$105.00 to Night Owls Club" in thanks["text"]
    notice = tg.wait_message(channel.owner, "New donation")
    assert "Dee (@dee_gives)" in notice["text"] and "donated $105.00" in notice["text"]
    assert texts_in(tg, dee, "Payment received") == []  # a donation is not a subscription


def test_confirm_below_the_minimum_says_why(
    endpoints: dict[str, Any], tg: TelegramControl, token: str
) -> None:
    new_channel(endpoints, tg, token)
    lu = tg.user("Lu")
    tg.say(lu, f"/start {token}_DONATE")
    keypad = tg.wait_message(lu, "Amount: $0.00")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    tg.press(lu, keypad["message_id"], keys["3"])
    wait_for("3 on the keypad", lambda: "Amount: $3" in _keypad(tg, lu)["text"])
    query = tg.press(lu, keypad["message_id"], keys["✅ Confirm"])
    answer = wait_for("the refusal", lambda: tg.callback_answer(query))
    assert answer["text"] == "The minimum is $4.99" and answer["show_alert"] is True
    assert "Amount: $3" in _keypad(tg, lu)["text"]
