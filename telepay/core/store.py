"""The storage port: typed repositories over TelePay's collections and transactions.

Business code reads and writes `shared_schemas` documents through a `Store` and never sees the
database's own calls. Two implementations keep the same semantics, proven by one contract suite
(`tests/integration/test_store_contract.py`): `telepay.adapters.firestore_store.FirestoreStore` (the
only module of `telepay/` that imports the Firestore client) and the in-memory store of the tests.

Semantics both keep:
- `create` is create-if-absent: among concurrent creates of one id exactly one returns True.
- `update` changes named fields (dotted paths reach into maps: `broadcast.last_message_id`) of an
  existing document and raises `NotFound` otherwise; `if_version` makes it conditional on the
  version read with `get_stored` (`VersionConflict` when another write came first).
- `transaction(work)` runs `work(tx)` with reads that all come from one consistent view and writes
  applied together at the end; when another write touched what it read, the whole of `work` runs
  again (so `work` must not have side effects outside `tx`). All reads come before any write.
- `batch()` groups writes that need no reads, applied together when the `with` block ends.
- Queries come only from `shared_schemas.queries` (so each one's index is declared); results are
  ordered by the range field (then by id), pages follow one another without overlap.
- `count` is the database's own count of a query's matches; `merge` and `Tx.merge` write nested
  maps into a document whether or not it exists, and `increment(n)` adds to a counter without a read.
- Values: decimals are stored as exact strings, enums as their values, times as UTC timestamps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared_schemas.documents import (
    AnnouncementDoc,
    AnnouncementSendDoc,
    BotChatDoc,
    ChannelChangeDoc,
    ChannelCountsDoc,
    ChannelDayDoc,
    ChannelDoc,
    ChatOfferDoc,
    ClaimDoc,
    ConversationDoc,
    Document,
    FailedTaskDoc,
    FailedUpdateDoc,
    GiftDoc,
    KeypadSessionDoc,
    LedgerEntryDoc,
    OrderDoc,
    OutboxDoc,
    PayoutDoc,
    PaySupportDoc,
    PromoAppliedDoc,
    PromoCodeDoc,
    PromoEntryDoc,
    PromoUseDoc,
    QueueHorizonDoc,
    ReconcileStateDoc,
    StarPaymentDoc,
    SubscriptionDoc,
    SupportActionDoc,
    SupportReplyDoc,
    SupportThreadDoc,
    TrialDoc,
    UnknownIpnDoc,
    UserDoc,
)
from shared_schemas.queries import QuerySpec
from telepay.core.errors import Permanent, Transient

D = TypeVar("D", bound=Document)
D2 = TypeVar("D2", bound=Document)
T = TypeVar("T")
Fields = Mapping[str, Any]


class NotFound(Permanent):
    """An update named a document that does not exist."""


class VersionConflict(Exception):
    """A conditional update lost: the document changed since it was read."""


class StoreUnavailable(Transient):
    """The database did not answer (unavailable, deadline exceeded, contention that outlasted the
    retries): try again later."""


@dataclass(frozen=True)
class ArrayUnion:
    """An update value that adds these items to a list field (once each), without reading it."""

    items: tuple[Any, ...]


def array_union(*items: Any) -> ArrayUnion:
    return ArrayUnion(tuple(items))


@dataclass(frozen=True)
class Increment:
    """An update value that adds `by` to a whole-number field (absent counts as 0), without reading
    it: writers that only count never contend on the document's read."""

    by: int


def increment(by: int) -> Increment:
    return Increment(by)


@dataclass(frozen=True)
class Stored(Generic[D]):
    """A document with its id and an opaque version for conditional updates."""

    id: str
    doc: D
    version: object


