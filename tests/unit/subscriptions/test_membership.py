"""Who is in a closed channel, and a way back in: chat_member updates keep `in_channel` true to
Telegram (in Telegram's order); a subscriber who is not in the channel gets a Join button from
`/start <token>` and `/subscriptions`, whose link is made only when tapped, for the presser's own
active subscription; `/subscriptions` comes in pages that each fit one message."""

from __future__ import annotations

from typing import Any

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.ids import subscription_id
from shared_schemas.telegram import MESSAGE_MAX, utf16_len
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core.clock import FrozenClock
from telepay.runtime import Runtime
from telepay.subscriptions import texts
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import Sent
from tests.harness import active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

USER = 4242
CLOSED = -1001000000002
SUB_ID = subscription_id("DemoChannel01", USER)


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    store.subscriptions.set(SUB_ID, active_subscription(USER, days=30))
    return store


def _member(update_id: int, status: str, date: int, chat: int = CLOSED) -> dict[str, Any]:
    member = {"user": updates.user(USER), "status": status}
    return {
        "update_id": update_id,
        "chat_member": {
            "chat": {"id": chat, "type": "channel", "title": "Members"},
            "from": updates.user(USER),
            "date": date,
            "old_chat_member": {"user": updates.user(USER), "status": "member"},
            "new_chat_member": member,
        },
    }


def _in_channel(store: MemoryStore) -> bool:
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None
    return sub.in_channel


