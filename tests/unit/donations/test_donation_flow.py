"""The donation flow handler by handler, on the in-memory store and fakes: the Donate button opens
the keypad, presses edit it, confirm queues an invoice whose amount comes from the session, the
Pay button replaces the keypad, the payment thanks the donor and tells the owner."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

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
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.donations.keypad import open_keypad, press
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import RecordingTasks
from tests.harness import IPN_SECRET, RecordingPublisher, fakes, runtime
from tests.memory_store import MemoryStore

DONOR = 3131
KeypadSettingsRt = Runtime[KeypadSettings]
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
    assert "Amount: $0.00" in keypad.text
    session_id = opening.session_id or ""
    assert keypad_callback(session_id, "7") in keypad.callbacks()

    queue = RecordingTasks()
    for index, key in enumerate(["1", "2", ".", "5", "ok"]):
        _press(store, session_id, key, f"q{index}", queue)
    _press(store, session_id, "ok", "q4", queue)  # Telegram redelivered the confirm
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.status is KeypadStatus.CONFIRMED and session.amount_text == "12.5"
    assert queue.created == []  # the donor first picks Stars or crypto
    webhook = runtime(TelegramWebhookSettings, store)
    webhook.replace(tasks=queue)
    assert handle_update(updates.press(700, f"dpy:{session_id}:c", DONOR), webhook) == "donation invoice queued"
    [(_, _, invoice_task, _)] = queue.created
    assert isinstance(invoice_task, CreateInvoiceTask) and invoice_task.kind is OrderKind.DONATION

    invoice_rt = runtime(CreateInvoiceSettings, store)
    invoice_telegram, nowpayments, _ = fakes(invoice_rt)
    invoice_telegram.sent.extend(telegram.sent)  # the keypad message lives in the same chat
    assert create_invoice(invoice_task, 1, invoice_rt) == "invoiced"
    assert nowpayments.invoices[0]["price_amount"] == Decimal("12.5")
    [(_, args)] = [c for c in invoice_telegram.calls if c[0] == "edit_message_text"]
    assert args[1] == keypad.message_id and "$12.50" in args[2]  # the Pay button replaced the keypad

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
    assert ["$12.50" in m.text for m in notify_telegram.to(DONOR)] == [True]
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


def _queued_presses(
    store: MemoryStore, session_id: str, *presses: tuple[int, str, str | None]
) -> list[KeypadTask]:
    """The keypad tasks telegram_webhook queues for presses (update id, key, the text the donor saw)."""
    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)
    for update_id, key, seen in presses:
        update = updates.press(update_id, keypad_callback(session_id, key), DONOR, text=seen)
        assert handle_update(update, rt) == "keypad press queued"
    queued = [payload for _, _, payload, _ in tasks.created if isinstance(payload, KeypadTask)]
    assert len(queued) == len(presses)
    return queued


def _opened(store: MemoryStore) -> tuple[str, KeypadSettingsRt]:
    opening = _keypad_task(store)
    rt = runtime(KeypadSettings, store)
    open_keypad(opening, rt)
    return opening.session_id or "", rt


def _keypad_shows(rt: KeypadSettingsRt) -> str:
    telegram, _, _ = fakes(rt)
    [keypad] = telegram.to(DONOR)
    return keypad.text


def test_presses_cloud_tasks_runs_out_of_order_count_in_the_order_they_were_typed() -> None:
    """Found by a random-order run on a loaded machine: the donor typed 2 then 5, the keypad
    queue ran the two presses in the other order, and the amount became $52."""
    store = MemoryStore()
    save_channel(store, demo_channel())
    session_id, rt = _opened(store)
    two, five = _queued_presses(store, session_id, (10, "2", None), (11, "5", None))
    assert press(five, rt).outcome == "applied"
    assert press(two, rt).outcome == "applied"
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.amount_text == "25"
    assert "Amount: $25" in _keypad_shows(rt)


def test_an_edit_that_lands_after_a_later_one_is_corrected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two presses' edits raced: the earlier press's edit reached Telegram last and left $2 on the
    keypad while the session held 25."""
    store = MemoryStore()
    save_channel(store, demo_channel())
    session_id, rt = _opened(store)
    two, five = _queued_presses(store, session_id, (10, "2", None), (11, "5", None))
    telegram, _, _ = fakes(rt)
    edit = telegram.edit_message_text
    overtaken: list[bool] = []

    def slow_edit(chat_id: int, message_id: int, text: str, keyboard: Any = None) -> None:
        if not overtaken:
            overtaken.append(True)
            press(five, rt)  # the next press commits and edits while this edit is on its way
        edit(chat_id, message_id, text, keyboard)

    monkeypatch.setattr(telegram, "edit_message_text", slow_edit)
    press(two, rt)
    assert "Amount: $25" in _keypad_shows(rt)


def test_a_confirm_of_an_amount_the_keypad_no_longer_holds_is_refused() -> None:
    """The donor confirmed what the keypad showed; a press still on its way has changed the amount
    since: nothing is confirmed, the donor is asked to check the amount and confirm again."""
    store = MemoryStore()
    save_channel(store, demo_channel())
    session_id, rt = _opened(store)
    two, five, confirm = _queued_presses(
        store,
        session_id,
        (10, "2", None),
        (11, "5", None),
        (12, "ok", "💝 Donate to Demo\n\nAmount: $2\n\nFrom $1.00 to $500.00."),
    )
    press(two, rt)
    press(five, rt)
    result = press(confirm, rt)
    assert result.outcome == "refused" and result.alert and "Confirm again" in (result.answer or "")
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.status is KeypadStatus.OPEN and session.amount_text == "25"
    _, seen_25 = _queued_presses(
        store, session_id, (13, "ok", None), (14, "ok", "💝 Donate to Demo\n\nAmount: $25\n\n…")
    )
    assert press(seen_25, rt).outcome == "confirmed"
