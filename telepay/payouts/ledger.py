"""The ledger booking, as a pure function: what one settled payment owes the channel's owner.

Rules (the one rounding rule is `shared_schemas.money.round_fee`):
- gross is what the buyer was charged (the order's price) and, separately, what NowPayments settled
  into the operator's account (`outcome_amount` in `outcome_currency`; when the API does not report
  it, what was paid in the pay currency);
- the fee is `gross * fee_percent / 100`, rounded once, half up, to the currency's smallest unit
  (0.01 for fiat, 1e-8 for crypto); the net is gross minus that fee, exactly;
- the fee rate is copied onto the entry, so a later change of the rate rewrites no history;
- the entry id is the order id: an order settles once, so booking is idempotent;
- a refund takes back what the refunded payment owed: an entry no payout covers yet is reversed
  (owed nothing); one a payout covers or paid is offset by a negative entry (`<entry id>.refund`),
  netted against the owner's next payouts and never paid out alone. The owner returns what they
  were owed (the net); the platform's fee is not charged to them twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import ChannelDoc, EntryState, LedgerEntryDoc, OrderDoc
from shared_schemas.money import round_fee
from shared_schemas.nowpayments import Payment


def split(gross: Decimal, fee_percent: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """(fee, net) of a gross amount: the fee rounded once, the net the exact remainder."""
    fee = round_fee(gross * fee_percent / 100, currency)
    return fee, gross - fee


def book(
    order: OrderDoc,
    payment: Payment,
    channel: ChannelDoc,
    fee_percent: Decimal,
    now: datetime,
    entry_id: str | None = None,
    held_until: datetime | None = None,
) -> LedgerEntryDoc:
    """The ledger entry of a payment that settled `order` (the order id; a further payment on a
    settled order, e.g. a wallet's double send, books its own entry under `<order>.<payment>`)."""
    gross_currency = order.price_currency.lower()
    if payment.outcome_amount is not None and payment.outcome_currency:
        settled, settled_currency = payment.outcome_amount, payment.outcome_currency.lower()
    else:
        settled = payment.actually_paid or Decimal(0)
        settled_currency = (payment.pay_currency or gross_currency).lower()
    fee, net = split(order.price_amount, fee_percent, gross_currency)
    settled_fee, settled_net = split(settled, fee_percent, settled_currency)
    return LedgerEntryDoc(
        entry_id=entry_id or order.order_id,
        order_id=order.order_id,
        payment_id=payment.payment_id,
        kind=order.kind,
        channel_token=order.channel_token,
        owner_user_id=channel.owner_user_id,
        gross_amount=order.price_amount,
        gross_currency=gross_currency,
        fee_percent=fee_percent,
        fee_amount=fee,
        net_amount=net,
        settled_amount=settled,
        settled_currency=settled_currency,
        settled_fee=settled_fee,
        settled_net=settled_net,
        state=EntryState.AVAILABLE,
        held_until=held_until,
        booked_at=now,
        updated_at=now,
    )


def refund(entry: LedgerEntryDoc, now: datetime) -> tuple[dict[str, object] | None, LedgerEntryDoc | None]:
    """What the refund of `entry`'s payment does to the ledger: (updates of the entry, an offset entry
    to write); both None when it was taken back already (or is itself an offset)."""
    if entry.state is EntryState.REVERSED or entry.reverses is not None:
        return None, None
    if entry.state is EntryState.AVAILABLE:
        return {"state": EntryState.REVERSED, "updated_at": now}, None
    offset = entry.model_copy(
        update={
            "entry_id": f"{entry.entry_id}.refund",
            "gross_amount": -entry.gross_amount,
            "fee_amount": -entry.fee_amount,
            "net_amount": -entry.net_amount,
            "settled_amount": -entry.settled_amount,
            "settled_fee": -entry.settled_fee,
            "settled_net": -entry.settled_net,
            "state": EntryState.AVAILABLE,
            "payout_id": None,
            "releases": 0,
            "retry_after": None,
            "reverses": entry.entry_id,
            "booked_at": now,
            "updated_at": now,
        }
    )
    return None, offset


@dataclass(frozen=True)
class StarsEarnings:
    """An owner's Stars, net of the platform fee: those Telegram still holds (not in the balance's
    sums: nothing is paid out before `held_until`) and those released (their USD value is in the
    sums, available, in a payout or paid). Stars entries settle in USD at `STARS_PAYOUT_USD`."""

    held: Decimal = Decimal(0)  # in Stars
    held_usd: Decimal = Decimal(0)
    held_first_until: datetime | None = None  # the earliest hold's end
    held_last_until: datetime | None = None  # the latest hold's end
    released: Decimal = Decimal(0)  # in Stars (a refund's offset takes its Stars back)
    released_usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class Balance:
    """Sums of an owner's (or a channel's) entries by state, per settlement currency; Stars still
    held by Telegram apart (`stars`)."""

    available: dict[str, Decimal]
    reserved: dict[str, Decimal]
    paid: dict[str, Decimal]
    fees: dict[str, Decimal]
    entries: int
    stars: StarsEarnings = StarsEarnings()


STARS_CURRENCY = "xtr"  # a Stars entry's gross currency
OWED = (EntryState.AVAILABLE, EntryState.RESERVED, EntryState.PAID)


def held(entry: LedgerEntryDoc, now: datetime) -> bool:
    """Earnings Telegram still holds: available, not a refund's offset, `held_until` not yet passed."""
    return (
        entry.state is EntryState.AVAILABLE
        and entry.reverses is None
        and entry.held_until is not None
        and entry.held_until > now
    )


def balance(entries: Iterable[LedgerEntryDoc], now: datetime | None = None) -> Balance:
    """The sums at `now` (None: every hold counts as ended)."""
    sums: dict[EntryState, dict[str, Decimal]] = {state: {} for state in EntryState}
    fees: dict[str, Decimal] = {}
    count = 0
    stars = {"held": Decimal(0), "held_usd": Decimal(0), "released": Decimal(0), "released_usd": Decimal(0)}
    ends: list[datetime] = []
    for entry in entries:
        count += 1
        is_stars = entry.gross_currency == STARS_CURRENCY and entry.state in OWED
        if is_stars and now is not None and held(entry, now):
            assert entry.held_until is not None
            stars["held"] += entry.net_amount
            stars["held_usd"] += entry.settled_net
            ends.append(entry.held_until)
            continue
        if is_stars:
            stars["released"] += entry.net_amount
            stars["released_usd"] += entry.settled_net
        bucket = sums[entry.state]
        bucket[entry.settled_currency] = bucket.get(entry.settled_currency, Decimal(0)) + entry.settled_net
        fees[entry.settled_currency] = fees.get(entry.settled_currency, Decimal(0)) + entry.settled_fee
    earnings = StarsEarnings(
        held_first_until=min(ends, default=None), held_last_until=max(ends, default=None), **stars
    )
    return Balance(
        sums[EntryState.AVAILABLE], sums[EntryState.RESERVED], sums[EntryState.PAID], fees, count, earnings
    )
