"""What we remember about users: whether they blocked the bot (so nothing retries forever)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared_schemas.names import Collection

if TYPE_CHECKING:
    from telepay.runtime import Runtime


def mark_blocked(rt: Runtime, user_id: int) -> None:
    rt.db.collection(Collection.USERS.value).document(str(user_id)).set(
        {"user_id": user_id, "blocked_bot": True, "blocked_at": rt.clock.now()}, merge=True
    )
