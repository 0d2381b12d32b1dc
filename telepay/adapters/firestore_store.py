"""The storage port on Firestore: the only module of `telepay/` that imports the Firestore client.

Errors are translated at this edge: Firestore being unavailable (or a transaction that kept
losing to contention) becomes `StoreUnavailable`, a `Transient`; a missing document on update
becomes `NotFound`; a lost conditional update becomes `VersionConflict`.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from shared_schemas.documents import firestore_value
from shared_schemas.queries import QuerySpec
from telepay.core.store import (
    D2,
    ArrayUnion,
    Batch,
    D,
    Fields,
    Increment,
    NotFound,
    Repository,
    Store,
    Stored,
    StoreUnavailable,
    Tx,
    VersionConflict,
)

T = TypeVar("T")
# A transaction that lost to contention runs again after a random pause that doubles each time
# ("full jitter": anywhere from nothing to the cap), until it commits or its time budget is spent;
# then contention is an error (`StoreUnavailable`, a `Transient`: the trigger retries later).
# Firestore's client would retry at once instead, keeping the transaction's place in line on
# Firestore itself. The emulator keeps no line: contenders that read one document all wait on each
# other's read locks until its lock timeout (about 2 s), and retried at once they meet again. On a
# loaded machine eight presses at once then lost all of their 40 attempts in 80 s; with the pauses
# they get through in one lock timeout (tests/integration/test_store_contract.py). The cap is well
# past the lock timeout: capped at 2 s, eight contenders on a starved emulator (CI, two test
# modules and their emulators at once) still met at every attempt, one losing 11 in 30 s.
TRANSACTION_BUDGET_SECONDS = 30.0
PAUSE_FIRST_SECONDS = 0.05
PAUSE_CAP_SECONDS = 8.0
UNAVAILABLE: tuple[type[Exception], ...] = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.Aborted,
    gexc.Unknown,
    gexc.RetryError,
)


class OperationMeter:
    """Documents this process read, wrote and deleted, as Firestore bills them (a query reads at
    least one): the local stack's metered functions report it, so the benchmarks count the
    Firestore operations of a sale (scripts/bench_burst.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"reads": 0, "writes": 0, "deletes": 0}

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


METER = OperationMeter()


@lru_cache(maxsize=4)
def firestore_client(project: str) -> firestore.Client:
    """With FIRESTORE_EMULATOR_HOST set, the library talks to the emulator."""
    return firestore.Client(project=project)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except gexc.NotFound as error:
        raise NotFound(str(error)) from error
    except UNAVAILABLE as error:
        raise StoreUnavailable(f"Firestore: {type(error).__name__}: {error}") from error


def _value(value: Any) -> Any:
    if isinstance(value, ArrayUnion):
        return firestore.ArrayUnion([firestore_value(item) for item in value.items])
    if isinstance(value, Increment):
        return firestore.Increment(value.by)
    if isinstance(value, dict):
        return {str(name): _value(inner) for name, inner in value.items()}
    return firestore_value(value)


def _fields(fields: Fields) -> dict[str, Any]:
    return {name: _value(value) for name, value in fields.items()}


def _snapshot_data(snapshot: Any) -> dict[str, Any]:
    """A snapshot's decoded fields, read in place: the snapshot deep-copied them when it was made,
    and `to_dict()` deep-copies them again (datetimes through `copy`'s reduce protocol), for every
    document of every query page; validation builds the model's own values from them anyway.
    Profiled in the expiry sweep (`python -m scripts.profile_sweep --top 30`): the copies were
    a third of its CPU per subscription."""
    return snapshot._data if snapshot._data is not None else {}


