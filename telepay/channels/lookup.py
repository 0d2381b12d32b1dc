"""Reading channels (the owner's offer) and subscriptions through the store."""

from __future__ import annotations

import time

from shared_schemas.documents import ChannelDoc, SubscriptionDoc
from shared_schemas.ids import is_valid_channel_token, subscription_id
from shared_schemas.queries import CHANNEL_BY_CLOSED_CHAT
from telepay.core.store import Store


def load_channel(store: Store, token: str) -> ChannelDoc | None:
    if not is_valid_channel_token(token):
        return None
    return store.channels.get(token)


_CACHE: dict[str, tuple[float, ChannelDoc | None]] = {}
CACHE_SECONDS = 30.0


def load_channel_cached(store: Store, token: str) -> ChannelDoc | None:
    """For background work (expiry, broadcast) that reads the same channel thousands of times:
    at most CACHE_SECONDS old. Offers and invoices read the channel fresh (prices)."""
    hit = _CACHE.get(token)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    channel = load_channel(store, token)
    _CACHE[token] = (time.monotonic(), channel)
    return channel


def forget_cached_channels() -> None:
    _CACHE.clear()


def channel_by_closed_chat(store: Store, closed_channel_id: int) -> ChannelDoc | None:
    return store.channels.first(CHANNEL_BY_CLOSED_CHAT, closed_channel_id=closed_channel_id)


def load_subscription(store: Store, token: str, user_id: int) -> SubscriptionDoc | None:
    return store.subscriptions.get(subscription_id(token, user_id))


def save_channel(store: Store, channel: ChannelDoc) -> None:
    store.channels.set(channel.token, channel)
