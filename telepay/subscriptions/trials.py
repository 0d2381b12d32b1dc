"""Free trials' flow: a press of "🎁 Try N days free" (the offer's button, or the daily post's link)
starts the trial, its record and its days written in one transaction; and the figures `/stats` and
the owner app show. A purchase that settles converts the trial (`telepay.payments.trial_conversion`,
in the settling transaction). Who may start one, and what starting one
writes, are the pure rules of `trial_rules`; what the buyer reads is `subscriptions.router`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared_schemas.documents import ChannelDoc, SubscriptionDoc, TrialDoc
from shared_schemas.ids import subscription_id, trial_id
from shared_schemas.queries import TRIALS_CONVERTED_OF_CHANNEL, TRIALS_STARTED_OF_CHANNEL
from telepay.channels.day_counts import count_joined
from telepay.channels.lookup import load_subscription
from telepay.core.clock import Clock
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.subscriptions.trial_rules import Refusal, TrialFigures, figures, refusal, started

log = get_logger("telepay.webhook")


@dataclass(frozen=True)
class Outcome:
    """What a press did: `refusal` is None when this press started the trial; else why not, with the
    trial record and subscription it found."""

    refusal: Refusal | None
    subscription: SubscriptionDoc | None
    trial: TrialDoc | None

    @property
    def new(self) -> bool:
        return self.refusal is None


def eligible(store: Store, channel: ChannelDoc, user_id: int) -> bool:
    """Whether to show this person the trial button (a press checks again, in its transaction)."""
    if channel.trial_days is None:
        return False
    trial = store.trials.get(trial_id(channel.token, user_id))
    return refusal(channel, trial, load_subscription(store, channel.token, user_id)) is None


def start(store: Store, clock: Clock, channel: ChannelDoc, user_id: int) -> Outcome:
    """The trial and its days, if this account may have one: one transaction reads the trial record
    and the subscription, then writes both (a second press, at once or later, finds the record)."""
    now = clock.now()
    tid, sid = trial_id(channel.token, user_id), subscription_id(channel.token, user_id)

    def work(tx: Tx) -> Outcome:
        trial, current = tx.get_two((store.trials, tid), (store.subscriptions, sid))  # one round trip
        why = refusal(channel, trial, current)
        if why is not None:
            return Outcome(why, current, trial)
        new_trial, sub = started(channel, current, user_id, now)
        tx.set(store.trials, tid, new_trial)
        tx.set(store.subscriptions, sid, sub)
        count_joined(tx, store, current, sub, now)
        return Outcome(None, sub, new_trial)

    outcome = store.transaction(work)
    if outcome.new:
        log.info("free trial started", extra={"channel_token": channel.token, "user_id": user_id})
    return outcome


# -- figures --------------------------------------------------------------------------------------
def trial_figures(store: Store, token: str, now: datetime, windows: Sequence[int]) -> TrialFigures:
    """The channel's trials running now, and started and converted in each window (days): the one
    source of `/stats` and the owner app's overview."""
    since = now - timedelta(days=max(windows))
    started_recently = [
        stored.doc
        for page in store.trials.pages(TRIALS_STARTED_OF_CHANNEL, channel_token=token, above=since)
        for stored in page
    ]
    converted_recently = [
        stored.doc
        for page in store.trials.pages(TRIALS_CONVERTED_OF_CHANNEL, channel_token=token, above=since)
        for stored in page
    ]
    return figures(started_recently, converted_recently, now, windows)
