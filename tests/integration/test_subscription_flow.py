"""telegram_webhook, create_invoice and notify logic against the Firestore emulator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.documents import ChannelStatus, OrderDoc, OrderStatus, SubscriptionDoc
from shared_schemas.ids import subscription_id
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from shared_schemas.names import Collection
from shared_schemas.tasks import CreateInvoiceTask
from telepay.adapters.telegram_api import TelegramForbidden, TelegramUnavailable
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core.errors import RetryLater, Transient
from telepay.payments.invoices import create_invoice
from telepay.payments.notify import handle_event
from tests.conftest import demo_channel
from tests.harness import nowpayments_of, telegram_of
from tests.integration.helpers import NOW, runtime, store_of

pytestmark = pytest.mark.integration
BUYER = 424242


def _start(update_id: int, text: str, user: int = BUYER) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "Ada"},
            "text": text,
        },
    }


def _press(update_id: int, data: str, user: int = BUYER) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": "Ada"},
            "chat_instance": "x",
            "data": data,
            "message": {"message_id": 9, "date": 0, "chat": {"id": user, "type": "private"}},
        },
    }


def _webhook_rt(db: Any) -> Any:
    rt = runtime(db, "webhook")
    return rt


def test_start_shows_the_offer_from_firestore(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)

    assert handle_update(_start(1, "/start DemoChannel01"), rt) == "offer shown"

    [offer] = telegram_of(rt).sent
    assert "Night Owls Club" in offer.text and "Late-night market notes" in offer.text
    labels = [b.text for row in offer.keyboard or [] for b in row]
    assert labels == [
        "Monthly · $5.00 or ⭐250 · 1 month",
        "Quarterly · $12.50 or ⭐625 · 3 months",
        "🏷 I have a code",
        "🎁 Buy as a gift",
        "💝 Donate",
    ]
    assert offer.callbacks() == [
        "buy:DemoChannel01:t1",
        "buy:DemoChannel01:t2",
        "pce:DemoChannel01",
        "gft:DemoChannel01:",
        "don:DemoChannel01",
    ]


@pytest.mark.parametrize("token", ["NoSuchChannel", "../../etc", "x" * 200, "DemoChannel01 extra"])
def test_unknown_or_malformed_tokens_get_a_friendly_answer(firestore_db: Any, token: str) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    handle_update(_start(2, f"/start {token}"), rt)
    assert [m.text for m in telegram_of(rt).sent] == [
        "Sorry, I can't find that offer. Please check the link with the channel owner."
    ]


def test_paused_channel_takes_no_new_subscribers(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel(status=ChannelStatus.PAUSED))
    rt = _webhook_rt(firestore_db)
    handle_update(_start(3, "/start DemoChannel01"), rt)
    assert "isn't taking new subscribers" in telegram_of(rt).sent[0].text


def test_a_redelivered_update_is_handled_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    handle_update(_start(4, "/start DemoChannel01"), rt)
    assert handle_update(_start(4, "/start DemoChannel01"), rt).startswith("duplicate")
    assert len(telegram_of(rt).sent) == 1


def test_a_transient_failure_lets_telegram_redeliver(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    telegram_of(rt).fail_next = [TelegramUnavailable("network")]
    with pytest.raises(Transient):
        handle_update(_start(5, "/start DemoChannel01"), rt)
    assert handle_update(_start(5, "/start DemoChannel01"), rt) == "offer shown"


def test_a_permanent_failure_is_recorded_and_acknowledged(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    telegram_of(rt).fail_next = [TelegramForbidden("Forbidden: bot was blocked by the user")]
    assert handle_update(_start(6, "/start DemoChannel01"), rt) == "failed permanently"
    recorded = firestore_db.collection(Collection.FAILED_UPDATES.value).document("6").get().to_dict()
    assert "blocked" in recorded["reason"]


def test_a_tier_button_queues_an_invoice_without_any_price(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    assert handle_update(_press(6, "buy:DemoChannel01:t2"), rt) == "payment choice shown"
    assert handle_update(_press(7, "pay:DemoChannel01:t2:c"), rt) == "invoice queued"
    handle_update(_press(7, "pay:DemoChannel01:t2:c"), rt)  # re-delivered

    [(queue, _, payload, name)] = rt.tasks.created
    assert queue == "create-invoice" and name == "pay-cq7"
    assert payload.tier_id == "t2" and "price" not in payload.model_dump()
    assert ("answer_callback_query", ("cq7", "Preparing your invoice…")) in telegram_of(rt).calls


def test_a_crafted_tier_is_refused(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _webhook_rt(firestore_db)
    assert handle_update(_press(8, "buy:DemoChannel01:t9"), rt) == "stale offer"
    assert rt.tasks.created == []


def _task(db: Any, tier: str = "t1") -> CreateInvoiceTask:
    from shared_schemas.ids import subscription_order_id

    return CreateInvoiceTask(
        order_id=subscription_order_id("DemoChannel01", BUYER, tier),
        user_id=BUYER,
        chat_id=BUYER,
        channel_token="DemoChannel01",
        kind="sub",
        tier_id=tier,
    )


def test_create_invoice_charges_the_firestore_price_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db, "invoice")
    task = _task(firestore_db, "t2")

    assert create_invoice(task, 1, rt) == "invoiced"
    assert create_invoice(task, 2, rt) == "already done"  # a retried task

    [invoice] = nowpayments_of(rt).invoices
    assert invoice["price_amount"] == Decimal("12.50") and invoice["order_id"] == task.order_id
    order = OrderDoc.model_validate(firestore_db.collection("orders").document(task.order_id).get().to_dict())
    assert order.status is OrderStatus.INVOICED and order.days == 90 and order.pay_message_id
    [pay] = telegram_of(rt).sent
    assert "$12.50" in pay.text and pay.button_urls() == [order.invoice_url]


def test_create_invoice_retries_then_tells_the_user(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = runtime(firestore_db, "invoice")
    nowpayments_of(rt).unavailable = 5
    task = _task(firestore_db)
    for attempt in range(1, 5):
        with pytest.raises(RetryLater):
            create_invoice(task, attempt, rt)
    outcome = create_invoice(task, 5, rt)

    assert outcome.startswith("invoice failed")
    assert "couldn't create your invoice" in telegram_of(rt).sent[-1].text
    order = firestore_db.collection("orders").document(task.order_id).get().to_dict()
    assert order["status"] == OrderStatus.INVOICE_FAILED.value and order["invoice_id"] is None


def _settled(db: Any, in_channel: bool = False) -> Envelope[PaymentEvent]:
    channel = demo_channel()
    save_channel(store_of(db), channel)
    until = NOW + timedelta(days=30)
    sub = SubscriptionDoc(
        channel_token=channel.token,
        user_id=BUYER,
        closed_channel_id=channel.closed_channel_id,
        expires_at=until,
        started_at=NOW,
        last_order_id="tp1-sub-DemoChannel01-424242-t1-abcdefghij",
        in_channel=in_channel,
        updated_at=NOW,
    )
    db.collection("subscriptions").document(subscription_id(channel.token, BUYER)).set(sub.to_firestore())
    data = PaymentEvent(
        order_id=sub.last_order_id,
        kind="sub",
        user_id=BUYER,
        chat_id=BUYER,
        channel_token=channel.token,
        channel_title=channel.title,
        owner_user_id=channel.owner_user_id,
        closed_channel_id=channel.closed_channel_id,
        tier_id="t1",
        days=30,
        price_amount=Decimal("5.00"),
        price_currency="USD",
        payment_id=1,
        payment_status="finished",
        actually_paid=Decimal("0.00005"),
        pay_currency="btc",
        subscription_expires_at=until,
    )
    return Envelope[PaymentEvent](
        event_id=f"{sub.last_order_id}.payment.settled",
        type=EventType.PAYMENT_SETTLED,
        occurred_at=NOW,
        data=data,
    )


def test_notify_sends_access_and_owner_notice_once(firestore_db: Any) -> None:
    envelope = _settled(firestore_db)
    rt = runtime(firestore_db, "notify")

    handle_event(envelope, rt)
    handle_event(envelope, rt)  # re-delivered

    [access] = telegram_of(rt).to(BUYER)
    assert "Access until Saturday, 26 December 2026, 12:00 UTC" in access.text
    assert access.button_urls()[0].startswith("https://t.me/+")
    [notice] = telegram_of(rt).to(5001)
    assert "$5.00" in notice.text and "0.00005 BTC" in notice.text
    assert telegram_of(rt).names().count("create_join_request_link") == 1


def test_a_member_just_gets_the_new_expiry(firestore_db: Any) -> None:
    envelope = _settled(firestore_db, in_channel=True)
    rt = runtime(firestore_db, "notify")
    handle_event(envelope, rt)
    [receipt] = telegram_of(rt).to(BUYER)
    assert "now runs until Saturday, 26 December 2026" in receipt.text
    assert receipt.callbacks() == ["sup:DemoChannel01"]  # no Join button, only 💬 Help (support)


def test_a_buyer_who_blocked_the_bot_is_recorded_not_retried(firestore_db: Any) -> None:
    envelope = _settled(firestore_db)
    rt = runtime(firestore_db, "notify")
    telegram_of(rt).fail_method["send_message"] = [
        TelegramForbidden("Forbidden: bot was blocked by the user")
    ]
    outcomes = handle_event(envelope, rt)
    assert outcomes[0] == "buyer: blocked"
    assert firestore_db.collection("users").document(str(BUYER)).get().to_dict()["blocked_bot"] is True
    handle_event(envelope, rt)
    assert telegram_of(rt).to(BUYER) == []


def _join(update_id: int, user: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "chat_join_request": {
            "chat": {"id": -1001000000002, "type": "channel"},
            "from": {"id": user, "is_bot": False, "first_name": "X"},
            "user_chat_id": user,
            "date": 0,
        },
    }


def test_join_requests_approved_for_subscribers_only(firestore_db: Any) -> None:
    _settled(firestore_db)
    rt = _webhook_rt(firestore_db)
    assert handle_update(_join(20, BUYER), rt) == "join approved"
    assert handle_update(_join(21, 999), rt) == "join declined"
    sub = (
        firestore_db.collection("subscriptions")
        .document(subscription_id("DemoChannel01", BUYER))
        .get()
        .to_dict()
    )
    assert sub["in_channel"] is True
    assert ("decline_join_request", (-1001000000002, 999)) in telegram_of(rt).calls
