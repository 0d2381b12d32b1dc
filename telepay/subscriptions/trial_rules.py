"""Free trials (pure): who may start one, what starting it writes, and the figures owners read.

One trial per Telegram account per channel, ever. Who may start one (`refusal`):
- the channel offers a trial (`ChannelDoc.trial_days`, 1 to 30 days; None is off);
- the account never had a trial of it (no `trials/<token>-<user id>`);
- the account never paid for it: its subscription document of that channel (there is one per
  channel and account, never deleted) does not name a subscription order as its last order. A
  settlement writes the order's id there and every later change keeps it (a renewal, a refund,
  the removal, free days added by `free_access`), so anyone whose access ever came from a
  purchase, in crypto or in Stars, refunded or not, sees the tiers only. Free days alone (a gift, a
  100 % code, an operator's grant) leave the account eligible.

Both records are read in the transaction that writes the trial and its days, so two presses at once
(or a re-delivered update) grant once, and a purchase settling meanwhile makes the press run again
and see it.

The trial's days go through `free_access.with_days_added` (from max(now, current expiry), as a
paid renewal); the subscription is marked `trial_ends_at` = its new expiry, so while the access is
the trial's (`is_trial`) the reminder and the goodbye say so. A purchase writes the subscription
afresh without the mark, and converts the trial (`converted_order_id`, `converted_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared_schemas.documents import ChannelDoc, SubscriptionDoc, TrialDoc
from shared_schemas.ids import OrderKind, parse_order_id, trial_id
from telepay.subscriptions.free_access import with_days_added


class Refusal(StrEnum):
    """Why a press of a trial button starts no trial."""

    OFF = "no trial offered"
    USED = "had a trial"
    PAID = "paid before"


def paid_before(sub: SubscriptionDoc | None) -> bool:
    """The account's access to the channel came from a subscription order at some point."""
    if sub is None:
        return False
    try:
        return parse_order_id(sub.last_order_id).kind is OrderKind.SUBSCRIPTION
    except ValueError:  # a trial's, a gift's or a grant's reference: no purchase
        return False


def refusal(channel: ChannelDoc, trial: TrialDoc | None, sub: SubscriptionDoc | None) -> Refusal | None:
    if trial is not None:
        return Refusal.USED
    if paid_before(sub):
        return Refusal.PAID
    if channel.trial_days is None:
        return Refusal.OFF
    return None


def source_ref(channel_token: str, user_id: int) -> str:
    """What a subscription that began with a trial names as its last order (no order has this shape)."""
    return f"trial-{trial_id(channel_token, user_id)}"


def started(
    channel: ChannelDoc, current: SubscriptionDoc | None, user_id: int, now: datetime
) -> tuple[TrialDoc, SubscriptionDoc]:
    """The trial record and the subscription with the trial's days added (the channel offers one)."""
    days = channel.trial_days
    assert days is not None, "no trial offered"
    sub = with_days_added(channel, current, user_id, days, now, source_ref(channel.token, user_id))
    sub = sub.model_copy(update={"trial_ends_at": sub.expires_at})
    trial = TrialDoc(
        channel_token=channel.token, user_id=user_id, days=days, started_at=now, ends_at=sub.expires_at
    )
    return trial, sub


def is_trial(sub: SubscriptionDoc | None) -> bool:
    """The member's current access is their free trial's (nothing was bought or added since)."""
    return sub is not None and sub.trial_ends_at is not None and sub.trial_ends_at == sub.expires_at


@dataclass(frozen=True)
class TrialFigures:
    """A channel's trials for `/stats` and the owner app: running now, and per window (days) those
    started and those converted to a purchase in it."""

    running: int
    started: dict[int, int]
    converted: dict[int, int]
