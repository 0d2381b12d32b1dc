"""Flood limits like Telegram's, enforced per bot.

Telegram documents (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
about 30 messages per second overall, about one message per second in one private chat (short
bursts pass) and 20 messages per minute in one group or channel. Past them the call fails with
``429 Too Many Requests: retry after N`` and ``parameters.retry_after``. The windows here are
sliding, time is monotonic, and a refused call takes no slot.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Limits:
    enabled: bool = True
    global_per_second: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "global_per_second": self.global_per_second,
            "private_per_second": self.private_per_second,
            "private_burst": self.private_burst,
            "group_per_minute": self.group_per_minute,
        }


@dataclass
class _Bucket:
    """A token bucket for one private chat."""

    tokens: float
    updated: float


@dataclass
class RateLimiter:
    limits: Limits = field(default_factory=Limits)
    _global: deque[float] = field(default_factory=deque)
    _private: dict[int, _Bucket] = field(default_factory=dict)
    _groups: dict[int, deque[float]] = field(default_factory=dict)

    def reset(self) -> None:
        self._global.clear()
        self._private.clear()
        self._groups.clear()

    @staticmethod
    def _prune(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def check(self, chat_id: int, is_private: bool, counts_globally: bool) -> int:
        """Takes a slot for one send to ``chat_id``; returns 0, or the retry_after to answer."""
        if not self.limits.enabled:
            return 0
        now = time.monotonic()
        waits: list[float] = []
        if counts_globally:
            self._prune(self._global, now, 1.0)
            if len(self._global) >= self.limits.global_per_second:
                waits.append(self._global[0] + 1.0 - now)
        bucket: _Bucket | None = None
        if is_private:
            bucket = self._private.get(chat_id)
            capacity = float(self.limits.private_burst)
            rate = float(self.limits.private_per_second)
            if bucket is None:
                bucket = _Bucket(tokens=capacity, updated=now)
                self._private[chat_id] = bucket
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                waits.append((1.0 - bucket.tokens) / rate if rate > 0 else 3600.0)
        else:
            window = self._groups.setdefault(chat_id, deque())
            self._prune(window, now, 60.0)
            if len(window) >= self.limits.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        if waits:
            return max(1, math.ceil(max(waits)))
        if counts_globally:
            self._global.append(now)
        if bucket is not None:
            bucket.tokens -= 1.0
        if not is_private:
            self._groups[chat_id].append(now)
        return 0
