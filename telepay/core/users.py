"""What we remember about users: whether they blocked the bot (so nothing retries forever); and how
we name them to owners."""

from __future__ import annotations

from shared_schemas.telegram import TgUser
from telepay.core.clock import Clock
from telepay.core.store import Store


def mark_blocked(store: Store, clock: Clock, user_id: int) -> None:
    store.users.merge(str(user_id), {"user_id": user_id, "blocked_bot": True, "blocked_at": clock.now()})


def display_name(user: TgUser) -> str:
    """How a buyer or donor is named in the owner's notices."""
    return f"{user.first_name} (@{user.username})" if user.username else user.first_name
