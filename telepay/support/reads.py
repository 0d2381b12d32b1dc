"""The support threads as the owner app and the operator read them."""

from __future__ import annotations

from typing import Any

from shared_schemas.documents import SupportThreadDoc
from shared_schemas.queries import SUPPORT_THREADS_OF_BUYER, SUPPORT_THREADS_OF_CHANNEL
from telepay.core.store import Store

LISTED = 100  # the owner app lists a channel's newest 100 threads


def threads_of_channel(store: Store, token: str) -> list[SupportThreadDoc]:
    """A channel's threads, the most recently active first (open ones before closed ones)."""
    threads = [
        stored.doc
        for page in store.support_threads.pages(SUPPORT_THREADS_OF_CHANNEL, channel_token=token)
        for stored in page
    ]
    threads.sort(key=lambda thread: (thread.status.value != "open", -thread.updated_at.timestamp()))
    return threads[:LISTED]


def threads_of_buyer(store: Store, user_id: int) -> list[SupportThreadDoc]:
    return sorted(
        store.support_threads.find(SUPPORT_THREADS_OF_BUYER, buyer_user_id=user_id),
        key=lambda t: t.created_at,
    )


def thread_json(thread: SupportThreadDoc) -> dict[str, Any]:
    """One thread for the owner app: who, its state, its messages (oldest first), times in ISO UTC."""
    return {
        "thread_id": thread.thread_id,
        "buyer": thread.buyer_name,
        "buyer_user_id": thread.buyer_user_id,
        "status": thread.status.value,
        "origin": thread.origin,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "closed_by": thread.closed_by.value if thread.closed_by else None,
        "message_count": thread.message_count,
        "messages": [
            {"from": m.sender.value, "text": m.text, "at": m.at.isoformat()} for m in thread.messages
        ],
    }
