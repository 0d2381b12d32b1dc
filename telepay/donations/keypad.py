"""The donation keypad's flow: open a keypad, apply a press, edit the message, queue the invoice.
State lives in Firestore (`keypad_sessions`), never in process memory, so any instance can serve
any press; each press is applied in a transaction and at most once (the rules are
`telepay.donations.keypad_rules`).

This runs outside the webhook: the keypad speaks the donor's language (`speaking_to` the donor).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import KeypadSettings
from shared_schemas.documents import ChannelDoc, KeypadSessionDoc, KeypadStatus
from shared_schemas.ids import OrderKind, PayRail, donation_pay_callback
from shared_schemas.names import Queue
from shared_schemas.tasks import CreateInvoiceTask, KeypadTask
from shared_schemas.telegram import Button
from telepay.adapters.tasks_queue import enqueue_once
from telepay.adapters.telegram_api import TelegramBadRequest, is_not_modified
from telepay.channels.lookup import load_channel
from telepay.channels.star_prices import donation_in_stars, pay_crypto_button, pay_stars_button
from telepay.core.errors import Malformed
from telepay.core.i18n import N_, in_stars, money, t
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.core.users import speaking_to
from telepay.donations.keypad_rules import (
    PressDecision,
    PressResult,
    amount_of,
    decide_press,
    keypad_keyboard,
    keypad_message,
    keypad_text,
)
from telepay.runtime import Runtime

log = get_logger("telepay.keypad")
Rt = Runtime[KeypadSettings]
SESSION_LIFETIME = timedelta(days=2)
CHOOSE_HOW_TO_PAY = N_("Now choose how to pay.")


def new_session_id() -> str:
    return secrets.token_urlsafe(9)


def open_keypad(task: KeypadTask, rt: Rt) -> str:
    with speaking_to(rt.store, task.user_id):
        return _open_keypad(task, rt)


def _open_keypad(task: KeypadTask, rt: Rt) -> str:
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
    """Apply one press in a transaction (at most once per callback query), then edit and answer,
    in the presser's language (a keypad is only ever redrawn for its own donor)."""
    with speaking_to(rt.store, task.user_id):
        return _press(task, rt)


def _press(task: KeypadTask, rt: Rt) -> PressResult:
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
        stars = donation_stars(rt, session) if session.status is KeypadStatus.CONFIRMED else None
        if stars is not None and session.message_id is not None:  # the donor picks Stars or crypto
            _show_choice(rt, session, channel, stars)
            _answer(rt, query_id, t(CHOOSE_HOW_TO_PAY) if result.outcome == "confirmed" else result.answer)
            return result
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
    text, keyboard = keypad_message(session, channel)
    try:
        rt.telegram.edit_message_text(session.chat_id, session.message_id, text, keyboard)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            raise


def donation_stars(rt: Rt, session: KeypadSessionDoc) -> int | None:
    """What the confirmed donation costs in Stars, when it can be paid in Stars."""
    amount = amount_of(session.amount_text)
    if amount is None:
        return None
    return donation_in_stars(amount, rt.settings.stars_usd_price, rt.settings.stars_enabled)


def _show_choice(rt: Rt, session: KeypadSessionDoc, channel: ChannelDoc, stars: int) -> None:
    """The confirmed amount, in USD and in Stars, and the two ways to pay it."""
    assert session.message_id is not None
    amount = amount_of(session.amount_text) or Decimal(0)
    text = t(
        "💝 Donation to {title}: {amount} or {stars}. How would you like to pay?",
        title=channel.title,
        amount=money(amount, channel.currency),
        stars=in_stars(stars),
    )
    keyboard = [
        [
            Button(
                pay_stars_button(stars),
                callback_data=donation_pay_callback(session.session_id, PayRail.STARS),
            )
        ],
        [
            Button(
                pay_crypto_button(amount, channel.currency),
                callback_data=donation_pay_callback(session.session_id, PayRail.NOWPAYMENTS),
            )
        ],
    ]
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
