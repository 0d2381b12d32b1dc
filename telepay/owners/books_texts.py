"""What the bot and the owner app say about an owner's books (CSV exports)."""

from __future__ import annotations

from telepay.core.i18n import N_, day, t, tn
from telepay.owners.books_rules import Book, Period

BOOK_NAMES = {Book.SALES: N_("Sales"), Book.LEDGER: N_("Ledger"), Book.PAYOUTS: N_("Payouts")}
ASK_BOOK = N_("Which book? Sales (each payment with its fee and net), the ledger, or your payouts.")
ASK_PERIOD = N_(
    "Which period (UTC)? Tap one, or send the first and the last day, like 2026-11-01 2026-11-30."
)
THIS_MONTH = N_("This month")
LAST_MONTH = N_("Last month")
LAST_30_DAYS = N_("Last 30 days")
OWNER_ONLY = N_("Only the channel's owner can read its books.")
TOO_BIG = N_("That file would be over 50 MB, more than Telegram takes: choose a shorter period.")
START_THE_BOT = N_("I can't write to you: open the bot in Telegram and press Start, then try again.")
NOT_SENT = N_("Telegram refused the file, so nothing was sent. Please try again later.")


def book_name(book: Book) -> str:
    return t(BOOK_NAMES[book])


def period_words(period: Period) -> str:
    """`1 November 2026 – 30 November 2026 UTC`."""  # noqa: RUF002
    return t("{first} – {last} UTC", first=day(period.start), last=day(period.end))


def caption(book: Book, title: str, period: Period, rows: int) -> str:
    """`Sales of Night Owls Club, 1 November 2026 – 30 November 2026 UTC: 12 rows`."""  # noqa: RUF002
    return tn(
        "{book} of {title}, {period}: {n} row",
        "{book} of {title}, {period}: {n} rows",
        rows,
        book=book_name(book),
        title=title,
        period=period_words(period),
    )


def nothing(book: Book, title: str, period: Period) -> str:
    return t(
        "{book} of {title}, {period}: nothing there, so no file was sent.",
        book=book_name(book),
        title=title,
        period=period_words(period),
    )
