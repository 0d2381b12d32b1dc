"""The cooling-off hold after a payout wallet changes (the rules; the owner's notice and the cancel
button are `telepay.owners.wallet_change`).

Whoever holds an owner's Telegram for a minute could set their own wallet and have the whole
balance paid there by the next run. So a change of a channel's payout wallet, from the bot, the
owner app or the operator CLI, holds that channel's payouts for `wallet_hold_hours` (48 by
default): the owner is told at once with a button that cancels the change (restoring the wallet
from before), the operator is alerted, and `/payouts`, the owner app and `telepay payouts list` say
until when. Another change during a hold extends it and keeps the wallet from before the first, so
a cancel always goes back to the wallet the owner had; changing back to that wallet ends the hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from shared_schemas.documents import ChannelDoc, WalletHold, firestore_value

WALLET_FIELDS = ("payout_currency", "payout_network", "payout_wallet")


def _wallet(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(name) for name in WALLET_FIELDS)


def held_until(channel: ChannelDoc, now: datetime) -> datetime | None:
    """When this channel's payouts may go again, if a wallet change holds them now."""
    hold = channel.wallet_hold
    return hold.until if hold is not None and hold.until > now else None


def after_change(
    current: ChannelDoc,
    after: Mapping[str, Any],
    now: datetime,
    hours: int,
    user_id: int,
    source: str,
) -> dict[str, Any]:
    """The `wallet_hold` field to write with a change that takes `current` to `after` (stored
    values); empty when the wallet does not change."""
    before = tuple(getattr(current, name) for name in WALLET_FIELDS)
    new = _wallet(after)
    if before == new:
        return {}
    running = current.wallet_hold if held_until(current, now) else None
    previous = (
        (running.previous_currency, running.previous_network, running.previous_wallet)
        if running is not None
        else before
    )
    if new == previous or hours <= 0:  # back to the wallet from before the hold, or no holds at all
        return {"wallet_hold": None}
    hold = WalletHold(
        previous_currency=previous[0],
        previous_network=previous[1],
        previous_wallet=previous[2],
        changed_at=now,
        until=now + timedelta(hours=hours),
        changed_by=user_id,
        source=source,
    )
    return {"wallet_hold": firestore_value(hold.model_dump(mode="python"))}


def stamp(hold: WalletHold) -> str:
    """The hold's name in the cancel button: a newer change makes an older button stale."""
    return hold.changed_at.strftime("%Y%m%d%H%M%S%f")


def restore(hold: WalletHold) -> dict[str, Any]:
    """The fields a cancel writes: the wallet from before the change, and no hold."""
    return {
        "payout_currency": hold.previous_currency,
        "payout_network": hold.previous_network,
        "payout_wallet": hold.previous_wallet,
        "wallet_hold": None,
    }
