"""The read side of payouts, for the owner's `/payouts` in the bot and the operator's
`telepay payouts list|show|retry`: plain functions over the store.

- `owner_balance(store, owner_id)`: what is available, reserved (in a payout that has not ended) and
  paid, per settlement currency, summed from the ledger (never a stored balance); Stars that
  Telegram still holds apart, with when their holds end.
- `payout_history(store, owner_id, limit)`: the owner's payouts, newest first.
- `list_payouts(store, open_only)`, `show_payout(store, payout_id)`: for operators.
- `retry_payout(store, payout_id, now)`: resume an open payout at once (after the operator fixed what
  held it, e.g. the 2FA secret), or make a failed payout's entries plannable again at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared_schemas.documents import EntryState, LedgerEntryDoc, PayoutDoc, PayoutState
from shared_schemas.queries import LEDGER_OF_OWNER, PAYOUTS_DUE, PAYOUTS_OF_OWNER
from telepay.core.store import Store
from telepay.payouts.ledger import Balance, balance


def owner_balance(store: Store, owner_id: int, now: datetime | None = None) -> Balance:
    """At `now`: Stars Telegram holds until later are apart (`Balance.stars`), not available."""
    entries: list[LedgerEntryDoc] = []
    for state in EntryState:
        for page in store.ledger.pages(LEDGER_OF_OWNER, owner_user_id=owner_id, state=state.value):
            entries.extend(stored.doc for stored in page)
    return balance(entries, now)


def payout_history(store: Store, owner_id: int, limit: int = 20) -> list[PayoutDoc]:
    found: list[PayoutDoc] = []
    for page in store.payouts.pages(PAYOUTS_OF_OWNER, owner_user_id=owner_id):
        found.extend(stored.doc for stored in page)
    return sorted(found, key=lambda p: (p.created_at, p.payout_id), reverse=True)[:limit]


def list_payouts(store: Store) -> list[PayoutDoc]:
    """Open payouts (not finished or failed), oldest due first."""
    return [stored.doc for page in store.payouts.pages(PAYOUTS_DUE, open=True) for stored in page]


@dataclass(frozen=True)
class PayoutDetail:
    payout: PayoutDoc
    entries: list[LedgerEntryDoc]


def show_payout(store: Store, payout_id: str) -> PayoutDetail | None:
    payout = store.payouts.get(payout_id)
    if payout is None:
        return None
    entries = [e for e in (store.ledger.get(i) for i in payout.entry_ids) if e is not None]
    return PayoutDetail(payout, entries)


def retry_payout(store: Store, payout_id: str, now: datetime) -> str:
    payout = store.payouts.get(payout_id)
    if payout is None:
        return "unknown payout"
    if payout.state is PayoutState.FINISHED:
        return "already finished"
    if payout.state is PayoutState.FAILED:
        with store.batch() as batch:
            for entry_id in payout.entry_ids:
                entry = store.ledger.get(entry_id)
                if entry is not None and entry.state is EntryState.AVAILABLE:
                    batch.update(store.ledger, entry_id, {"retry_after": None, "updated_at": now})
        return "entries will be paid in a new payout"
    store.payouts.update(
        payout_id, {"attention": None, "attempts": 0, "next_attempt_at": now, "updated_at": now}
    )
    return "will be resumed"
