"""The donation keypad. State lives in Firestore (`keypad_sessions`), never in process memory, so
any instance can serve any press; each press is applied in a transaction and at most once.

Input rules: digits, at most one decimal point, at most two decimals, no leading zeros (a digit
typed after a lone 0 replaces it), at most four digits before the point; confirm only between the
channel's minimum and maximum.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from shared_schemas.config import KeypadSettings
from shared_schemas.documents import ChannelDoc, KeypadSessionDoc, KeypadStatus
from shared_schemas.ids import OrderKind, donation_order_id, keypad_callback
from shared_schemas.money import cents, format_amount
from shared_schemas.names import Queue
from shared_schemas.tasks import CreateInvoiceTask, KeypadTask
from telepay.adapters.tasks_queue import enqueue_once
from telepay.adapters.telegram_api import Button, TelegramBadRequest, is_not_modified
from telepay.channels.lookup import load_channel
from telepay.core.errors import Malformed
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.runtime import Runtime

log = get_logger("telepay.keypad")
Rt = Runtime[KeypadSettings]
MAX_INTEGER_DIGITS = 4
SESSION_LIFETIME = timedelta(days=2)
KEEP_PRESS_IDS = 100
DIGITS = tuple("0123456789")
KEY_POINT, KEY_BACK, KEY_CLEAR, KEY_CONFIRM, KEY_CANCEL = ".", "bs", "clr", "ok", "x"
KEYS = (*DIGITS, KEY_POINT, KEY_BACK, KEY_CLEAR, KEY_CONFIRM, KEY_CANCEL)
AMOUNT_LINE_PREFIX = "Amount: "
AMOUNT_CHANGED = "The amount changed while you typed: check it and tap Confirm again."
VALID_TEXT = re.compile(r"^(0|[1-9]\d{0,3})?(\.\d{0,2})?$")


def new_session_id() -> str:
    return secrets.token_urlsafe(9)


# -- pure input rules ------------------------------------------------------------------------------
def apply_key(text: str, key: str) -> tuple[str, str | None]:
    """The amount text after an editing key, and the reason when the key is refused."""
    if key == KEY_CLEAR:
        return "", None if text else "Nothing to clear"
    if key == KEY_BACK:
        return (text[:-1], None) if text else (text, "Nothing to delete")
    if key == KEY_POINT:
        if "." in text:
            return text, "Only one decimal point"
        return (text or "0") + ".", None
    if key in DIGITS:
        whole, point, decimals = text.partition(".")
        if point:
            if len(decimals) >= 2:
                return text, "Two decimals at most"
            return text + key, None
        if whole == "0":
            return key, None  # no leading zeros: the digit replaces the lone 0
        if len(whole) >= MAX_INTEGER_DIGITS:
            return text, "That's the longest amount I take"
        return text + key, None
    return text, "Unknown key"


def amount_of(text: str) -> Decimal | None:
    if not text or not VALID_TEXT.match(text) or text == ".":
        return None
    try:
        return Decimal(text.rstrip(".") or "0")
    except InvalidOperation:
        return None


def confirm_refusal(text: str, channel: ChannelDoc) -> str | None:
    amount = amount_of(text)
    if amount is None or amount == 0:
        return "Type an amount first"
    if amount < channel.donation_min:
        return f"The minimum is {format_amount(channel.donation_min, channel.currency)}"
    if amount > channel.donation_max:
        return f"The maximum is {format_amount(channel.donation_max, channel.currency)}"
    return None


def shown(text: str, currency: str) -> str:
    amount = amount_of(text)
    if amount is None:
        return format_amount(Decimal(0), currency)
    symbol = format_amount(Decimal(0), currency).split("0", 1)[0]
    return f"{symbol}{text} {currency.upper()}" if symbol else f"{text} {currency.upper()}"


def amount_line(channel: ChannelDoc, text: str) -> str:
    return f"{AMOUNT_LINE_PREFIX}{shown(text, channel.currency)}"


def keypad_text(channel: ChannelDoc, text: str) -> str:
    return (
        f"💝 Donate to {channel.title}\n\n"
        f"{amount_line(channel, text)}\n\n"
        f"From {format_amount(channel.donation_min, channel.currency)} "
        f"to {format_amount(channel.donation_max, channel.currency)}."
    )


def keypad_keyboard(session_id: str) -> list[list[Button]]:
    def b(label: str, key: str) -> Button:
        return Button(label, callback_data=keypad_callback(session_id, key))

    return [
        [b("1", "1"), b("2", "2"), b("3", "3")],
        [b("4", "4"), b("5", "5"), b("6", "6")],
        [b("7", "7"), b("8", "8"), b("9", "9")],
        [b(".", KEY_POINT), b("0", "0"), b("⌫", KEY_BACK)],
        [b("Clear", KEY_CLEAR), b("✖ Cancel", KEY_CANCEL)],
        [b("✅ Confirm", KEY_CONFIRM)],
    ]


# -- one press, decided (pure) --------------------------------------------------------------------
@dataclass
class PressResult:
    outcome: str
    answer: str | None = None
    alert: bool = False


@dataclass(frozen=True)
class PressDecision:
    result: PressResult
    updates: dict[str, Any]  # the session's field updates; empty when nothing is written
    session: KeypadSessionDoc | None = None  # the session after the press, when there is work after it


def typed(
    base: str, presses: list[str], key: str, order: int | None
) -> tuple[str, list[str], str, str | None]:
    """The amount after one more editing key, applied in the order the donor typed (Telegram's update
    ids), whatever order the presses arrive in: (amount, presses, base, the key's refusal)."""
    entries = [(int(seq), pressed) for seq, _, pressed in (p.partition(":") for p in presses)]
    seq = order if order is not None else max((s for s, _ in entries), default=0) + 1
    position = sum(1 for s, _ in entries if s <= seq)  # after every press typed before it
    entries.insert(position, (seq, key))
    text, refusal = base, None
    for index, (_, pressed) in enumerate(entries):
        text, refused = apply_key(text, pressed)
        if index == position:
            refusal = refused
    if refusal:
        return text, presses, base, refusal  # nothing changes; the refused key is not kept
    if len(entries) > KEEP_PRESS_IDS:  # the oldest half folded into the base
        half = len(entries) // 2
        for _, pressed in entries[:half]:
            base, _ = apply_key(base, pressed)
        entries = entries[half:]
    return text, [f"{s}:{k}" for s, k in entries], base, None


def decide_press(
    session: KeypadSessionDoc | None,
    channel: ChannelDoc | None,
    user_id: int,
    key: str,
    query_id: str,
    now: datetime,
    order: int | None = None,
    shown_amount: str | None = None,
) -> PressDecision:
    """What one press does to a keypad session: applied at most once per callback query. `order`:
    the press's update id (presses count in that order); `shown_amount`: the amount line the donor
    saw when confirming (a confirm of an amount the session no longer holds is refused)."""
    if session is None:
        return PressDecision(PressResult("no session", "This keypad has expired. Tap Donate again."), {})
    if session.user_id != user_id:
        return PressDecision(PressResult("not the owner", "This keypad belongs to someone else."), {})
    if query_id in session.applied_presses:
        # Applied before, but the work after the commit may not have finished (a 429 on the edit
        # makes Cloud Tasks retry): finish it from the stored state.
        again = {
            KeypadStatus.CONFIRMED: "Preparing your invoice…",
            KeypadStatus.CANCELLED: "Donation cancelled",
        }
        return PressDecision(PressResult("duplicate press", again.get(session.status)), {}, session)
    if session.status is not KeypadStatus.OPEN:
        return PressDecision(
            PressResult("closed keypad", "This keypad is closed. Tap Donate to start again."), {}
        )
    if channel is None:
        return PressDecision(PressResult("channel gone", "This channel no longer takes donations."), {})
    presses = [*session.applied_presses, query_id][-KEEP_PRESS_IDS:]
    recorded: dict[str, Any] = {"applied_presses": presses}
    updates: dict[str, Any] = {**recorded, "updated_at": now}
    if key == KEY_CANCEL:
        updates["status"] = KeypadStatus.CANCELLED
        result = PressResult("cancelled", "Donation cancelled")
    elif key == KEY_CONFIRM:
        if shown_amount is not None and shown_amount != amount_line(channel, session.amount_text):
            return PressDecision(PressResult("refused", AMOUNT_CHANGED, alert=True), recorded)
        refusal = confirm_refusal(session.amount_text, channel)
        amount = amount_of(session.amount_text)
        if refusal or amount is None:
            return PressDecision(
                PressResult("refused", refusal or "Type an amount first", alert=True), recorded
            )
        order_id = donation_order_id(channel.token, session.user_id, cents(amount))
        updates |= {"status": KeypadStatus.CONFIRMED, "order_id": order_id}
        result = PressResult("confirmed", "Preparing your invoice…")
    else:
        text, typed_presses, base, refusal = typed(session.presses_base, session.presses, key, order)
        if refusal:
            return PressDecision(PressResult("refused", refusal), recorded)
        updates |= {"amount_text": text, "presses": typed_presses, "presses_base": base}
        result = PressResult("applied")
    merged = session.model_copy(
        update={k: v for k, v in updates.items() if k in KeypadSessionDoc.model_fields}
    )
    return PressDecision(result, updates, merged)


# -- the function's work ---------------------------------------------------------------------------
def open_keypad(task: KeypadTask, rt: Rt) -> str:
    if not task.session_id:
        raise Malformed("an open-keypad task without a session id")
    store = rt.store
    channel = load_channel(store, task.channel_token)
    if channel is None:
        return "unknown channel"
    now = rt.clock.now()
    session = KeypadSessionDoc(
        session_id=task.session_id,
        user_id=task.user_id,
        user_name=task.user_name,
        chat_id=task.chat_id,
        channel_token=channel.token,
        updated_at=now,
        expire_at=now + SESSION_LIFETIME,
    )
    if not store.keypad_sessions.create(task.session_id, session):
        existing = store.keypad_sessions.get(task.session_id)
        if existing is not None and existing.message_id is not None:
            return "already open"
    message = rt.telegram.send_message(
        task.chat_id, keypad_text(channel, ""), keypad_keyboard(task.session_id)
    )
    store.keypad_sessions.update(task.session_id, {"message_id": message.message_id})
    if task.callback_query_id:
        _answer(rt, task.callback_query_id, None)
    return "opened"


def press(task: KeypadTask, rt: Rt) -> PressResult:
    """Apply one press in a transaction (at most once per callback query), then edit and answer."""
    if not (task.session_id and task.key and task.callback_query_id):
        raise Malformed("a keypad press without its session, key or callback query")
    store = rt.store
    session_id, query_id = task.session_id, task.callback_query_id

    def apply(tx: Tx) -> tuple[PressDecision, ChannelDoc | None]:
        session = tx.get(store.keypad_sessions, session_id)
        channel = load_channel(store, session.channel_token) if session else None
        decision = decide_press(
            session,
            channel,
            task.user_id,
            task.key or "",
            query_id,
            rt.clock.now(),
            order=task.update_id,
            shown_amount=task.shown_amount,
        )
        if decision.updates:
            tx.update(store.keypad_sessions, session_id, decision.updates)
        return decision, channel

    decision, channel = store.transaction(apply)
    session, result = decision.session, decision.result
    if session is not None and channel is not None:
        if session.status is KeypadStatus.CONFIRMED and session.order_id:
            _queue_invoice(rt, session)  # first: a failed edit below must not hold the invoice back
        # A retried confirm does not redraw: the Pay button may already have replaced the keypad.
        redraw = result.outcome != "duplicate press" or session.status is KeypadStatus.OPEN
        if session.message_id is not None and redraw:
            _show(rt, session, channel)  # a 429 here raises: the task is retried and redraws
            _show_latest(rt, session, channel)
    _answer(rt, query_id, result.answer, result.alert)
    return result


def _show_latest(rt: Rt, shown: KeypadSessionDoc, channel: ChannelDoc) -> None:
    """Edits of concurrent presses reach Telegram in any order: after its own edit, a press redraws
    the amount a later press stored, so the keypad ends on the latest amount whichever edit landed
    last. Only an open keypad: a confirm or cancel (and then the Pay button) owns the message."""
    if shown.status is not KeypadStatus.OPEN:
        return
    latest = rt.store.keypad_sessions.get(shown.session_id)
    if latest is not None and latest.status is KeypadStatus.OPEN and latest.amount_text != shown.amount_text:
        _show(rt, latest, channel)


def _show(rt: Rt, session: KeypadSessionDoc, channel: ChannelDoc) -> None:
    if session.message_id is None:
        return
    if session.status is KeypadStatus.CANCELLED:
        text, keyboard = f"Donation to {channel.title} cancelled. No worries!", None
    elif session.status is KeypadStatus.CONFIRMED:
        amount = amount_of(session.amount_text) or Decimal(0)
        text = f"💝 Donation of {format_amount(amount, channel.currency)} to {channel.title}: preparing your invoice…"
        keyboard = None
    else:
        text, keyboard = keypad_text(channel, session.amount_text), keypad_keyboard(session.session_id)
    try:
        rt.telegram.edit_message_text(session.chat_id, session.message_id, text, keyboard)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            raise


def _queue_invoice(rt: Rt, session: KeypadSessionDoc) -> None:
    if not session.order_id:
        return
    payload = CreateInvoiceTask(
        order_id=session.order_id,
        user_id=session.user_id,
        chat_id=session.chat_id,
        channel_token=session.channel_token,
        kind=OrderKind.DONATION,
        keypad_session_id=session.session_id,
        buyer_name=session.user_name,
    )
    enqueue_once(
        rt.tasks,
        Queue.CREATE_INVOICE,
        rt.settings.create_invoice_url,
        payload,
        f"donate-{session.session_id}",
    )


def _answer(rt: Rt, query_id: str, text: str | None, alert: bool = False) -> None:
    try:
        rt.telegram.answer_callback_query(query_id, text, alert)
    except TelegramBadRequest as error:
        log.info("callback answer refused: %s", error)  # too old: the press still counted


def confirmed_amount(
    store: Store, session_id: str | None, user_id: int, channel_token: str
) -> Decimal | None:
    """The amount a donor confirmed on their keypad, or None: amounts never come from the client."""
    session = store.keypad_sessions.get(session_id) if session_id else None
    if (
        session is None
        or session.status is not KeypadStatus.CONFIRMED
        or session.user_id != user_id
        or session.channel_token != channel_token
    ):
        return None
    return amount_of(session.amount_text)
