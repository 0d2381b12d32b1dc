"""Support end to end, through the stand-ins: a buyer who paid sends /support and writes what went
wrong; the owner gets it in the bot with the buyer's subscription and orders, and answers by
replying to it (Telegram's `reply_to_message`); the buyer gets the answer and replies again; the
buyer closes and the owner is told; a late reply hears the thread is closed. And a buyer who blocked
the bot before the payment settled: the owner is told once, with the order."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from tests.conftest import stored
from tests.e2e.flows import docs_where, new_channel, notified, open_invoice, pay, subscribe, texts_in


def test_a_support_thread_from_the_buyer_to_the_owner_and_back(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    ada = tg.user("Ada", username="ada_reads")
    receipt = subscribe(tg, np, ada, channel)
    assert f"sup:{token}" in [b.get("callback_data") for b in buttons(receipt)]  # 💬 Help under the receipt
    [order] = docs_where(db, "orders", "user_id", ada)

    tg.say(ada, "/support")
    asked = tg.wait_message(ada, "Write what went wrong with", after=receipt["message_id"])
    tg.say(ada, "The join link says it expired")
    card = tg.wait_message(channel.owner, "Support request about")
    assert f"Ada (@ada_reads) (id {ada})" in card["text"]
    assert "Subscription: " in card["text"] and "UTC (active)" in card["text"]
    assert f"{order['order_id']} · $5.00 · paid" in card["text"]
    assert (
        "The join link says it expired" in card["text"] and "Reply to this message to answer." in card["text"]
    )
    sent = tg.wait_message(ada, "Sent to the owner of", after=asked["message_id"])

    # The owner answers by replying to the card; the buyer gets it and replies to that.
    tg.say(channel.owner, "Here is a fresh one", reply_to=card["message_id"])
    answer = tg.wait_message(ada, "Reply from the owner of", after=sent["message_id"])
    assert "Here is a fresh one" in answer["text"]
    tg.say(ada, "It works now, thank you", reply_to=answer["message_id"])
    again = tg.wait_message(channel.owner, "writes about", after=card["message_id"])
    assert "It works now, thank you" in again["text"]

    # The buyer closes; the owner is told; the owner's late reply hears the thread is closed.
    [close] = [b for b in buttons(answer) if b.get("callback_data", "").startswith("spx:")]
    tg.press(ada, answer["message_id"], close["callback_data"])
    tg.wait_message(ada, "Closed the conversation about", after=answer["message_id"])
    told = tg.wait_message(channel.owner, "closed the conversation about", after=again["message_id"])
    tg.say(channel.owner, "one more thing", reply_to=card["message_id"])
    tg.wait_message(channel.owner, "This conversation is closed", after=told["message_id"])

    thread = stored(db, "support_threads", close["callback_data"].removeprefix("spx:"))
    assert (
        thread["status"] == "closed"
        and thread["closed_by"] == "buyer"
        and thread["owner_user_id"] == channel.owner
    )
    assert [(m["sender"], m["text"]) for m in thread["messages"]] == [
        ("buyer", "The join link says it expired"),
        ("owner", "Here is a fresh one"),
        ("buyer", "It works now, thank you"),
    ]
    assert texts_in(tg, ada, "one more thing") == []  # never passed on


def test_the_owner_is_told_once_when_a_buyer_blocked_the_bot_before_the_payment_settled(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    bob = tg.user("Bob", username="bob_pays")
    pay_message = open_invoice(tg, bob, token)
    tg.block(bob)
    pay(np, pay_message)
    [order] = docs_where(db, "orders", "user_id", bob)
    notice = tg.wait_message(channel.owner, "has blocked the bot")
    assert f"order {order['order_id']}" in notice["text"] and "$5.00" in notice["text"]
    assert f"Bob (@bob_pays) (id {bob})" in notice["text"] and "Monthly" in notice["text"]
    notified(db, order["order_id"])
    wait_for("the owner's payment notice", lambda: texts_in(tg, channel.owner, "New payment") or None)
    assert len(texts_in(tg, channel.owner, "has blocked the bot")) == 1
