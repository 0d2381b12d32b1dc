"""Telegram Stars, handler by handler on the in-memory store and fakes, as a buyer walks it: the
tier, "Pay with Stars", the invoice (a Star subscription for the 30-day tier, a one-time invoice
for the 90-day one), the pre-checkout answer, `successful_payment`, Telegram's own renewal, the
ledger held until Telegram releases the Stars, a refund, /subscriptions and /paysupport (a support thread)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from shared_schemas.config import CreateInvoiceSettings, NotifySettings, TelegramWebhookSettings
from shared_schemas.documents import EntryState, OrderStatus, SubscriptionStatus, Tier
from shared_schemas.ids import PayRail, subscription_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.payments.invoices import create_invoice
from telepay.payments.notify import handle_event
from telepay.payments.stars import refund_star_payment
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, RecordingPublisher, fakes, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001
TOKEN = "DemoChannel01"
MONTH = 30 * 86400


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def _choose_stars(store: MemoryStore, tier: str = "t1", update_id: int = 1) -> CreateInvoiceTask:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, tasks = fakes(rt)
    assert handle_update(updates.start(update_id, f"/start {TOKEN}", BUYER), rt) == "offer shown"
    offer = telegram.sent[-1]
    assert "⭐250" in offer.buttons()[0].text and "$5.00" in offer.buttons()[0].text  # USD and Stars
    assert (
        handle_update(updates.press(update_id + 1, f"buy:{TOKEN}:{tier}", BUYER), rt)
        == "payment choice shown"
    )
    assert handle_update(updates.press(update_id + 2, f"pay:{TOKEN}:{tier}:s", BUYER), rt) == "invoice queued"
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask) and task.rail is PayRail.STARS
    return task


def _invoice(
    store: MemoryStore, task: CreateInvoiceTask
) -> tuple[str, list[str], dict[str, tuple[int, int | None]]]:
    rt = runtime(CreateInvoiceSettings, store)
    telegram, nowpayments, _ = fakes(rt)
    assert create_invoice(task, 1, rt) == "invoiced in Stars"
    assert nowpayments.invoices == []  # no NowPayments invoice for a Stars order
    return task.order_id, [m.text for m in telegram.to(BUYER)], telegram.invoices


def _webhook(
    store: MemoryStore, update: dict[str, object], days: int = 0
) -> tuple[str, list[str], list[bytes]]:
    rt = runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=days))
    telegram, _, _ = fakes(rt)
    outcome = handle_update(update, rt)
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    return outcome, [m.text for m in telegram.to(BUYER)], [data for _, data, _ in publisher.published]


def _notify(store: MemoryStore, data: bytes) -> tuple[list[str], list[str]]:
    rt = runtime(NotifySettings, store)
    telegram, _, _ = fakes(rt)
    handle_event(Envelope[PaymentEvent].model_validate_json(data), rt)
    return [m.text for m in telegram.to(BUYER)], [m.text for m in telegram.to(OWNER)]


def test_a_star_subscription_is_paid_renewed_by_telegram_and_stopped_by_the_buyer(store: MemoryStore) -> None:
    order_id, said, invoices = _invoice(store, _choose_stars(store))
    assert invoices == {order_id: (250, 2592000)}  # a Star subscription link: 30 days, 250 Stars
    assert "Star subscription is ready" in said[-1] and "⭐250 every 30 days" in said[-1]

    # Pay: Telegram asks first; the order stands.
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.pre_checkout(10, BUYER, order_id, 250), rt) == "pre-checkout accepted"
    assert telegram.checkout_answers == [("pcq10", True, None)]

    paid_at = int(NOW.timestamp())
    payment = updates.star_payment(11, BUYER, order_id, 250, "stx-1", paid_at, paid_at + MONTH, True, True)
    outcome, _, events = _webhook(store, payment)
    assert outcome.startswith("finished: payment.settled")
    buyer, owner = _notify(store, events[0])
    assert "Payment received" in buyer[0] and "⭐250" in buyer[0] and "renews by itself on" in buyer[0]
    assert "New payment" in owner[0] and "⭐250" in owner[0]
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=30)
    assert (
        sub.star_renewal is not None
        and sub.star_renewal.charge_id == "stx-1"
        and not sub.star_renewal.canceled
    )
    entry = store.ledger.get(order_id)
    assert entry is not None and entry.gross_amount == Decimal(250) and entry.gross_currency == "xtr"
    assert entry.settled_currency == "usd" and entry.settled_amount == Decimal("3.25")  # 250 x 0.013
    assert entry.held_until == NOW + timedelta(days=21)  # Telegram holds Stars before withdrawal

    # The same update again, and the same charge again: nothing changes.
    assert _webhook(store, payment)[0] == "duplicate (done)"
    again = updates.star_payment(12, BUYER, order_id, 250, "stx-1", paid_at, paid_at + MONTH, True, True)
    assert _webhook(store, again)[0] == "duplicate (done)"

    # 30 days later Telegram charges again by itself: 30 more days, and the buyer is told so.
    renewal = updates.star_payment(
        13, BUYER, order_id, 250, "stx-2", paid_at + MONTH, paid_at + 2 * MONTH, recurring=True
    )
    outcome, _, events = _webhook(store, renewal, days=30)
    assert "another payment.settled" in outcome
    buyer, owner = _notify(store, events[0])
    assert "renewed by itself" in buyer[0] and "Star subscription renewed" in owner[0]
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=60)
    assert sub.star_renewal is not None and sub.star_renewal.charge_id == "stx-1"  # Telegram's handle
    assert store.ledger.get(f"{order_id}.stx-2") is not None

    # /subscriptions: the buyer stops auto-renewal and keeps the days paid for.
    rt = runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=31))
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(20, "/subscriptions", BUYER), rt)
    listing = telegram.sent[-1]
    assert "renews by itself on" in listing.text and f"srn:{TOKEN}:off" in listing.callbacks()
    assert handle_update(updates.press(21, f"srn:{TOKEN}:off", BUYER), rt) == "renewal off"
    assert telegram.star_subscriptions == {"stx-1": True}
    assert "Auto-renewal of Night Owls Club is off" in telegram.sent[-1].text
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.star_renewal is not None and sub.star_renewal.canceled
    assert sub.expires_at == NOW + timedelta(days=60) and sub.status is SubscriptionStatus.ACTIVE


def test_a_one_time_stars_purchase_of_a_90_day_tier(store: MemoryStore) -> None:
    order_id, _, invoices = _invoice(store, _choose_stars(store, "t2"))
    assert invoices == {order_id: (625, None)}  # $12.50 at $0.02 a Star, one-time (sendInvoice)
    payment = updates.star_payment(11, BUYER, order_id, 625, "stx-9", int(NOW.timestamp()))
    outcome, _, events = _webhook(store, payment)
    assert outcome.startswith("finished: payment.settled")
    buyer, _ = _notify(store, events[0])
    assert "renews" not in buyer[0]
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=90) and sub.star_renewal is None


def test_a_changed_price_refuses_the_pre_checkout(store: MemoryStore) -> None:
    order_id, _, _ = _invoice(store, _choose_stars(store))
    # The owner raised the price meanwhile ($6.00 is ⭐300): the invoice for ⭐250 no longer stands.
    save_channel(
        store, demo_channel(tiers=[Tier(tier_id="t1", price=Decimal("6.00"), days=30, label="Monthly")])
    )
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.pre_checkout(10, BUYER, order_id, 250), rt).startswith(
        "pre-checkout refused"
    )
    [(_, ok, reason)] = telegram.checkout_answers
    assert (
        not ok
        and reason == "The price changed since this invoice was made. Open the offer again for the new price."
    )
    # Someone else's invoice, and a forged amount, are refused too.
    assert handle_update(updates.pre_checkout(11, 999, order_id, 250), rt).startswith("pre-checkout refused")
    assert handle_update(updates.pre_checkout(12, BUYER, "tp1-sub-x", 1), rt).startswith(
        "pre-checkout refused"
    )


def test_an_operator_refund_takes_the_days_off_and_reverses_the_ledger(store: MemoryStore) -> None:
    order_id, _, _ = _invoice(store, _choose_stars(store, "t2"))
    _webhook(store, updates.star_payment(11, BUYER, order_id, 625, "stx-9", int(NOW.timestamp())))
    rt = runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=1))
    telegram, _, _ = fakes(rt)
    assert refund_star_payment(rt, "stx-9", "ops@example").startswith("refunded")
    assert telegram.refunded == ["stx-9"]
    order = store.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.REFUNDED
    entry = store.ledger.get(order_id)
    assert entry is not None and entry.state is EntryState.REVERSED
    sub = store.subscriptions.get(subscription_id(TOKEN, BUYER))
    assert sub is not None and sub.expires_at == NOW + timedelta(days=1)  # the unused days removed
    record = store.star_payments.get("stx-9")
    assert record is not None and record.refund_source == "operator ops@example"
    # Telegram's refunded_payment message for the same charge changes nothing more.
    assert _webhook(store, updates.star_refund(12, BUYER, order_id, 625, "stx-9"))[0] == "already refunded"
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    [(_, data, _)] = publisher.published
    buyer, owner = _notify(store, data)
    assert "refunded" in " ".join(buyer + owner).lower()


def test_a_stars_donation_shows_both_amounts_then_invoices_in_stars(store: MemoryStore) -> None:
    from shared_schemas.config import KeypadSettings
    from shared_schemas.tasks import KeypadAction, KeypadTask
    from telepay.donations.keypad import open_keypad, press
    from tests.fakes import RecordingTasks

    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)
    handle_update(updates.press(1, f"don:{TOKEN}", BUYER), rt)
    [(_, _, opening, _)] = tasks.created
    assert isinstance(opening, KeypadTask)
    keypad_rt = runtime(KeypadSettings, store)
    keypad_telegram, _, _ = fakes(keypad_rt)
    open_keypad(opening, keypad_rt)
    session_id = opening.session_id or ""
    queue = RecordingTasks()
    for index, key in enumerate(["1", "0", "ok"]):
        step = runtime(KeypadSettings, store)
        step.replace(tasks=queue, telegram=keypad_telegram)
        press(
            KeypadTask(
                action=KeypadAction.PRESS,
                user_id=BUYER,
                chat_id=BUYER,
                channel_token="",
                session_id=session_id,
                key=key,
                callback_query_id=f"k{index}",
                message_id=keypad_telegram.sent[0].message_id,
                update_id=100 + index,
            ),
            step,
        )
    choice = keypad_telegram.sent[0]
    assert "$10.00 or ⭐500" in choice.text and queue.created == []
    webhook = runtime(TelegramWebhookSettings, store)
    webhook.replace(tasks=queue)
    assert (
        handle_update(updates.press(200, f"dpy:{session_id}:s", BUYER), webhook) == "donation invoice queued"
    )
    [(_, _, task, _)] = queue.created
    assert isinstance(task, CreateInvoiceTask) and task.rail is PayRail.STARS
    invoicing = runtime(CreateInvoiceSettings, store)
    invoice_telegram, _, _ = fakes(invoicing)
    assert create_invoice(task, 1, invoicing) == "invoiced in Stars"
    assert invoice_telegram.invoices == {task.order_id: (500, None)}
    outcome, _, events = _webhook(store, updates.star_payment(201, BUYER, task.order_id, 500, "stx-d"))
    assert outcome.startswith("finished: payment.settled")
    donor, owner = _notify(store, events[0])
    assert "Thank you for your donation of ⭐500" in donor[0] and "donated ⭐500" in owner[0]


def test_paysupport_opens_a_support_thread_with_the_owner_and_is_kept(store: MemoryStore) -> None:
    order_id, _, _ = _invoice(store, _choose_stars(store, "t2"))
    _webhook(store, updates.star_payment(11, BUYER, order_id, 625, "stx-9", int(NOW.timestamp())))
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(30, "/paysupport", BUYER), rt) == "support: asked what went wrong"
    assert "Write what went wrong with Night Owls Club" in telegram.to(BUYER)[-1].text
    said = "/paysupport I paid ⭐625 but the link expired"
    assert handle_update(updates.start(31, said, BUYER), rt) == "support thread opened"
    [told] = telegram.to(OWNER)
    assert "Support request about Night Owls Club" in told.text and "the link expired" in told.text
    assert f"{order_id} · ⭐625 · paid" in told.text  # the order paid in Stars, with its currency
    assert "Sent to the owner of Night Owls Club" in telegram.to(BUYER)[-1].text
    request = store.pay_support.get(f"{BUYER}-31")
    assert (
        request is not None
        and request.user_id == BUYER
        and request.channel_tokens == [TOKEN]
        and "link expired" in request.text
    )


def test_a_payment_for_no_order_is_not_applied(store: MemoryStore) -> None:
    outcome, _, events = _webhook(store, updates.star_payment(11, BUYER, "not-an-order", 100, "stx-x"))
    assert outcome == "unknown order" and events == []
    assert store.star_payments.get("stx-x") is None


def test_a_stop_whose_confirmation_telegram_held_back_is_confirmed_on_redelivery(store: MemoryStore) -> None:
    from telepay.adapters.telegram_api import TelegramRetryAfter

    order_id, _, _ = _invoice(store, _choose_stars(store))
    paid_at = int(NOW.timestamp())
    _webhook(
        store, updates.star_payment(11, BUYER, order_id, 250, "stx-1", paid_at, paid_at + MONTH, True, True)
    )
    rt = runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=1))
    telegram, _, _ = fakes(rt)
    telegram.fail_method["send_message"] = [TelegramRetryAfter(2)]  # the confirmation: 429
    press = updates.press(21, f"srn:{TOKEN}:off", BUYER)
    with pytest.raises(TelegramRetryAfter):
        handle_update(press, rt)  # answered 503: Telegram delivers it again
    assert telegram.star_subscriptions == {"stx-1": True}  # Telegram took the stop
    assert handle_update(press, rt) == "renewal off"
    assert "Auto-renewal of Night Owls Club is off" in telegram.to(BUYER)[-1].text
