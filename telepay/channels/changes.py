"""Every change an owner makes to a channel's settings is recorded in `channel_changes`, whether
made in the bot (`/edit`, `/pause`, `/resume`) or in the owner app: which settings, from what to
what, by whom, from where. The record is written in the same transaction (or batch) as the change."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared_schemas.documents import ChannelChangeDoc
from telepay.core.store import Batch, Store, Tx


def changed(before: Mapping[str, Any], after: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """`{name: {"before": ..., "after": ...}}` for each named field whose stored value differs."""
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    }


def change_record(
    token: str, user_id: int, source: str, changes: dict[str, Any], now: datetime
) -> ChannelChangeDoc:
    return ChannelChangeDoc(
        channel_token=token, user_id=user_id, source=source, changes=changes, changed_at=now
    )


def change_id(record: ChannelChangeDoc) -> str:
    return f"{record.channel_token}-{record.changed_at.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(3)}"


def record(
    writer: Tx | Batch,
    store: Store,
    token: str,
    user_id: int,
    source: str,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    """Add the record to the transaction or batch that makes the change (nothing when nothing changed)."""
    if changes:
        doc = change_record(token, user_id, source, changes, now)
        writer.set(store.channel_changes, change_id(doc), doc)
