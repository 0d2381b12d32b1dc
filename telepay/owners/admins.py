"""One rule for who may sell or change a channel: its owner (the channel's record) who is the
creator of both its Telegram channels, asked of Telegram at that moment. Another administrator of
the channels, whatever their rights, may not: the money of the channel's sales goes to the wallet
of whoever registers it. The bot (`/newchannel`, `/edit`, `/pause`, `/resume`) and the owner app
apply it; each words its own refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from shared_schemas.config import TelegramSettings
from shared_schemas.documents import ChannelDoc
from shared_schemas.queries import CHANNELS_OF_OWNER
from shared_schemas.telegram import TgChatMember
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels.lookup import load_channel
from telepay.core.store import Store
from telepay.runtime import Runtime

Rt = Runtime[TelegramSettings]


class Why(Enum):
    NOT_OWNER = "not the owner"  # no such channel, or someone else's
    NOT_CREATOR = "not the creator"  # not (or no longer) the creator of one of its channels


@dataclass(frozen=True)
class Refusal:
    why: Why
    chat_id: int | None = None  # the channel they are not the creator of


def owned(store: Store, user_id: int) -> list[ChannelDoc]:
    """The channels whose record names this person as owner."""
    return store.channels.find(CHANNELS_OF_OWNER, owner_user_id=user_id)


def member(rt: Rt, chat_id: int, user_id: int) -> TgChatMember | None:
    """What Telegram says now; None when it will not say (the bot removed, the chat gone)."""
    try:
        return rt.telegram.get_chat_member(chat_id, user_id)
    except (TelegramBadRequest, TelegramForbidden):
        return None


def is_creator(rt: Rt, chat_id: int, user_id: int) -> bool:
    """Telegram's `creator` status in the chat, now: the one person who owns it."""
    found = member(rt, chat_id, user_id)
    return found is not None and found.status == "creator"


def change_refusal(
    rt: Rt,
    user_id: int,
    chat_ids: Sequence[int],
    token: str | None = None,
    channel: ChannelDoc | None = None,
) -> Refusal | None:
    """Why this person may not change the channel now, or None when they may. `channel` (or its
    `token`, read here) is the stored channel; neither while a new channel is being set up.
    `chat_ids`: the open and closed channels it is in, or is being moved to; the person must be
    the creator of each."""
    if channel is None and token is not None:
        channel = load_channel(rt.store, token)
        if channel is None:
            return Refusal(Why.NOT_OWNER)
    if channel is not None and channel.owner_user_id != user_id:
        return Refusal(Why.NOT_OWNER)
    for chat_id in chat_ids:
        if not is_creator(rt, chat_id, user_id):
            return Refusal(Why.NOT_CREATOR, chat_id)
    return None
