"""What a donor taps in the bot's chat: the Donate button (or `/start <token>_DONATE`) and the
keypad's keys, each queued for the keypad function, which applies them in order (the webhook
answers at once). The bot's webhook routes these here (one router per feature).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from pydantic import BaseModel

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelStatus, KeypadStatus
from shared_schemas.ids import (
    CALLBACK_DONATE,
    CALLBACK_DONATION_PAY,
    CALLBACK_KEYPAD,
    OrderKind,
    PayRail,
    StartLink,
    donation_order_id,
    rail_of,
)
from shared_schemas.money import cents
from shared_schemas.names import Queue
from shared_schemas.tasks import CreateInvoiceTask, KeypadAction, KeypadTask
from shared_schemas.telegram import TgCallbackQuery, TgMessage, TgUser
from telepay.adapters.tasks_queue import enqueue_once
from telepay.channels.lookup import load_channel
from telepay.core.i18n import N_, t
from telepay.core.logs import get_logger
from telepay.core.users import display_name
from telepay.donations.keypad import new_session_id
from telepay.donations.keypad_rules import NO_DONATIONS, PREPARING_INVOICE, amount_of, is_amount_line
from telepay.runtime import Runtime

log = get_logger("telepay.webhook")  # the log lines of telegram_webhook keep its logger's name
Rt = Runtime[TelegramWebhookSettings]


def on_start(link: StartLink, message: TgMessage, rt: Rt) -> str:
    """`/start <token>_DONATE`: the donation post's link."""
    assert message.from_user is not None
    task_key = f"start-{message.chat.id}-{message.message_id}"
    return _open_keypad(link.channel_token, message.from_user, message.chat.id, task_key, rt)


def _on_donate(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return _open_keypad(parts[0], query.from_user, chat_id, f"cq-{query.id}", rt, query.id)


def _on_key(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    chat_id = query.message.chat.id if query.message else query.from_user.id
    session_id, key = parts
    session_id, key = parts
    payload = KeypadTask(
        action=KeypadAction.PRESS,
        user_id=query.from_user.id,
        chat_id=chat_id,
        channel_token="",
        session_id=session_id,
        key=key,
        callback_query_id=query.id,
        message_id=query.message.message_id if query.message else None,
        update_id=update_id,
        shown_amount=_amount_line(query.message.text if query.message else None),
    )
    _enqueue(rt, payload, f"press-{query.id}")
    return "keypad press queued"


CHOICE_GONE = N_("This button no longer works. Tap Donate again to start over.")


def _on_pay_choice(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    """The donor chose Stars or crypto for the amount they confirmed: its invoice is queued (the
    amount is read from the keypad session, never from the button)."""
    session_id, code = parts
    rail = rail_of(code)
    session = rt.store.keypad_sessions.get(session_id)
    if (
        rail is None
        or session is None
        or session.user_id != query.from_user.id
        or session.status is not KeypadStatus.CONFIRMED
        or not session.order_id
    ):
        rt.telegram.answer_callback_query(query.id, t(CHOICE_GONE))
        return "unknown button"
    amount = amount_of(session.amount_text)
    if rail is PayRail.STARS:
        order_id = donation_order_id(session.channel_token, session.user_id, cents(amount or Decimal(0)))
        task_key = f"donate-{session.session_id}-stars"
    else:
        order_id, task_key = session.order_id, f"donate-{session.session_id}"
    payload = CreateInvoiceTask(
        order_id=order_id,
        user_id=session.user_id,
        chat_id=session.chat_id,
        channel_token=session.channel_token,
        kind=OrderKind.DONATION,
        keypad_session_id=session.session_id,
        buyer_name=session.user_name,
        rail=rail,
    )
    if not enqueue_once(rt.tasks, Queue.CREATE_INVOICE, rt.settings.create_invoice_url, payload, task_key):
        log.info("task %s already queued", task_key)
    rt.telegram.answer_callback_query(query.id, t(PREPARING_INVOICE))
    return "donation invoice queued"


# Button prefix → (number of parts, handler).
CALLBACKS: dict[str, tuple[int, Callable[[TgCallbackQuery, list[str], int, Rt], str]]] = {
    CALLBACK_DONATE: (1, _on_donate),
    CALLBACK_KEYPAD: (2, _on_key),
    CALLBACK_DONATION_PAY: (2, _on_pay_choice),
}


def _amount_line(text: str | None) -> str | None:
    """The keypad's amount line as the donor saw it (for Confirm to check, never to use), found in
    the donor's language: the keypad function writes it in theirs."""
    line = next((line for line in (text or "").splitlines() if is_amount_line(line)), None)
    return line[:80] if line else None


def _open_keypad(
    token: str, user: TgUser, chat_id: int, task_key: str, rt: Rt, query_id: str | None = None
) -> str:
    channel = load_channel(rt.store, token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        if query_id:
            rt.telegram.answer_callback_query(query_id, t(NO_DONATIONS), alert=True)
        else:
            rt.telegram.send_message(chat_id, t(NO_DONATIONS))
        return "unknown offer"
    payload = KeypadTask(
        action=KeypadAction.OPEN,
        user_id=user.id,
        user_name=display_name(user)[:80],
        chat_id=chat_id,
        channel_token=token,
        # Chosen here, so a re-run of the task opens the same session instead of a second one.
        session_id=new_session_id(),
        callback_query_id=query_id,
    )
    _enqueue(rt, payload, f"open-{task_key}")
    return "keypad queued"


def _enqueue(rt: Rt, payload: BaseModel, name: str) -> None:
    if not enqueue_once(
        rt.tasks, Queue.KEYPAD, rt.settings.keypad_url, payload, name
    ):  # TasksUnavailable is Transient
        log.info("task %s already queued", name)
