"""Telegram Stars end to end, through the Telegram stand-in's payments: a buyer picks a tier, taps
"Pay with Stars", pays in Telegram (the stand-in sends the pre-checkout query, waits for the bot's
answer, then the successful_payment), gets the receipt and joins; a one-time purchase of the
90-day tier; a duplicate successful_payment changes nothing."""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, store, wait_for
from local.fixtures import change_channel
from operator_cli.main import cli
from tests.conftest import stored
from tests.e2e.conftest import StackClock
from tests.e2e.flows import join, new_channel, notified, texts_in


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


DAY = 86400


def _star_subscription(tg: TelegramControl, user: int, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The buyer pays the 30-day tier as a Star subscription; (the pay answer, the receipt)."""
    choice = _stars_invoice(tg, user, token, 0)
    ready = tg.wait_message(user, "Your Star subscription is ready", after=choice["message_id"])
    paid = tg.pay_stars(user, invoice_link=buttons(ready)[0]["url"])
    assert paid["result"] == "paid", paid
    return paid, tg.wait_message(user, "Payment received", after=ready["message_id"])


def test_telegram_renews_a_star_subscription_then_the_buyer_stops_it_and_it_ends(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token)
    rita = tg.user("Rita")
    paid, receipt = _star_subscription(tg, rita, token)
    assert join(tg, rita, channel, receipt) == "member"
    first_end = stored(db, "subscriptions", f"{token}-{rita}")["expires_at"]
    moved = 0.0
    try:
        # 30 days on, Telegram charges her again by itself: 30 more days, and she is told so.
        clock.set(30 * DAY + 60)
        moved += 30 * DAY + 60
        renewed = [r for r in tg.advance_clock(30 * DAY + 60)["renewals"] if r["user_id"] == rita]
        assert [r["result"] for r in renewed] == ["renewed"], renewed
        told = tg.wait_message(rita, "renewed by itself", after=receipt["message_id"])
        assert "⭐250 for 30 more days" in told["text"]
        sub = stored(db, "subscriptions", f"{token}-{rita}")
        # 30 days from the charge (a minute after the end here): never fewer than 30 more days
        assert timedelta(days=30) <= sub["expires_at"] - first_end < timedelta(days=30, minutes=5)
        assert sub["star_renewal"]["charge_id"] == paid["charge_id"]  # Telegram's handle: the first charge
        tg.wait_message(channel.owner, "Star subscription renewed")

        # She stops auto-renewal in /subscriptions; she keeps what she paid for.
        tg.say(rita, "/subscriptions")
        listing = tg.wait_message(rita, "renews by itself on", after=told["message_id"])
        stop = next(b for b in buttons(listing) if b["callback_data"] == f"srn:{token}:off")
        query = tg.press(rita, listing["message_id"], stop["callback_data"])
        try:
            tg.wait_message(rita, "Auto-renewal of Night Owls Club is off", after=listing["message_id"])
        except TimeoutError:
            print("DEBUG", tg.callback_answer(query), tg.calls("editUserStarSubscription"), tg.updates())
            raise
        subscriptions = tg.stars(rita)["subscriptions"]
        assert [s["canceled"] for s in subscriptions] == [True], subscriptions
        assert tg.member_status(channel.closed, rita) == "member"

        # At the end Telegram charges nothing, and she is removed like any other subscriber.
        clock.set(60 * DAY + 120)
        moved += 30 * DAY + 60
        renewals = tg.advance_clock(30 * DAY + 60)["renewals"]
        assert [r for r in renewals if r["user_id"] == rita and r["result"] == "renewed"] == [], renewals
        wait_for(
            "the removal", lambda: tg.member_status(channel.closed, rita) != "member", timeout=130, every=1
        )
        assert stored(db, "subscriptions", f"{token}-{rita}")["status"] == "expired"
    finally:
        tg.advance_clock(-moved)


def test_a_changed_price_is_refused_at_pre_checkout(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    new_channel(endpoints, tg, token)
    pia = tg.user("Pia")
    choice = _stars_invoice(tg, pia, token, 0)
    ready = tg.wait_message(pia, "Your Star subscription is ready", after=choice["message_id"])
    # Meanwhile the operator (for the owner) raises the monthly price: ⭐300 from now on.
    change_channel(store(endpoints), token, {"tiers": [{"price": "6.00", "days": 30, "label": "Monthly"}]})
    declined = tg.pay_stars(pia, invoice_link=buttons(ready)[0]["url"])
    assert declined["result"] == "declined", declined
    assert "The price changed" in declined["error_message"]
    assert tg.stars(pia)["balance"] == 100000  # nothing was charged
    assert not texts_in(tg, pia, "Payment received")


def test_an_operator_refund_and_a_lost_update_found_by_reconciliation(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    tmp_path: Path,
    clock: StackClock,
) -> None:
    new_channel(endpoints, tg, token)
    # Lou pays the 90-day tier, but Telegram's successful_payment never reaches TelePay.
    lou = tg.user("Lou")
    choice = _stars_invoice(tg, lou, token, 1)
    invoice = wait_for(
        "the Stars invoice",
        lambda: next(
            (
                m
                for m in tg.transcript(lou)
                if m["message_id"] > choice["message_id"] and m["message"].get("invoice")
            ),
            None,
        ),
    )
    paid = tg.pay_stars(lou, message_id=invoice["message_id"], lose_update=True)
    assert paid["result"] == "paid", paid
    clock.set(6 * 60)  # reconciliation leaves a transaction younger than 5 minutes to its update
    reconcile = httpx.post(
        endpoints["functions"]["expire_subscriptions"] + "/reconcile",
        headers={"X-CloudScheduler-ScheduleTime": f"stars-{token}"},
        content=b"{}",
        timeout=120,
    )
    assert reconcile.status_code == 200, reconcile.text
    assert reconcile.json()["counts"]["stars_settled_late"] == 1
    receipt = tg.wait_message(lou, "Payment received", after=invoice["message_id"])
    assert "3 months of Night Owls Club for ⭐625" in receipt["text"]
    charge = stored(db, "star_payments", paid["charge_id"])
    assert charge["source"] == "reconciliation"
    order_id = charge["order_id"]
    ends = stored(db, "subscriptions", f"{token}-{lou}")["expires_at"]

    # The operator refunds it: Telegram gives the Stars back, the days come off, the ledger is reversed.
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps(endpoints))
    result = CliRunner().invoke(
        cli,
        [
            "--endpoints",
            str(path),
            "--operator",
            "ops@test",
            "payments",
            "refund",
            order_id,
            "--reason",
            "asked",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    assert tg.stars(lou)["balance"] == 100000  # every Star back
    sub = stored(db, "subscriptions", f"{token}-{lou}")
    assert ends - sub["expires_at"] >= timedelta(days=89)  # the unused days removed
    assert stored(db, "ledger", order_id)["state"] == "reversed"
    assert stored(db, "orders", order_id)["status"] == "refunded"
    tg.wait_message(lou, "refunded", after=receipt["message_id"])


def test_a_donation_in_stars(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    dana = tg.user("Dana")
    tg.say(dana, f"/start {token}_DONATE")
    keypad = tg.wait_message(dana, "Amount: $0.00")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    for key, shown in (("1", "1"), ("0", "10")):
        tg.press(dana, keypad["message_id"], keys[key])
        wait_for(f"{shown} on the keypad", functools.partial(_shows, tg, dana, keypad, f"Amount: ${shown}\n"))
    tg.press(dana, keypad["message_id"], keys["✅ Confirm"])
    choice = tg.choose_payment(dana, message_id=keypad["message_id"], stars=True)
    assert "$10.00 or ⭐500" in choice["text"]  # the conversion shown before paying
    invoice = wait_for(
        "the Stars invoice",
        lambda: next((m for m in tg.transcript(dana) if m["message"].get("invoice")), None),
    )
    assert invoice["message"]["invoice"]["total_amount"] == 500
    assert tg.pay_stars(dana, message_id=invoice["message_id"])["result"] == "paid"
    thanks = tg.wait_message(dana, "Thank you for your donation")
    assert "⭐500" in thanks["text"]
    assert "donated ⭐500" in tg.wait_message(channel.owner, "New donation")["text"]


def _shows(tg: TelegramControl, user: int, message: dict[str, Any], text: str) -> bool:
    return any(m["message_id"] == message["message_id"] and text in m["text"] for m in tg.transcript(user))
