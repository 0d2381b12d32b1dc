"""The rules of a support thread, as pure functions: which channels a buyer may ask about, what a
message keeps, who may write in or close a thread, and how a thread grows (capped, a re-delivered
update adding nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from shared_schemas.documents import (
    SUPPORT_MAPPED_KEPT,
    SUPPORT_MESSAGES_KEPT,
    SupportMessage,
    SupportSide,
    SupportStatus,
    SupportThreadDoc,
)

DRAFT_LIFETIME = timedelta(minutes=30)  # "Write what went wrong" waits this long for the buyer's text
TEXT_MAX = 2500  # what one message keeps (the owner's card adds the subscription and 5 orders)
CHANNELS_MAX = 10  # the channel buttons of one question
LAST_ORDERS = 5  # the buyer's orders on the owner's card


def clean_text(text: str | None) -> str:
    """What a support message keeps: trimmed, at most TEXT_MAX characters."""
    return (text or "").strip()[:TEXT_MAX]


def channels_of(tokens: Iterable[str]) -> list[str]:
    """The channels a buyer may ask about (those they have a subscription or an order with),
    each once, in the order first seen, at most CHANNELS_MAX."""
    seen: list[str] = []
    for token in tokens:
        if token not in seen:
            seen.append(token)
    return seen[:CHANNELS_MAX]


def side_of(thread: SupportThreadDoc, user_id: int) -> SupportSide | None:
    """Which side of the thread this user is (None: neither may write in or close it)."""
    if user_id == thread.buyer_user_id:
        return SupportSide.BUYER
    if user_id == thread.owner_user_id:
        return SupportSide.OWNER
    return None


def other(side: SupportSide) -> SupportSide:
    return SupportSide.OWNER if side is SupportSide.BUYER else SupportSide.BUYER


def recipient(thread: SupportThreadDoc, side: SupportSide) -> int:
    return thread.buyer_user_id if side is SupportSide.BUYER else thread.owner_user_id


def with_message(
    thread: SupportThreadDoc, sender: SupportSide, text: str, at: datetime, update_id: int
) -> SupportThreadDoc | None:
    """The thread with one more message (its newest SUPPORT_MESSAGES_KEPT kept), or None when this
    update's message is in it already (a re-delivery) or the thread is closed."""
    if thread.status is SupportStatus.CLOSED or any(m.update_id == update_id for m in thread.messages):
        return None
    message = SupportMessage(sender=sender, text=text, at=at, update_id=update_id)
    return thread.model_copy(
        update={
            "messages": [*thread.messages, message][-SUPPORT_MESSAGES_KEPT:],
            "message_count": thread.message_count + 1,
            "updated_at": at,
        }
    )


def with_mapped(thread: SupportThreadDoc, reply_id: str) -> list[str]:
    """The thread's mapped bot messages with one more (its newest SUPPORT_MAPPED_KEPT kept)."""
    if reply_id in thread.telegram_messages:
        return thread.telegram_messages
    return [*thread.telegram_messages, reply_id][-SUPPORT_MAPPED_KEPT:]


def closed(thread: SupportThreadDoc, by: SupportSide, at: datetime) -> SupportThreadDoc | None:
    """The thread closed by `by`, or None when it is closed already (a second press changes nothing)."""
    if thread.status is SupportStatus.CLOSED:
        return None
    return thread.model_copy(
        update={"status": SupportStatus.CLOSED, "closed_by": by, "closed_at": at, "updated_at": at}
    )
