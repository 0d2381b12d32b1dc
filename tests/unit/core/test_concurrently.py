"""A request's independent calls run at once, each failure handed to the caller; and one runtime
serves many request threads, building each client once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from shared_schemas.config import IpnHandlerSettings
from telepay.core import concurrently, i18n
from tests.harness import runtime
from tests.memory_store import MemoryStore


def _slow(value: str) -> str:
    time.sleep(0.2)
    return value


def test_calls_run_at_once_and_their_outcomes_keep_their_order() -> None:
    started = time.perf_counter()
    outcomes = concurrently.run(lambda: _slow("order"), lambda: _slow("payment"), lambda: _slow("channel"))
    assert [o.value() for o in outcomes] == ["order", "payment", "channel"]
    assert time.perf_counter() - started < 0.5  # the slowest, not the sum (0.6 s)


def test_a_failure_is_raised_only_where_its_value_is_asked_for() -> None:
    def refused() -> str:
        raise LookupError("payment unknown")

    order, payment = concurrently.run(lambda: None, refused)
    assert order.value() is None and not order.failed
    assert payment.failed
    with pytest.raises(LookupError, match="payment unknown"):
        payment.value()


def test_the_other_calls_read_the_callers_language() -> None:
    with i18n.speaking("ru"):
        _, other = concurrently.run(i18n.current, i18n.current)
    assert other.value() == "ru"


def test_concurrent_first_requests_build_each_client_once() -> None:
    rt = runtime(IpnHandlerSettings, MemoryStore())
    built: list[object] = []
    barrier = threading.Barrier(8)

    def build() -> object:
        time.sleep(0.05)  # a client takes a while to build: every thread arrives meanwhile
        client = object()
        built.append(client)
        return client

    def first_request(_: Any) -> object:
        barrier.wait()
        return rt._adapter("slow_client", build)

    results: list[object] = []
    workers = [threading.Thread(target=lambda: results.append(first_request(None))) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(built) == 1
    assert results == [built[0]] * 8
