"""Multi-step conversations with owners, kept in Firestore (`conversations/<user>:<name>`).

Any instance may get any update, and Telegram re-delivers what was not acknowledged, so every move
is a transaction that checks two things about the document read when the answer was judged:
- `version`: an answer judged against version v applies only while the document is still at v.
  Two answers handled at once by two instances never both apply; the later one is told so.
- `last_update_id`: an update already applied (a re-delivery) changes nothing.
What else must change with the move (the channel written at the end) is written in the same
transaction, so a conversation never leaves anything half-saved.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from shared_schemas.documents import CONVERSATION_LIFETIME, ConversationDoc
from telepay.core.clock import Clock
from telepay.core.store import Store, Tx

# grant: an owner's /grant or /revoke, step by step; promo: an owner's /promo
NAMES: tuple[str, ...] = ("newchannel", "edit", "grant", "promo")
NAMES += ("export",)  # -- exports --: an owner's /export, step by step
NAMES += ("announce",)  # -- announcements --: an owner's /announce, step by step
ENDED = ("done", "cancelled", "expired")


class Move(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this update was applied before
    CONFLICT = "conflict"  # another update moved the conversation first


def conversation_id(user_id: int, name: str) -> str:
    return f"{user_id}:{name}"


def is_active(conversation: ConversationDoc | None, now: Any) -> bool:
    return conversation is not None and conversation.step not in ENDED and conversation.expire_at > now


class Conversations:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def latest(self, user_id: int) -> ConversationDoc | None:
        """The user's most recently moved conversation (active, ended or expired), if any."""
        found = [self._store.conversations.get(conversation_id(user_id, name)) for name in NAMES]
        present = [c for c in found if c is not None]
        return max(present, key=lambda c: c.last_update_id) if present else None

    def start(
        self, user_id: int, name: str, step: str, data: dict[str, Any], update_id: int
    ) -> tuple[Move, ConversationDoc]:
        """Begin (or begin again) `name`; the user's other conversations end."""
        repo = self._store.conversations

        def work(tx: Tx) -> tuple[Move, ConversationDoc]:
            docs = {other: tx.get(repo, conversation_id(user_id, other)) for other in NAMES}
            current = docs[name]
            if current is not None and current.last_update_id >= update_id:
                return Move.DUPLICATE, current  # this /command again, or one older than the last move
            for other, doc in docs.items():
                if other != name and doc is not None and doc.step not in ENDED:
                    tx.update(repo, conversation_id(user_id, other), {"step": "cancelled"})
            now = self._clock.now()
            new = ConversationDoc(
                user_id=user_id,
                name=name,
                version=(current.version if current else 0) + 1,
                step=step,
                data=data,
                last_update_id=update_id,
                updated_at=now,
                expire_at=now + CONVERSATION_LIFETIME,
            )
            tx.set(repo, conversation_id(user_id, name), new)
            return Move.APPLIED, new

        return self._store.transaction(work)

    def move(
        self,
        judged: ConversationDoc,
        update_id: int,
        step: str,
        data: dict[str, Any],
        also: Callable[[Tx], None] | None = None,
    ) -> tuple[Move, ConversationDoc]:
        """Apply an answer judged against `judged`: to `step` with `data`, and `also`'s writes."""
        repo = self._store.conversations
        doc_id = conversation_id(judged.user_id, judged.name)

        def work(tx: Tx) -> tuple[Move, ConversationDoc]:
            current = tx.get(repo, doc_id)
            if current is None:
                return Move.CONFLICT, judged
            if current.last_update_id == update_id:
                return Move.DUPLICATE, current
            if current.version != judged.version or current.last_update_id > update_id:
                return Move.CONFLICT, current
            now = self._clock.now()
            new = current.model_copy(
                update={
                    "version": current.version + 1,
                    "step": step,
                    "data": data,
                    "last_update_id": update_id,
                    "updated_at": now,
                    "expire_at": now + CONVERSATION_LIFETIME,
                }
            )
            if also is not None:
                also(tx)
            tx.set(repo, doc_id, new)
            return Move.APPLIED, new

        return self._store.transaction(work)
