"""TelePay's languages: gettext message catalogs (Babel) and per-locale dates, numbers and amounts.

Whoever reads a text decides its language. Texts are made inside `speaking(language)`: the bot
speaks to the sender of an update in theirs, a notice to an owner in the owner's
(`telepay.core.users.speaking_to`), a post in a channel in the channel's. `t("Hi {name}!",
name=...)` looks the English source up in the current language's catalog
(`telepay/locales/<language>/LC_MESSAGES/messages.po`) and fills the named placeholders;
`tn(singular, plural, n, ...)` picks the plural form the language needs (Russian has three).
A language without a catalog, or a message a catalog lacks, reads English (tests keep every
catalog complete: `tests/unit/core/test_i18n.py`).

Why Babel with gettext catalogs (not Fluent): Babel is also what formats dates and amounts per
locale (CLDR), its `pybabel extract` finds every message in the source (`make test` fails on one
missing from the catalogs), and `.po` files are what translators and their tools know.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

SOURCE = "en"
# Each language TelePay speaks: its code (as the catalogs' folders name it) and its own name.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "uk": "Українська",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "tr": "Türkçe",
    "id": "Bahasa Indonesia",
    "fa": "فارسی",
    "ar": "العربية",
}
RIGHT_TO_LEFT = frozenset({"fa", "ar"})
LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")

_current: ContextVar[str] = ContextVar("telepay_language", default=SOURCE)


def language_of(code: str | None) -> str:
    """The language TelePay speaks to someone whose Telegram `language_code` (an IETF tag: `ru`,
    `pt-br`, `en-US`) is `code`: the catalog of that tag, else of its language, else English."""
    if not code or not _TAG.fullmatch(code):
        return SOURCE
    parts = code.replace("-", "_").split("_")
    language = parts[0].lower()
    if len(parts) > 1:
        regional = f"{language}_{parts[1].upper()}"
        if regional in LANGUAGES:
            return regional
    if language in LANGUAGES:
        return language
    return next((name for name in LANGUAGES if name.split("_")[0] == language), SOURCE)


def current() -> str:
    return _current.get()


def is_rtl(language: str | None = None) -> bool:
    return (language or current()) in RIGHT_TO_LEFT


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """Texts made inside are in `language` (a catalog name, or a Telegram language code)."""
    chosen = language if language in LANGUAGES else language_of(language)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def catalog_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled in memory on first use (English is the source itself)."""
    path = catalog_path(language)
    if language == SOURCE or not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:
    """Marks a module-level English text for the catalogs; `t(CONSTANT)` translates it where used."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a module-level plural text (English singular and plural) for the catalogs."""
    return singular, plural


def t(message: str, /, **values: object) -> str:
    """`message` (English, with `{named}` placeholders) in the current language, filled in."""
    text = translations(current()).gettext(message)
    return text.format(**values) if values else text


def tn(singular: str, plural: str, n: int, /, **values: object) -> str:
    """The plural form for `n` the current language needs; `{n}` is the number, written as the
    language writes numbers."""
    text = translations(current()).ngettext(singular, plural, n)
    return text.format(n=number(n), **values)


def plural_forms(singular: str, plural: str) -> dict[str, str]:
    """A plural text in the current language by CLDR category (`one`, `few`, `many`, `other`, ...),
    for a page that picks the form with `Intl.PluralRules`: each category's form is the catalog's for
    the first number CLDR puts in that category."""
    locale, forms = _locale(), {}
    for n in range(0, 1000):
        category = locale.plural_form(n)
        if category not in forms:
            forms[category] = translations(current()).ngettext(singular, plural, n)
    return forms


# -- formats -------------------------------------------------------------------------------------
def _locale(language: str | None = None) -> Locale:
    return Locale.parse(language or current())


def number(value: int | Decimal) -> str:
    return format_decimal(value, locale=_locale())


def listing(items: Sequence[str]) -> str:
    """`a, b and c` as the language joins a list (`a, b и c`); English without the serial comma,
    as TelePay's English (British) writes it."""
    language = current()
    return format_list(list(items), locale="en_GB" if language == SOURCE else language)


def percent(value: Decimal | None) -> str:
    """A percentage as the language writes it (`42.5%`, `42,5 %`); a dash when there is none."""
    if value is None:
        return "—"
    return format_percent(value / 100, locale=_locale(), decimal_quantization=False)


STARS = "XTR"  # Telegram Stars' currency code (Bot API, "Payments in Telegram Stars")


def money(amount: Decimal, currency: str) -> str:
    """A price or a donation: `$4.99` in English, `4,99 $` in Spanish. Fiat has its symbol;
    a coin (`usdttrc20`) its code after the amount; Telegram Stars (`XTR`) a star before it, `⭐250`."""
    code = currency.upper()
    if code == STARS:
        return f"⭐{format_decimal(amount.normalize(), locale=_locale(), decimal_quantization=False)}"
    if len(code) == 3 and code in _locale().currencies:
        return format_currency(amount, code, locale=_locale())
    return f"{format_decimal(amount.normalize(), locale=_locale(), decimal_quantization=False)} {code}"


def in_stars(amount: int | Decimal) -> str:
    """A number of Telegram Stars as `money` writes them: `⭐250`."""
    return money(Decimal(amount), STARS)


def day(moment: datetime) -> str:
    """`26 November 2026`, and in Russian `26 ноября 2026 г.` (UTC)."""  # noqa: RUF002
    moment = moment.astimezone(UTC)
    if current() == SOURCE:
        return format_date(moment, "d MMMM y", locale=_locale())
    return format_date(moment, "long", locale=_locale())


def when(moment: datetime) -> str:
    """`Thursday, 26 November 2026, 14:05 UTC`: the date written out, the time in UTC, saying so."""
    moment = moment.astimezone(UTC)
    pattern = "EEEE, d MMMM y" if current() == SOURCE else "full"
    date = format_date(moment, pattern, locale=_locale())
    time = format_time(moment, "HH:mm", tzinfo=UTC, locale=_locale())
    return t("{date}, {time} UTC", date=date, time=time)