class Repository(ABC, Generic[D]):
    """One collection of one document type."""

    model: type[D]

    def get(self, doc_id: str) -> D | None:
        stored = self.get_stored(doc_id)
        return None if stored is None else stored.doc

    @abstractmethod
    def get_stored(self, doc_id: str) -> Stored[D] | None: ...

    @abstractmethod
    def create(self, doc_id: str, doc: D) -> bool:
        """Write the document unless one with this id exists; True if this call wrote it."""

    @abstractmethod
    def set(self, doc_id: str, doc: D) -> None:
        """Write the whole document, replacing any earlier one."""

    @abstractmethod
    def merge(self, doc_id: str, fields: Fields) -> None:
        """Write these top-level fields, creating the document if it does not exist."""

    @abstractmethod
    def update(self, doc_id: str, fields: Fields, *, if_version: object | None = None) -> None: ...

    @abstractmethod
    def delete(self, doc_id: str) -> None: ...

    @abstractmethod
    def pages(
        self, spec: QuerySpec, *, page_size: int = 500, below: Any = None, above: Any = None, **equals: Any
    ) -> Iterator[list[Stored[D]]]:
        """The query's results a page at a time; each page is fetched when the previous one has
        been handled, so the caller may change the documents it has seen. `below` and `above`
        bound the range field (both inclusive)."""

    def keys(
        self, spec: QuerySpec, *, below: Any = None, above: Any = None, **equals: Any
    ) -> Iterator[tuple[str, Any]]:
        """Each matching document's id and its range field's value (None for an equality-only
        query), in the query's order, as the query found them when it began: what a caller that
        hands the documents out needs, without their other fields. Firestore streams them from one
        query that reads no other field; here they are read in full, all before the first is given."""
        field = spec.range_field
        found = [
            (stored.id, getattr(stored.doc, field) if field else None)
            for page in self.pages(spec, below=below, above=above, **equals)
            for stored in page
        ]
        yield from found

    def get_many(self, doc_ids: Sequence[str]) -> list[Stored[D] | None]:
        """Several documents, in the order asked (None where one does not exist), in one round
        trip where the store can."""
        return [self.get_stored(doc_id) for doc_id in doc_ids]

    @abstractmethod
    def page_after(
        self, spec: QuerySpec, *, limit: int, after: str | None = None, **equals: Any
    ) -> tuple[list[Stored[D]], str | None]:
        """One page of an equality-only query in document id order, starting after the document id
        `after` (none: the first page); with the id to pass for the next page (None: no more). For
        a client that pages through results one request at a time."""

    @abstractmethod
    def count(self, spec: QuerySpec, *, below: Any = None, above: Any = None, **equals: Any) -> int:
        """How many documents the query matches, counted by the database (none is read)."""

    def find(
        self, spec: QuerySpec, *, limit: int = 500, below: Any = None, above: Any = None, **equals: Any
    ) -> list[D]:
        for page in self.pages(spec, page_size=limit, below=below, above=above, **equals):
            return [stored.doc for stored in page]
        return []

    def first(self, spec: QuerySpec, **equals: Any) -> D | None:
        found = self.find(spec, limit=1, **equals)
        return found[0] if found else None


class Tx(ABC):
    """What a transaction may do. Reads first, then writes."""

    @abstractmethod
    def get(self, repo: Repository[D], doc_id: str) -> D | None: ...

    def get_two(
        self, first: tuple[Repository[D], str], second: tuple[Repository[D2], str]
    ) -> tuple[D | None, D2 | None]:
        """Two reads in one round trip where the store can (Firestore reads both in one call)."""
        return self.get(*first), self.get(*second)

    def get_many(self, repo: Repository[D], doc_ids: Sequence[str]) -> list[D | None]:
        """Several documents of one collection, in the order asked, in one round trip where the
        store can (Firestore reads them in one call)."""
        return [self.get(repo, doc_id) for doc_id in doc_ids]

    @abstractmethod
    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None: ...

    @abstractmethod
    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None: ...

    @abstractmethod
    def merge(self, repo: Repository[D], doc_id: str, fields: Fields) -> None:
        """Create the document or change the fields given (nested maps merged, `increment`s added),
        without reading it."""

    @abstractmethod
    def delete(self, repo: Repository[D], doc_id: str) -> None: ...


class Batch(ABC):
    @abstractmethod
    def update(self, repo: Repository[D], doc_id: str, fields: Fields) -> None: ...

    @abstractmethod
    def set(self, repo: Repository[D], doc_id: str, doc: D) -> None: ...


