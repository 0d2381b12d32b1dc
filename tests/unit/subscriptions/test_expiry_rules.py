from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.tasks import ExpiryAction
from telepay.subscriptions.expiry_rules import next_action, parse_offsets, reminder_key

START = datetime(2026, 11, 1, tzinfo=UTC)
EXPIRES = START + timedelta(days=30)
OFFSETS = parse_offsets("72,24")


def _sub(**changes: object) -> SubscriptionDoc:
    fields: dict[str, object] = {
        "channel_token": "DemoChannel01",
        "user_id": 1,
        "closed_channel_id": -100,
        "expires_at": EXPIRES,
        "started_at": START,
        "renewed_at": START,
        "last_order_id": "x",
        "updated_at": START,
    }
    return SubscriptionDoc.model_validate(fields | changes)


def test_reminders_then_removal() -> None:
    assert OFFSETS == [259200, 86400]
    first = next_action(_sub(), OFFSETS, timedelta(0), START)
    assert (
        first is not None and first.action is ExpiryAction.REMIND and first.at == EXPIRES - timedelta(days=3)
    )
    sent_3d = _sub(reminders_sent=[reminder_key(259200, EXPIRES)])
    second = next_action(sent_3d, OFFSETS, timedelta(0), START)
    assert second is not None and second.at == EXPIRES - timedelta(days=1)
    both = _sub(reminders_sent=[reminder_key(259200, EXPIRES), reminder_key(86400, EXPIRES)])
    removal = next_action(both, OFFSETS, timedelta(minutes=30), START)
    assert removal is not None and removal.action is ExpiryAction.REMOVE
    assert removal.at == EXPIRES + timedelta(minutes=30)


def test_reminders_past_at_purchase_or_expiry_are_skipped() -> None:
    short = _sub(expires_at=START + timedelta(days=2))
    due = next_action(short, OFFSETS, timedelta(0), START)
    assert due is not None and due.offset_seconds == 86400  # the 3-day point was before the purchase
    late = next_action(_sub(), OFFSETS, timedelta(0), EXPIRES + timedelta(seconds=1))
    assert late is not None and late.action is ExpiryAction.REMOVE


def test_a_renewal_starts_fresh_reminders_for_the_new_expiry() -> None:
    renewed = _sub(
        expires_at=EXPIRES + timedelta(days=30),
        renewed_at=EXPIRES - timedelta(days=2),
        reminders_sent=[reminder_key(259200, EXPIRES)],
    )
    due = next_action(renewed, OFFSETS, timedelta(0), EXPIRES - timedelta(days=2))
    assert due is not None and due.at == EXPIRES + timedelta(days=27)


def test_expired_subscriptions_have_no_next_action() -> None:
    assert next_action(_sub(status=SubscriptionStatus.EXPIRED), OFFSETS, timedelta(0), START) is None
