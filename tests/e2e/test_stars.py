"""Telegram Stars end to end, through the Telegram stand-in's payments: a buyer picks a tier, taps
"Pay with Stars", pays in Telegram (the stand-in sends the pre-checkout query, waits for the bot's
answer, then the successful_payment), gets the receipt and joins; a one-time purchase of the
90-day tier; a duplicate successful_payment changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from tests.conftest import stored
from tests.e2e.flows import join, new_channel, notified


def _stars_invoice(tg: TelegramControl, user: int, token: str, tier_index: int) -> dict[str, Any]:
    tg.say(user, f"/start {token}")
    offer = tg.wait_message(user, "Choose how long")
    assert "⭐" in buttons(offer)[tier_index]["text"]  # each tier in USD and in Stars
    tg.press(user, offer["message_id"], buttons(offer)[tier_index]["callback_data"])
    choice = tg.choose_payment(user, after=offer["message_id"], stars=True)
    assert "How would you like to pay?" in choice["text"]
    return choice


def test_a_star_subscription_bought_in_telegram_gives_access(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    stella = tg.user("Stella")
    choice = _stars_invoice(tg, stella, token, 0)
    ready = tg.wait_message(stella, "Your Star subscription is ready", after=choice["message_id"])
    link = buttons(ready)[0]["url"]
    assert link.startswith("https://t.me/$")

    paid = tg.pay_stars(stella, invoice_link=link)
    assert paid["result"] == "paid", paid
    receipt = tg.wait_message(stella, "Payment received", after=ready["message_id"])
    assert "⭐250" in receipt["text"] and "renews by itself on" in receipt["text"]
    assert join(tg, stella, channel, receipt) == "member"
    owner = tg.wait_message(channel.owner, "New payment")
    assert "⭐250" in owner["text"]

    sub = stored(db, "subscriptions", f"{token}-{stella}")
    assert sub["star_renewal"]["charge_id"] == paid["charge_id"] and sub["star_renewal"]["canceled"] is False
    charge = stored(db, "star_payments", paid["charge_id"])
    order_id = charge["order_id"]
    entry = stored(db, "ledger", order_id)
    assert (
        entry["gross_currency"] == "xtr"
        and entry["gross_amount"] == "250"
        and entry["held_until"] is not None
    )
    notified(db, order_id)


def test_a_one_time_stars_purchase_and_its_duplicate_update(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    new_channel(endpoints, tg, token)
    otto = tg.user("Otto")
    choice = _stars_invoice(tg, otto, token, 1)  # the 90-day tier: a one-time invoice
    invoice = wait_for(
        "the Stars invoice",
        lambda: next(
            (
                m
                for m in tg.transcript(otto)
                if m["message_id"] > choice["message_id"] and m["message"].get("invoice")
            ),
            None,
        ),
    )
    paid = tg.pay_stars(otto, message_id=invoice["message_id"])
    assert paid["result"] == "paid", paid
    tg.wait_message(otto, "Payment received", after=invoice["message_id"])
    first = stored(db, "subscriptions", f"{token}-{otto}")["expires_at"]

    # The same charge arrives again in another update (as after a lost answer): nothing changes.
    charge = stored(db, "star_payments", paid["charge_id"])
    again = {
        "update_id": 980000000 + otto % 1000,
        "message": {
            "message_id": 9999,
            "date": 0,
            "chat": {"id": otto, "type": "private"},
            "from": {"id": otto, "is_bot": False, "first_name": "Otto"},
            "successful_payment": {
                "currency": "XTR",
                "total_amount": charge["stars"],
                "invoice_payload": charge["order_id"],
                "telegram_payment_charge_id": paid["charge_id"],
                "provider_payment_charge_id": "",
            },
        },
    }
    answer = httpx.post(
        endpoints["functions"]["telegram_webhook"],
        json=again,
        headers={"X-Telegram-Bot-Api-Secret-Token": endpoints["telegram_webhook_secret"]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert stored(db, "subscriptions", f"{token}-{otto}")["expires_at"] == first
    assert len([m for m in tg.transcript(otto) if "Payment received" in (m.get("text") or "")]) == 1