# Each collection's attribute on a Store, and its document type.
REPOSITORIES: dict[str, type[Document]] = {
    "channels": ChannelDoc,
    "orders": OrderDoc,
    "subscriptions": SubscriptionDoc,
    "outbox": OutboxDoc,
    "claims": ClaimDoc,
    "unknown_ipns": UnknownIpnDoc,
    "failed_updates": FailedUpdateDoc,
    "users": UserDoc,
    "keypad_sessions": KeypadSessionDoc,
    "failed_tasks": FailedTaskDoc,
    "ledger": LedgerEntryDoc,
    "payouts": PayoutDoc,
    "bot_chats": BotChatDoc,
    "conversations": ConversationDoc,
    "channel_changes": ChannelChangeDoc,
    "support_actions": SupportActionDoc,
    "chat_offers": ChatOfferDoc,
    "star_payments": StarPaymentDoc,
    "pay_support": PaySupportDoc,
    "reconcile_state": ReconcileStateDoc,
    "queue_horizons": QueueHorizonDoc,
    # -- gifts --
    "gifts": GiftDoc,
    # -- promo codes --
    "promo_codes": PromoCodeDoc,
    "promo_uses": PromoUseDoc,
    "promo_applied": PromoAppliedDoc,
    "promo_entries": PromoEntryDoc,
    # -- free trials --
    "trials": TrialDoc,
    # -- support --
    "support_threads": SupportThreadDoc,
    "support_replies": SupportReplyDoc,
    # -- announcements --
    "announcements": AnnouncementDoc,
    "announcement_sends": AnnouncementSendDoc,
    # -- dashboard --
    "channel_days": ChannelDayDoc,
    "channel_counts": ChannelCountsDoc,
}


class Store(ABC):
    """Every collection TelePay keeps, and the ways to write several documents together."""

    channels: Repository[ChannelDoc]
    orders: Repository[OrderDoc]
    subscriptions: Repository[SubscriptionDoc]
    outbox: Repository[OutboxDoc]
    claims: Repository[ClaimDoc]
    unknown_ipns: Repository[UnknownIpnDoc]
    failed_updates: Repository[FailedUpdateDoc]
    users: Repository[UserDoc]
    keypad_sessions: Repository[KeypadSessionDoc]
    failed_tasks: Repository[FailedTaskDoc]
    ledger: Repository[LedgerEntryDoc]
    payouts: Repository[PayoutDoc]
    bot_chats: Repository[BotChatDoc]
    conversations: Repository[ConversationDoc]
    channel_changes: Repository[ChannelChangeDoc]
    support_actions: Repository[SupportActionDoc]
    chat_offers: Repository[ChatOfferDoc]
    star_payments: Repository[StarPaymentDoc]
    pay_support: Repository[PaySupportDoc]
    reconcile_state: Repository[ReconcileStateDoc]
    queue_horizons: Repository[QueueHorizonDoc]
    # -- gifts --
    gifts: Repository[GiftDoc]
    # -- promo codes --
    promo_codes: Repository[PromoCodeDoc]
    promo_uses: Repository[PromoUseDoc]
    promo_applied: Repository[PromoAppliedDoc]
    promo_entries: Repository[PromoEntryDoc]
    # -- free trials --
    trials: Repository[TrialDoc]
    # -- support --
    support_threads: Repository[SupportThreadDoc]
    support_replies: Repository[SupportReplyDoc]
    # -- announcements --
    announcements: Repository[AnnouncementDoc]
    announcement_sends: Repository[AnnouncementSendDoc]
    # -- dashboard --
    channel_days: Repository[ChannelDayDoc]
    channel_counts: Repository[ChannelCountsDoc]

    def _attach(self, make: Callable[[type[Document]], Repository[Any]]) -> None:
        """Give every collection its repository, made by the implementation's factory."""
        for name, model in REPOSITORIES.items():
            setattr(self, name, make(model))

    @abstractmethod
    def transaction(self, work: Callable[[Tx], T]) -> T: ...

    @abstractmethod
    def batch(self) -> AbstractContextManager[Batch]: ...
