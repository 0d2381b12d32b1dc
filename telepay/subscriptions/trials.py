"""Free trials' flow: a press of "🎁 Try N days free" (the offer's button, or the daily post's link)
starts the trial, its record and its days written in one transaction; and the figures `/stats` and
the owner app show. A purchase that settles converts the trial (`telepay.payments.trial_conversion`,
in the settling transaction). Who may start one, and what starting one
writes, are the pure rules of `trial_rules`; what the buyer reads is `subscriptions.router`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared_schemas.documents import ChannelDoc, SubscriptionDoc, TrialDoc
from shared_schemas.ids import subscription_id, trial_id
from shared_schemas.queries import DAYS_OF_CHANNEL
from telepay.channels.day_counts import add, count_joined, set_subscription
from telepay.channels.lookup import load_subscription
from telepay.channels.settings import TRIAL_DAYS_MAX
from telepay.core.clock import Clock
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.subscriptions.trial_rules import Refusal, TrialFigures, refusal, started

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
        set_subscription(tx, store, sid, current, sub)
        count_joined(tx, store, current, sub, now)
        add(tx, store, channel.token, now, {"trials": 1})
        add(tx, store, channel.token, new_trial.ends_at, {"trials_ending": 1})
        return Outcome(None, sub, new_trial)

    outcome = store.transaction(work)
    if outcome.new:
        log.info("free trial started", extra={"channel_token": channel.token, "user_id": user_id})
    return outcome


# -- figures --------------------------------------------------------------------------------------
def trial_figures(store: Store, token: str, now: datetime, windows: Sequence[int]) -> TrialFigures:
    """The channel's trials running now, and started and converted in each window (the last N UTC
    days, today included): the one source of `/stats` and the owner app's overview. Read from the
    channel's day counts (`trials`, `trials_converted`, and `trials_ending` from today to the
    longest trial ahead), never the trials themselves: a bounded read for any number of trials."""
    today = now.date()
    started = dict.fromkeys(windows, 0)
    converted = dict.fromkeys(windows, 0)
    running = 0
    for page in store.channel_days.pages(
        DAYS_OF_CHANNEL,
        channel_token=token,
        above=(today - timedelta(days=max(windows) - 1)).isoformat(),
        below=(today + timedelta(days=TRIAL_DAYS_MAX)).isoformat(),
    ):
        for stored in page:
            doc, day = stored.doc, date.fromisoformat(stored.doc.day)
            if day >= today:
                running += doc.trials_ending  # a trial ending today counts until the day is over
            for window in windows:
                if today - timedelta(days=window) < day <= today:
                    started[window] += doc.trials
                    converted[window] += doc.trials_converted
    return TrialFigures(running=max(running, 0), started=started, converted=converted)
