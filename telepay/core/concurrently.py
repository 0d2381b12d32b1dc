"""Independent calls of one request at once: a request that must read a document and ask an API
waits for the slower of the two, not for their sum.

    order, payment = concurrently.run(lambda: store.orders.get(order_id), lambda: api.get_payment(pid))

The first call runs in the caller's thread, the others on the instance's small pool of I/O
threads, each in a copy of the caller's context (the reader's language, ...). Each result is an
`Outcome`: its `value()` returns what the call returned or raises what it raised, so the caller
decides which failures matter (a lookup that turned out not to be needed may fail unseen).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared_schemas.names import REQUEST_CONCURRENCY

T = TypeVar("T")
# Each of the instance's request threads may wait on a few calls at once.
POOL_THREADS = 2 * REQUEST_CONCURRENCY

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:  # built on first use, once per process (never at import)
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="telepay-io")
        return _pool


@dataclass
class Outcome(Generic[T]):
    _value: T | None = None
    _error: BaseException | None = None

    def value(self) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    @property
    def failed(self) -> bool:
        return self._error is not None


def _outcome(call: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(call())
    except Exception as error:  # handed to the caller, who decides
        return Outcome(None, error)


def run(*calls: Callable[[], Any]) -> list[Outcome[Any]]:
    """Run `calls` at once; their outcomes in the same order, once all have ended."""
    if not calls:
        return []
    first, *others = calls
    futures: list[Future[Outcome[Any]]] = [
        _executor().submit(contextvars.copy_context().run, _outcome, call) for call in others
    ]
    return [_outcome(first), *(future.result() for future in futures)]
