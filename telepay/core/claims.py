"""Claims: "this piece of work is mine", so duplicates of it do nothing.

Everything here is delivered more than once (updates, IPNs, Pub/Sub messages, tasks, scheduler
runs). A claim is a document created if absent: among concurrent duplicates exactly one create
succeeds and the others learn it at once, without contending on a transaction.

    with rt.claims.hold(ClaimPurpose.INVOICE, order_id) as claim:
        if claim.done_before:
            return "already done"
        claim.result = do_the_work()

Leaving the block normally marks the claim done (with `claim.result`); leaving it with an exception
releases it, so a retry can claim the work again (unless the work's own transaction marked it
done, `claims.transaction_finishing(claim, work)`: then it committed with the work and stays done); `claim.release()` inside the block releases it
on a normal exit too (the work was handed on, e.g. rescheduled). When another instance holds the
claim, `hold` raises `ClaimBusy` (a `Transient`): the caller's trigger retries later, and if the
holder died its lease runs out and the retry takes the work over. Claims expire (TTL on
`expire_at`), which bounds the dedupe window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from shared_schemas.documents import ClaimDoc, ClaimStatus
from shared_schemas.ids import spread_id
from shared_schemas.names import ClaimPurpose
from telepay.core.clock import Clock
from telepay.core.errors import ClaimBusy
from telepay.core.store import Store, Tx, VersionConflict

T = TypeVar("T")


@dataclass
class Claim:
    purpose: ClaimPurpose
    key: str
    done_before: bool = False
    previous_result: str | None = None
    result: str | None = None
    _release: bool = False
    _done_in_tx: bool = False  # marked done by the work's own transaction (`transaction_finishing`)

    @property
    def doc_id(self) -> str:
        """`<hash>-<purpose>:<key>` (`spread_id`): keys often come in order (update ids, payment
        ids), and a claim is written for every piece of work, so its id must not."""
        return spread_id(f"{self.purpose.value}:{self.key}")

    def release(self) -> None:
        """Give the work back on leaving the block, instead of marking it done."""
        self._release = True


class Claims:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    @contextmanager
    def hold(
        self,
        purpose: ClaimPurpose,
        key: str,
        lease: timedelta = timedelta(seconds=60),
        keep_for: timedelta = timedelta(days=2),
    ) -> Iterator[Claim]:
        claim = Claim(purpose, key)
        previous = self._acquire(claim, lease, keep_for)
        if previous is not None:
            claim.done_before, claim.previous_result = True, previous.result
            yield claim
            return
        try:
            yield claim
        except BaseException:
            if not claim._done_in_tx:  # committed work keeps its claim: a retry must not redo it
                self._store.claims.delete(claim.doc_id)
            raise
        if claim._done_in_tx:
            return
        if claim._release:
            self._store.claims.delete(claim.doc_id)
        else:
            self._store.claims.update(
                claim.doc_id, {"status": ClaimStatus.DONE.value, "result": claim.result}
            )

    def transaction_finishing(self, claim: Claim, work: Callable[[Tx], tuple[str, T]]) -> tuple[str, T]:
        """Run `work` (returning the claim's result and a value) in one transaction that also marks
        the claim done: the work and its claim commit together, and leaving the block writes
        nothing more (one round trip less). A transaction that fails leaves the claim to the block."""

        def run(tx: Tx) -> tuple[str, T]:
            result, value = work(tx)
            tx.update(self._store.claims, claim.doc_id, {"status": ClaimStatus.DONE.value, "result": result})
            return result, value

        result, value = self._store.transaction(run)
        claim.result, claim._done_in_tx = result, True
        return result, value

    def scheduled_run(
        self, purpose: ClaimPurpose, key: str, lease: timedelta, work: Callable[[], dict[str, int]]
    ) -> dict[str, int]:
        """A scheduled job's run, once per scheduled time: a repeat of the same run (done, or in
        progress elsewhere) counts as a duplicate; the next scheduled run picks up what is left."""
        try:
            with self.hold(purpose, key, lease=lease) as claim:
                if claim.done_before:
                    return {"duplicate": 1}
                counts = work()
                claim.result = str(counts)
                return counts
        except ClaimBusy:
            return {"duplicate": 1}

    def _acquire(self, claim: Claim, lease: timedelta, keep_for: timedelta) -> ClaimDoc | None:
        """None when this call now holds the claim; the earlier claim when the work was done."""
        repo = self._store.claims
        now = self._clock.now()
        record = ClaimDoc(
            purpose=claim.purpose.value,
            status=ClaimStatus.PROCESSING,
            lease_until=now + lease,
            created_at=now,
            expire_at=now + keep_for,
        )
        for _ in range(2):  # once more if it was released between our create and our read
            if repo.create(claim.doc_id, record):
                return None
            stored = repo.get_stored(claim.doc_id)
            if stored is None:
                continue
            if stored.doc.status is ClaimStatus.DONE:
                return stored.doc
            if stored.doc.lease_until > now:
                raise ClaimBusy(claim.purpose.value, claim.key)
            # The holder outlived its lease (it crashed): take over, unless someone else did first.
            try:
                repo.update(
                    claim.doc_id,
                    {"lease_until": now + lease, "created_at": now},
                    if_version=stored.version,
                )
            except VersionConflict:
                raise ClaimBusy(claim.purpose.value, claim.key) from None
            return None
        raise ClaimBusy(claim.purpose.value, claim.key)
