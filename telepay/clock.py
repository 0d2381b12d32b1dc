"""The system's clock, injected: business logic never reads the wall clock directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class Clock:
    """The UTC wall clock."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._now()


class ShiftableClock(Clock):
    """Reads an offset in seconds from a file on every call, so a test can move the whole local
    stack's time forward. Only the local stack sets the file; production uses `Clock`."""

    def __init__(self, offset_file: str) -> None:
        super().__init__()
        self._file = offset_file

    def now(self) -> datetime:
        try:
            with open(self._file) as handle:
                offset = float(handle.read().strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)


class FrozenClock(Clock):
    """A clock for tests: stands still until moved."""

    def __init__(self, start: datetime) -> None:
        super().__init__()
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def system_clock(offset_file: str | None = None) -> Clock:
    return ShiftableClock(offset_file) if offset_file else Clock()
