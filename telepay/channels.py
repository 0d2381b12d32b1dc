"""Reading channels (the owner's offer) from Firestore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared_schemas.documents import ChannelDoc, SubscriptionDoc
from shared_schemas.ids import is_valid_channel_token, subscription_id
from shared_schemas.names import Collection
from shared_schemas.queries import CHANNEL_BY_CLOSED_CHAT
from telepay.queries import build

if TYPE_CHECKING:
    from google.cloud.firestore import Client


def load_channel(db: Client, token: str) -> ChannelDoc | None:
    if not is_valid_channel_token(token):
        return None
    snapshot = db.collection(Collection.CHANNELS.value).document(token).get()
    if not snapshot.exists:
        return None
    return ChannelDoc.model_validate(snapshot.to_dict())


_CACHE: dict[str, tuple[float, ChannelDoc | None]] = {}
CACHE_SECONDS = 30.0


def load_channel_cached(db: Client, token: str) -> ChannelDoc | None:
    """For background work (expiry, broadcast) that reads the same channel thousands of times:
    at most CACHE_SECONDS old. Offers and invoices read the channel fresh (prices)."""
    import time

    hit = _CACHE.get(token)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    channel = load_channel(db, token)
    _CACHE[token] = (time.monotonic(), channel)
    return channel


def channel_by_closed_chat(db: Client, closed_channel_id: int) -> ChannelDoc | None:
    for snapshot in build(db, CHANNEL_BY_CLOSED_CHAT, closed_channel_id=closed_channel_id).limit(1).stream():
        return ChannelDoc.model_validate(snapshot.to_dict())
    return None


def load_subscription(db: Client, token: str, user_id: int) -> SubscriptionDoc | None:
    snapshot = db.collection(Collection.SUBSCRIPTIONS.value).document(subscription_id(token, user_id)).get()
    if not snapshot.exists:
        return None
    return SubscriptionDoc.model_validate(snapshot.to_dict())


def save_channel(db: Client, channel: ChannelDoc) -> None:
    db.collection(Collection.CHANNELS.value).document(channel.token).set(channel.to_firestore())
