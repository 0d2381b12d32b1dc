"""Fan-out pages: a long list of work (a sweep's due actions, an announcement's audience) handed out
in pages, each page a task that queues one named task per item.

A page's task name is made from what it carries, so the same page handed out twice (a repeated run,
or two overlapping ones that read the same items) is one task; a page whose items differ is another
task, and the items' own names then keep each item queued once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

T = TypeVar("T")


def page_name(prefix: str, keys: Iterable[str]) -> str:
    """`<prefix>-<digest of the page's item keys, in order>`."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def spaced_due(start: datetime, position: int, per_second: float) -> datetime:
    """When the item at `position` of a long list (a sweep's due actions, an announcement's
    audience) should be dispatched: `position / per_second` after `start`, its turn at the paced
    queue's rate. A page task queues its 200 actions within a second or two; were they all due at
    once, the queue's token bucket (whose size Cloud Tasks
    picks from the rate: about a second's worth) would release them in a burst after any pause,
    and Telegram answers the 31st message of a second with 429. Due in turn, they reach the queue
    as fast as it sends, and it never saves up a burst."""
    return start + timedelta(seconds=position / per_second)
