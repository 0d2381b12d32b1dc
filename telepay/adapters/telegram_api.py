"""Telegram Bot API through python-telegram-bot, callable from synchronous handlers.

One event loop per instance runs in a background thread and one `Bot` lives on it for the life of
the instance (the old system rebuilt bots inside `asyncio.run()` and hit "Event loop is closed").
Errors are translated into the few kinds callers act on. Every message this instance sends (the
calls Telegram counts against a bot's 30 a second) leaves through one `SendPacer`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    MenuButtonWebApp,
    Message,
    MessageEntity,
    WebAppInfo,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from shared_schemas.telegram import Keyboard, TgChatMember
from telepay.core.errors import Permanent, Transient

T = TypeVar("T")


class TelegramRetryAfter(Transient):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"Telegram asked to retry after {seconds} s")
        self.seconds = seconds


class TelegramForbidden(Permanent):
    """403: the user blocked the bot, or the bot is no longer in / admin of the chat."""


class TelegramBadRequest(Permanent):
    """400: permanent for this request (message not found, not enough rights, ...)."""


class TelegramUnavailable(Transient):
    """Network trouble or a 5xx: worth retrying."""


# Telegram allows a bot about 30 messages a second (REFERENCE.md), counted in any sliding second.
# Spaced evenly at 29 a second, 30 sends span 1,000 ms, so a 31st falls in the same second only if
# scheduling squeezes the gaps by 34 ms. Tried against the rate-limited stand-in (300 sends from 16
# threads, every core busy): at 29.5 a second 1-7 were refused, at 29 0-3. The paced queues
# dispatch at 29.5: the pacer smooths the bunching their tasks' varying work adds before the send.
SENDS_PER_SECOND = 29.0


class SendPacer:
    """Spaces one instance's sends at least 1/`per_second` apart, in the order they ask.

    A caller takes the next free slot and sleeps until it; slots are handed out under a lock, so
    any number of request threads share one rate. A send refused with 429 has used its slot, as
    it has at Telegram.
    """

    def __init__(
        self,
        per_second: float = SENDS_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._spacing = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def take(self) -> float:
        """Takes the next free slot; returns its time (on the pacer's clock)."""
        with self._lock:
            slot = max(self._clock(), self._next)
            self._next = slot + self._spacing
        return slot

    def until(self, slot: float) -> float:
        """Seconds from now until `slot` (0 once it has come)."""
        return max(0.0, slot - self._clock())

    def wait(self) -> float:
        """Blocks until this send's slot; returns the seconds waited."""
        delay = self.until(self.take())
        if delay > 0:
            self._sleep(delay)
        return delay


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    b.text,
                    callback_data=b.callback_data,
                    url=b.url,
                    web_app=WebAppInfo(b.web_app) if b.web_app else None,
                    pay=True if b.pay else None,
                )
                for b in row
            ]
            for row in keyboard
        ]
    )


def is_not_modified(error: Exception) -> bool:
    return "message is not modified" in str(error).lower()


