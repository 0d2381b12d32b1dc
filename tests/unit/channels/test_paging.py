"""Pages of the bot's long lists: a page always fits one Telegram message, counted as Telegram
counts (UTF-16 code units), whatever its items say; cutting never splits a character."""

from __future__ import annotations

import pytest

from shared_schemas.telegram import MESSAGE_MAX, utf16_len
from telepay.channels.paging import (
    PAGE_SIZE,
    clip,
    listed_title,
    page_buttons,
    page_number,
    page_of,
    page_text,
)


def test_pages_cover_every_item_once_and_a_number_past_the_end_is_the_last() -> None:
    items = list(range(23))
    pages = [page_of(items, n) for n in range(3)]
    assert [list(p.items) for p in pages] == [items[:10], items[10:20], items[20:]]
    assert [p.footer for p in pages] == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    assert page_of(items, 99).number == 2 and page_of([], 0).count == 1
    assert page_of(items[:10], 0).footer == ""  # one page: no "Page 1 of 1"


def test_back_and_more_where_there_is_a_page_before_and_after() -> None:
    items = list(range(23))

    def labels(n: int) -> list[tuple[str, str | None]]:
        return [(b.text, b.callback_data) for b in page_buttons(page_of(items, n), lambda k: f"x:{k}")]

    assert labels(0) == [("More ▸", "x:1")]
    assert labels(1) == [("◂ Back", "x:0"), ("More ▸", "x:2")]
    assert labels(2) == [("◂ Back", "x:1")]
    assert page_buttons(page_of(items[:3], 0), lambda k: f"x:{k}") == []


@pytest.mark.parametrize("text", ["🦉" * 5000, "a" * 5000, "é🦉a" * 2000, "🦉" * 32 + "a"])
def test_clip_counts_utf16_and_never_splits_a_character(text: str) -> None:
    cut = clip(text, 64)
    assert utf16_len(cut) <= 64 and cut.endswith("…")
    assert text.startswith(cut[:-1].rstrip())
    assert clip("short", 64) == "short" and clip("a" * 64, 64) == "a" * 64


def test_a_page_of_pathological_items_still_fits() -> None:
    items = ["🦉" * 5000 + str(n) for n in range(PAGE_SIZE)]
    page = page_of(items * 3, 1)
    text = page_text(page, list(page.items), header="Your subscriptions:")
    assert utf16_len(text) <= MESSAGE_MAX
    assert text.startswith("Your subscriptions:") and text.endswith("Page 2 of 3")
    assert text.count("🦉…") == PAGE_SIZE  # every item is there, each cut to its share


def test_titles_in_lists_are_shortened() -> None:
    assert listed_title("Night Owls Club") == "Night Owls Club"
    assert utf16_len(listed_title("🦉" * 128)) <= 64


@pytest.mark.parametrize(
    ("part", "number"),
    [
        ("0", 0),
        ("12", 12),
        ("9999", 9999),
        ("10000", None),
        ("-1", None),
        ("²", None),
        ("", None),
        ("1.5", None),
    ],
)
def test_a_page_number_is_what_a_page_button_carries_or_nothing(part: str, number: int | None) -> None:
    assert page_number(part) == number
