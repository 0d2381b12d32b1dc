"""Telling channel owners about their channels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from shared_schemas.config import TelegramSettings
from shared_schemas.documents import ChannelDoc
from shared_schemas.names import ClaimPurpose
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.core.errors import ClaimBusy
from telepay.core.users import speaking_to
from telepay.runtime import Runtime


def notify_owner_once(
    rt: Runtime[TelegramSettings],
    purpose: ClaimPurpose,
    channel: ChannelDoc,
    text: Callable[[], str],
    key: str | None = None,
) -> None:
    """Tell a channel's owner something once (per claim lifetime); an owner who cannot be reached
    is not retried, and a notice being sent elsewhere right now is left to that instance. `text`
    makes the notice: it is called in the owner's language (whoever caused the notice, a buyer
    included, may read another)."""
    try:
        with rt.claims.hold(purpose, key or channel.token, keep_for=timedelta(days=30)) as claim:
            if claim.done_before:
                return
            claim.result = "sent"
            try:
                with speaking_to(rt.store, channel.owner_user_id):
                    rt.telegram.send_message(channel.owner_user_id, text())
            except (TelegramForbidden, TelegramBadRequest):
                claim.result = "owner unreachable"
    except ClaimBusy:
        return
