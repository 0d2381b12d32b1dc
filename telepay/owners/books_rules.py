"""An owner's books as CSV files, as pure functions: the period asked for, the rows of each book
and the file's bytes.

- Three books: `sales` (one row per settled payment of the channel, with the amounts of its ledger
  entry, so sales and the ledger agree to the cent), `ledger` (every entry booked, refund offsets
  included) and `payouts` (the owner's payouts of the channel).
- A period is whole UTC days, first to last inclusive, at most 366 days, the last not after today.
- Every text cell is escaped against spreadsheet formula injection (OWASP's CSV injection advice: a
  cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`). Amounts are
  exact decimals (`Decimal`, never a float), written as themselves, beside a currency column: a
  decimal the code wrote cannot be a formula, and a refund's `-5.00` stays a number a spreadsheet
  sums.
- UTF-8 with a byte order mark (Excel reads a CSV without one in the system's code page, and
  mangles names in other scripts), CRLF line ends (RFC 4180, as `subscribers.csv`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from shared_schemas.documents import LedgerEntryDoc, OrderDoc, PayoutDoc
from shared_schemas.ids import OrderKind, PayRail
from telepay.channels.settings import Invalid
from telepay.core.i18n import t

PERIOD_MAX_DAYS = 366
FILE_MAX_BYTES = 50 * 1024 * 1024  # what Telegram takes from a bot (sendDocument)
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DAY = r"(\d{4}-\d{2}-\d{2})"
_TYPED_PERIOD = re.compile(rf"^\s*{_DAY}\s*(?:[-–—]|\.\.|to|\s)\s*{_DAY}\s*$")


class Book(StrEnum):
    SALES = "sales"
    LEDGER = "ledger"
    PAYOUTS = "payouts"


COLUMNS: dict[Book, tuple[str, ...]] = {
    Book.SALES: (
        "order_id",
        "payment_id",
        "settled_at",
        "kind",
        "tier",
        "days",
        "rail",
        "buyer_user_id",
        "gross",
        "fee",
        "net",
        "currency",
        "refunded",
        "refunded_at",
        "gift",
        "promo_code",
        "full_price",
    ),
    Book.LEDGER: (
        "entry_id",
        "booked_at",
        "order_id",
        "payment_id",
        "kind",
        "gross",
        "fee",
        "net",
        "currency",
        "settled_net",
        "settled_currency",
        "state",
        "payout_id",
        "reverses",
    ),
    Book.PAYOUTS: (
        "payout_id",
        "created_at",
        "status",
        "amount",
        "currency",
        "wallet",
        "nowpayments_id",
        "entries",
        "finished_at",
        "hash",
    ),
}

Cell = str | int | Decimal | datetime | bool | None
Row = dict[str, Cell]


# -- the period ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first` to `last`, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), UTC)

    @property
    def end(self) -> datetime:
        """The last moment of the last day (store ranges are inclusive)."""
        return datetime.combine(self.last, time.max, UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


class Preset(StrEnum):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    LAST_30_DAYS = "last_30_days"


def preset(which: Preset, today: date) -> Period:
    """This month (its 1st to today), last month (all of it), the last 30 days (today included)."""
    if which is Preset.THIS_MONTH:
        return Period(today.replace(day=1), today)
    if which is Preset.LAST_MONTH:
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    return Period(today - timedelta(days=29), today)


def check_period(first: object, last: object, today: date) -> Period | Invalid:
    """The owner's period (two `YYYY-MM-DD` dates, UTC), or why not: a date that is no date, the
    end before the start, an end after today, more than 366 days."""
    try:
        start, end = (
            value if isinstance(value, date) else date.fromisoformat(str(value)) for value in (first, last)
        )
    except ValueError:
        return Invalid(t("Use dates like 2026-11-01 (year, month, day)."))
    if end < start:
        return Invalid(t("The period's end comes before its start."))
    if end > today:
        return Invalid(t("The period can't end after today (UTC)."))
    if (end - start).days + 1 > PERIOD_MAX_DAYS:
        return Invalid(t("A period is at most 366 days: choose a shorter one."))
    return Period(start, end)


def _is_date(value: object) -> bool:
    try:
        return isinstance(value, date) or bool(date.fromisoformat(str(value)))
    except ValueError:
        return False


def parse_period(text: str, today: date) -> Period | Invalid:
    """A typed period: `2026-11-01 2026-11-30` (or with a dash, `to` or `..` between)."""
    found = _TYPED_PERIOD.match(text)
    if found is None:
        return Invalid(t("Send two dates, the first and the last day, like 2026-11-01 2026-11-30."))
    return check_period(found[1], found[2], today)


# -- cells and rows --------------------------------------------------------------------------------
def cell(value: Cell) -> str:
    """One CSV cell: an amount as its exact decimal, a moment in UTC ISO 8601, a flag `yes` or empty,
    and any text escaped so that no spreadsheet takes it for a formula."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _kind(entry: LedgerEntryDoc, order: OrderDoc | None) -> str:
    if order is not None and order.gift:
        return "gift"
    return "donation" if entry.kind is OrderKind.DONATION else "subscription"


