"""Claims: "this piece of work is mine", so duplicates of it do nothing.

Everything here is delivered more than once (updates, IPNs, Pub/Sub messages, tasks, scheduler
runs). A claim is a Firestore document created with `create()`: among concurrent duplicates exactly
one create succeeds and the others fail at once, without contending on a transaction. The winner
marks the claim done when the work is complete, or releases it when the work failed so that a
retry can claim it again. A claim left "processing" by a crashed worker can be taken over after its
lease. Claims expire (TTL on `expire_at`), which bounds the dedupe window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from shared_schemas.documents import ClaimStatus
from shared_schemas.names import Collection
from telepay.clock import Clock

if TYPE_CHECKING:
    from google.cloud.firestore import Client, DocumentReference


class ClaimOutcome(Enum):
    ACQUIRED = "acquired"
    DONE = "done"  # the work was done before
    BUSY = "busy"  # someone else holds it right now


@dataclass
class Claim:
    outcome: ClaimOutcome
    ref: DocumentReference | None = None
    result: str | None = None

    @property
    def acquired(self) -> bool:
        return self.outcome is ClaimOutcome.ACQUIRED

    def done(self, result: str | None = None) -> None:
        if self.ref is not None:
            self.ref.update({"status": ClaimStatus.DONE.value, "result": result})

    def release(self) -> None:
        if self.ref is not None:
            self.ref.delete()


class Claims:
    def __init__(self, db: Client, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def claim(
        self,
        purpose: str,
        key: str,
        lease: timedelta = timedelta(seconds=60),
        keep_for: timedelta = timedelta(days=2),
    ) -> Claim:
        from google.api_core.exceptions import AlreadyExists, FailedPrecondition

        now = self._clock.now()
        ref = self._db.collection(Collection.CLAIMS.value).document(f"{purpose}:{key}")
        record: dict[str, Any] = {
            "purpose": purpose,
            "status": ClaimStatus.PROCESSING.value,
            "lease_until": now + lease,
            "created_at": now,
            "expire_at": now + keep_for,
            "result": None,
        }
        try:
            ref.create(record)
            return Claim(ClaimOutcome.ACQUIRED, ref)
        except AlreadyExists:
            pass
        snapshot = ref.get()
        if not snapshot.exists:  # released between our create and read: try once more
            try:
                ref.create(record)
                return Claim(ClaimOutcome.ACQUIRED, ref)
            except AlreadyExists:
                return Claim(ClaimOutcome.BUSY)
        data = snapshot.to_dict() or {}
        if data.get("status") == ClaimStatus.DONE.value:
            return Claim(ClaimOutcome.DONE, result=data.get("result"))
        lease_until = data.get("lease_until")
        if lease_until is not None and lease_until > now:
            return Claim(ClaimOutcome.BUSY)
        # The holder crashed: take over, but only if nobody else did since we read it.
        try:
            ref.update(
                {"lease_until": now + lease, "created_at": now},
                option=self._db.write_option(last_update_time=snapshot.update_time),
            )
        except FailedPrecondition:
            return Claim(ClaimOutcome.BUSY)
        return Claim(ClaimOutcome.ACQUIRED, ref)
