"""The collections written at the rate of sales are designed not to hotspot (docs/schema.md, "Write
rates and hotspots"): no document id in time order, and no single-field index on their timestamps
that a query would still need."""

from __future__ import annotations

import typing
from collections import Counter
from datetime import datetime

from shared_schemas.documents import DAY_SHARDS, DOCUMENTS, all_unindexed_fields
from shared_schemas.ids import SPREAD_PREFIX_LENGTH, spread_id, subscription_order_id
from shared_schemas.names import ClaimPurpose, Collection
from shared_schemas.queries import QUERIES
from telepay.adapters.tasks_queue import task_id
from telepay.core.claims import Claim

HIGH_RATE = {
    Collection.ORDERS,
    Collection.SUBSCRIPTIONS,
    Collection.OUTBOX,
    Collection.CLAIMS,
    Collection.LEDGER,
    Collection.CHANNEL_DAYS,  # the dashboard's counts, sharded
    Collection.CHANNEL_COUNTS,
}


def _timestamps(doc: type) -> set[str]:
    return {
        name
        for name, info in doc.model_fields.items()  # type: ignore[attr-defined]
        if datetime in (info.annotation, *typing.get_args(info.annotation))
    }


def test_the_collections_written_at_the_rate_of_sales_are_the_ones_named() -> None:
    assert {doc.collection for doc in DOCUMENTS if doc.high_rate} == HIGH_RATE


def test_the_dashboards_counts_are_spread_so_no_shard_takes_one_write_a_second() -> None:
    """Each sale, and each removal at Telegram's 30 a second, writes one shard of today's counts and
    one of the totals, picked at random: spread over DAY_SHARDS, each stays under Firestore's
    sustained write a second per document."""
    fastest = max(1000 / 60, 30)  # a launch's 1,000 sales a minute; the sweep's removals
    assert fastest / DAY_SHARDS < 1


def test_every_timestamp_of_a_high_rate_collection_has_no_single_field_index() -> None:
    for doc in DOCUMENTS:
        if doc.high_rate:
            covered = set(doc.unindexed_fields) | ({doc.ttl_field} if doc.ttl_field else set())
            assert _timestamps(doc) <= covered, (
                f"{doc.collection}: {_timestamps(doc) - covered} still indexed"
            )
        assert set(doc.unindexed_fields) <= set(doc.model_fields), doc.collection
        assert doc.ttl_field not in doc.unindexed_fields, "the TTL field is exempt by its own policy"


def test_no_query_needs_a_single_field_index_that_was_exempted() -> None:
    """An equality filter, or a range with no equality before it, is served by single-field
    indexes; a field in a composite index (equalities, then the range) needs none."""
    exempt = set(all_unindexed_fields())
    for query in QUERIES:
        single = set(query.equals) if query.range_field and query.equals else set(query.index_fields)
        assert not {(query.collection, name) for name in single} & exempt, query.name


def test_spread_ids_of_consecutive_keys_land_all_over_the_key_space() -> None:
    keys = [f"update:{900_000_000 + n}" for n in range(1600)]  # Telegram's update ids come in order
    ids = [spread_id(key) for key in keys]
    assert ids == [spread_id(key) for key in keys]  # the same key, the same id: duplicates still meet
    assert all(
        i.endswith(f"-{key}") and len(i) == SPREAD_PREFIX_LENGTH + 1 + len(key)
        for i, key in zip(ids, keys, strict=True)
    )
    first = Counter(i[0] for i in ids)
    assert set(first) == set("0123456789abcdef")
    assert max(first.values()) < 2 * len(ids) / 16  # no range takes much more than its share
    assert sorted(ids) != ids  # not in the keys' order


def test_claims_and_task_ids_are_spread_and_order_ids_never_were_in_time_order() -> None:
    assert Claim(ClaimPurpose.IPN, "55:finished:0.1").doc_id == spread_id("ipn:55:finished:0.1")
    name = "remove-DemoChannel01-777-2027-01-30T10:00:00+00:00"
    assert task_id(name) == task_id(name)
    assert task_id(name).endswith("remove-DemoChannel01-777-2027-01-30T10_00_00_00_00")
    assert len(task_id("x" * 600)) <= 500 and set(task_id(name)) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    )
    # Orders (and the ledger entries and events named after them) end in a random nonce.
    ids = [subscription_order_id("DemoChannel01", 777, "t1") for _ in range(50)]
    assert len(set(ids)) == 50
