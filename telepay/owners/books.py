"""An owner's books (`telepay.owners.books_rules`): read page by page from the store and sent as a
CSV document in the owner's private chat with the bot (never a link anyone could open). The bot's
`/export` (`telepay.owners.export_talk`) and the owner app's Books form both call `send`.

Sales are read from the ledger: each payment's own entry (booked when it settled) with its order
(what was bought, by whom, how) and its refund, so the sales and the ledger of a period agree to
the cent. Payouts are the owner's payouts of the channel created in the period. A period with
nothing in it sends no file: the owner is told there is nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared_schemas.documents import ChannelDoc, EntryState, LedgerEntryDoc, OrderDoc, OrderStatus
from shared_schemas.queries import LEDGER_OF_CHANNEL_BY_TIME, PAYOUTS_OF_OWNER
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Store
from telepay.owners import books_texts as say
from telepay.owners.books_rules import (
    FILE_MAX_BYTES,
    Book,
    Csv,
    Period,
    Row,
    filename,
    is_sale,
    ledger_row,
    payout_row,
    refunded_at,
    sale_row,
    to_csv,
)
from telepay.runtime import Runtime

log = get_logger("books")
PAGE = 500


def ledger_entries(store: Store, token: str, period: Period) -> Iterator[LedgerEntryDoc]:
    """The channel's entries booked in the period, oldest first, a page at a time."""
    for page in store.ledger.pages(
        LEDGER_OF_CHANNEL_BY_TIME, page_size=PAGE, channel_token=token, above=period.start, below=period.end
    ):
        for stored in page:
            yield stored.doc


def _refund_time(store: Store, entry: LedgerEntryDoc, order: OrderDoc | None) -> Any:
    if entry.state is EntryState.REVERSED:
        return refunded_at(entry, None)
    refunded = order is not None and (
        order.status is OrderStatus.REFUNDED
        or str(entry.payment_id) in {str(p) for p in order.refunded_payment_ids}
    )
    if not refunded:
        return None
    return refunded_at(entry, store.ledger.get(f"{entry.entry_id}.refund"))


def sale_rows(store: Store, token: str, period: Period) -> Iterator[Row]:
    orders: dict[str, OrderDoc | None] = {}
    for entry in ledger_entries(store, token, period):
        if not is_sale(entry):
            continue
        if entry.order_id not in orders:
            orders[entry.order_id] = store.orders.get(entry.order_id)
        order = orders[entry.order_id]
        yield sale_row(entry, order, _refund_time(store, entry, order))


def payout_rows(store: Store, channel: ChannelDoc, period: Period) -> Iterator[Row]:
    for page in store.payouts.pages(
        PAYOUTS_OF_OWNER,
        page_size=PAGE,
        owner_user_id=channel.owner_user_id,
        above=period.start,
        below=period.end,
    ):
        for stored in page:
            if stored.doc.channel_token == channel.token:
                yield payout_row(stored.doc)


def book_csv(store: Store, channel: ChannelDoc, book: Book, period: Period) -> Csv:
    """The book's CSV file for the channel and period."""
    if book is Book.SALES:
        rows: Iterator[Row] = sale_rows(store, channel.token, period)
    elif book is Book.LEDGER:
        rows = (ledger_row(entry) for entry in ledger_entries(store, channel.token, period))
    else:
        rows = payout_rows(store, channel, period)
    return to_csv(book, rows)


@dataclass(frozen=True)
class Sent:
    rows: int  # 0: nothing in the period, no file sent
    said: str  # what the owner was told (the caption, or why nothing was sent)


def send(rt: Runtime[Any], owner_id: int, channel: ChannelDoc, book: Book, period: Period) -> Sent | str:
    """The book sent to the owner's private chat as a document (its caption names the book, the
    channel, the period and the rows); a period with nothing in it gets a message instead. A refusal
    (the file too big for Telegram, the owner never started the bot, Telegram refusing it) is the
    text to say; a Telegram outage raises (Transient), to be tried again."""
    if channel.owner_user_id != owner_id:
        return t(say.OWNER_ONLY)
    made = book_csv(rt.store, channel, book, period)
    if len(made.data) > FILE_MAX_BYTES:
        return t(say.TOO_BIG)
    try:
        if made.rows == 0:
            said = say.nothing(book, channel.title, period)
            rt.telegram.send_message(owner_id, said)
            return Sent(0, said)
        caption = say.caption(book, channel.title, period, made.rows)
        rt.telegram.send_document(owner_id, filename(book, channel.token, period), made.data, caption)
    except TelegramForbidden:
        return t(say.START_THE_BOT)
    except TelegramBadRequest as error:
        log.warning("export refused by Telegram: %s", error, extra={"channel_token": channel.token})
        return t(say.NOT_SENT)
    log.info("books sent: %s, %d rows", book.value, made.rows, extra={"channel_token": channel.token})
    return Sent(made.rows, caption)
