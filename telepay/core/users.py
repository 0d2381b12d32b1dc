"""What we remember about users: whether they blocked the bot (so nothing retries forever)."""

from __future__ import annotations

from telepay.core.clock import Clock
from telepay.core.store import Store


def mark_blocked(store: Store, clock: Clock, user_id: int) -> None:
    store.users.merge(str(user_id), {"user_id": user_id, "blocked_bot": True, "blocked_at": clock.now()})
