"""Shared pieces of the benchmarks: a private local stack and percentiles."""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local.config import StackConfig
from local.stack import Stack

BENCH_PORT_BASE = 19100


@contextlib.contextmanager
def private_stack(rate_limits: bool, port_base: int = BENCH_PORT_BASE, **config: Any) -> Iterator[Stack]:
    state = Path(tempfile.mkdtemp(prefix="telepay-bench-"))
    stack = Stack(
        StackConfig(port_base=port_base, state_dir=state, telegram_rate_limits=rate_limits, **config)
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, ms: list[float]) -> str:
    return (
        f"{name:<44} n={len(ms):<5} p50={percentile(ms, 50):7.1f} ms  p99={percentile(ms, 99):7.1f} ms  "
        f"max={max(ms):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms"
    )


def in_parallel(work: list[Any], call: Any, threads: int = 16) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(call, work))


def count_where(db: Any, collection: str, field: str, value: Any) -> int:
    from google.cloud.firestore_v1.base_query import FieldFilter

    result = db.collection(collection).where(filter=FieldFilter(field, "==", value)).count().get()
    return int(result[0][0].value)


def telegram_cap(tg: Any) -> float:
    config = tg._get("/config")["config"]
    limits = config.get("rate_limits") or {}
    return float(limits.get("global_per_second", 30))


def trigger(url: str, schedule_time: str, what: str) -> tuple[float, float]:
    """Call a scheduled function as Cloud Scheduler would; returns (start time, seconds it took)."""
    import time

    import httpx

    started = time.perf_counter()
    response = httpx.post(
        url, headers={"X-CloudScheduler-ScheduleTime": schedule_time}, content=b"{}", timeout=600
    )
    took = time.perf_counter() - started
    print(
        f"{what} answered {response.status_code} in {took:.1f} s: {response.json().get('counts')}", flush=True
    )
    return started, took


def wait_for_seeding_handled(tg: Any, n: int) -> None:
    """Wait until the webhook has handled every update the seeding of n items caused (Telegram
    holds them as pending), so they take no share of the measured run."""
    from local.clients import wait_for

    wait_for(
        "the seeding's updates handled",
        lambda: not tg.updates()["pending"],
        timeout=max(120.0, n / 20),
        every=1,
    )


def tasks_created(endpoints: dict[str, Any], queue: str) -> int:
    """How many tasks the Cloud Tasks stand-in has taken on `queue` since it started."""
    import httpx

    name = f"projects/{endpoints['project']}/locations/{endpoints['tasks_location']}/queues/{queue}"
    answer = httpx.get(f"{endpoints['tasks_emulator']}/_control/stats", params={"queue": name}, timeout=30)
    return int(answer.json().get("created", 0))


def poll_every(n: int) -> float:
    """How often a long run is polled: every half second at 10,000 items, every 5 s at 100,000 (a
    count over 100,000 documents is itself work for the emulator)."""
    return max(0.5, n / 20_000)


def wait_for_count(
    count: Any,
    n: int,
    started: float,
    cap: float,
    verb: str,
    progress: Any = None,
    report_every: float = 30.0,
) -> int:
    """Poll `count()` (a cheap count) until it reaches n (or a generous deadline), printing a
    progress line every `report_every` seconds: how many so far, their rate, and whatever
    `progress()` adds (items queued, sends, 429s)."""
    import time

    done = 0
    last_report, last_done = started, 0
    deadline = started + max(600, n / cap * 3)
    every = poll_every(n)
    while time.perf_counter() < deadline:
        done = int(count())
        if done >= n:
            break
        now = time.perf_counter()
        if now - last_report >= report_every:
            rate = (done - last_done) / (now - last_report)
            extra = "".join(f", {name} {value}" for name, value in (progress() if progress else {}).items())
            print(
                f"  {now - started:6.0f} s: {done} {verb} ({rate:.1f}/s lately, "
                f"{done / (now - started):.1f}/s overall){extra}",
                flush=True,
            )
            last_report, last_done = now, done
        time.sleep(every)  # the run's end is measured to within one poll (5 s understated rates)
    return done


def load_function(env: dict[str, str], function: str) -> Any:
    """A function's `main.py` imported in this process, with its environment (profiling)."""
    import importlib.util
    import os

    os.environ.update(env)
    spec = importlib.util.spec_from_file_location(f"{function}_main", f"functions/{function}/main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
