"""Telling someone something once: a channel's owner about their channel (`notify_owner_once`), or
anyone (`tell_once`: a gift's buyer, a member given days, an owner's announcement report, the two
sides of a support thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from shared_schemas.config import TelegramSettings
from shared_schemas.documents import ChannelDoc
from shared_schemas.names import ClaimPurpose
from shared_schemas.telegram import Button
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden, TelegramRetryAfter
from telepay.core.errors import ClaimBusy
from telepay.core.logs import get_logger
from telepay.core.users import mark_blocked, speaking_to
from telepay.runtime import Runtime

log = get_logger("telepay.notices")
T = TypeVar("T")
Send = Callable[[int, str, "list[list[Button]] | None"], Any]
# A retry_after up to this long is waited out in place; a longer one goes back to the trigger.
INLINE_RETRY_AFTER_LIMIT = 10.0


def wait_out_retry_after(send: Callable[[], T]) -> T:
    """`send()`, and once more after Telegram's retry_after when that is short (the bot-wide 30 a
    second met in a busy second); a long one is raised, for the trigger to retry."""
    try:
        return send()
    except TelegramRetryAfter as error:
        if error.seconds > INLINE_RETRY_AFTER_LIMIT:
            raise
        time.sleep(error.seconds)
        return send()


def send_waiting(
    rt: Runtime[TelegramSettings], chat_id: int, text: str, keyboard: list[list[Button]] | None = None
) -> Any:
    """A message, sent through `wait_out_retry_after`."""
    return wait_out_retry_after(lambda: rt.telegram.send_message(chat_id, text, keyboard=keyboard))


def tell_once(
    rt: Runtime[TelegramSettings],
    purpose: ClaimPurpose,
    key: str,
    user_id: int,
    text: Callable[[], str],
    keyboard: list[list[Button]] | None = None,
    send: Send | None = None,
    keep_for: timedelta = timedelta(days=30),
) -> str:
    """Tell `user_id` something once per (`purpose`, `key`), in their language (`text` is called in
    it): "sent", "told before", "blocked" (they blocked the bot: recorded, not retried) or
    "unreachable" (Telegram refused the chat). Raises ClaimBusy while another instance is telling
    it. `send` replaces a plain `send_message` (e.g. one that waits a short retry_after)."""
    with rt.claims.hold(purpose, key, keep_for=keep_for) as claim:
        if claim.done_before:
            return "told before"
        claim.result = "sent"
        try:
            with speaking_to(rt.store, user_id):
                message = text()
                if send is not None:
                    send(user_id, message, keyboard)
                else:
                    rt.telegram.send_message(user_id, message, keyboard=keyboard)
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, user_id)
            claim.result = "blocked"
        except TelegramBadRequest as error:  # a chat that never started the bot
            log.info("could not tell %s: %s", user_id, error)
            claim.result = "unreachable"
        return claim.result


def notify_owner_once(
    rt: Runtime[TelegramSettings],
    purpose: ClaimPurpose,
    channel: ChannelDoc,
    text: Callable[[], str],
    key: str | None = None,
) -> None:
    """Tell a channel's owner something once (per claim lifetime); an owner who cannot be reached
    is not retried, and a notice being sent elsewhere right now is left to that instance. `text`
    makes the notice: it is called in the owner's language (whoever caused the notice, a buyer
    included, may read another)."""
    try:
        tell_once(rt, purpose, key or channel.token, channel.owner_user_id, text)
    except ClaimBusy:
        return
