"""The storage port in memory, with Firestore's semantics (proven by tests/integration/test_store_contract.py): documents are
kept as the Firestore-ready dicts the real store writes, so what a handler reads back is what it
would read from Firestore; transactions read one consistent view, apply their writes together and
run again when a document they read changed before they committed."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared_schemas.documents import firestore_value
from shared_schemas.queries import QuerySpec
from telepay.core.store import (
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
MAX_ATTEMPTS = 10  # then contention is an error, as the Firestore store's after its time budget


@dataclass
class _Row:
    data: dict[str, Any]
    version: int


@dataclass
class _Memory:
    rows: dict[tuple[str, str], _Row] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: int = 0

    def next_version(self) -> int:
        self.clock += 1
        return self.clock


def _apply(data: dict[str, Any], fields: Fields) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for path, value in fields.items():
        target = result
        *parents, leaf = path.split(".")
        for part in parents:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        if isinstance(value, ArrayUnion):
            current = list(target.get(leaf) or [])
            current += [v for v in (firestore_value(i) for i in value.items) if v not in current]
            target[leaf] = current
        elif isinstance(value, Increment):
            target[leaf] = int(target.get(leaf) or 0) + value.by
        else:
            target[leaf] = copy.deepcopy(firestore_value(value))
    return result


def _merged(data: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """Firestore's set with merge: nested maps merged key by key, increments added."""
    result = copy.deepcopy(data)
    for name, value in fields.items():
        if isinstance(value, dict):
            inner = result.get(name)
            result[name] = _merged(inner if isinstance(inner, dict) else {}, value)
        elif isinstance(value, Increment):
            result[name] = int(result.get(name) or 0) + value.by
        else:
            result[name] = copy.deepcopy(firestore_value(value))
    return result


class MemoryRepository(Repository[D]):
    def __init__(self, memory: _Memory, model: type[D]) -> None:
        self.model = model
        self._memory = memory
        self.name = model.collection.value

    def key(self, doc_id: str) -> tuple[str, str]:
        if not doc_id or "/" in doc_id:
            raise ValueError(f"not a document id: {doc_id!r}")
        return (self.name, doc_id)

    def parse(self, row: _Row | None) -> D | None:
        return None if row is None else self.model.model_validate(copy.deepcopy(row.data))

    def get_stored(self, doc_id: str) -> Stored[D] | None:
        with self._memory.lock:
            row = self._memory.rows.get(self.key(doc_id))
            doc = self.parse(row)
            return None if row is None or doc is None else Stored(doc_id, doc, row.version)

    def write(self, doc_id: str, data: dict[str, Any]) -> None:
        with self._memory.lock:
            self._memory.rows[self.key(doc_id)] = _Row(data, self._memory.next_version())

    def create(self, doc_id: str, doc: D) -> bool:
        with self._memory.lock:
            if self.key(doc_id) in self._memory.rows:
                return False
            self.write(doc_id, doc.to_firestore())
            return True

    def set(self, doc_id: str, doc: D) -> None:
        self.write(doc_id, doc.to_firestore())

    def merge(self, doc_id: str, fields: Fields) -> None:
        with self._memory.lock:
            row = self._memory.rows.get(self.key(doc_id))
            self.write(doc_id, _merged(row.data if row else {}, fields))

    def update(self, doc_id: str, fields: Fields, *, if_version: object | None = None) -> None:
        with self._memory.lock:
            row = self._memory.rows.get(self.key(doc_id))
            if row is None:
                raise NotFound(f"{self.name}/{doc_id}")
            if if_version is not None and row.version != if_version:
                raise VersionConflict(doc_id)
            self.write(doc_id, _apply(row.data, fields))

    def delete(self, doc_id: str) -> None:
        with self._memory.lock:
            self._memory.rows.pop(self.key(doc_id), None)

    def count(self, spec: QuerySpec, *, below: Any = None, above: Any = None, **equals: Any) -> int:
        return sum(len(page) for page in self.pages(spec, below=below, above=above, **equals))

    def page_after(
        self, spec: QuerySpec, *, limit: int, after: str | None = None, **equals: Any
    ) -> tuple[list[Stored[D]], str | None]:
        if spec.range_field is not None:
            raise ValueError(f"{spec.name} is ordered by {spec.range_field}, not by document id")
        everything = sorted(
            (stored for page in self.pages(spec, **equals) for stored in page), key=lambda s: s.id
        )
        rest = [stored for stored in everything if after is None or stored.id > after]
        page = rest[:limit]
        return page, (page[-1].id if len(rest) > limit else None)

    def pages(
        self, spec: QuerySpec, *, page_size: int = 500, below: Any = None, above: Any = None, **equals: Any
    ) -> Iterator[list[Stored[D]]]:
        if spec.collection != self.model.collection:
            raise ValueError(f"{spec.name} reads {spec.collection}, not {self.model.collection}")
        if set(equals) != set(spec.equals):
            raise ValueError(f"{spec.name} filters on {spec.equals}, got {tuple(equals)}")
        wanted = {name: firestore_value(value) for name, value in equals.items()}
        after: tuple[Any, str] | None = None
        while True:
            with self._memory.lock:
                matches = [
                    (doc_id, row)
                    for (name, doc_id), row in self._memory.rows.items()
                    if name == self.name and self._matches(row.data, spec, wanted, below, above)
                ]
            matches.sort(key=lambda item: self._order(item[1].data, spec, item[0]))
            if after is not None:
                matches = [m for m in matches if self._order(m[1].data, spec, m[0]) > after]
            page = matches[:page_size]
            if not page:
                return
            yield [
                Stored(doc_id, self.model.model_validate(copy.deepcopy(row.data)), row.version)
                for doc_id, row in page
            ]
            if len(page) < page_size:
                return
            after = self._order(page[-1][1].data, spec, page[-1][0])

    @staticmethod
    def _matches(
        data: dict[str, Any], spec: QuerySpec, wanted: dict[str, Any], below: Any, above: Any
    ) -> bool:
        if any(name not in data or data[name] != value for name, value in wanted.items()):
            return False
        if spec.range_field is None:
            return True
        if spec.range_field not in data:
            return False  # Firestore leaves out documents without the ordered field
        value = data[spec.range_field]
        if value is None:
            return below is None and above is None
        if below is not None and not (type(value) is type(below) and value <= below):
            return False
        return above is None or (type(value) is type(above) and value >= above)

    @staticmethod
    def _order(data: dict[str, Any], spec: QuerySpec, doc_id: str) -> tuple[Any, str]:
        if spec.range_field is None:
            return (0, doc_id)
        value = data.get(spec.range_field)
        return ((value is not None, value), doc_id)  # nulls first, as Firestore orders them


