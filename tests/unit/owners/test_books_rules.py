"""The books' pure rules: the period an owner may ask for, the cells (formula injection escaped,
exact decimals, UTC moments), the columns and the file (UTF-8 with a BOM, CRLF)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from telepay.channels.settings import Invalid
from telepay.owners.books_rules import (
    BOM,
    COLUMNS,
    Book,
    Period,
    Preset,
    Row,
    cell,
    check_period,
    filename,
    parse_period,
    preset,
    to_csv,
)

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize("text", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_text_a_spreadsheet_would_evaluate_gets_a_leading_quote(text: str) -> None:
    assert cell(text) == "'" + text


def test_other_cells() -> None:
    assert cell("Night Owls") == "Night Owls" and cell("a=b") == "a=b"
    assert cell(Decimal("-5.00")) == "-5.00"  # a refund's amount stays a number
    assert cell(Decimal("1E-8")) == "0.00000001"  # never an exponent
    assert cell(Decimal("0.10")) == "0.10"  # the exact decimal, with its cents
    assert cell(datetime(2026, 11, 3, 10, 0, tzinfo=UTC)) == "2026-11-03T10:00:00+00:00"
    assert (cell(None), cell(True), cell(False), cell(7)) == ("", "yes", "", "7")


def test_the_file_is_utf8_with_a_bom_crlf_and_escaped() -> None:
    rows: list[Row] = [{"payout_id": "=cmd|'/c calc'!A1", "amount": Decimal("4.85"), "currency": "USDTTRC20"}]
    made = to_csv(Book.PAYOUTS, rows)
    assert made.rows == 1
    text = made.data.decode("utf-8")
    assert text.startswith(BOM) and text.count("\r\n") == 2 and "\n" not in text.replace("\r\n", "")
    header, row = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert tuple(header) == COLUMNS[Book.PAYOUTS]
    assert row[0] == "'=cmd|'/c calc'!A1" and row[3:5] == ["4.85", "USDTTRC20"]


def test_presets() -> None:
    assert preset(Preset.THIS_MONTH, TODAY) == Period(date(2026, 11, 1), TODAY)
    assert preset(Preset.LAST_MONTH, TODAY) == Period(date(2026, 10, 1), date(2026, 10, 31))
    assert preset(Preset.LAST_MONTH, date(2027, 1, 5)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert preset(Preset.LAST_30_DAYS, TODAY) == Period(date(2026, 10, 28), TODAY)
    assert preset(Preset.LAST_30_DAYS, TODAY).days == 30


def test_typed_periods() -> None:
    assert parse_period("2026-11-01 2026-11-25", TODAY) == Period(date(2026, 11, 1), date(2026, 11, 25))
    assert parse_period(" 2026-11-01 – 2026-11-26 ", TODAY) == Period(date(2026, 11, 1), TODAY)
    assert parse_period("2025-11-26 to 2026-11-26", TODAY) == Period(date(2025, 11, 26), TODAY)  # 366 days
    refusals = {
        "November": "Send two dates",
        "2026-11-31 2026-12-01": "Use dates like 2026-11-01",
        "2026-11-20 2026-11-01": "end comes before its start",
        "2026-11-01 2026-11-27": "can't end after today",
        "2025-11-25 2026-11-26": "at most 366 days",
    }
    for text, reason in refusals.items():
        refused = parse_period(text, TODAY)
        assert isinstance(refused, Invalid) and reason in refused.reason, text


def test_a_period_is_whole_utc_days() -> None:
    period = check_period("2026-11-01", "2026-11-30", date(2026, 12, 1))
    assert isinstance(period, Period)
    assert period.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert filename(Book.SALES, "Owls1", period) == "sales-Owls1-2026-11-01-2026-11-30.csv"


@pytest.mark.parametrize("language", ["en", "ru", "ar"])
def test_the_forms_date_errors_name_the_date_that_is_wrong_in_every_language(language: str) -> None:
    from telepay.core import i18n
    from telepay.owners.books_rules import check_form

    today = date(2026, 12, 1)

    def fields(first: str, last: str) -> list[str]:
        errors = check_form("sales", first, last, today)
        assert isinstance(errors, list)
        return [e["field"] for e in errors]

    with i18n.speaking(language):
        assert fields("1.11.2026", "2026-11-30") == ["from"]
        assert fields("2026-11-01", "30.11") == ["to"]
        assert fields("2026-11-30", "2026-11-01") == ["to"]
