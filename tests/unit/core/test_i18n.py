"""The languages: Telegram's language codes to catalogs, and dates, amounts and numbers written as
each reader expects (times always in UTC, saying so)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from telepay.core import i18n

MOMENT = datetime(2027, 1, 30, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("uk", "uk"),
        ("fa", "fa"),
        ("ar-EG", "ar"),
        ("en-US", "en"),
        ("de", "en"),  # no German catalog: English
        ("", "en"),
        (None, "en"),
        ("x" * 200, "en"),
        ("ru; DROP", "en"),
    ],
)
def test_telegram_language_codes_pick_a_catalog_or_english(code: str | None, language: str) -> None:
    assert i18n.language_of(code) == language


def test_dates_and_amounts_per_locale_in_utc() -> None:
    expected = {
        "en": ("Saturday, 30 January 2027, 14:05 UTC", "$4.99", "30 January 2027"),
        "ru": ("14:05 UTC, суббота, 30 января 2027 г.", "4,99 $", "30 января 2027 г."),  # the catalog's order
        "es": ("sábado, 30 de enero de 2027, a las 14:05 UTC", "4,99 US$", "30 de enero de 2027"),
    }

    def plain(text: str) -> str:  # CLDR's narrow and no-break spaces, as plain ones
        return text.replace("\u202f", " ").replace("\xa0", " ")

    for language, (when, money, day) in expected.items():
        with i18n.speaking(language):
            assert plain(i18n.when(MOMENT)) == when
            assert plain(i18n.money(Decimal("4.99"), "USD")) == money
            assert plain(i18n.day(MOMENT)) == day


def test_a_coin_amount_keeps_its_digits_and_its_code() -> None:
    with i18n.speaking("ru"):
        assert i18n.money(Decimal("4.97500"), "usdttrc20") == "4,975 USDTTRC20"
    with i18n.speaking("en"):
        assert i18n.money(Decimal("4.97500"), "usdttrc20") == "4.975 USDTTRC20"


def test_telegram_stars_show_as_a_star_with_the_languages_digits() -> None:
    expected = {"en": "⭐2,500", "ru": "⭐2 500", "es": "⭐2.500"}
    for language, shown in expected.items():
        with i18n.speaking(language):
            assert i18n.money(Decimal(2500), "XTR").replace("\xa0", " ") == shown


def test_speaking_nests_and_restores() -> None:
    with i18n.speaking("ru"):
        with i18n.speaking("pt-br") as inner:
            assert inner == "pt_BR" and i18n.current() == "pt_BR"
        assert i18n.current() == "ru"
    assert i18n.current() == "en"
