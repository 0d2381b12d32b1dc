"""What buyers read: times in UTC with the date written out, durations in words."""

from __future__ import annotations

from datetime import UTC, datetime

from telepay.subscriptions import texts


def test_dates_and_durations_read_well() -> None:
    assert texts.when(datetime(2026, 12, 26, 9, 5, tzinfo=UTC)) == "Saturday, 26 December 2026, 09:05 UTC"
    assert (
        texts.duration(30) == "1 month" and texts.duration(90) == "3 months" and texts.duration(7) == "7 days"
    )
