"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from babel.support import NullTranslations

from telepay.core import i18n
from telepay.core.users import forget_languages


class FakeCatalog(NullTranslations):
    """A language's catalog that "translates" every English text by prefixing it with the
    language: `[ru] Payment received…`. A test sees which language a text was made in."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def gettext(self, message: str) -> str:
        return f"[{self.language}] {message}"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return f"[{self.language}] {msgid1 if n == 1 else msgid2}"


@pytest.fixture
def fake_catalogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every language but English has a (fake) catalog; no language remembered from before."""
    forget_languages()
    monkeypatch.setattr(
        i18n,
        "translations",
        lambda language: NullTranslations() if language == i18n.SOURCE else FakeCatalog(language),
    )
    yield
    forget_languages()