def _rail(order: OrderDoc | None) -> str | None:
    if order is None:
        return None
    return "stars" if order.rail is PayRail.STARS else "crypto"


def sale_row(entry: LedgerEntryDoc, order: OrderDoc | None, refunded_at: datetime | None) -> Row:
    """A settled payment: the order's what and who, the ledger entry's amounts (price currency), and
    its refund (the gross amount given back, when) if it was refunded."""
    return {
        "order_id": entry.order_id,
        "payment_id": str(entry.payment_id),
        "settled_at": entry.booked_at,
        "kind": _kind(entry, order),
        "tier": order.tier_id if order else None,
        "days": order.days if order else None,
        "rail": _rail(order),
        "buyer_user_id": order.user_id if order else None,
        "gross": entry.gross_amount,
        "fee": entry.fee_amount,
        "net": entry.net_amount,
        "currency": entry.gross_currency.upper(),
        "refunded": entry.gross_amount if refunded_at is not None else None,
        "refunded_at": refunded_at,
        "gift": bool(order and order.gift),
        "promo_code": order.promo_code if order else None,  # the code it was priced with
        "full_price": order.full_price_amount if order else None,  # the price before the code
    }


def ledger_row(entry: LedgerEntryDoc) -> Row:
    return {
        "entry_id": entry.entry_id,
        "booked_at": entry.booked_at,
        "order_id": entry.order_id,
        "payment_id": str(entry.payment_id),
        "kind": "donation" if entry.kind is OrderKind.DONATION else "subscription",
        "gross": entry.gross_amount,
        "fee": entry.fee_amount,
        "net": entry.net_amount,
        "currency": entry.gross_currency.upper(),
        "settled_net": entry.settled_net,
        "settled_currency": entry.settled_currency.upper(),
        "state": entry.state.value,
        "payout_id": entry.payout_id,
        "reverses": entry.reverses,
    }


def payout_row(payout: PayoutDoc) -> Row:
    return {
        "payout_id": payout.payout_id,
        "created_at": payout.created_at,
        "status": payout.state.value,
        "amount": payout.amount,
        "currency": payout.currency.upper(),
        "wallet": payout.address,
        "nowpayments_id": payout.withdrawal_id or payout.batch_id,
        "entries": len(payout.entry_ids),
        "finished_at": payout.ended_at if payout.state.value == "finished" else None,
        "hash": payout.hash,
    }


def is_sale(entry: LedgerEntryDoc) -> bool:
    """A payment's own entry (a refund's offset entry is not a sale: it is the sale's refund)."""
    return entry.reverses is None


def refunded_at(entry: LedgerEntryDoc, offset: LedgerEntryDoc | None) -> datetime | None:
    """When the entry's payment was refunded: its offset's booking (refunded after a payout covered
    it), or its reversal (refunded before)."""
    if offset is not None:
        return offset.booked_at
    return entry.updated_at if entry.state.value == "reversed" else None


# -- the file ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Csv:
    data: bytes
    rows: int


def to_csv(book: Book, rows: Iterable[Mapping[str, Cell]]) -> Csv:
    """The book's file: a header line, then one line per row, every cell escaped."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    columns = COLUMNS[book]
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
        count += 1
    return Csv(out.getvalue().encode("utf-8"), count)


def filename(book: Book, token: str, period: Period) -> str:
    return f"{book.value}-{token}-{period.first.isoformat()}-{period.last.isoformat()}.csv"


def check_form(
    book: object, first: object, last: object, today: date
) -> tuple[Book, Period] | list[dict[str, str]]:
    """The owner app's Books form (`book`, `from`, `to`): the book and period, or each field's reason."""
    errors: list[dict[str, str]] = []
    if book not in {b.value for b in Book}:
        errors.append({"field": "book", "reason": t("Choose Sales, Ledger or Payouts.")})
    period = check_period(first, last, today)
    if isinstance(period, Invalid):
        field = "from" if not _is_date(first) else "to"  # an unreadable start, else the end is wrong
        errors.append({"field": field, "reason": period.reason})
    if errors or isinstance(period, Invalid):
        return errors
    return Book(str(book)), period
