"""The Firestore store counts the documents it reads, writes and deletes as Firestore bills them:
the benchmarks' Firestore operations per sale come from these counts (scripts/bench_burst.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import ACTIVE_CHANNELS
from telepay.adapters.firestore_store import METER
from telepay.channels.lookup import save_channel
from telepay.core.claims import Claims
from telepay.core.clock import FrozenClock
from tests.conftest import demo_channel
from tests.harness import NOW
from tests.integration.helpers import store_of

pytestmark = pytest.mark.integration


def _delta(before: dict[str, int]) -> dict[str, int]:
    return {kind: count - before[kind] for kind, count in METER.counts().items()}


def test_reads_writes_and_deletes_are_counted_per_document(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    before = METER.counts()
    save_channel(store, demo_channel())  # one write
    assert store.channels.get("DemoChannel01") is not None  # one read
    assert store.channels.get("NoSuchChannel") is None  # a missing document is a read too
    assert store.channels.find(ACTIVE_CHANNELS, limit=10, status="active")  # one document: one read
    assert store.channels.find(ACTIVE_CHANNELS, limit=10, status="paused") == []  # a query reads at least one

    claims = Claims(store, FrozenClock(NOW))
    with claims.hold(ClaimPurpose.IPN, "meter") as claim:  # a create: one write
        # the work's transaction: two reads in one call, and the claim marked done (one write)
        claims.transaction_finishing(
            claim, lambda tx: ("done", tx.get_two((store.channels, "DemoChannel01"), (store.orders, "none")))
        )
    store.claims.delete(claim.doc_id)
    assert _delta(before) == {"reads": 6, "writes": 3, "deletes": 1}
