"""Free trials on the Firestore emulator: many presses of one account's "🎁 Try 7 days free" at once
grant one trial and seven days (the transaction reads the trial record before writing it, so the
losers run again and find it), and the owner's figures count it once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.ids import subscription_id, trial_id
from shared_schemas.queries import TRIALS_STARTED_OF_CHANNEL
from telepay.channels.lookup import save_channel
from telepay.core.clock import FrozenClock
from telepay.subscriptions import trials
from telepay.subscriptions.trial_rules import Refusal
from tests.conftest import demo_channel
from tests.harness import present
from tests.integration.helpers import NOW, store_of

pytestmark = pytest.mark.integration
BUYER = 4242
PRESSES = 8


def test_presses_at_once_grant_one_trial(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    channel = demo_channel(trial_days=7)
    save_channel(store, channel)
    clock = FrozenClock(NOW)
    with ThreadPoolExecutor(PRESSES) as pool:
        outcomes = list(pool.map(lambda _: trials.start(store, clock, channel, BUYER), range(PRESSES)))
    assert sum(outcome.new for outcome in outcomes) == 1
    assert {outcome.refusal for outcome in outcomes if not outcome.new} == {Refusal.USED}
    sub = present(store.subscriptions.get(subscription_id(channel.token, BUYER)))
    assert sub.expires_at == NOW + timedelta(days=7) and sub.trial_ends_at == sub.expires_at
    assert len(store.trials.find(TRIALS_STARTED_OF_CHANNEL, channel_token=channel.token)) == 1
    trial = present(store.trials.get(trial_id(channel.token, BUYER)))
    assert trial.ends_at == sub.expires_at
    figures = trials.trial_figures(store, channel.token, NOW + timedelta(days=1), (7, 30))
    assert (figures.running, figures.started, figures.converted) == (1, {7: 1, 30: 1}, {7: 0, 30: 0})
