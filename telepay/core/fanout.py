"""Fan-out pages: a long list of work (a sweep's due actions, an announcement's audience) handed out
in pages, each page a task that queues one named task per item.

A page's task name is made from what it carries, so the same page handed out twice (a repeated run,
or two overlapping ones that read the same items) is one task; a page whose items differ is another
task, and the items' own names then keep each item queued once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def page_name(prefix: str, keys: Iterable[str]) -> str:
    """`<prefix>-<digest of the page's item keys, in order>`."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def chunked_stream(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` (the last shorter), each given as soon as it is full: a streamed query's
    results are handed out while the rest still arrive."""
    page: list[T] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
