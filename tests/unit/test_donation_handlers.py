"""The donation flow handler by handler, on the in-memory store and fakes: the Donate button opens
the keypad, presses edit it, confirm queues an invoice whose amount comes from the session, the
Pay button replaces the keypad, the payment thanks the donor and tells the owner."""

from __future__ import annotations

import json
from decimal import Decimal

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    KeypadSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import KeypadStatus
from shared_schemas.ids import OrderKind, keypad_callback
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.tasks import CreateInvoiceTask, KeypadAction, KeypadTask
from telepay import ipn_signature
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.channels import save_channel
from telepay.invoices import create_invoice
from telepay.keypad_logic import open_keypad, press
from telepay.notifications import handle_event
from telepay.payments import handle_ipn
from telepay.webhook import handle_update
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import RecordingTasks
from tests.harness import IPN_SECRET, RecordingPublisher, fakes, runtime
from tests.memory_store import MemoryStore

DONOR = 3131
OWNER = 5001


def _keypad_task(store: MemoryStore) -> KeypadTask:
    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)
    assert handle_update(updates.press(1, "don:DemoChannel01", DONOR), rt) == "keypad queued"
    [(queue, _, payload, _)] = tasks.created
    assert queue == "keypad" and isinstance(payload, KeypadTask) and payload.action is KeypadAction.OPEN
    return payload


def _press(
    store: MemoryStore, session_id: str, key: str, query: str, queue: RecordingTasks | None = None
) -> str:
    rt = runtime(KeypadSettings, store)
    if queue is not None:
        rt.replace(tasks=queue)  # one Cloud Tasks queue for every press, with its name dedupe
    task = KeypadTask(
        action=KeypadAction.PRESS,
        user_id=DONOR,
        chat_id=DONOR,
        channel_token="",
        session_id=session_id,
        key=key,
        callback_query_id=query,
    )
    return press(task, rt).outcome


def test_a_donation_from_button_to_thanks() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    opening = _keypad_task(store)
    rt = runtime(KeypadSettings, store)
    telegram, _, _ = fakes(rt)
    assert open_keypad(opening, rt) == "opened"
    [keypad] = telegram.to(DONOR)
    assert "Amount: $0.00 USD" in keypad.text
    session_id = opening.session_id or ""
    assert keypad_callback(session_id, "7") in keypad.callbacks()

    queue = RecordingTasks()
    for index, key in enumerate(["1", "2", ".", "5", "ok"]):
        _press(store, session_id, key, f"q{index}", queue)
    _press(store, session_id, "ok", "q4", queue)  # Telegram redelivered the confirm
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.status is KeypadStatus.CONFIRMED and session.amount_text == "12.5"
    [(_, _, invoice_task, _)] = queue.created
    assert isinstance(invoice_task, CreateInvoiceTask) and invoice_task.kind is OrderKind.DONATION

    invoice_rt = runtime(CreateInvoiceSettings, store)
    invoice_telegram, nowpayments, _ = fakes(invoice_rt)
    invoice_telegram.sent.extend(telegram.sent)  # the keypad message lives in the same chat
    assert create_invoice(invoice_task, 1, invoice_rt) == "invoiced"
    assert nowpayments.invoices[0]["price_amount"] == Decimal("12.5")
    [(_, args)] = [c for c in invoice_telegram.calls if c[0] == "edit_message_text"]
    assert args[1] == keypad.message_id and "$12.50 USD" in args[2]  # the Pay button replaced the keypad

    ipn_rt = runtime(IpnHandlerSettings, store)
    _, ipn_nowpayments, _ = fakes(ipn_rt)
    ipn_nowpayments.set_payment(90, invoice_task.order_id, "finished", "12.50")
    body = json.dumps(
        {"payment_id": 90, "payment_status": "finished", "order_id": invoice_task.order_id}
    ).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), ipn_rt).http_status == 200
    publisher = ipn_rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    [(_, data, _)] = publisher.published

    notify_rt = runtime(NotifySettings, store)
    handle_event(Envelope[PaymentEvent].model_validate_json(data), notify_rt)
    notify_telegram, _, _ = fakes(notify_rt)
    assert ["$12.50 USD" in m.text for m in notify_telegram.to(DONOR)] == [True]
    assert ["donation" in m.text.lower() for m in notify_telegram.to(OWNER)] == [True]


def test_presses_outside_the_rules_are_refused_with_the_reason() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    opening = _keypad_task(store)
    rt = runtime(KeypadSettings, store)
    open_keypad(opening, rt)
    session_id = opening.session_id or ""
    assert _press(store, session_id, "ok", "a") == "refused"  # nothing typed
    assert _press(store, session_id, "1", "b") == "applied"
    assert _press(store, session_id, "ok", "c") == "refused"  # below the channel's minimum
    assert _press(store, session_id, "bs", "d") == "applied"
    assert _press(store, session_id, "bs", "e") == "refused"  # nothing to delete
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.amount_text == "" and session.status is KeypadStatus.OPEN
    assert session.applied_presses == ["a", "b", "c", "d", "e"]


def test_a_rate_limited_edit_keeps_the_press_and_a_retry_finishes_it() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    opening = _keypad_task(store)
    open_keypad(opening, runtime(KeypadSettings, store))
    session_id = opening.session_id or ""
    rt = runtime(KeypadSettings, store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["edit_message_text"] = [TelegramRetryAfter(2)]
    task = KeypadTask(
        action=KeypadAction.PRESS,
        user_id=DONOR,
        chat_id=DONOR,
        channel_token="",
        session_id=session_id,
        key="7",
        callback_query_id="q1",
    )
    try:
        press(task, rt)
    except TelegramRetryAfter:
        pass
    assert press(task, rt).outcome == "duplicate press"  # Cloud Tasks' retry: applied once, redrawn
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.amount_text == "7"
    assert telegram.names().count("edit_message_text") == 2
