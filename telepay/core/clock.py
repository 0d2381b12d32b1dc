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

    def on_the_wall(self, moment: datetime) -> datetime:
        """The wall-clock time of a moment of this clock, for services that keep their own time
        (Cloud Tasks' schedule times)."""
        return moment


class ShiftableClock(Clock):
    """Reads an offset in seconds from a file on every call, so a test can move the whole local
    stack's time forward. Only the local stack sets the file; production uses `Clock`."""

    def __init__(self, offset_file: str) -> None:
        super().__init__()
        self._file = offset_file

    def _offset(self) -> timedelta:
        try:
            with open(self._file) as handle:
                return timedelta(seconds=float(handle.read().strip() or 0))
        except (OSError, ValueError):
            return timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset()

    def on_the_wall(self, moment: datetime) -> datetime:
        return moment - self._offset()


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
