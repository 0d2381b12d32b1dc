"""What is due for a subscription, and when (pure): its next reminder or its removal, what a
removal task does with the subscription it finds, and the task names that make a repeated sweep
harmless. The flow that acts on them is `telepay.subscriptions.expiry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.tasks import ExpiryAction

# A Star subscription Telegram renews by itself keeps its member this long past its end, for the
# renewal (charged at the end of the period) to arrive before anyone is removed.
STAR_RENEWAL_WAIT = timedelta(hours=6)


def renews_by_itself(sub: SubscriptionDoc | None) -> bool:
    """Telegram will charge this Star subscription at its end (the buyer has not cancelled), and the
    end is the period Telegram renews (a crypto purchase on top moves the end past it)."""
    renewal = sub.star_renewal if sub else None
    return bool(
        sub is not None
        and renewal is not None
        and not renewal.canceled
        and sub.expires_at <= renewal.period_end + STAR_RENEWAL_WAIT
    )


@dataclass(frozen=True)
class DueAction:
    action: ExpiryAction
    at: datetime
    offset_seconds: int = 0
    retry: bool = False  # a removal Telegram refused before, tried again


def reminder_key(offset_seconds: int, expires_at: datetime) -> str:
    return f"{offset_seconds}@{expires_at.isoformat()}"


def parse_offsets(hours: str) -> list[int]:
    return sorted({int(float(h) * 3600) for h in hours.split(",") if h.strip()}, reverse=True)


def next_action(
    sub: SubscriptionDoc, offsets: list[int], grace: timedelta, now: datetime
) -> DueAction | None:
    """The subscription's next reminder or its removal; reminders already past when it was bought
    or renewed, or past its expiry, are skipped. An expired subscription whose member Telegram has
    not confirmed removed stays due until it has."""
    if sub.status is not SubscriptionStatus.ACTIVE:
        if sub.removed_at is None and sub.next_action_at is not None:
            return DueAction(ExpiryAction.REMOVE, sub.next_action_at, retry=True)
        return None
    if sub.moved_from_chat is not None and now < sub.expires_at:  # the closed chat moved: tell first
        return DueAction(ExpiryAction.INVITE, sub.next_action_at or now)
    since = sub.renewed_at or sub.started_at
    for offset in offsets:  # largest offset first: the earliest reminder
        at = sub.expires_at - timedelta(seconds=offset)
        if at <= since or now >= sub.expires_at:  # an offset as long as the access itself: none
            continue
        if reminder_key(offset, sub.expires_at) in sub.reminders_sent:
            continue
        return DueAction(ExpiryAction.REMIND, at, offset)
    return DueAction(ExpiryAction.REMOVE, sub.expires_at + grace)


class Removal(Enum):
    """What a removal task does with the subscription it finds."""

    GONE = "no subscription"
    RENEWED = "renewed: not removed"
    NOT_DUE = "not due yet"
    REMOVE = "remove"  # mark it expired now, then remove the member
    FINISH = "finish"  # expired earlier, the removal did not finish (a rescheduled or retried task)
    TELL_ONLY = "already removed"  # removed before; the goodbye may still be owed


def removal_step(
    sub: SubscriptionDoc | None, planned_expiry: datetime, grace: timedelta, now: datetime
) -> Removal:
    if sub is None:
        return Removal.GONE
    if sub.expires_at != planned_expiry:
        return Removal.RENEWED
    if sub.status is SubscriptionStatus.ACTIVE:
        return Removal.NOT_DUE if sub.expires_at + grace > now else Removal.REMOVE
    return Removal.FINISH if sub.removed_at is None else Removal.TELL_ONLY


# A queued action is not queued again before this (the sweep sees it as due again after it).
QUEUED_LEASE = timedelta(minutes=10)
# A lease allows the paced queue half its configured rate: 429s, retries and a slow endpoint all
# slow it, and a lease that ends before the queue reaches its action has the sweep hand the
# subscription out again (found queued by name, but read, decided and asked for again).
LEASE_RATE_SHARE = 0.5


def queued_lease(position: int, per_second: float) -> timedelta:
    """How long an action the sweep queued stays leased: ten minutes after the paced queue, at half
    its rate, should have reached it, with `position` actions queued ahead of it (those of earlier
    sweeps still waiting, then this sweep's). 100,000 due at once take the better part of an hour
    at Telegram's rate: a flat ten minutes would have the sweep find most of them due again, and try
    to queue them again, every minute."""
    return QUEUED_LEASE + timedelta(seconds=position / (per_second * LEASE_RATE_SHARE))


def task_name(sub_id: str, due: DueAction, expires_at: datetime) -> str:
    stamp = int(expires_at.timestamp())
    if due.action is ExpiryAction.REMIND:
        return f"remind-{sub_id}-{due.offset_seconds}-{stamp}"
    if due.action is ExpiryAction.INVITE:
        return f"invite-{sub_id}-at{int(due.at.timestamp())}"
    if due.retry:  # task names are remembered for an hour: each retry needs its own
        return f"remove-{sub_id}-{stamp}-at{int(due.at.timestamp())}"
    return f"remove-{sub_id}-{stamp}"
