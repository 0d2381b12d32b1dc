"""The message catalogs: extract TelePay's English texts and keep every language's catalog in step.

    python -m scripts.i18n extract     # telepay/locales/messages.pot from the source (t, tn, N_, Nn_)
    python -m scripts.i18n update      # every language's messages.po: new texts added, gone ones dropped
    python -m scripts.i18n check       # fails on a stale template or a catalog that lacks a text
    python -m scripts.i18n add <code>  # a new language's catalog (a Babel locale, e.g. `de`)

`make test` runs the checks (tests/repo/test_catalogs.py): the template must be what the source
says, and each catalog must translate every text, with the same placeholders and the plural forms
its language needs.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from telepay.core.i18n import DOMAIN, LANGUAGES, LOCALES, SOURCE, catalog_path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = LOCALES / f"{DOMAIN}.pot"
KEYWORDS = {"t": None, "tn": (1, 2), "N_": None, "Nn_": (1, 2)}
METHOD_MAP = [("**.py", "python")]


def extracted() -> Catalog:
    """Every text in telepay/ as the source has it, with where it is used."""
    catalog = Catalog(project="TelePay", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT / "telepay"),
        METHOD_MAP,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(f"telepay/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def ids(catalog: Catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


def extract() -> Catalog:
    catalog = extracted()
    _write(catalog, TEMPLATE)
    return catalog


def update() -> None:
    template = extract()
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        path = catalog_path(language)
        catalog = (
            read(path, language) if path.exists() else Catalog(locale=Locale.parse(language), domain=DOMAIN)
        )
        catalog.update(template, update_header_comment=False, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, path)


def problems() -> list[str]:
    """What `check` reports (the catalogs' own tests check the rest)."""
    found = []
    if not TEMPLATE.exists() or ids(read(TEMPLATE)) != ids(extracted()):
        found.append(f"{TEMPLATE.relative_to(ROOT)} is stale: run `python -m scripts.i18n update`")
    template = ids(extracted())
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        path = catalog_path(language)
        if not path.exists():
            found.append(f"no catalog for {language}: run `python -m scripts.i18n update`")
            continue
        catalog = read(path, language)
        missing = template - ids(catalog)
        if missing:
            found.append(f"{language}: {len(missing)} texts not in the catalog (run update, then translate)")
        untranslated = [
            m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
        ]
        if untranslated:
            found.append(f"{language}: {len(untranslated)} texts not translated")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("extract", "update", "check", "add"))
    parser.add_argument("language", nargs="?")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
    elif args.command == "update":
        update()
    elif args.command == "add":
        if not args.language:
            parser.error("add needs a language code")
        Locale.parse(args.language)  # a locale Babel knows, or an error
        path = catalog_path(args.language)
        catalog = Catalog(locale=Locale.parse(args.language), domain=DOMAIN)
        catalog.update(extract(), no_fuzzy_matching=True)
        _write(catalog, path)
        print(f"wrote {path.relative_to(ROOT)}: translate it, then add {args.language!r} to LANGUAGES")
    else:
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
