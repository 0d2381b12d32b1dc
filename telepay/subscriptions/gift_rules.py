"""The rules of gifts, as pure functions: which code a gift order's payment gives, what a settled
gift payment writes, and what redeeming a gift may do.

- A gift order carries its gift's code from its creation (`OrderDoc.gift_code`, random): the
  transaction that settles it, run again (contention, a re-delivered IPN), writes the same gift.
  A further payment of the same order (a wallet's double send) pays for a second gift, whose code
  is derived from the order's code and that payment's ledger entry (the same on every run too).
- A gift is redeemed once: by whoever opens its link first, for the channel it was bought for.
  Its days are added as every free day is (`free_access.with_days_added`, from max(now, expiry)).
- A refunded gift payment voids the gift if nobody redeemed it; if someone did, its days come off
  the redeemer's subscription (`free_access.with_days_taken`), as a refund does for a subscription.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from shared_schemas.documents import GiftDoc, GiftState, OrderDoc
from shared_schemas.ids import GIFT_ALPHABET, GIFT_CODE_LENGTH


def derived_gift_code(base: str, entry_id: str) -> str:
    """A code of GIFT_CODE_LENGTH characters of GIFT_ALPHABET, the same for the same inputs."""
    digest = hashlib.sha256(f"{base}:{entry_id}".encode()).digest()
    return "".join(GIFT_ALPHABET[byte % len(GIFT_ALPHABET)] for byte in digest[:GIFT_CODE_LENGTH])


def gift_code_of(order: OrderDoc, entry_id: str) -> str | None:
    """The code of the gift the payment booked as `entry_id` paid for (None: not a gift order)."""
    if not order.gift or not order.gift_code:
        return None
    return order.gift_code if entry_id == order.order_id else derived_gift_code(order.gift_code, entry_id)


def new_gift(order: OrderDoc, entry_id: str, now: datetime) -> GiftDoc | None:
    """The gift a settled payment of a gift order makes (None: not a gift order)."""
    code = gift_code_of(order, entry_id)
    if code is None or order.tier_id is None or not order.days:
        return None
    return GiftDoc(
        code=code,
        channel_token=order.channel_token,
        tier_id=order.tier_id,
        days=order.days,
        order_id=order.order_id,
        entry_id=entry_id,
        buyer_user_id=order.user_id,
        created_at=now,
    )


class Redemption(StrEnum):
    OK = "redeemed"
    UNKNOWN = "unknown gift"  # no such code, or a code of another channel
    TAKEN = "already redeemed"  # someone else redeemed it
    MINE = "already redeemed by you"  # this user redeemed it before (a second tap)
    VOIDED = "voided"  # its payment was refunded


def redemption(gift: GiftDoc | None, channel_token: str, user_id: int) -> Redemption:
    """May `user_id` redeem this gift through a link of `channel_token`, now?"""
    if gift is None or gift.channel_token != channel_token:
        return Redemption.UNKNOWN
    if gift.state is GiftState.VOIDED:
        return Redemption.VOIDED
    if gift.state is GiftState.REDEEMED:
        return Redemption.MINE if gift.redeemed_by == user_id else Redemption.TAKEN
    return Redemption.OK
