"""What one Firestore call costs on the emulator as the subscriptions grow: a read by id, the expiry
sweep's due query (its first page of 200) and a member's subscriptions (`SUBSCRIPTIONS_OF_USER`),
at each size, through TelePay's own store on an emulator of its own, nothing else running.

    python -m scripts.bench_emulator_queries [--sizes 1000,10000,30000,100000] [--port 29700]

Production Firestore serves a query from its indexes, in time that grows with the results, not
the collection; the emulator has no indexes to read and sorts the whole collection for every query
(`FirestoreEmulatorQueryExecutor.materializeIndexTable` in a thread dump of a loaded run). The
figures show where a local run at scale measures the emulator instead of TelePay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.processes import Service, firestore_argv, spawn, stop_group, wait_healthy
from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.queries import SUBSCRIPTIONS_DUE, SUBSCRIPTIONS_OF_USER

REPEATS = 5
BATCH = 500


def _sub(user: int, now: datetime) -> SubscriptionDoc:
    return SubscriptionDoc.model_validate(
        {
            "channel_token": "BenchChannel1",
            "user_id": user,
            "closed_channel_id": -1001000000002,
            "expires_at": now - timedelta(minutes=1),
            "started_at": now - timedelta(days=30),
            "last_order_id": f"o-{user}",
            "next_action_at": now - timedelta(seconds=user % 60),
            "updated_at": now,
        }
    )


def _p50_ms(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,30000,100000")
    parser.add_argument("--port", type=int, default=29700)
    ns = parser.parse_args()
    sizes = sorted(int(size) for size in ns.sizes.split(","))
    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{ns.port}"
    from telepay.adapters.firestore_store import FirestoreStore  # reads the emulator host

    service = Service("firestore-emulator", firestore_argv(ns.port), ns.port)
    log_dir = Path(tempfile.mkdtemp(prefix="telepay-emulator-queries-"))
    running = spawn(service, log_dir)
    try:
        wait_healthy([running], timeout=60, log_dir=log_dir)
        store = FirestoreStore.for_project("telepay-local")
        now = datetime.now(UTC).replace(microsecond=0)
        written = 0
        print("subscriptions | read by id | due query, first 200 | a member's subscriptions | seeding")
        for size in sizes:
            started = time.perf_counter()
            while written < size:
                with store.batch() as batch:
                    for user in range(written, min(size, written + BATCH)):
                        batch.set(store.subscriptions, f"BenchChannel1-{user}", _sub(user, now))
                written = min(size, written + BATCH)
            seeding = time.perf_counter() - started
            some = f"BenchChannel1-{size // 2}"

            def read(doc_id: str = some) -> object:
                return store.subscriptions.get(doc_id)

            def due() -> object:
                pages = store.subscriptions.pages(
                    SUBSCRIPTIONS_DUE, page_size=200, status=SubscriptionStatus.ACTIVE, below=now
                )
                return next(iter(pages))

            def member(user: int = size // 2) -> object:
                return store.subscriptions.find(SUBSCRIPTIONS_OF_USER, user_id=user)

            read_ms, due_ms, member_ms = _p50_ms(read), _p50_ms(due), _p50_ms(member)
            added = size - (sizes[sizes.index(size) - 1] if sizes.index(size) else 0)
            print(
                f"{size:>13,} | {read_ms:>7.1f} ms | {due_ms:>16,.0f} ms | {member_ms:>20,.0f} ms"
                f" | {seeding:.0f} s (+{added:,})",
                flush=True,
            )
    finally:
        stop_group(running.pid)


if __name__ == "__main__":
    main()
