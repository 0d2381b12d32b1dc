"""The support threads' rules: which channels a buyer may ask about, how a thread grows (capped, a
re-delivered update adding nothing), who may write in it or close it."""

from __future__ import annotations

from datetime import timedelta

from shared_schemas.documents import (
    SUPPORT_MAPPED_KEPT,
    SUPPORT_MESSAGES_KEPT,
    SupportSide,
    SupportStatus,
    SupportThreadDoc,
)
from telepay.support import rules
from tests.harness import NOW

BUYER, OWNER = 4242, 5001


def _thread() -> SupportThreadDoc:
    return SupportThreadDoc(
        thread_id="4242-1",
        channel_token="DemoChannel01",
        channel_title="Night Owls Club",
        buyer_user_id=BUYER,
        buyer_name="Ada (id 4242)",
        owner_user_id=OWNER,
        origin="support",
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_buyer_asks_about_each_channel_once_and_at_most_ten() -> None:
    assert rules.channels_of(["A", "B", "A", "C"]) == ["A", "B", "C"]
    assert len(rules.channels_of(f"C{n}" for n in range(30))) == rules.CHANNELS_MAX


def test_a_message_is_trimmed_and_cut() -> None:
    assert rules.clean_text("  it broke \n") == "it broke"
    assert len(rules.clean_text("x" * 10_000)) == rules.TEXT_MAX
    assert rules.clean_text(None) == ""


def test_a_thread_keeps_its_newest_messages_and_counts_them_all() -> None:
    thread = _thread()
    for n in range(SUPPORT_MESSAGES_KEPT + 5):
        grown = rules.with_message(thread, SupportSide.BUYER, f"m{n}", NOW + timedelta(minutes=n), n + 1)
        assert grown is not None
        thread = grown
    assert len(thread.messages) == SUPPORT_MESSAGES_KEPT and thread.message_count == SUPPORT_MESSAGES_KEPT + 5
    assert thread.messages[0].text == "m5" and thread.updated_at == NOW + timedelta(
        minutes=SUPPORT_MESSAGES_KEPT + 4
    )


def test_a_redelivered_message_or_one_to_a_closed_thread_adds_nothing() -> None:
    thread = rules.with_message(_thread(), SupportSide.BUYER, "hi", NOW, 7)
    assert thread is not None
    assert rules.with_message(thread, SupportSide.BUYER, "hi", NOW, 7) is None
    closed = rules.closed(thread, SupportSide.OWNER, NOW)
    assert (
        closed is not None and closed.status is SupportStatus.CLOSED and closed.closed_by is SupportSide.OWNER
    )
    assert rules.with_message(closed, SupportSide.BUYER, "again", NOW, 8) is None
    assert rules.closed(closed, SupportSide.BUYER, NOW) is None  # a second Close changes nothing


def test_only_the_buyer_and_the_owner_are_sides_of_a_thread() -> None:
    thread = _thread()
    assert rules.side_of(thread, BUYER) is SupportSide.BUYER
    assert rules.side_of(thread, OWNER) is SupportSide.OWNER
    assert rules.side_of(thread, 999) is None
    assert rules.recipient(thread, rules.other(SupportSide.BUYER)) == OWNER


def test_the_mapped_messages_are_capped() -> None:
    thread = _thread()
    for n in range(SUPPORT_MAPPED_KEPT + 3):
        thread = thread.model_copy(update={"telegram_messages": rules.with_mapped(thread, f"{BUYER}:{n}")})
    assert (
        len(thread.telegram_messages) == SUPPORT_MAPPED_KEPT and thread.telegram_messages[0] == f"{BUYER}:3"
    )
    assert rules.with_mapped(thread, f"{BUYER}:3") == thread.telegram_messages
