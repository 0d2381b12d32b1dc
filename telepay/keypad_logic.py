"""Donation keypad state (Firestore). Only the part create_invoice reads lives here so far."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from shared_schemas.documents import KeypadSessionDoc
from shared_schemas.names import Collection

if TYPE_CHECKING:
    from telepay.runtime import Runtime


def confirmed_amount(rt: Runtime, session_id: str | None, user_id: int, channel_token: str) -> Decimal | None:
    """The amount a donor confirmed on their keypad, or None: amounts never come from the client."""
    if not session_id:
        return None
    snapshot = rt.db.collection(Collection.KEYPAD_SESSIONS.value).document(session_id).get()
    if not snapshot.exists:
        return None
    session = KeypadSessionDoc.model_validate(snapshot.to_dict())
    if session.status != "confirmed" or session.user_id != user_id or session.channel_token != channel_token:
        return None
    try:
        return Decimal(session.amount_text)
    except InvalidOperation:
        return None