class MemoryTx(Tx):
    def __init__(self, memory: _Memory) -> None:
        self._memory = memory
        self.read: dict[tuple[str, str], int | None] = {}
        self.writes: list[
            tuple[MemoryRepository[Any], str, Callable[[dict[str, Any] | None], dict[str, Any] | None]]
        ] = []
        self._cache: dict[tuple[str, str], _Row | None] = {}

    def get(self, repo: Repository[D], doc_id: str) -> D | None:
        assert isinstance(repo, MemoryRepository)
        if self.writes:
            raise RuntimeError("a transaction reads everything before it writes (as Firestore requires)")
        key = repo.key(doc_id)
        if key not in self._cache:
            with self._memory.lock:
                row = self._memory.rows.get(key)
                self._cache[key] = None if row is None else _Row(copy.deepcopy(row.data), row.version)
                self.read[key] = None if row is None else row.version
        return repo.parse(self._cache[key])

    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None:
        assert isinstance(repo, MemoryRepository)
        data = doc.to_firestore()
        self.writes.append((repo, doc_id, lambda _: data))

    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        assert isinstance(repo, MemoryRepository)

        def change(current: dict[str, Any] | None) -> dict[str, Any]:
            if current is None:
                raise NotFound(f"{repo.name}/{doc_id}")
            return _apply(current, fields)

        self.writes.append((repo, doc_id, change))

    def merge(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        assert isinstance(repo, MemoryRepository)
        self.writes.append((repo, doc_id, lambda current: _merged(current or {}, fields)))

    def delete(self, repo: Repository[D], doc_id: str) -> None:
        assert isinstance(repo, MemoryRepository)
        self.writes.append((repo, doc_id, lambda _: None))

    def commit(self) -> bool:
        """Apply the writes unless something read has changed since; False means run again."""
        with self._memory.lock:
            for key, version in self.read.items():
                row = self._memory.rows.get(key)
                if (None if row is None else row.version) != version:
                    return False
            staged: dict[tuple[str, str], dict[str, Any] | None] = {}
            for repo, doc_id, change in self.writes:
                key = repo.key(doc_id)
                if key in staged:
                    current = staged[key]
                else:
                    row = self._memory.rows.get(key)
                    current = None if row is None else row.data
                staged[key] = change(current)
            for key, data in staged.items():
                if data is None:  # deleted
                    self._memory.rows.pop(key, None)
                else:
                    self._memory.rows[key] = _Row(data, self._memory.next_version())
            return True


class MemoryBatch(Batch):
    def __init__(self) -> None:
        self.writes: list[Callable[[], None]] = []

    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        self.writes.append(lambda: repo.update(doc_id, fields))

    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None:
        self.writes.append(lambda: repo.set(doc_id, doc))


class MemoryStore(Store):
    def __init__(self) -> None:
        self._memory = _Memory()

        self._attach(lambda model: MemoryRepository(self._memory, model))
        self.transactions_retried = 0

    def transaction(self, work: Callable[[Tx], T]) -> T:
        for _ in range(MAX_ATTEMPTS):
            tx = MemoryTx(self._memory)
            result = work(tx)
            if tx.commit():
                return result
            self.transactions_retried += 1
        raise StoreUnavailable(f"transaction kept conflicting after {MAX_ATTEMPTS} attempts")

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        batch = MemoryBatch()
        yield batch
        with self._memory.lock:
            for write in batch.writes:
                write()
