"""Ledger entries of Stars payments, as a settled Stars charge books them: gross, fee and net in
Stars (`xtr`), their USD value at STARS_PAYOUT_USD in `usd`, and Telegram's hold (`held_until`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from shared_schemas.documents import EntryState, LedgerEntryDoc
from shared_schemas.ids import OrderKind
from telepay.payouts import ledger
from tests.harness import NOW

STAR_USD = Decimal("0.013")  # STARS_PAYOUT_USD's default: what a Star earned is worth in USD
HOLD = timedelta(days=21)  # STARS_HOLD_DAYS' default


def stars_entry(
    token: str,
    number: int,
    stars: int,
    owner: int = 5001,
    booked_at: datetime = NOW,
    hold: timedelta = HOLD,
    state: EntryState = EntryState.AVAILABLE,
) -> LedgerEntryDoc:
    gross = Decimal(stars)
    fee, net = ledger.split(gross, Decimal("3"), "xtr")
    settled_fee, settled_net = ledger.split(gross * STAR_USD, Decimal("3"), "usd")
    order_id = f"tp1-don-{token}-{number}-s"
    return LedgerEntryDoc(
        entry_id=order_id,
        order_id=order_id,
        payment_id=f"stxCharge{number}",
        kind=OrderKind.DONATION,
        channel_token=token,
        owner_user_id=owner,
        gross_amount=gross,
        gross_currency="xtr",
        fee_percent=Decimal("3"),
        fee_amount=fee,
        net_amount=net,
        settled_amount=gross * STAR_USD,
        settled_currency="usd",
        settled_fee=settled_fee,
        settled_net=settled_net,
        state=state,
        held_until=booked_at + hold,
        booked_at=booked_at,
        updated_at=booked_at,
    )
