"""In-memory stand-ins for the non-Google edges (Telegram, NowPayments) used by unit and
integration tests. Google clients are never faked: integration tests use the emulators."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from shared_schemas.names import Queue
from shared_schemas.nowpayments import Invoice, Payment
from shared_schemas.telegram import (
    CALLBACK_DATA_MAX,
    MESSAGE_MAX,
    Button,
    Keyboard,
    TgChatMember,
    TgUser,
    utf16_len,
)
from telepay.adapters.nowpayments_api import NowPaymentsUnavailable
from telepay.adapters.telegram_api import TelegramBadRequest


def refuse_as_telegram(text: str, keyboard: Keyboard | None) -> None:
    """What Telegram answers 400 to in a message the bot sends or edits (the error as the adapter
    raises it: python-telegram-bot drops the "Bad Request: " and capitalises the rest)."""
    if not text.strip():
        raise TelegramBadRequest("Message text is empty")
    if utf16_len(text.strip()) > MESSAGE_MAX:
        raise TelegramBadRequest("Message is too long")
    for button in (b for row in keyboard or [] for b in row):
        data = button.callback_data
        if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX:
            raise TelegramBadRequest("Button_data_invalid")


@dataclass
class Sent:
    chat_id: int
    text: str
    keyboard: Keyboard | None
    message_id: int
    entities: list[dict[str, Any]] = field(default_factory=list)  # -- announcements --
    photo: str | None = None

    def buttons(self) -> list[Button]:
        return [b for row in self.keyboard or [] for b in row]

    def button_urls(self) -> list[str]:
        return [b.url for b in self.buttons() if b.url]

    def callbacks(self) -> list[str]:
        return [b.callback_data for b in self.buttons() if b.callback_data]


def _refuse_invoice(title: str, description: str, payload: str, stars: int) -> None:
    """What Telegram refuses in a Stars invoice (Bot API: title 1-32, description 1-255 characters,
    payload 1-128 bytes, 1 to 10,000 Stars)."""
    if not 1 <= len(title) <= 32:
        raise TelegramBadRequest(
            "Bad Request: INVOICE_TITLE_EMPTY" if not title else "Bad Request: TITLE_INVALID"
        )
    if not 1 <= len(description) <= 255:
        raise TelegramBadRequest("Bad Request: DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode()) <= 128:
        raise TelegramBadRequest("Bad Request: INVOICE_PAYLOAD_INVALID")
    if not 1 <= stars <= 10000:
        raise TelegramBadRequest("Bad Request: STARS_INVOICE_INVALID")


def _refuse_entities(text: str, entities: Sequence[dict[str, Any]]) -> None:
    """Telegram refuses an entity outside the text (offsets and lengths in UTF-16 units)."""
    size = utf16_len(text)
    for entity in entities:
        offset, length = int(entity["offset"]), int(entity["length"])
        if offset < 0 or length <= 0 or offset + length > size:
            raise TelegramBadRequest("Can't parse entities: entity beyond the end of the text")


@dataclass
class SentDocument:
    chat_id: int
    filename: str
    data: bytes
    caption: str | None
    message_id: int


CAPTION_MAX = 1024


@dataclass
class FakeTelegram:
    sent: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)
    answers: list[tuple[str, str | None, bool]] = field(default_factory=list)
    fail_method: dict[str, list[Exception]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    # (chat, user) -> status and rights, or the error Telegram answers, for getChatMember (absent:
    # not a member).
    members: dict[tuple[int, int], tuple[str, tuple[str, ...]] | Exception] = field(default_factory=dict)
    commands: dict[int | None, list[tuple[str, str]]] = field(default_factory=dict)  # without a language
    # (chat id or None, language code or None) -> the menu set for them
    menus: dict[tuple[int | None, str | None], list[tuple[str, str]]] = field(default_factory=dict)
    menu_buttons: dict[int, tuple[str, str]] = field(default_factory=dict)
    invoices: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # payload -> (stars, period)
    checkout_answers: list[tuple[str, bool, str | None]] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    star_subscriptions: dict[str, bool] = field(default_factory=dict)  # charge id -> canceled
    star_transactions: list[dict[str, object]] = field(default_factory=list)
    documents: list[SentDocument] = field(default_factory=list)

    def _maybe_fail(self) -> None:
        method = self.calls[-1][0] if self.calls else ""
        if self.fail_method.get(method):
            raise self.fail_method[method].pop(0)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def send_message(self, chat_id: int, text: str, keyboard: Keyboard | None = None) -> Any:
        self.calls.append(("send_message", (chat_id, text)))
        self._maybe_fail()
        refuse_as_telegram(text, keyboard)
        message = Sent(chat_id, text, keyboard, next(self._ids))
        self.sent.append(message)
        return SimpleNamespace(message_id=message.message_id)

    def send_document(self, chat_id: int, filename: str, data: bytes, caption: str | None = None) -> Any:
        """As Telegram: an empty file and a caption over 1024 characters are refused."""
        self.calls.append(("send_document", (chat_id, filename)))
        self._maybe_fail()
        if not data:
            raise TelegramBadRequest("File must be non-empty")
        if caption is not None and utf16_len(caption.strip()) > CAPTION_MAX:
            raise TelegramBadRequest("Message caption is too long")
        document = SentDocument(chat_id, filename, data, caption, next(self._ids))
        self.documents.append(document)
        return SimpleNamespace(message_id=document.message_id)

    # -- announcements --
    def send_formatted(
        self, chat_id: int, text: str, entities: Sequence[dict[str, Any]], keyboard: Keyboard | None = None
    ) -> Any:
        """As Telegram: the text's rules, and each entity within the text (UTF-16 units)."""
        self.calls.append(("send_formatted", (chat_id, text)))
        self._maybe_fail()
        refuse_as_telegram(text, keyboard)
        _refuse_entities(text, entities)
        message = Sent(chat_id, text, keyboard, next(self._ids), entities=list(entities))
        self.sent.append(message)
        return SimpleNamespace(message_id=message.message_id)

    def send_photo(
        self,
        chat_id: int,
        photo_file_id: str,
        caption: str | None,
        caption_entities: Sequence[dict[str, Any]],
        keyboard: Keyboard | None = None,
    ) -> Any:
        self.calls.append(("send_photo", (chat_id, photo_file_id)))
        self._maybe_fail()
        if not photo_file_id:
            raise TelegramBadRequest("Wrong file identifier/http url specified")
        if caption is not None and utf16_len(caption.strip()) > CAPTION_MAX:
            raise TelegramBadRequest("Message caption is too long")
        _refuse_entities(caption or "", caption_entities)
        message = Sent(chat_id, caption or "", keyboard, next(self._ids), entities=list(caption_entities))
        message.photo = photo_file_id
        self.sent.append(message)
        return SimpleNamespace(message_id=message.message_id)

    def edit_message_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        self.calls.append(("edit_message_text", (chat_id, message_id, text)))
        self._maybe_fail()
        refuse_as_telegram(text, keyboard)
        for message in self.sent:
            if message.chat_id == chat_id and message.message_id == message_id:
                if (message.text, message.keyboard) == (text, keyboard):
                    raise TelegramBadRequest("Message is not modified")
                message.text, message.keyboard = text, keyboard

    def answer_callback_query(self, query_id: str, text: str | None = None, alert: bool = False) -> None:
        self.calls.append(("answer_callback_query", (query_id, text)))
        self.answers.append((query_id, text, alert))
        self._maybe_fail()

    def create_join_request_link(self, chat_id: int, name: str, expire_date: datetime) -> str:
        self.calls.append(("create_join_request_link", (chat_id, name)))
        self._maybe_fail()
        return f"https://t.me/+fake{len(self.calls)}"

    def approve_join_request(self, chat_id: int, user_id: int) -> None:
        self.calls.append(("approve_join_request", (chat_id, user_id)))
        self._maybe_fail()

    def decline_join_request(self, chat_id: int, user_id: int) -> None:
        self.calls.append(("decline_join_request", (chat_id, user_id)))
        self._maybe_fail()

    def delete_message(self, chat_id: int, message_id: int) -> None:
        self.calls.append(("delete_message", (chat_id, message_id)))
        self._maybe_fail()
        self.sent = [m for m in self.sent if not (m.chat_id == chat_id and m.message_id == message_id)]

    def remove_member(self, chat_id: int, user_id: int) -> None:
        self.calls.append(("remove_member", (chat_id, user_id)))
        self._maybe_fail()

    def get_chat_member(self, chat_id: int, user_id: int) -> TgChatMember:
        self.calls.append(("get_chat_member", (chat_id, user_id)))
        self._maybe_fail()
        found = self.members.get((chat_id, user_id), ("left", ()))
        if isinstance(found, Exception):
            raise found
        status, rights = found
        return TgChatMember(user=TgUser(id=user_id), status=status, **{right: True for right in rights})

    def set_my_commands(
        self, commands: Any, chat_id: int | None = None, language_code: str | None = None
    ) -> None:
        self.calls.append(("set_my_commands", (chat_id, language_code)))
        self._maybe_fail()
        if language_code is not None and not re.fullmatch(r"[a-z]{2}", language_code):
            raise TelegramBadRequest("Bad Request: Invalid language code specified")
        for _, description in commands:
            if not description.strip() or len(description.strip()) > 256:
                raise TelegramBadRequest("Bad Request: Command description length must not exceed 256")
        self.menus[(chat_id, language_code)] = list(commands)
        if language_code is None:
            self.commands[chat_id] = list(commands)

    def set_menu_web_app(self, chat_id: int, text: str, url: str) -> None:
        self.calls.append(("set_menu_web_app", (chat_id,)))
        self._maybe_fail()
        self.menu_buttons[chat_id] = (text, url)

    # -- Telegram Stars (what the fake refuses follows the Bot API's limits) --------------------
    def send_star_invoice(
        self,
        chat_id: int,
        title: str,
        description: str,
        payload: str,
        label: str,
        stars: int,
        keyboard: Keyboard | None = None,
    ) -> Any:
        self.calls.append(("send_star_invoice", (chat_id, title, description, payload, stars)))
        self._maybe_fail()
        _refuse_invoice(title, description, payload, stars)
        message = Sent(chat_id, f"[invoice] {title}: {description} ({stars} XTR)", keyboard, next(self._ids))
        self.sent.append(message)
        self.invoices[payload] = (stars, None)
        return SimpleNamespace(message_id=message.message_id)

    def create_star_invoice_link(
        self,
        title: str,
        description: str,
        payload: str,
        label: str,
        stars: int,
        subscription_period: int | None = None,
    ) -> str:
        self.calls.append(
            ("create_star_invoice_link", (title, description, payload, stars, subscription_period))
        )
        self._maybe_fail()
        _refuse_invoice(title, description, payload, stars)
        if subscription_period is not None and subscription_period != 2592000:
            raise TelegramBadRequest("Bad Request: SUBSCRIPTION_PERIOD_INVALID")
        self.invoices[payload] = (stars, subscription_period)
        return f"https://t.me/$fake{len(self.invoices)}"

    def answer_pre_checkout_query(self, query_id: str, ok: bool, error_message: str | None = None) -> None:
        self.calls.append(("answer_pre_checkout_query", (query_id, ok, error_message)))
        self._maybe_fail()
        self.checkout_answers.append((query_id, ok, error_message))

    def refund_star_payment(self, user_id: int, charge_id: str) -> None:
        self.calls.append(("refund_star_payment", (user_id, charge_id)))
        self._maybe_fail()
        if charge_id in self.refunded:
            raise TelegramBadRequest("Bad Request: CHARGE_ALREADY_REFUNDED")
        self.refunded.append(charge_id)

    def edit_user_star_subscription(self, user_id: int, charge_id: str, canceled: bool) -> None:
        self.calls.append(("edit_user_star_subscription", (user_id, charge_id, canceled)))
        self._maybe_fail()
        self.star_subscriptions[charge_id] = canceled

    def get_star_transactions(self, offset: int, limit: int = 100) -> list[dict[str, object]]:
        self.calls.append(("get_star_transactions", (offset, limit)))
        self._maybe_fail()
        return self.star_transactions[offset : offset + limit]

    def get_star_balance(self) -> int:
        self.calls.append(("get_star_balance", ()))
        self._maybe_fail()
        return 0

    def to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.sent if m.chat_id == chat_id]

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@dataclass
class FakeNowPayments:
    payments: dict[int, Payment] = field(default_factory=dict)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    unavailable: int = 0
    fail_next: list[Exception] = field(default_factory=list)
    # `payment_minimums`' answer: no coin listed (so no price is checked) unless a test sets some.
    minimums: dict[str, Decimal] = field(default_factory=dict)

    def create_invoice(self, **kwargs: Any) -> Invoice:
        if self.unavailable:
            self.unavailable -= 1
            raise NowPaymentsUnavailable("down")
        self.invoices.append(kwargs)
        number = 4000 + len(self.invoices)
        return Invoice(
            id=str(number), invoice_url=f"https://pay.example/{number}", order_id=kwargs["order_id"]
        )

    def payment_minimums(self, fiat: str) -> dict[str, Decimal]:
        return dict(self.minimums)

    def get_payment(self, payment_id: int) -> Payment:
        if self.fail_next:
            raise self.fail_next.pop(0)
        if self.unavailable:
            self.unavailable -= 1
            raise NowPaymentsUnavailable("down")
        return self.payments[payment_id]

    def set_payment(
        self,
        payment_id: int,
        order_id: str,
        status: str,
        price: str,
        paid: str = "0.001",
        expected: str = "0.001",
    ) -> Payment:
        payment = Payment(
            payment_id=payment_id,
            payment_status=status,
            order_id=order_id,
            price_amount=Decimal(price),
            price_currency="usd",
            pay_amount=Decimal(expected),
            actually_paid=Decimal(paid),
            pay_currency="btc",
        )
        self.payments[payment_id] = payment
        return payment


@dataclass
class RecordingTasks:
    """Cloud Tasks has no official emulator; the end-to-end tests use the project's stand-in.
    Integration tests record what would be queued, with the stand-in's name dedupe."""

    # (queue, url, payload, name); the payload is whichever task model was queued.
    created: list[tuple[str, str, Any, str]] = field(default_factory=list)
    scheduled: dict[str, datetime | None] = field(default_factory=dict)
    # Cloud Tasks stops answering once this many tasks exist (then answers again): a failure mid-page.
    unavailable_at: int | None = None

    def enqueue(
        self,
        queue: Queue,
        url: str,
        payload: BaseModel,
        name: str | None = None,
        schedule_time: datetime | None = None,
        audience: str | None = None,
    ) -> str:
        from telepay.adapters.tasks_queue import TaskAlreadyExists, TasksUnavailable

        if self.unavailable_at is not None and len(self.created) >= self.unavailable_at:
            self.unavailable_at = None
            raise TasksUnavailable("Cloud Tasks did not answer")
        if name and any(existing[3] == name for existing in self.created):
            raise TaskAlreadyExists(name)
        name = name or f"task-{len(self.created) + 1}"
        self.created.append((queue.value, url, payload, name))
        self.scheduled[name] = schedule_time
        return name
