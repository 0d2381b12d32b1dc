"""When a buyer's access could not be delivered for good (the buyer blocked the bot after paying),
the channel's owner is told once, with the order, so a person can reach them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared_schemas.names import ClaimPurpose
from telepay.channels.lookup import load_channel
from telepay.channels.notices import notify_owner_once, wait_out_retry_after
from telepay.core.logs import get_logger
from telepay.runtime import Runtime
from telepay.support import texts as say

log = get_logger("telepay.support")


def after_receipt(rt: Runtime[Any], outcomes: Sequence[str], order_id: str, buyer_id: int) -> bool:
    """After notify handled a settled payment's messages: the owner told when the buyer's receipt
    met a bot the buyer blocked (now, or on an earlier attempt of this event that stopped before
    the owner was told)."""
    blocked_now = "buyer: blocked" in outcomes
    user = rt.store.users.get(str(buyer_id)) if "buyer: already done" in outcomes else None
    if blocked_now or (user is not None and user.blocked_bot):
        return tell_owner(rt, order_id)
    return False


def tell_owner(rt: Runtime[Any], order_id: str) -> bool:
    """The owner told once (per order) that the buyer of `order_id` blocked the bot; False when
    there is nothing to tell (no order or no channel)."""
    order = rt.store.orders.get(order_id)
    channel = load_channel(rt.store, order.channel_token) if order is not None else None
    if order is None or channel is None:
        return False
    tier = channel.tier(order.tier_id) if order.tier_id else None
    days = order.days or (tier.days if tier is not None else 0)
    label = (tier.label if tier is not None and tier.label else None) or say.days_tier(days)
    name = say.buyer_label(order.buyer_name, order.user_id) if order.buyer_name else str(order.user_id)

    def text() -> str:
        return say.buyer_unreachable(
            name, channel.title, order.order_id, order.price_amount, order.price_currency, label
        )

    # The owner has just been sent the payment's notice: a 429 is likely, and waited out once.
    wait_out_retry_after(
        lambda: notify_owner_once(rt, ClaimPurpose.UNREACHABLE_BUYER, channel, text, key=order.order_id)
    )
    log.info("owner told that a buyer cannot be reached", extra={"order_id": order_id})
    return True
