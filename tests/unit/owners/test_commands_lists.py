"""An owner's lists in the bot, `/channels` and `/stats`, with many channels: each answer fits one
Telegram message (4,096 UTF-16 code units, long titles and rights problems included), and the
"More ▸" button walks every channel exactly once, showing only the presser's own channels."""

from __future__ import annotations

import itertools
import re

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.telegram import MESSAGE_MAX, utf16_len
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram, Sent
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

OWNER, OTHER_OWNER, STRANGER = 7101, 7102, 7103
CHANNELS = 40
IDS = itertools.count(5000)
Rt = Runtime[TelegramWebhookSettings]


def _token(n: int) -> str:
    return f"Owls{n:04d}Chan"


def _title(n: int) -> str:
    """Titles as owners type them, some of them as long as the rules allow (128 characters) and
    made of emoji, which Telegram counts twice."""
    if n % 4 == 0:
        return "🦉" * 128
    if n % 4 == 1:
        return ("Night Owls Market Notes " * 6)[:128].strip()
    return f"Night Owls {n}"


@pytest.fixture
def rt() -> Rt:
    rt = runtime(TelegramWebhookSettings, MemoryStore())
    for n in range(CHANNELS):
        save_channel(
            rt.store,
            demo_channel(
                token=_token(n),
                owner=OWNER,
                title=_title(n),
                open_channel_id=-1003000000000 - 2 * n,
                closed_channel_id=-1003000000001 - 2 * n,
            ),
        )
    # The bot lost a right in a few closed channels: those channels show the problem.
    for n in range(0, CHANNELS, 7):
        closed = -1003000000001 - 2 * n
        lost = updates.my_chat_member(next(IDS), closed, OWNER, "administrator", ("can_invite_users",))
        handle_update(lost, rt)
    save_channel(rt.store, demo_channel(token="OtherOwner01", owner=OTHER_OWNER, title="Elsewhere"))
    return rt


def _say(rt: Rt, user_id: int, text: str) -> str:
    return handle_update(updates.start(next(IDS), text, user_id), rt)


def _press(rt: Rt, user_id: int, message: Sent, label: str) -> str:
    [data] = [b.callback_data for b in message.buttons() if b.text == label and b.callback_data]
    update = updates.press(next(IDS), data, user_id, message_id=message.message_id)
    return handle_update(update, rt)


def _labels(message: Sent) -> list[str]:
    return [b.text for b in message.buttons()]


def _walk(rt: Rt, user_id: int, command: str) -> list[str]:
    """The command's answer, then every page the More button brings, as the owner saw them."""
    telegram = fakes(rt)[0]
    _say(rt, user_id, command)
    message = telegram.to(user_id)[-1]
    pages = [message.text]
    while "More ▸" in _labels(message):
        _press(rt, user_id, message, "More ▸")
        message = telegram.to(user_id)[-1]
        pages.append(message.text)
    return pages


def _tokens_in(text: str) -> list[str]:
    return re.findall(r"\?start=(Owls\d{4}Chan)\b(?!_)", text)


def test_channels_come_in_pages_that_fit_and_walk_every_channel_once(rt: Rt) -> None:
    pages = _walk(rt, OWNER, "/channels")
    assert len(pages) > 1
    for text in pages:
        assert utf16_len(text) <= MESSAGE_MAX
    shown = [token for text in pages for token in _tokens_in(text)]
    assert sorted(shown) == sorted(_token(n) for n in range(CHANNELS))  # each exactly once
    assert f"Page 1 of {len(pages)}" in pages[0] and f"Page {len(pages)} of {len(pages)}" in pages[-1]
    # Every link is whole, long titles or not; a title is shortened, not the links.
    for text in pages:
        assert len(re.findall(r"\?start=Owls\d{4}Chan_DONATE", text)) == len(_tokens_in(text))
    everything = "\n".join(pages)
    assert "Night Owls 2 — 🟢 live" in everything
    assert "⚠️ rights problem" in everything and "missing the right to ban users" in everything
    assert "Elsewhere" not in everything and "OtherOwner01" not in everything


