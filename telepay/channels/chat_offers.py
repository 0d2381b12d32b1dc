"""One chat, one offer, decided inside the transaction that puts a channel live or moves it.

The bot refuses a chat another offer uses when the owner picks it, but the go-live comes later
(after the prices and the wallet), and an operator's `telepay channels register` or another
conversation may take the chat meanwhile. So the transaction that writes the channel reads
`chat_offers/<chat id>` for each of its chats (and the channel named there, which may have moved
away since) and refuses with `ChatInUse`; otherwise it writes the records with the channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared_schemas.documents import ChannelDoc, ChatOfferDoc
from telepay.core.errors import Permanent
from telepay.core.store import Store, Tx

ROLES = ("open", "closed")


class ChatInUse(Permanent):
    def __init__(self, chat_id: int, role: str, other: ChannelDoc) -> None:
        super().__init__(f"chat {chat_id} is the {role} chat of {other.token}")
        self.chat_id = chat_id
        self.other = other


def _chat(channel: ChannelDoc, role: str) -> int:
    return channel.open_channel_id if role == "open" else channel.closed_channel_id


def claim(tx: Tx, store: Store, channel: ChannelDoc, now: datetime, roles: Iterable[str] = ROLES) -> None:
    """Take `channel`'s chats (of `roles`) for it, or raise ChatInUse naming the offer that has
    one. Reads first, then writes: call it before the transaction's own writes."""
    taken = []
    for role in roles:
        chat_id = _chat(channel, role)
        record = tx.get(store.chat_offers, str(chat_id))
        if record is not None and record.channel_token != channel.token:
            other = tx.get(store.channels, record.channel_token)
            if other is not None and chat_id in (other.open_channel_id, other.closed_channel_id):
                raise ChatInUse(chat_id, role, other)
        if record is None or record.channel_token != channel.token or record.role != role:
            taken.append(ChatOfferDoc(chat_id=chat_id, channel_token=channel.token, role=role, since=now))
    for record in taken:
        tx.set(store.chat_offers, str(record.chat_id), record)
