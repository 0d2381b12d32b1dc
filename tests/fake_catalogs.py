"""A fake catalog for every language but English: each text reads `[<language>] <English>`, so a
test sees in which language a text was made (the real catalogs are the translators')."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from babel.support import NullTranslations

from telepay.core import i18n, users


class Marked(NullTranslations):
    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def gettext(self, message: str) -> str:
        return f"[{self.language}] {message}"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"[{self.language}] {singular if n == 1 else plural}"


def marked(language: str) -> NullTranslations:
    return NullTranslations() if language == i18n.SOURCE else Marked(language)


@pytest.fixture
def catalogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every language has its (marked) catalog; the languages users read are forgotten between tests."""
    monkeypatch.setattr(i18n, "translations", marked)
    users.forget_languages()
    yield
    users.forget_languages()
