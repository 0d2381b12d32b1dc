"""The operator's view of free trials: `telepay trials list TOKEN` (the channel's trial length, its
figures as `/stats` counts them, and each trial, the newest first) and a user's trials for
`telepay users show`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared_schemas.documents import ChannelDoc, TrialDoc
from shared_schemas.queries import TRIALS_OF_USER, TRIALS_STARTED_OF_CHANNEL
from telepay.core.store import Store
from telepay.subscriptions.trials import trial_figures

WINDOWS = (7, 30)
COLUMNS = ["user", "channel", "days", "started", "ends", "converted_order", "converted"]
_EVER = datetime(2000, 1, 1, tzinfo=UTC)


def of_user(store: Store, user_id: int) -> list[TrialDoc]:
    return sorted(store.trials.find(TRIALS_OF_USER, user_id=user_id), key=lambda tr: tr.started_at)


def of_channel(store: Store, token: str) -> list[TrialDoc]:
    """Every trial of the channel, the newest first (read a page at a time)."""
    found = [
        stored.doc
        for page in store.trials.pages(TRIALS_STARTED_OF_CHANNEL, channel_token=token, above=_EVER)
        for stored in page
    ]
    return sorted(found, key=lambda tr: tr.started_at, reverse=True)


def rows(trials: list[TrialDoc]) -> list[dict[str, object]]:
    return [
        {
            "user": tr.user_id,
            "channel": tr.channel_token,
            "days": tr.days,
            "started": tr.started_at,
            "ends": tr.ends_at,
            "converted_order": tr.converted_order_id,
            "converted": tr.converted_at,
        }
        for tr in trials
    ]


def summary(store: Store, channel: ChannelDoc, now: datetime) -> dict[str, Any]:
    """The channel's trial length (None: no trial) and the figures `/stats` shows."""
    figures = trial_figures(store, channel.token, now, WINDOWS)
    return {
        "trial_days": channel.trial_days,
        "running": figures.running,
        **{f"started_{days}d": figures.started[days] for days in WINDOWS},
        **{f"converted_{days}d": figures.converted[days] for days in WINDOWS},
    }
