"""No language falls behind: the template is what the source says (`pybabel`'s extraction, run
here), and every language's catalog translates every text, with exactly the English placeholders,
the plural forms its language needs, and room in Telegram's limits for the longest values the
placeholders can take."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from babel.messages.catalog import Catalog, Message

from scripts import i18n as tool
from shared_schemas.telegram import MESSAGE_MAX, utf16_len
from telepay.core.i18n import LANGUAGES, SOURCE, catalog_path

TRANSLATED = [language for language in LANGUAGES if language != SOURCE]
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

# The longest value each placeholder can take (Telegram's and TelePay's own limits), so a
# translation that fits here fits in every message the bot sends.
_TITLE = "W" * 128  # a channel's title (ChannelDoc: 128)
_AMOUNT = "US$ 99,999.99"  # prices and donations are at most 99,999.99 (channels.settings)
_COIN_AMOUNT = "123,456.123456789 USDTTRC20"
_WHEN = "Wednesday, 29 September 2027, 23:59 UTC"
_NAME = "W" * 64 + " (@" + "w" * 32 + ")"  # a Telegram first name and @username
_PROBLEM = "E" * 300  # Telegram's and NowPayments' errors as kept (payout_problem: 300)
LONGEST: dict[str, str] = {
    "address": "W" * 100,  # the longest payout address (channels.wallets)
    "amount": _COIN_AMOUNT,
    "amount_line": "💵 Amount: " + _AMOUNT,
    "amounts": ", ".join([_COIN_AMOUNT] * 4),
    # -- exports --
    "book": "W" * 20,  # a book's name (Sales, Ledger, Payouts) in any language
    "period": "29 September 2027 – 29 September 2027 UTC",  # the books' period
    "body": "W" * 1024,  # the owner's description or donation message, at most 1,024
    "buyer": _NAME,
    "ceiling": _AMOUNT,
    "chat": _TITLE,
    # -- dashboard --
    "renewal": "100.0 %",  # a percentage, one decimal
    "churn": "100.0 %",
    "change": "+9,999,999%",  # the owner app's change against the period before
    "crypto": "US$ 9,999,999.99",  # a day's crypto revenue in the owner app
    "coin": "USDTTRC20",
    "text": "W" * 2500,  # a support message (cut to 2,500: the owner's card adds the orders)
    "rate": "US$ 99,999.99",  # what a Star costs a buyer (STARS_USD_PRICE), as money
    "titles": ", ".join([_TITLE] * 10),  # /paysupport names at most 10 channels
    "what": "W" * 40,  # a tier's label (at most 40) or its duration
    "coins": ", ".join(["USDT (ERC-20) from " + _AMOUNT] * 4),
    "count": "99,999",
    "converted": "99,999",  # trials converted in a window of /stats
    "started": "99,999",  # trials started in a window of /stats
    "currency": "USDTTRC20",
    "date": "Wednesday, 29 September 2027",
    "day": "29 September 2027",
    "description": "W" * 1024,
    "donate_link": "https://t.me/" + "w" * 32 + "?start=" + "w" * 64,
    "donations": _AMOUNT,
    "example": "999999999.99",  # what the owner typed (at most 9 digits and cents), shown back
    "donor": _NAME,
    "duration": "11 months",
    "ended": _WHEN,
    "first": "29 September 2027",  # the first of several dates (Stars held until ...)
    "expected": _COIN_AMOUNT,
    "format": "32 to 44 letters and digits (base58)",
    "high": "10,080",
    "length": "99,999",
    "id": "-1009999999999",
    "label": "W" * 32,  # a tier's label
    "last": "29 September 2027",
    "language": "Português (Brasil)",
    "languages": "en, ru, uk, es, pt_BR, tr, id, fa, ar",
    "least": _AMOUNT,
    "low": "1",
    "link": "https://t.me/" + "w" * 32 + "?start=" + "w" * 64,
    "maximum": _AMOUNT,
    "message": "W" * 500,  # the donation message, at most 500
    "minimum": _AMOUNT,
    "most": "1,024",
    "missing": _COIN_AMOUNT,
    "name": _NAME,
    "network": "Ethereum (ERC-20)",
    "stars": "⭐99,999,999.5",  # an owner's Stars earnings, net of the fee
    # -- support --
    "order_id": "tp1-sub-" + "W" * 24 + "-99999999999-t9-" + "w" * 10,  # an order id on the owner's card
    "status": "W" * 24,  # an order's or a subscription's status on the owner's card
    # -- announcements --
    "audience": "members who lapsed in the last 365 days",
    "sent": "9,999,999",
    "blocked": "9,999,999",
    "failed": "9,999,999",
    "usd": _AMOUNT,
    "new": "99,999",
    "number": "999",
    "offer": _TITLE,
    "offered": "Bitcoin, Ethereum (ERC-20), Tron (TRC-20), Solana, Litecoin",
    "paid": _COIN_AMOUNT,
    "previous": "W" * 100,
    "price": _AMOUNT,
    "problem": _PROBLEM,
    "reason": _PROBLEM,
    "renewed": "99,999",
    "rights": "post messages, edit messages, delete messages, invite users and ban users",
    "sales": _AMOUNT,
    "state": "finished",
    "tier": "W" * 32 + " · " + _AMOUNT + " · 11 months",
    "time": "23:59",
    "title": _TITLE,
    "until": _WHEN,
    "user_id": "9999999999",
    "wallet": "W" * 100,
    # -- gifts and owner grants --
    "given": "9" * 9,  # days given in a window (at most 3660 a grant)
    "grants": "9" * 9,
    "limit": "500",
    "username": "W" * 32,  # Telegram usernames are at most 32 characters
    "who": "@" + "W" * 32,
    "windows": "; ".join(["last 30 days: 999,999,999 grant(s), 999,999,999 day(s) given"] * 2),
    # -- promo codes --
    "charged": _AMOUNT,  # what a crypto invoice with a code is raised to (the least a coin takes)
    "code": "W" * 32,  # a promo code: at most 32 letters and digits
    "discount": _AMOUNT + " off",
    "full": _AMOUNT,
    "percent": "100",
    "revenue": _AMOUNT + " + ⭐99,999,999",
    "start": _WHEN,
    "tiers": ", ".join(["W" * 32] * 3),  # a channel has at most 3 tiers
    "uses": "1,000,000 uses of 1,000,000",
    "was": _AMOUNT,
}


def _catalog(language: str) -> Catalog:
    return tool.read(catalog_path(language), language)


def _messages(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


def _forms(message: Message) -> tuple[str, ...]:
    forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return tuple(str(form or "") for form in forms)


def _sources(message: Message) -> tuple[str, ...]:
    sources = message.id if isinstance(message.id, tuple | list) else (message.id,)
    return tuple(str(source) for source in sources)


def test_the_template_is_what_the_source_says() -> None:
    assert tool.TEMPLATE.exists(), "run `python -m scripts.i18n update`"
    assert tool.ids(tool.read(tool.TEMPLATE)) == tool.ids(tool.extracted()), (
        "the source has texts the catalogs lack (or lost some): run `python -m scripts.i18n update`, then translate"
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated(language: str) -> None:
    catalog = _catalog(language)
    assert tool.ids(catalog) == tool.ids(tool.read(tool.TEMPLATE)), (
        f"{language}: run `python -m scripts.i18n update`"
    )
    missing = [m.id for m in _messages(catalog) if not all(_forms(m)) or m.fuzzy]
    assert not missing, f"{language}: {len(missing)} texts untranslated or fuzzy, e.g. {missing[:3]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_are_the_englishs(language: str) -> None:
    wrong = []
    for message in _messages(_catalog(language)):
        english = set().union(*(PLACEHOLDER.findall(source) for source in _sources(message)))
        for form in _forms(message):
            if not form:  # not translated yet: test_every_text_is_translated says so
                continue
            found = set(PLACEHOLDER.findall(form))
            # A plural form may say the number in words ("один день"): {n} alone may be left out.
            if found != english and found != english - {"n"}:
                wrong.append((message.id, form))
    assert not wrong, f"{language}: placeholders differ from the English: {wrong[:3]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_forms_are_the_languages(language: str) -> None:
    catalog = _catalog(language)
    wrong = [m.id for m in _messages(catalog) if m.pluralizable and len(_forms(m)) != catalog.num_plurals]
    assert not wrong, f"{language} needs {catalog.num_plurals} plural forms: {wrong[:3]}"


@pytest.mark.parametrize("language", [SOURCE, *TRANSLATED])
def test_every_text_fits_telegram_with_the_longest_values(language: str) -> None:
    catalog = tool.read(tool.TEMPLATE) if language == SOURCE else _catalog(language)
    unknown: set[str] = set()
    too_long = []
    for message in _messages(catalog):
        for form in _sources(message) if language == SOURCE else _forms(message):
            names = set(PLACEHOLDER.findall(form))
            unknown |= names - set(LONGEST) - {"n"}
            filled = PLACEHOLDER.sub(lambda match: LONGEST.get(match[1], "9" * 12), form)
            if utf16_len(filled) > MESSAGE_MAX:
                too_long.append((message.id, utf16_len(filled)))
    assert not unknown, f"add the longest value of {sorted(unknown)} to LONGEST"
    assert not too_long, f"{language}: longer than Telegram takes: {too_long[:3]}"