class FirestoreRepository(Repository[D]):
    def __init__(self, client: firestore.Client, model: type[D]) -> None:
        self.model = model
        self._client = client
        self._collection = client.collection(model.collection.value)

    def ref(self, doc_id: str) -> firestore.DocumentReference:
        return self._collection.document(doc_id)

    def parse(self, snapshot: Any) -> D | None:
        return self.model.model_validate(_snapshot_data(snapshot)) if snapshot.exists else None

    def get_stored(self, doc_id: str) -> Stored[D] | None:
        """Firestore's unary GetDocument: `DocumentReference.get()` opens a streaming
        BatchGetDocuments call, which gRPC's Python channel serves from a new thread whenever no
        other stream is open (a few milliseconds of CPU per read, profiled in the IPN path)."""
        METER.add("reads")
        client = self._client
        try:
            with _translated():
                found = client._firestore_api.get_document(
                    request={"name": self.ref(doc_id)._document_path}, metadata=client._rpc_metadata
                )
        except NotFound:
            return None
        data = _helpers.decode_dict(found.fields, client)
        return Stored(doc_id, self.model.model_validate(data), found.update_time)

    def create(self, doc_id: str, doc: D) -> bool:
        METER.add("writes")
        try:
            with _translated():
                self.ref(doc_id).create(doc.to_firestore())
        except gexc.AlreadyExists:  # gRPC's answer
            return False
        except gexc.Conflict:  # the REST transport's name for the same 409
            return False
        return True

    def set(self, doc_id: str, doc: D) -> None:
        METER.add("writes")
        with _translated():
            self.ref(doc_id).set(doc.to_firestore())

    def merge(self, doc_id: str, fields: Fields) -> None:
        METER.add("writes")
        with _translated():
            self.ref(doc_id).set(_fields(fields), merge=True)

    def update(self, doc_id: str, fields: Fields, *, if_version: object | None = None) -> None:
        option = None if if_version is None else self._client.write_option(last_update_time=if_version)
        METER.add("writes")
        try:
            with _translated():
                self.ref(doc_id).update(_fields(fields), option=option)
        except gexc.FailedPrecondition as error:
            raise VersionConflict(doc_id) from error

    def delete(self, doc_id: str) -> None:
        METER.add("deletes")
        with _translated():
            self.ref(doc_id).delete()

    def _query(self, spec: QuerySpec, below: Any, above: Any, equals: dict[str, Any]) -> Any:
        if spec.collection != self.model.collection:
            raise ValueError(f"{spec.name} reads {spec.collection}, not {self.model.collection}")
        if set(equals) != set(spec.equals):
            raise ValueError(f"{spec.name} filters on {spec.equals}, got {tuple(equals)}")
        query: Any = self._collection
        for name in spec.equals:
            query = query.where(filter=FieldFilter(name, "==", firestore_value(equals[name])))
        if spec.range_field is not None:
            if below is not None:
                query = query.where(filter=FieldFilter(spec.range_field, "<=", below))
            if above is not None:
                query = query.where(filter=FieldFilter(spec.range_field, ">=", above))
            query = query.order_by(spec.range_field)
        return query

    def count(self, spec: QuerySpec, *, below: Any = None, above: Any = None, **equals: Any) -> int:
        query = self._query(spec, below, above, equals)
        with _translated():
            [[result]] = query.count(alias="n").get()
        return int(result.value)

    def page_after(
        self, spec: QuerySpec, *, limit: int, after: str | None = None, **equals: Any
    ) -> tuple[list[Stored[D]], str | None]:
        if spec.range_field is not None:
            raise ValueError(f"{spec.name} is ordered by {spec.range_field}, not by document id")
        query = self._query(spec, None, None, equals).order_by(FieldPath.document_id())
        if after is not None:
            query = query.start_after({FieldPath.document_id(): self.ref(after)})
        with _translated():
            snapshots = list(query.limit(limit + 1).stream())
        METER.add("reads", max(1, min(len(snapshots), limit)))
        page = [
            Stored(s.id, self.model.model_validate(_snapshot_data(s)), s.update_time)
            for s in snapshots[:limit]
        ]
        return page, (page[-1].id if len(snapshots) > limit else None)

    def keys(
        self, spec: QuerySpec, *, below: Any = None, above: Any = None, **equals: Any
    ) -> Iterator[tuple[str, Any]]:
        """One streamed query projected to the range field (to none for an equality-only query):
        one query however many match, where `pages` makes one per page, and a single field decoded
        per document. A stream the server breaks off is resumed after the last document given (the
        client library's own retry), so none is given twice. On the emulator, which sorts the whole
        collection for every query, 100,000 due ids took 23 s this way against ~450 s in pages of
        500 (`python -m scripts.bench_emulator_queries`)."""
        field = spec.range_field
        query = self._query(spec, below, above, equals).select([field] if field else [])
        found = 0
        with _translated():
            for snapshot in query.stream():
                found += 1
                yield snapshot.id, (_snapshot_data(snapshot).get(field) if field else None)
        METER.add("reads", max(1, found))

    def get_many(self, doc_ids: Sequence[str]) -> list[Stored[D] | None]:
        """One BatchGetDocuments for all of them (answered in any order: matched by id)."""
        refs = [self.ref(doc_id) for doc_id in doc_ids]
        METER.add("reads", len(refs))
        with _translated():
            found = {s.id: s for s in self._client.get_all(refs)} if refs else {}
        return [
            Stored(doc_id, self.model.model_validate(_snapshot_data(s)), s.update_time)
            if (s := found.get(doc_id)) is not None and s.exists
            else None
            for doc_id in doc_ids
        ]

    def pages(
        self, spec: QuerySpec, *, page_size: int = 500, below: Any = None, above: Any = None, **equals: Any
    ) -> Iterator[list[Stored[D]]]:
        query = self._query(spec, below, above, equals)
        last = None
        while True:
            page_query = query if last is None else query.start_after(last)
            with _translated():
                snapshots = list(page_query.limit(page_size).stream())
            METER.add("reads", max(1, len(snapshots)))
            if not snapshots:
                return
            yield [
                Stored(s.id, self.model.model_validate(_snapshot_data(s)), s.update_time) for s in snapshots
            ]
            if len(snapshots) < page_size:
                return
            last = snapshots[-1]


