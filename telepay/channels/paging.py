"""Long lists in the bot (`/channels`, `/stats`, `/subscriptions`) as pages that each fit one
Telegram message, with "◂ Back" and "More ▸" buttons.

A page holds at most `PAGE_SIZE` items, and each item is cut to its share of Telegram's 4,096
UTF-16 code units, so a page fits whatever its items say (titles are shortened before that, see
`listed_title`, so an item is only cut in pathological cases). A page button carries only the
page's number: whoever presses it sees their own list, read again at that moment, never someone
else's. The button edits the message it is under into the asked page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared_schemas.config import TelegramSettings
from shared_schemas.telegram import MESSAGE_MAX, Button, Keyboard, TgCallbackQuery, utf16_len
from telepay.adapters.telegram_api import TelegramBadRequest, is_not_modified
from telepay.core.i18n import N_, number, t
from telepay.runtime import Runtime

T = TypeVar("T")
PAGE_SIZE = 10
LISTED_TITLE_MAX = 64  # UTF-16 code units of a title in a list or on a button
MORE = N_("More ▸")
BACK = N_("◂ Back")
PAGE_NUMBER_DIGITS = 4  # a page button's number: 0-9999


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # from 0
    count: int  # how many pages there are (at least 1)

    @property
    def footer(self) -> str:
        if self.count <= 1:
            return ""
        return t("Page {number} of {count}", number=number(self.number + 1), count=number(self.count))


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    """Page `number` of `items` (the last one when `number` is past the end)."""
    count = max(1, -(-len(items) // size))
    number = min(max(number, 0), count - 1)
    return Page(items[number * size : (number + 1) * size], number, count)


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-16 code units, ending with "…" when cut (never inside a
    character)."""
    if utf16_len(text) <= limit:
        return text
    kept, used = [], 1  # the ellipsis
    for char in text:
        used += utf16_len(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def listed_title(title: str) -> str:
    return clip(title, LISTED_TITLE_MAX)


def page_text(page: Page[Any], parts: Sequence[str], header: str = "", separator: str = "\n\n") -> str:
    """The page's message: the header, its items' texts (each cut to its share of the message) and
    "Page 2 of 4" when there are several."""
    fixed = utf16_len(header) + utf16_len(page.footer) + utf16_len(separator) * (len(parts) + 1)
    share = (MESSAGE_MAX - fixed) // max(len(parts), 1)
    body = separator.join(clip(part, share) for part in parts)
    return clip(separator.join(text for text in (header, body, page.footer) if text), MESSAGE_MAX)


def page_buttons(page: Page[Any], callback: Callable[[int], str]) -> list[Button]:
    """◂ Back and More ▸, where there is a page before and after; `callback(number)` is the button's
    data for a page."""
    row = []
    if page.number > 0:
        row.append(Button(t(BACK), callback_data=callback(page.number - 1)))
    if page.number + 1 < page.count:
        row.append(Button(t(MORE), callback_data=callback(page.number + 1)))
    return row


def page_number(part: str) -> int | None:
    """A page button's number, or None for anything a page button never carries."""
    ascii_digits = part.isascii() and part.isdigit()
    return int(part) if ascii_digits and len(part) <= PAGE_NUMBER_DIGITS else None


def pressed_message(query: TgCallbackQuery) -> int | None:
    """The message a page button was pressed under, when it is in the presser's own chat with the
    bot (a page is only ever shown there)."""
    message = query.message
    return message.message_id if message is not None and message.chat.id == query.from_user.id else None


def show_page(
    rt: Runtime[TelegramSettings], chat_id: int, message_id: int | None, text: str, keyboard: Keyboard | None
) -> None:
    """The page in place of the message its button is under, or as a new message (the first page,
    or when that message can no longer be edited). The same page again (a button pressed twice)
    changes nothing."""
    if message_id is not None:
        try:
            rt.telegram.edit_message_text(chat_id, message_id, text, keyboard)
            return
        except TelegramBadRequest as error:
            if is_not_modified(error):
                return
            # Deleted, or no longer editable: the page comes as a new message below.
    rt.telegram.send_message(chat_id, text, keyboard=keyboard)
