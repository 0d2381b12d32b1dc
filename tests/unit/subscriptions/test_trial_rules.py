"""The free trial's rules: who may start one, what starting one writes, when the access is the trial's,
and the figures owners read."""

from __future__ import annotations

from datetime import timedelta

from shared_schemas.documents import SubscriptionDoc, TrialDoc
from shared_schemas.ids import subscription_order_id
from telepay.subscriptions.free_access import with_days_added
from telepay.subscriptions.trial_rules import (
    Refusal,
    is_trial,
    paid_before,
    refusal,
    started,
)
from tests.conftest import demo_channel
from tests.harness import NOW, active_subscription

USER = 4242
TRIAL_CHANNEL = demo_channel(trial_days=7)


def _trial(started_days_ago: float, days: int = 7, converted_days_ago: float | None = None) -> TrialDoc:
    start = NOW - timedelta(days=started_days_ago)
    return TrialDoc(
        channel_token="DemoChannel01",
        user_id=USER,
        days=days,
        started_at=start,
        ends_at=start + timedelta(days=days),
        converted_order_id=None if converted_days_ago is None else "tp1-sub-x",
        converted_at=None if converted_days_ago is None else NOW - timedelta(days=converted_days_ago),
    )


def _paid(days: float = 10) -> SubscriptionDoc:
    order = subscription_order_id("DemoChannel01", USER, "t1")
    return active_subscription(USER, days).model_copy(update={"last_order_id": order})


def test_a_newcomer_may_start_the_trial_a_channel_offers() -> None:
    assert refusal(TRIAL_CHANNEL, None, None) is None
    assert refusal(demo_channel(), None, None) is Refusal.OFF  # no trial by default


def test_one_trial_per_account_ever() -> None:
    trial, sub = started(TRIAL_CHANNEL, None, USER, NOW)
    assert refusal(TRIAL_CHANNEL, trial, sub) is Refusal.USED
    ended = sub.model_copy(update={"expires_at": NOW - timedelta(days=1)})
    assert refusal(TRIAL_CHANNEL, trial, ended) is Refusal.USED  # long after it ended too


def test_anyone_who_paid_before_sees_the_tiers_only() -> None:
    assert paid_before(_paid())
    assert refusal(TRIAL_CHANNEL, None, _paid()) is Refusal.PAID
    lapsed = _paid(days=-40)  # paid once, long expired
    assert refusal(TRIAL_CHANNEL, None, lapsed) is Refusal.PAID
    # Free days on top of a purchase keep the purchase as the last order.
    gifted = with_days_added(TRIAL_CHANNEL, _paid(), USER, 5, NOW, "gift-abc")
    assert refusal(TRIAL_CHANNEL, None, gifted) is Refusal.PAID


def test_free_days_alone_leave_the_account_eligible() -> None:
    granted = with_days_added(TRIAL_CHANNEL, None, USER, 5, NOW, "support-1-x")
    assert not paid_before(granted)
    assert refusal(TRIAL_CHANNEL, None, granted) is None


def test_the_trial_adds_its_days_as_a_renewal_does_and_marks_the_access() -> None:
    trial, sub = started(TRIAL_CHANNEL, None, USER, NOW)
    assert sub.expires_at == NOW + timedelta(days=7) == trial.ends_at == sub.trial_ends_at
    assert trial.days == 7 and trial.started_at == NOW and trial.converted_order_id is None
    assert sub.access_sent and not sub.in_channel and sub.next_action_at == NOW
    assert is_trial(sub)
    # After free days from elsewhere, the trial's days come after them.
    granted = with_days_added(TRIAL_CHANNEL, None, USER, 5, NOW, "support-1-x")
    _, on_top = started(TRIAL_CHANNEL, granted, USER, NOW)
    assert on_top.expires_at == NOW + timedelta(days=12)


def test_a_purchase_ends_the_trial_mark() -> None:
    _, sub = started(TRIAL_CHANNEL, None, USER, NOW)
    bought = sub.model_copy(update={"expires_at": sub.expires_at + timedelta(days=30)})
    assert not is_trial(bought)
    assert not is_trial(None)
    assert not is_trial(active_subscription(USER, 30))