def _firestore(repo: Repository[D]) -> FirestoreRepository[D]:
    if not isinstance(repo, FirestoreRepository):
        raise TypeError(f"a Firestore transaction or batch cannot write through {type(repo).__name__}")
    return repo


def _ref(repo: Repository[Any], doc_id: str) -> firestore.DocumentReference:
    return _firestore(repo).ref(doc_id)


class FirestoreTx(Tx):
    def __init__(self, transaction: firestore.Transaction) -> None:
        self._transaction = transaction

    def get(self, repo: Repository[D], doc_id: str) -> D | None:
        firestore_repo = _firestore(repo)
        METER.add("reads")
        return firestore_repo.parse(firestore_repo.ref(doc_id).get(transaction=self._transaction))

    def get_two(
        self, first: tuple[Repository[D], str], second: tuple[Repository[D2], str]
    ) -> tuple[D | None, D2 | None]:
        """One BatchGetDocuments for both (answered in any order: matched by path)."""
        repo_a, repo_b = _firestore(first[0]), _firestore(second[0])
        ref_a, ref_b = repo_a.ref(first[1]), repo_b.ref(second[1])
        METER.add("reads", 2)
        snapshots = {s.reference.path: s for s in self._transaction.get_all([ref_a, ref_b])}
        return repo_a.parse(snapshots[ref_a.path]), repo_b.parse(snapshots[ref_b.path])

    def get_many(self, repo: Repository[D], doc_ids: Sequence[str]) -> list[D | None]:
        """One BatchGetDocuments for all of them (answered in any order: matched by path)."""
        firestore_repo = _firestore(repo)
        refs = [firestore_repo.ref(doc_id) for doc_id in doc_ids]
        METER.add("reads", len(refs))
        snapshots = {s.reference.path: s for s in self._transaction.get_all(refs)} if refs else {}
        return [firestore_repo.parse(snapshots[ref.path]) for ref in refs]

    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None:
        METER.add("writes")
        self._transaction.set(_ref(repo, doc_id), doc.to_firestore())

    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        METER.add("writes")
        self._transaction.update(_ref(repo, doc_id), _fields(fields))

    def merge(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        METER.add("writes")
        self._transaction.set(_ref(repo, doc_id), _fields(fields), merge=True)

    def delete(self, repo: Repository[D], doc_id: str) -> None:
        METER.add("deletes")
        self._transaction.delete(_ref(repo, doc_id))


class FirestoreBatch(Batch):
    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        METER.add("writes")
        self._batch.update(_ref(repo, doc_id), _fields(fields))

    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None:
        METER.add("writes")
        self._batch.set(_ref(repo, doc_id), doc.to_firestore())


class FirestoreStore(Store):
    def __init__(self, client: firestore.Client) -> None:
        self.client = client

        self._attach(lambda model: FirestoreRepository(client, model))

    @classmethod
    def for_project(cls, project: str) -> FirestoreStore:
        return cls(firestore_client(project))

    def transaction(self, work: Callable[[Tx], T]) -> T:
        @firestore.transactional
        def run(transaction: firestore.Transaction) -> T:
            return work(FirestoreTx(transaction))

        started = time.monotonic()
        for attempt in itertools.count():
            try:
                with _translated():
                    return run(self.client.transaction(max_attempts=1))  # type: ignore[no-any-return]
            except (ValueError, StoreUnavailable) as error:
                # Lost at commit (ValueError), or a read inside it timed out waiting for another
                # transaction's lock (Aborted, translated): both are contention.
                if not isinstance(error.__cause__, gexc.Aborted):
                    raise
                pause = random.uniform(0, min(PAUSE_CAP_SECONDS, PAUSE_FIRST_SECONDS * 2**attempt))
                if time.monotonic() + pause - started > TRANSACTION_BUDGET_SECONDS:
                    raise StoreUnavailable(
                        f"Firestore transaction kept conflicting for {attempt + 1} attempts: {error}"
                    ) from error
                time.sleep(pause)
        raise AssertionError("unreachable")

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        batch = self.client.batch()
        yield FirestoreBatch(batch)
        with _translated():
            batch.commit()
