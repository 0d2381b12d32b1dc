"""Support cases: an operator grants or revokes one user's access to one channel.

A grant extends the subscription from max(now, current expiry), exactly as a paid renewal does
(`telepay.subscriptions.free_access`, shared with trials, codes, gifts and owners' grants), and leaves `next_action_at` to the expiry sweep (reminders, then the
removal). A revoke ends the access now: the sweep queues the removal at once (after the channel's
grace period, as for any ending). Each is recorded in `support_actions`, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared_schemas.documents import (
    ChannelDoc,
    SubscriptionDoc,
    SupportAction,
    SupportActionDoc,
)
from shared_schemas.ids import subscription_id
from telepay.channels.day_counts import count_joined, set_subscription
from telepay.core.clock import Clock
from telepay.core.store import Store, Tx
from telepay.subscriptions.free_access import (
    is_active,
    support_action_id,
    support_record,
    with_days_added,
    with_days_taken,
)


class SupportRefused(Exception):
    """The action cannot be done (unknown channel, nothing to revoke); the message says why."""


@dataclass(frozen=True)
class Case:
    """Whose access, and the operator's record of why and who."""

    token: str
    user_id: int
    reason: str
    operator: str


@dataclass(frozen=True)
class Done:
    action_id: str
    record: SupportActionDoc
    subscription: SubscriptionDoc


# What an action makes of the subscription: (channel, current subscription, now, action id) -> new one.
Change = Callable[[ChannelDoc, SubscriptionDoc | None, datetime, str], SubscriptionDoc]


def _apply(
    store: Store, clock: Clock, case: Case, action: SupportAction, change: Change, days: int | None
) -> Done:
    """The subscription changed and the action recorded, in one transaction."""
    now = clock.now()
    action_id = support_action_id(case.user_id, case.token, now)
    sub_id = subscription_id(case.token, case.user_id)

    def work(tx: Tx) -> Done:
        channel = tx.get(store.channels, case.token)
        if channel is None:
            raise SupportRefused(f"no channel {case.token}")
        current = tx.get(store.subscriptions, sub_id)
        subscription = change(channel, current, now, action_id)
        record = support_record(action, current, subscription, days, case.reason, case.operator, now)
        set_subscription(tx, store, sub_id, current, subscription)
        tx.set(store.support_actions, action_id, record)
        count_joined(tx, store, current, subscription, now)
        return Done(action_id, record, subscription)

    return store.transaction(work)


def grant(store: Store, clock: Clock, case: Case, days: int) -> Done:
    def extended(
        channel: ChannelDoc, current: SubscriptionDoc | None, now: datetime, action_id: str
    ) -> SubscriptionDoc:
        return with_days_added(channel, current, case.user_id, days, now, f"support-{action_id}")

    return _apply(store, clock, case, SupportAction.GRANT, extended, days)


def revoke(store: Store, clock: Clock, case: Case) -> Done:
    def ended(channel: ChannelDoc, current: SubscriptionDoc | None, now: datetime, _: str) -> SubscriptionDoc:
        if current is None or not is_active(current, now):
            raise SupportRefused(f"user {case.user_id} has no active access to {case.token}")
        return with_days_taken(current, None, now)

    return _apply(store, clock, case, SupportAction.REVOKE, ended, None)
