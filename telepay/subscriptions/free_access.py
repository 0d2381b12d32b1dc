"""Days of access nobody paid for at that moment: a free trial, a 100 % promo code, a redeemed gift,
an owner's grant, an operator's support grant. One way to add them and one way to take them off, so
each of those behaves exactly as a paid renewal does for the rest of the system:

- days are added from max(now, current expiry) (`extend`, the rule of every paid renewal too): a
  member never loses days they already have;
- the expiry sweep takes it from there (`next_action_at` = now: reminders, then the removal);
- nothing has to be delivered: the member gets a message with the Join button, whose link is made
  when it is tapped (`membership.on_join`), so a grant cannot be lost to a link Telegram refused
  (`access_sent` is true from the start).

The callers write the subscription in their own transaction, together with their own record (the
trial, the code's use, the gift's redemption, the grant's record), so a double tap or a re-delivered
update grants once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared_schemas.documents import (
    ChannelDoc,
    SubscriptionDoc,
    SubscriptionStatus,
    SupportAction,
    SupportActionDoc,
)
from shared_schemas.ids import join_callback, new_nonce
from shared_schemas.telegram import Button


def extend(
    previous: SubscriptionDoc | None, days: int, now: datetime
) -> tuple[datetime, datetime | None, bool]:
    """New expiry, previous expiry, and whether access was active: from max(now, current expiry)."""
    if previous is None:
        return now + timedelta(days=days), None, False
    active = previous.status is SubscriptionStatus.ACTIVE and previous.expires_at > now
    return max(now, previous.expires_at) + timedelta(days=days), previous.expires_at, active


def with_days_added(
    channel: ChannelDoc,
    current: SubscriptionDoc | None,
    user_id: int,
    days: int,
    now: datetime,
    source_ref: str,
) -> SubscriptionDoc:
    """The subscription after `days` free days. `source_ref` names what granted them (a trial, a
    code's use, a gift, a grant record) for a member who had no subscription yet; a member who had
    one keeps its last order (Renew and the receipts still refer to what they bought)."""
    expires_at, _, _ = extend(current, days, now)
    still_in = bool(current and current.in_channel and current.status is SubscriptionStatus.ACTIVE)
    return SubscriptionDoc(
        channel_token=channel.token,
        user_id=user_id,
        closed_channel_id=channel.closed_channel_id,
        status=SubscriptionStatus.ACTIVE,
        expires_at=expires_at,
        started_at=current.started_at if current else now,
        renewed_at=now,  # reminders already past are skipped
        tier_id=current.tier_id if current else None,
        last_order_id=current.last_order_id if current else source_ref,
        in_channel=still_in,
        joined_chats=current.joined_chats if current else [],
        reminders_sent=current.reminders_sent if current else [],
        star_renewal=current.star_renewal if current else None,
        next_action_at=now,  # the sweep works out the reminders and removal from here
        access_sent=True,  # the Join button makes the link when tapped: nothing to deliver
        membership_date=current.membership_date if current else 0,
        updated_at=now,
    )


def with_days_taken(current: SubscriptionDoc, days: int | None, now: datetime) -> SubscriptionDoc:
    """The subscription with `days` taken off its end (all of it when None), never before now; the
    sweep removes the member when nothing is left (after the channel's grace period)."""
    ends = now if days is None else max(now, current.expires_at - timedelta(days=days))
    return current.model_copy(update={"expires_at": ends, "next_action_at": now, "updated_at": now})


def is_active(current: SubscriptionDoc | None, now: datetime) -> bool:
    return current is not None and current.status is SubscriptionStatus.ACTIVE and current.expires_at > now


def join_keyboard(channel: ChannelDoc, sub: SubscriptionDoc, join_label: str) -> list[list[Button]] | None:
    """The Join button under a free grant's message, for a member not in the channel yet."""
    if sub.in_channel:
        return None
    return [[Button(join_label, callback_data=join_callback(channel.token))]]


def support_action_id(user_id: int, token: str, now: datetime) -> str:
    """A new `support_actions` id (an operator's or an owner's grant or revoke)."""
    return f"{user_id}-{token}-{int(now.timestamp() * 1000)}-{new_nonce()}"


def support_record(
    action: SupportAction,
    current: SubscriptionDoc | None,
    after: SubscriptionDoc,
    days: int | None,
    reason: str,
    operator: str,
    now: datetime,
    source: str = "operator",
) -> SupportActionDoc:
    """The record of a grant or revoke (who, when, why, the expiry before and after), written in
    the transaction that changes the subscription from `current` to `after`."""
    return SupportActionDoc(
        action=action,
        channel_token=after.channel_token,
        user_id=after.user_id,
        days=days,
        reason=reason,
        operator=operator,
        at=now,
        expires_before=current.expires_at if current else None,
        expires_after=after.expires_at,
        source=source,
    )