def test_membership_follows_telegram_in_its_order(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    assert handle_update(_member(1, "left", date=100), rt) == "member left"
    assert not _in_channel(store)
    assert handle_update(_member(2, "member", date=50), rt) == "member older change ignored"
    assert not _in_channel(store)
    assert handle_update(_member(3, "member", date=200), rt) == "member joined"
    assert _in_channel(store)
    assert handle_update(_member(4, "kicked", date=300, chat=-999), rt) == "ignored (not a closed channel)"


def test_a_subscriber_who_left_gets_a_join_button_from_the_deep_link(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(_member(1, "left", date=100), rt)
    outcome = handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert outcome == "subscription shown; offer shown"
    status, offer = telegram.to(USER)
    assert "You're subscribed to Night Owls Club until Saturday, 26 December 2026" in status.text
    assert [(b.text, b.callback_data) for b in status.buttons()] == [
        ("Join Night Owls Club", "join:DemoChannel01")
    ]
    assert "create_join_request_link" not in telegram.names()  # made when tapped
    assert "buy:DemoChannel01:t1" in offer.callbacks()  # renewing stays one tap away
    assert _tap(rt, status, "Join Night Owls Club") == "join link sent"
    [link] = telegram.to(USER)[2:]
    assert link.button_urls() and "Join Night Owls Club" in link.buttons()[0].text
    assert [c for c in telegram.calls if c[0] == "create_join_request_link"] == [
        ("create_join_request_link", (CLOSED, f"again {USER}"))
    ]


def test_a_member_in_the_channel_gets_no_join_button(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert telegram.to(USER)[0].keyboard is None
    assert "create_join_request_link" not in telegram.names()


def test_subscriptions_lists_each_with_join_where_needed(store: MemoryStore) -> None:
    save_channel(store, demo_channel(token="SecondChan01", title="Second", closed_channel_id=-1002))
    ended = active_subscription(USER, days=-3, token="SecondChan01")
    store.subscriptions.set(subscription_id("SecondChan01", USER), ended)
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(_member(1, "left", date=100), rt)
    assert handle_update(updates.start(2, "/subscriptions", USER), rt) == "2 subscription(s) listed"
    [listing] = telegram.to(USER)
    assert listing.text.splitlines() == [
        "Your subscriptions:",
        "• Night Owls Club: until Saturday, 26 December 2026, 12:00 UTC",
        "• Second: ended on Monday, 23 November 2026, 12:00 UTC",
    ]
    assert listing.callbacks() == ["join:DemoChannel01"]  # Join only where the access is active
    assert listing.button_urls() == [] and "create_join_request_link" not in telegram.names()


def test_no_join_link_possible_tells_the_subscriber_and_the_owner(store: MemoryStore) -> None:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["create_join_request_link"] = [
        TelegramBadRequest("not enough rights to manage chat invite link")
    ]
    handle_update(_member(1, "left", date=100), rt)
    handle_update(updates.start(2, "/start DemoChannel01", USER), rt)
    assert _tap(rt, telegram.to(USER)[0], "Join Night Owls Club") == "join link unavailable"
    assert telegram.answers[-1][1:] == (texts.JOIN_UNAVAILABLE, True)
    assert any("invite users via link" in m.text for m in telegram.to(5001))
    # Once the owner has restored the right, the same button works.
    assert _tap(rt, telegram.to(USER)[0], "Join Night Owls Club") == "join link sent"


# -- many subscriptions ------------------------------------------------------------------------------
MANY = 25
_taps = iter(range(10, 10_000))


def _tap(rt: Runtime[TelegramWebhookSettings], message: Sent, label: str, user: int = USER) -> str:
    [data] = [b.callback_data for b in message.buttons() if b.text == label and b.callback_data]
    update = updates.press(next(_taps), data, user, message_id=message.message_id)
    return handle_update(update, rt)


def _club(n: int) -> str:
    """Titles as owners type them, some as long as the rules allow and made of emoji (which
    Telegram counts twice)."""
    return f"Club {n:02d} " + ("🦉" * 120 if n % 2 else "Night Owls")


def _many(store: MemoryStore) -> Runtime[TelegramWebhookSettings]:
    """A buyer subscribed to MANY channels: every third one left its channel, every fifth ended."""
    for n in range(MANY):
        token, closed = f"Club{n:04d}Owls", -1004000000001 - 2 * n
        channel = demo_channel(
            token=token, title=_club(n), open_channel_id=closed + 1, closed_channel_id=closed
        )
        save_channel(store, channel)
        sub = active_subscription(USER, days=-2 - n if n % 5 == 0 else 10 + n, token=token)
        sub = sub.model_copy(update={"closed_channel_id": closed, "in_channel": n % 3 != 0})
        store.subscriptions.set(subscription_id(token, USER), sub)
    return runtime(TelegramWebhookSettings, store)


def _needs_join(n: int) -> bool:
    return n % 5 != 0 and n % 3 == 0


def test_many_subscriptions_are_paged_and_listing_makes_no_link(store: MemoryStore) -> None:
    rt = _many(store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(2, "/subscriptions", USER), rt) == f"{MANY + 1} subscription(s) listed"
    message = telegram.to(USER)[-1]
    pages, joins = [message.text], list(message.callbacks())
    while "More ▸" in [b.text for b in message.buttons()]:
        assert _tap(rt, message, "More ▸").startswith("subscriptions page ")
        message = telegram.to(USER)[-1]
        pages.append(message.text)
        joins += message.callbacks()
    assert len(pages) > 1 and len(telegram.to(USER)) == 1  # one message, edited page by page
    assert all(utf16_len(text) <= MESSAGE_MAX for text in pages)
    lines = [line for text in pages for line in text.splitlines() if line.startswith("• ")]
    assert len(lines) == MANY + 1  # the demo channel's too, each exactly once
    assert sorted(line[2:9] for line in lines if line.startswith("• Club")) == [
        f"Club {n:02d}" for n in range(MANY)
    ]
    assert sorted(j for j in joins if j.startswith("join:")) == sorted(
        f"join:Club{n:04d}Owls" for n in range(MANY) if _needs_join(n)
    )
    assert "create_join_request_link" not in telegram.names()


def test_join_makes_the_link_when_tapped_and_reuses_it_while_it_lasts(store: MemoryStore) -> None:
    rt = _many(store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(2, "/subscriptions", USER), rt)
    listing = telegram.to(USER)[-1]
    label = next(b.text for b in listing.buttons() if b.callback_data == "join:Club0024Owls")
    assert _tap(rt, listing, label) == "join link sent"
    made = [c for c in telegram.calls if c[0] == "create_join_request_link"]
    assert made == [("create_join_request_link", (-1004000000049, f"again {USER}"))]
    first = telegram.to(USER)[-1]
    assert "Club 24" in first.text and len(first.button_urls()) == 1
    assert _tap(rt, listing, label) == "join link sent"  # tapped again: the same link
    assert telegram.to(USER)[-1].button_urls() == first.button_urls()
    assert telegram.names().count("create_join_request_link") == 1
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.advance(hours=13)  # past half the link's 24 hours: a fresh one
    assert _tap(rt, listing, label) == "join link sent"
    assert telegram.names().count("create_join_request_link") == 2
    assert telegram.to(USER)[-1].button_urls() != first.button_urls()


def test_join_checks_the_subscription_is_still_active_when_tapped(store: MemoryStore) -> None:
    rt = _many(store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(2, "/subscriptions", USER), rt)
    listing = telegram.to(USER)[-1]
    label = next(b.text for b in listing.buttons() if b.callback_data == "join:Club0024Owls")
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.advance(days=35)  # Club 24's access (34 days) ended meanwhile
    assert _tap(rt, listing, label) == "join refused (no active subscription)"
    assert telegram.answers[-1][1:] == (texts.JOIN_NOT_ACTIVE, True)
    assert "create_join_request_link" not in telegram.names()
    assert telegram.to(USER) == [listing]


def test_a_forged_button_shows_nothing_of_anyone_else(store: MemoryStore) -> None:
    """Callback data can be anything a client sends: whoever presses sees their own subscriptions
    and gets a link only for their own active one."""
    rt = _many(store)
    telegram, _, _ = fakes(rt)
    stranger = 4343
    for data in ("join:Club0003Owls", "join:DemoChannel01", "join:nope", "join:Club0003Owls:4242"):
        outcome = handle_update(updates.press(next(_taps), data, stranger), rt)
        assert outcome in ("join refused (no active subscription)", "unknown button"), data
    assert handle_update(updates.press(next(_taps), "lsu:1", stranger), rt) == "no subscriptions"
    assert "create_join_request_link" not in telegram.names()
    assert all("Club" not in m.text and not m.button_urls() for m in telegram.to(stranger))
    assert telegram.to(USER) == []
    for data in ("lsu:x", "lsu:", "lsu:1:2"):
        assert handle_update(updates.press(next(_taps), data, USER), rt) == "unknown button"
