"""Subscriptions end to end, over HTTP through the stand-ins: what users see, what is stored."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons
from local.stack import Stack
from shared_schemas.ids import subscription_id
from tests.conftest import stored
from tests.e2e.flows import (
    Channel,
    docs_where,
    join,
    new_channel,
    notified,
    open_invoice,
    pay,
    subscribe,
    texts_in,
)

pytestmark = pytest.mark.e2e


def _subscription(db: Any, channel: Channel, user: int) -> dict[str, Any] | None:
    snapshot = db.collection("subscriptions").document(subscription_id(channel.token, user)).get()
    return snapshot.to_dict() if snapshot.exists else None


def _stored(db: firestore.Client, channel: Channel, user: int) -> dict[str, Any]:
    return stored(db, "subscriptions", subscription_id(channel.token, user))


def test_happy_path_offer_to_access(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    sam = tg.user("Sam", username="sam_e2e")
    started = datetime.now(UTC)

    pay_message = open_invoice(tg, sam, token)
    assert "Your invoice is ready: $5.00 for 1 month of access to Night Owls Club" in pay_message["text"]
    assert buttons(pay_message)[0]["text"] == "Pay $5.00"
    pay(np, pay_message)
    receipt = tg.wait_message(sam, "Payment received")
    assert "Receipt: 1 month of Night Owls Club for $5.00." in receipt["text"]
    until = datetime.fromisoformat(_stored(db, channel, sam)["expires_at"].isoformat())
    assert timedelta(days=30) <= until - started < timedelta(days=30, minutes=2)
    assert f"Access until {until.strftime('%A, %-d %B %Y, %H:%M UTC')}" in receipt["text"]

    assert join(tg, sam, channel, receipt) == "member"
    notice = tg.wait_message(channel.owner, "New payment")
    assert "Sam (@sam_e2e)" in notice["text"] and "$5.00" in notice["text"]

    stranger = tg.user("Max")
    assert tg.join(stranger, buttons(receipt)[0]["url"])["result"] == "requested"
    tg.wait_message(stranger, "couldn't let you into this channel")
    assert tg.member_status(channel.closed, stranger) != "member"


def test_fifty_concurrent_finished_ipns_settle_once(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    ada = tg.user("Ada")
    pay_message = open_invoice(tg, ada, token)
    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment = np.pay(invoice["id"])

    ipns = np.steps(
        payment,
        [
            {"status": "waiting", "duplicates": 3},
            {"status": "confirming", "duplicates": 3},
            {"status": "finished", "duplicates": 50},
        ],
        concurrent=True,
    )

    # A duplicate that arrives while another instance holds the work answers 503 ("retry later"),
    # so the work is never lost if the holder dies; the holder finishes it once.
    assert len(ipns) == 56 and {i["response_status"] for i in ipns} <= {200, 503}
    assert any(i["response_status"] == 200 and i["payment_status"] == "finished" for i in ipns)
    notified(db, invoice["order_id"])  # any duplicate would have been sent by now
    assert len(texts_in(tg, ada, "Payment received")) == 1
    assert len(texts_in(tg, channel.owner, "New payment")) == 1
    sub = _subscription(db, channel, ada)
    assert sub is not None
    assert sub["expires_at"] - sub["renewed_at"] == timedelta(days=30)
    links = [
        c
        for c in tg.calls("createChatInviteLink")
        if c["params"].get("chat_id") in (channel.closed, str(channel.closed))
    ]
    assert len(links) == 1, [(c["params"], c["response"]) for c in links]


@pytest.mark.parametrize("mode", ["wrong", "tampered", "missing", "python"])
def test_bad_signatures_are_refused_and_change_nothing(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    mode: str,
) -> None:
    channel = new_channel(endpoints, tg, token)
    eve = tg.user("Eve")
    pay_message = open_invoice(tg, eve, token)
    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment = np.pay(invoice["id"], pay_amount=0.00005)  # small amounts: JS and Python number text differ

    [ipn] = np.steps(payment, [{"status": "finished", "signature": mode}])

    assert ipn["response_status"] == 401, ipn
    if mode == "python":
        assert "5e-05" in ipn["signed_text"] or "0.00005" in ipn["body"]
    assert _subscription(db, channel, eve) is None
    [order] = docs_where(db, "orders", "user_id", eve)
    assert order["status"] == "invoiced" and order["payment_status"] is None
    assert texts_in(tg, eve, "Payment received") == []


def test_a_renewal_extends_from_the_old_expiry(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    bo = tg.user("Bo")
    receipt = subscribe(tg, np, bo, channel)
    join(tg, bo, channel, receipt)
    first = _stored(db, channel, bo)["expires_at"]

    second = subscribe(tg, np, bo, channel, tier_index=1)  # 3 months more

    assert _stored(db, channel, bo)["expires_at"] == first + timedelta(days=90)
    assert "now runs until" in second["text"]
    assert [b["text"] for b in buttons(second)] == ["💬 Help"]  # already a member: no new link


def test_crafted_links_cannot_change_a_price(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str
) -> None:
    new_channel(endpoints, tg, token)
    mallory = tg.user("Mallory")
    tg.say(mallory, f"/start {token}-t9")
    tg.wait_message(mallory, "This offer has changed")
    tg.say(mallory, f"/start {token}_price_0.01")
    tg.wait_message(mallory, "can't find that offer")

    # A hand-made update (right secret) with a crafted button: the price still comes from Firestore.
    crafted: dict[str, Any] = {
        "update_id": 990000000 + mallory % 1000,
        "callback_query": {
            "id": "crafted-1",
            "from": {"id": mallory, "is_bot": False, "first_name": "Mallory"},
            "chat_instance": "x",
            "data": f"buy:{token}:t1:0.01",
        },
    }
    httpx.post(
        endpoints["functions"]["telegram_webhook"],
        json=crafted,
        headers={"X-Telegram-Bot-Api-Secret-Token": endpoints["telegram_webhook_secret"]},
        timeout=10,
    )
    crafted["callback_query"]["data"] = f"buy:{token}:t1"
    crafted["update_id"] += 1
    httpx.post(
        endpoints["functions"]["telegram_webhook"],
        json=crafted,
        headers={"X-Telegram-Bot-Api-Secret-Token": endpoints["telegram_webhook_secret"]},
        timeout=10,
    )
    tg.choose_payment(mallory)  # crypto: the choice's buttons carry no price either
    pay_message = tg.wait_message(mallory, "Your invoice is ready")
    assert "$5.00" in pay_message["text"]
    invoices = [i for i in np.http.get("/invoices").json()["invoices"] if f"-{mallory}-" in i["order_id"]]
    assert [i["price_amount"] for i in invoices] == ["5"]


def test_an_event_survives_a_publish_failure(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    stack: Stack,
) -> None:
    """The Pub/Sub emulator is frozen right as the payment settles: the settlement commits, the
    event waits in the outbox, and NowPayments' next delivery of the IPN publishes it."""
    channel = new_channel(endpoints, tg, token)
    kim = tg.user("Kim")
    pay_message = open_invoice(tg, kim, token)
    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment = np.pay(invoice["id"])
    np.steps(payment, [{"status": "confirming"}])
    pubsub = json.loads(stack.pids_file.read_text())["pubsub-emulator"]

    os.killpg(os.getpgid(pubsub), signal.SIGSTOP)
    try:
        [ipn] = np.steps(payment, [{"status": "finished"}])
    finally:
        os.killpg(os.getpgid(pubsub), signal.SIGCONT)

    assert ipn["response_status"] == 503  # settled, but the event is still in the outbox
    assert _subscription(db, channel, kim) is not None
    np.replay(ipn["ipn_id"])  # NowPayments tries again
    tg.wait_message(kim, "Payment received", timeout=30)
    outbox = docs_where(db, "outbox", "order_id", ipn_order(ipn))
    assert [d["published"] for d in outbox] == [True]
    notified(db, ipn_order(ipn))
    assert len(texts_in(tg, kim, "Payment received")) == 1
    assert len(texts_in(tg, channel.owner, "New payment")) == 1


def ipn_order(ipn: dict[str, Any]) -> str:
    return str(json.loads(ipn["body"])["order_id"])