def test_more_edits_the_list_in_place_and_back_returns(rt: Rt) -> None:
    telegram = fakes(rt)[0]
    _say(rt, OWNER, "/channels")
    [listing] = telegram.to(OWNER)[-1:]
    first = listing.text
    assert _labels(listing) == ["More ▸"]
    assert _press(rt, OWNER, listing, "More ▸") == "channels page 2"
    assert telegram.to(OWNER)[-1] is listing and listing.text != first  # the same message, edited
    assert "Page 2 of" in listing.text
    assert _press(rt, OWNER, listing, "◂ Back") == "channels page 1"
    assert listing.text == first
    # Pressed twice (the page is shown already), nothing changes and nothing fails.
    again = updates.press(next(IDS), "lch:0", OWNER, message_id=listing.message_id)
    assert handle_update(again, rt) == "channels page 1" and listing.text == first
    # The message can no longer be edited (deleted meanwhile): the page comes as a new message.
    telegram.fail_method["edit_message_text"] = [TelegramBadRequest("Message to edit not found")]
    assert _press(rt, OWNER, listing, "More ▸") == "channels page 2"
    assert telegram.to(OWNER)[-1] is not listing and "Page 2 of" in telegram.to(OWNER)[-1].text
    assert all(answer[1] is None for answer in telegram.answers)  # every press answered


def test_stats_come_in_pages_that_fit_and_walk_every_channel_once(rt: Rt) -> None:
    pages = _walk(rt, OWNER, "/stats")
    assert len(pages) > 1
    for text in pages:
        assert utf16_len(text) <= MESSAGE_MAX
    blocks = [block for text in pages for block in text.split("\n\n") if block.startswith("📊 ")]
    assert len(blocks) == CHANNELS
    titles = [block.splitlines()[0].removeprefix("📊 ") for block in blocks]
    assert sorted(t for t in titles if t.startswith("Night Owls ") and t[11:].isdigit()) == sorted(
        _title(n) for n in range(CHANNELS) if n % 4 >= 2
    )
    for block in blocks:  # every channel's numbers are there in full, whatever its title
        assert "Active subscribers: 0" in block
        assert "Last 30 days: 0 new, 0 renewed, $0.00 in sales, $0.00 in donations" in block
    assert "Elsewhere" not in "\n".join(pages)


def test_a_forged_page_button_shows_the_presser_only_their_own(rt: Rt) -> None:
    """Callback data can be anything a client sends: a page number is all it carries, and whoever
    presses sees their own channels, or none."""
    telegram = fakes(rt)[0]
    for data in ("lch:1", "lst:1", "lch:0"):
        assert handle_update(updates.press(next(IDS), data, STRANGER), rt) == "no channels"
    assert all("Owls" not in m.text and "Elsewhere" not in m.text for m in telegram.to(STRANGER))
    # Another owner, under a message of the bot's in their chat: their own first (and only) page.
    _say(rt, OTHER_OWNER, "/help")
    [other] = telegram.to(OTHER_OWNER)
    forged = updates.press(next(IDS), "lch:3", OTHER_OWNER, message_id=other.message_id)
    assert handle_update(forged, rt) == "channels page 1"
    assert "Elsewhere" in other.text and not _tokens_in(other.text)
    for data in ("lch:x", "lch:", "lch:-1", "lst:99999999999"):
        assert handle_update(updates.press(next(IDS), data, OWNER), rt) == "unknown button"


def test_a_few_channels_are_one_page_without_buttons_to_walk() -> None:
    rt = runtime(TelegramWebhookSettings, MemoryStore(), owner_app_url="https://app.example/owner")
    save_channel(rt.store, demo_channel(token="OnlyOne00001", owner=OWNER))
    telegram: FakeTelegram = fakes(rt)[0]
    assert _say(rt, OWNER, "/channels") == "channels listed"
    assert _say(rt, OWNER, "/stats") == "stats shown"
    listing, stats = telegram.to(OWNER)
    for message in (listing, stats):
        assert "Page " not in message.text
        assert _labels(message) == ["📊 Open dashboard"]
    assert listing.text.startswith("Night Owls Club — 🟢 live")