class TelegramApi:
    def __init__(
        self, token: str, base_url: str, timeout: float = 10.0, pacer: SendPacer | None = None
    ) -> None:
        self._pacer = pacer or SendPacer()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-loop", daemon=True)
        self._thread.start()
        self._timeout = timeout
        request = HTTPXRequest(
            connection_pool_size=64, read_timeout=timeout, write_timeout=timeout, connect_timeout=5
        )
        self._bot = Bot(token, base_url=f"{base_url.rstrip('/')}/bot", request=request)

    def _send(self, make: Callable[[Bot], Awaitable[T]]) -> T:
        """A call Telegram counts as a message: through the pacer first. The wait is spent on the
        event loop, right before the request goes out, so a request thread's own scheduling adds
        no jitter between the slot and the wire."""

        slot = self._pacer.take()

        async def paced(bot: Bot) -> T:
            delay = self._pacer.until(slot)
            if delay > 0:
                await asyncio.sleep(delay)
            return await make(bot)

        return self._run(paced, waiting=self._pacer.until(slot))

    def _run(self, make: Callable[[Bot], Awaitable[T]], waiting: float = 0.0) -> T:
        async def call() -> T:
            return await make(self._bot)

        future = asyncio.run_coroutine_threadsafe(call(), self._loop)
        try:
            return future.result(timeout=waiting + self._timeout + 5)
        except RetryAfter as error:
            retry = error.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            raise TelegramRetryAfter(seconds) from error
        except Forbidden as error:
            raise TelegramForbidden(error.message) from error
        except BadRequest as error:
            raise TelegramBadRequest(error.message) from error
        except (TimedOut, NetworkError) as error:
            raise TelegramUnavailable(str(error)) from error
        except TelegramError as error:
            raise TelegramUnavailable(str(error)) from error
        except TimeoutError as error:
            raise TelegramUnavailable("Telegram call timed out") from error

    # -- messages ---------------------------------------------------------------------------
    def send_message(self, chat_id: int, text: str, keyboard: Keyboard | None = None) -> Message:
        return self._send(
            lambda bot: bot.send_message(
                chat_id, text, reply_markup=markup(keyboard), link_preview_options=None
            )
        )

    def edit_message_text(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        self._run(
            lambda bot: bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=markup(keyboard)
            )
        )

    def send_document(self, chat_id: int, filename: str, data: bytes, caption: str | None = None) -> Message:
        """A file sent as a document in the chat (uploaded as multipart/form-data; Telegram keeps
        it, so no link to it is ever made)."""
        return self._send(lambda bot: bot.send_document(chat_id, data, filename=filename, caption=caption))

    def delete_message(self, chat_id: int, message_id: int) -> None:
        self._run(lambda bot: bot.delete_message(chat_id, message_id))

    def answer_callback_query(self, query_id: str, text: str | None = None, alert: bool = False) -> None:
        """Answer a button press. Too late (Telegram's 15 s passed, e.g. on a re-delivered update) is
        not a failure: the button's spinner stopped by itself and the work goes on."""
        try:
            self._run(lambda bot: bot.answer_callback_query(query_id, text=text, show_alert=alert))
        except TelegramBadRequest as error:
            if "query is too old" not in str(error).lower():
                raise

    # -- Telegram Stars -------------------------------------------------------------------------
    def send_star_invoice(
        self,
        chat_id: int,
        title: str,
        description: str,
        payload: str,
        label: str,
        stars: int,
        keyboard: Keyboard | None = None,
    ) -> Message:
        """A one-time invoice in Stars (currency XTR, one price, no provider token)."""
        prices = [LabeledPrice(label, stars)]
        return self._send(
            lambda bot: bot.send_invoice(
                chat_id,
                title,
                description,
                payload,
                "XTR",
                prices,
                provider_token="",
                reply_markup=markup(keyboard),
            )
        )

    def create_star_invoice_link(
        self,
        title: str,
        description: str,
        payload: str,
        label: str,
        stars: int,
        subscription_period: int | None = None,
    ) -> str:
        """A link to an invoice in Stars; with `subscription_period` (2592000) a Star subscription."""
        prices = [LabeledPrice(label, stars)]
        return self._run(
            lambda bot: bot.create_invoice_link(
                title,
                description,
                payload,
                "XTR",
                prices,
                provider_token="",
                subscription_period=subscription_period,
            )
        )

    def answer_pre_checkout_query(self, query_id: str, ok: bool, error_message: str | None = None) -> None:
        self._run(lambda bot: bot.answer_pre_checkout_query(query_id, ok, error_message=error_message))

    def refund_star_payment(self, user_id: int, charge_id: str) -> None:
        self._run(lambda bot: bot.refund_star_payment(user_id, charge_id))

    def edit_user_star_subscription(self, user_id: int, charge_id: str, canceled: bool) -> None:
        self._run(lambda bot: bot.edit_user_star_subscription(user_id, charge_id, canceled))

    def get_star_transactions(self, offset: int, limit: int = 100) -> list[dict[str, object]]:
        """The bot's Star transactions from `offset` on (chronological), as the Bot API's JSON."""
        found = self._run(lambda bot: bot.get_star_transactions(offset=offset, limit=limit))
        return [transaction.to_dict() for transaction in found.transactions]

    def get_star_balance(self) -> int:
        return int(self._run(lambda bot: bot.get_my_star_balance()).amount)

    # -- channel access -----------------------------------------------------------------------
    def create_join_request_link(self, chat_id: int, name: str, expire_date: datetime) -> str:
        link = self._run(
            lambda bot: bot.create_chat_invite_link(
                chat_id, name=name[:32], expire_date=expire_date, creates_join_request=True
            )
        )
        return link.invite_link

    def approve_join_request(self, chat_id: int, user_id: int) -> None:
        self._run(lambda bot: bot.approve_chat_join_request(chat_id, user_id))

    def decline_join_request(self, chat_id: int, user_id: int) -> None:
        self._run(lambda bot: bot.decline_chat_join_request(chat_id, user_id))

    def remove_member(self, chat_id: int, user_id: int) -> None:
        """Remove without a lasting ban: ban, then lift the ban so a renewal can rejoin."""
        self._run(lambda bot: bot.ban_chat_member(chat_id, user_id))
        self._run(lambda bot: bot.unban_chat_member(chat_id, user_id, only_if_banned=True))

    def get_member_status(self, chat_id: int, user_id: int) -> str:
        member = self._run(lambda bot: bot.get_chat_member(chat_id, user_id))
        return str(member.status)

    def get_chat_member(self, chat_id: int, user_id: int) -> TgChatMember:
        member = self._run(lambda bot: bot.get_chat_member(chat_id, user_id))
        return TgChatMember.model_validate(member.to_dict())

    # -- the command menu ---------------------------------------------------------------------------
    def set_my_commands(
        self,
        commands: Sequence[tuple[str, str]],
        chat_id: int | None = None,
        language_code: str | None = None,
    ) -> None:
        """The menu of commands: everyone's (`chat_id` None), or one private chat's; for the users
        whose Telegram app speaks `language_code` (two lowercase letters, ISO 639-1), or for every
        language without a menu of its own (None)."""
        scope = BotCommandScopeDefault() if chat_id is None else BotCommandScopeChat(chat_id)
        listed = [BotCommand(name, description) for name, description in commands]
        self._run(lambda bot: bot.set_my_commands(listed, scope=scope, language_code=language_code))

    def set_menu_web_app(self, chat_id: int, text: str, url: str) -> None:
        """The menu button of one private chat opens this Mini App."""
        button = MenuButtonWebApp(text, WebAppInfo(url))
        self._run(lambda bot: bot.set_chat_menu_button(chat_id=chat_id, menu_button=button))

    # -- announcements ----------------------------------------------------------------------------
    def send_formatted(
        self, chat_id: int, text: str, entities: Sequence[dict[str, Any]], keyboard: Keyboard | None = None
    ) -> Message:
        """A text with its formatting as entities (never a parse_mode: the text is sent as written)."""
        parsed = [MessageEntity.de_json(dict(entity), self._bot) for entity in entities]
        return self._send(
            lambda bot: bot.send_message(
                chat_id,
                text,
                entities=parsed or None,
                reply_markup=markup(keyboard),
                link_preview_options=None,
            )
        )

    def send_photo(
        self,
        chat_id: int,
        photo_file_id: str,
        caption: str | None,
        caption_entities: Sequence[dict[str, Any]],
        keyboard: Keyboard | None = None,
    ) -> Message:
        """A photo Telegram already has (its file_id), with a caption and the caption's entities."""
        parsed = [MessageEntity.de_json(dict(entity), self._bot) for entity in caption_entities]
        return self._send(
            lambda bot: bot.send_photo(
                chat_id,
                photo_file_id,
                caption=caption or None,
                caption_entities=parsed or None,
                reply_markup=markup(keyboard),
            )
        )
