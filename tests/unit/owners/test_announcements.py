"""An owner's announcement from the bot: `/announce`, the message kept with its entities (or a photo
with its caption), the audience with its count, the button, the preview, Send; then the fan-out,
one task per recipient, each counted once (a retried task sends nothing), a user who blocked the
bot recorded and skipped next time, the owner told the result once; the daily limit; an operator's
stop. Members get their access through the owner's `/grant` (a user's path), the clock moves."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from shared_schemas.config import ExpireSubscriptionsSettings, TelegramWebhookSettings
from shared_schemas.documents import (
    AnnouncementAudience,
    AnnouncementButtonKind,
    AnnouncementSendState,
    AnnouncementStatus,
    SubscriptionDoc,
)
from shared_schemas.names import ClaimPurpose, Queue
from shared_schemas.queries import ANNOUNCEMENTS_OF_CHANNEL
from shared_schemas.tasks import AnnouncementStep, AnnouncementTask
from shared_schemas.telegram import TgMessage
from telepay.adapters.telegram_api import TelegramForbidden, TelegramUnavailable
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.channels.settings import Invalid
from telepay.core.claims import Claim
from telepay.core.clock import FrozenClock
from telepay.core.errors import Transient
from telepay.owners import announcements
from telepay.owners.announce_rules import (
    Content,
    check_form,
    check_url,
    clean_entities,
    content_of,
    in_audience,
    parse_url_button,
)
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram, RecordingTasks
from tests.harness import NOW, fakes, present, runtime
from tests.memory_store import MemoryStore

OWNER = 5001
MEMBERS = (7001, 7002, 7003, 7004, 7005)
OPEN, CLOSED = -1001000000001, -1001000000002
IDS = itertools.count(3000)
BOLD = [{"type": "bold", "offset": 0, "length": 4}]


# -- the rules -------------------------------------------------------------------------------------
def test_entities_are_kept_as_telegram_sent_them_known_types_only_within_the_text() -> None:
    text = "🦉 Big news: link"  # the owl is two UTF-16 units
    raw = [
        {"type": "bold", "offset": 0, "length": 11},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://example.com"},
        {"type": "date_time", "offset": 0, "length": 2},  # a type this bot does not know: dropped
        {"type": "italic", "offset": 14, "length": 9},  # beyond the end of the text: dropped
        {"type": "code", "offset": 0, "length": 2, "extra": "x"},  # only the fields its type has
    ]
    assert clean_entities(text, raw) == [
        {"type": "bold", "offset": 0, "length": 11},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://example.com"},
        {"type": "code", "offset": 0, "length": 2},
    ]
    assert clean_entities(text, "not a list") == []


def test_a_photo_keeps_its_largest_size_and_its_caption_entities() -> None:
    message = TgMessage.model_validate(
        {
            "message_id": 1,
            "chat": {"id": OWNER, "type": "private"},
            "photo": [
                {"file_id": "small", "width": 90, "height": 90},
                {"file_id": "large", "width": 1280, "height": 1280},
                {"file_id": "medium", "width": 320, "height": 320},
            ],
            "caption": "Meet us Friday",
            "caption_entities": [{"type": "italic", "offset": 8, "length": 6}],
        }
    )
    content = content_of(message)
    assert content == Content(
        photo_file_id="large",
        caption="Meet us Friday",
        caption_entities=[{"type": "italic", "offset": 8, "length": 6}],
    )
    too_long = message.model_copy(update={"caption": "x" * 1025})
    assert isinstance(content_of(too_long), Invalid)
    text = message.model_copy(update={"photo": [], "text": "y" * 4097})
    assert isinstance(content_of(text), Invalid)


def test_button_links_are_https_with_a_real_host() -> None:
    assert check_url("https://example.com/news?x=1") == "https://example.com/news?x=1"
    for wrong in ("http://example.com", "https://localhost", "javascript:alert(1)", "https://a b.com", ""):
        assert isinstance(check_url(wrong), Invalid), wrong
    labelled = parse_url_button("Schedule https://example.com/s")
    assert not isinstance(labelled, Invalid)
    assert (labelled.kind, labelled.label, labelled.url) == (
        AnnouncementButtonKind.URL,
        "Schedule",
        "https://example.com/s",
    )
    assert isinstance(parse_url_button("x" * 65 + " https://example.com"), Invalid)


def test_the_app_form_has_the_bots_limits() -> None:
    good = {"text": "Hello", "audience": "ending", "days": 7, "button": "renew", "request_id": "abcdefgh12"}
    checked = check_form(good)
    assert not isinstance(checked, list)
    assert checked[1:] == (AnnouncementAudience.ENDING, 7, "renew", None, "abcdefgh12")
    errors = check_form(good | {"text": "x" * 4097, "days": 0, "button": "url", "url": "http://x.com"})
    assert isinstance(errors, list)
    assert {e["field"] for e in errors} == {"text", "days", "url"}


# -- the bot ---------------------------------------------------------------------------------------
Rt = Runtime[TelegramWebhookSettings]


@pytest.fixture
def rt() -> Rt:
    return bot_runtime()


def bot_runtime() -> Rt:
    """The bot on the demo channel, its owner the creator of both chats."""
    store = MemoryStore()
    save_channel(store, demo_channel())
    rt = runtime(TelegramWebhookSettings, store)
    for chat in (OPEN, CLOSED):
        fakes(rt)[0].members[(chat, OWNER)] = ("creator", ())
    return rt


def said(rt: Rt, text: str, user_id: int = OWNER, entities: list[dict[str, Any]] | None = None) -> str:
    update = updates.start(next(IDS), text, user_id)
    if entities:
        update["message"]["entities"] = entities
    return handle_update(update, rt)


def pressed(rt: Rt, label: str) -> str:
    [button] = [b for b in tg(rt).to(OWNER)[-1].buttons() if b.text == label]
    return handle_update(updates.press(next(IDS), button.callback_data or "", OWNER), rt)


def tg(rt: Rt) -> FakeTelegram:
    return fakes(rt)[0]


def tasks(rt: Rt) -> RecordingTasks:
    return fakes(rt)[2]


def worker(rt: Rt) -> Runtime[ExpireSubscriptionsSettings]:
    """expire_subscriptions on the same store, Telegram and queue."""
    assert isinstance(rt.clock, FrozenClock)
    other = runtime(ExpireSubscriptionsSettings, rt.store, now=rt.clock.now())
    other.replace(telegram=rt.telegram, tasks=rt.tasks)
    other.clock = rt.clock
    return other


def run_queued(rt: Rt, done: set[str], attempt: int = 1) -> list[str]:
    """Run every announcement task queued and not run yet (the queue dispatching), in order."""
    outcomes = []
    while pending := [
        c for c in tasks(rt).created if c[3] not in done and isinstance(c[2], AnnouncementTask)
    ]:
        _, url, task, name = pending[0]
        assert url.endswith("/expire_subscriptions/task/announcement")
        done.add(name)
        outcomes.append(announcements.run_task(task, worker(rt), attempt))
    return outcomes


def members(rt: Rt) -> None:
    """7001 lapsed 1 day ago; 7002-7004 end within 7 days; 7005 has 60 days: through /grant."""
    assert isinstance(rt.clock, FrozenClock)
    assert said(rt, f"/grant {MEMBERS[0]} 2") == "access granted"
    rt.clock.advance(days=3)
    for member, days in zip(MEMBERS[1:], (3, 5, 6, 60), strict=True):
        assert said(rt, f"/grant {member} {days}") == "access granted"


def test_an_announcement_to_those_ending_soon_one_blocked_counted_once(rt: Rt) -> None:
    members(rt)
    assert said(rt, "/announce") == "asked ann_message"  # one channel: no channel question
    assert said(rt, "Sale ends Friday!", entities=BOLD) == "asked ann_audience"
    assert [b.text for b in tg(rt).to(OWNER)[-1].buttons()] == [
        "All active subscribers",
        "Ending within 7 days",
        "Lapsed in the last 30 days",
    ]  # no free trial on this channel: no trial audience
    assert said(rt, "ending 400") == "invalid ann_audience"
    assert pressed(rt, "Ending within 7 days") == "asked ann_button"
    assert said(rt, "http://example.com") == "invalid ann_button"
    assert pressed(rt, "Renew") == "asked ann_confirm"
    preview = tg(rt).to(OWNER)[-2]  # the message exactly as recipients get it, then the question
    assert (preview.text, preview.entities) == ("Sale ends Friday!", BOLD)
    assert [(b.text, b.url) for b in preview.buttons()] == [
        ("Renew", "https://t.me/TelePayTestBot?start=DemoChannel01")
    ]
    assert tg(rt).to(OWNER)[-1].text == (
        "Send it to 3 people in Night Owls Club (subscribers ending within 7 days)?"
    )
    assert pressed(rt, "📣 Send").startswith("announcement DemoChannel01-")
    assert tg(rt).to(OWNER)[-1].text == "📣 Sending to 3 subscribers…"
    [made] = rt.store.announcements.find(ANNOUNCEMENTS_OF_CHANNEL, channel_token="DemoChannel01")
    assert made.status is AnnouncementStatus.SENDING and made.entities == BOLD

    tg(rt).fail_method["send_formatted"] = [TelegramForbidden("Forbidden: bot was blocked by the user")]
    done: set[str] = set()
    outcomes = run_queued(rt, done)
    # The fan-out hands the audience out in a page (on the fan-out queue), which queues each send.
    assert outcomes[:3] == ["fanned out: 3 recipients, pages: 1", "page of 3: 3 queued", "tally 0: 3 to go"]
    [page] = [c for c in tasks(rt).created if c[0] == Queue.FAN_OUT.value]
    assert page[3].startswith(f"ann-{made.announcement_id}-page-")
    names = [c[3] for c in tasks(rt).created if c[3].startswith(f"ann-{made.announcement_id}-70")]
    assert sorted(names) == [f"ann-{made.announcement_id}-{m}" for m in MEMBERS[1:4]]
    assert outcomes[3:6] == ["blocked", "sent", "sent"]
    got = [m for m in tg(rt).sent if m.chat_id in MEMBERS and m.text == "Sale ends Friday!"]
    assert [(m.chat_id, m.text, m.entities) for m in got] == [
        (7003, "Sale ends Friday!", BOLD),
        (7004, "Sale ends Friday!", BOLD),
    ]
    assert present(rt.store.users.get("7002")).blocked_bot
    assert tg(rt).to(OWNER)[-1].text == "📣 Announcement sent: 2 sent, 1 blocked, 0 failed"
    after = present(rt.store.announcements.get(made.announcement_id))
    assert (after.status, after.total, after.sent, after.blocked, after.failed) == (
        AnnouncementStatus.DONE,
        3,
        2,
        1,
        0,
    )

    # A retried task (the same payload again), a retried fan-out, a repeated tally: nothing twice.
    again = AnnouncementTask(step=AnnouncementStep.SEND, announcement_id=made.announcement_id, user_id=7003)
    assert announcements.run_task(again, worker(rt), 2) == "already counted (sent)"
    fan_out = AnnouncementTask(step=AnnouncementStep.FAN_OUT, announcement_id=made.announcement_id)
    assert announcements.run_task(fan_out, worker(rt), 2) == "announcement done"
    tally = AnnouncementTask(step=AnnouncementStep.TALLY, announcement_id=made.announcement_id, round=9)
    assert announcements.run_task(tally, worker(rt), 1) == "done, owner told"
    assert len([m for m in tg(rt).sent if m.chat_id in MEMBERS and m.text == "Sale ends Friday!"]) == 2
    assert [m.text for m in tg(rt).to(OWNER)].count("📣 Announcement sent: 2 sent, 1 blocked, 0 failed") == 1

    # The next announcement skips the user who blocked the bot, without a send.
    assert said(rt, "/announce") == "asked ann_message"
    said(rt, "Thanks, everyone")
    assert pressed(rt, "All active subscribers") == "asked ann_button"
    assert pressed(rt, "No button") == "asked ann_confirm"
    assert tg(rt).to(OWNER)[-1].text == "Send it to 4 people in Night Owls Club (all active subscribers)?"
    pressed(rt, "📣 Send")
    run_queued(rt, done)
    assert sorted(m.chat_id for m in tg(rt).sent if m.text == "Thanks, everyone") == [OWNER, 7003, 7004, 7005]
    assert tg(rt).to(OWNER)[-1].text == "📣 Announcement sent: 3 sent, 1 blocked, 0 failed"

    # She unblocks the bot (Telegram's my_chat_member in her private chat): the next one reaches her.
    unblocked = updates.private_bot_status(next(IDS), 7002, blocked=False)
    assert handle_update(unblocked, rt) == "user unblocked the bot"
    assert not present(rt.store.users.get("7002")).blocked_bot
    said(rt, "/announce")
    said(rt, "See you Friday")
    pressed(rt, "All active subscribers")
    pressed(rt, "No button")
    assert tg(rt).to(OWNER)[-1].text == "Send it to 4 people in Night Owls Club (all active subscribers)?"
    pressed(rt, "📣 Send")
    run_queued(rt, done)
    assert sorted(m.chat_id for m in tg(rt).sent if m.text == "See you Friday") == [
        OWNER,
        7002,
        7003,
        7004,
        7005,
    ]
    assert tg(rt).to(OWNER)[-1].text == "📣 Announcement sent: 4 sent, 0 blocked, 0 failed"


def test_the_audience_is_counted_without_reading_a_subscription(
    rt: Rt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversation counts the audience three times (the choice, the preview, Send). Read one
    subscription at a time, a channel of 100,000 members kept the owner waiting minutes for "Add a
    button under it?"; counted by the database, it reads none."""
    members(rt)
    subscriptions = rt.store.subscriptions
    read, count = subscriptions.pages, subscriptions.count
    counting: list[bool] = []

    def counted(*args: Any, **kwargs: Any) -> int:  # the memory store counts by reading: allowed
        counting.append(True)
        try:
            return count(*args, **kwargs)
        finally:
            counting.pop()

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        if not counting:
            raise AssertionError("the audience's subscriptions were read to count them")
        return read(*args, **kwargs)

    monkeypatch.setattr(subscriptions, "pages", no_reading)
    monkeypatch.setattr(subscriptions, "count", counted)
    asked = {
        "All active subscribers": "4 people in Night Owls Club (all active subscribers)",
        "Ending within 7 days": "3 people in Night Owls Club (subscribers ending within 7 days)",
        "Lapsed in the last 30 days": "1 person in Night Owls Club (members who lapsed in the last 30 days)",
    }
    for choice, confirm in asked.items():
        said(rt, "/announce")
        said(rt, "Sale ends Friday!")
        assert pressed(rt, choice) == "asked ann_button"
        assert pressed(rt, "No button") == "asked ann_confirm"
        assert confirm in tg(rt).to(OWNER)[-1].text
        said(rt, "/cancel")


def test_a_user_who_blocks_the_bot_is_recorded_at_once(rt: Rt) -> None:
    assert (
        handle_update(updates.private_bot_status(next(IDS), 7001, blocked=True), rt) == "user blocked the bot"
    )
    assert present(rt.store.users.get("7001")).blocked_bot
    assert handle_update(updates.private_bot_status(next(IDS), 7001, blocked=False), rt) == (
        "user unblocked the bot"
    )
    assert not present(rt.store.users.get("7001")).blocked_bot


def test_lapsed_members_a_photo_and_a_link_button(rt: Rt) -> None:
    members(rt)
    said(rt, "/announce")
    photo = updates.start(next(IDS), "", OWNER)
    del photo["message"]["text"]
    photo["message"] |= {
        "photo": [
            {"file_id": "AgAD-small", "width": 90, "height": 90},
            {"file_id": "AgAD-big", "width": 800, "height": 800},
        ],
        "caption": "Come back: 20% off",
        "caption_entities": [{"type": "bold", "offset": 11, "length": 7}],
    }
    assert handle_update(photo, rt) == "asked ann_audience"
    assert said(rt, "lapsed 2") == "asked ann_button"
    assert said(rt, "Offer https://example.com/back") == "asked ann_confirm"
    preview = tg(rt).to(OWNER)[-2]
    assert (preview.photo, preview.text, preview.entities) == (
        "AgAD-big",
        "Come back: 20% off",
        [{"type": "bold", "offset": 11, "length": 7}],
    )
    assert [(b.text, b.url) for b in preview.buttons()] == [("Offer", "https://example.com/back")]
    pressed(rt, "📣 Send")
    run_queued(rt, set())
    [got] = [m for m in tg(rt).sent if m.chat_id in MEMBERS and m.photo]
    assert (got.chat_id, got.photo) == (7001, "AgAD-big")


def test_the_daily_limit_and_a_re_delivered_send(rt: Rt) -> None:
    members(rt)
    rt._settings = rt.settings.model_copy(update={"announcements_per_day": 1})
    said(rt, "/announce")
    said(rt, "Hello")
    pressed(rt, "All active subscribers")
    pressed(rt, "No button")
    send = next(b for b in tg(rt).to(OWNER)[-1].buttons() if b.text == "📣 Send").callback_data or ""
    update = updates.press(next(IDS), send, OWNER)
    assert handle_update(update, rt).startswith("announcement ")
    rt.store.claims.delete(
        Claim(ClaimPurpose.UPDATE, str(update["update_id"])).doc_id
    )  # Telegram delivers it again
    assert handle_update(update, rt).startswith("announcement ")
    assert len(rt.store.announcements.find(ANNOUNCEMENTS_OF_CHANNEL, channel_token="DemoChannel01")) == 1
    assert said(rt, "/announce") == "announcement refused (limit)"
    assert "try again tomorrow (UTC)" in tg(rt).to(OWNER)[-1].text
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.current = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # a new UTC day
    assert said(rt, "/announce") == "asked ann_message"


def test_stopped_sends_nothing_more_and_a_last_failure_counts_failed(rt: Rt) -> None:
    members(rt)
    said(rt, "/announce")
    said(rt, "Hello")
    pressed(rt, "All active subscribers")
    pressed(rt, "No button")
    pressed(rt, "📣 Send")
    [made] = rt.store.announcements.find(ANNOUNCEMENTS_OF_CHANNEL, channel_token="DemoChannel01")
    done: set[str] = set()
    fan_out = next(c for c in tasks(rt).created if c[3].endswith("-fanout"))
    done.add(fan_out[3])
    assert announcements.run_task(fan_out[2], worker(rt), 1) == "fanned out: 4 recipients, pages: 1"
    [page] = [c for c in tasks(rt).created if c[0] == Queue.FAN_OUT.value]
    done.add(page[3])
    assert announcements.run_task(page[2], worker(rt), 1) == "page of 4: 4 queued"
    first = AnnouncementTask(step=AnnouncementStep.SEND, announcement_id=made.announcement_id, user_id=7002)
    tg(rt).fail_method["send_formatted"] = [
        TelegramUnavailable("timed out"),
        TelegramUnavailable("timed out"),
    ]
    with pytest.raises(TelegramUnavailable):
        announcements.run_task(first, worker(rt), 1)  # retried by the queue
    assert announcements.run_task(first, worker(rt), announcements.LAST_ATTEMPT) == "failed"
    stopped = announcements.stop(rt.store, made.announcement_id, rt.clock.now())
    assert stopped is not None and stopped.status is AnnouncementStatus.STOPPED
    outcomes = run_queued(rt, done)
    assert "announcement stopped" in outcomes and "stopped" in outcomes
    assert not [m for m in tg(rt).sent if m.chat_id in MEMBERS and m.text == "Hello"]
    record = present(rt.store.announcement_sends.get(f"{made.announcement_id}-7002"))
    assert record.state is AnnouncementSendState.FAILED and record.problem == "timed out"


def test_trial_audience_is_the_members_on_their_trial() -> None:
    sub = SubscriptionDoc(
        channel_token="DemoChannel01",
        user_id=1,
        closed_channel_id=CLOSED,
        expires_at=NOW.replace(day=28),
        started_at=NOW,
        last_order_id="trial",
        updated_at=NOW,
        trial_ends_at=NOW.replace(day=28),
    )
    assert in_audience(sub, AnnouncementAudience.TRIAL, NOW)
    bought = sub.model_copy(update={"trial_ends_at": None})
    assert not in_audience(bought, AnnouncementAudience.TRIAL, NOW)


def test_a_retried_fan_out_and_a_page_that_failed_part_way_add_and_queue_nobody_twice(rt: Rt) -> None:
    members(rt)
    said(rt, "/announce")
    said(rt, "Hello")
    pressed(rt, "All active subscribers")
    pressed(rt, "No button")
    pressed(rt, "📣 Send")
    fan_out = next(c for c in tasks(rt).created if c[3].endswith("-fanout"))
    done = {fan_out[3]}
    assert announcements.run_task(fan_out[2], worker(rt), 1) == "fanned out: 4 recipients, pages: 1"
    assert announcements.run_task(fan_out[2], worker(rt), 2) == "fanned out: 4 recipients, pages: 1"
    [page] = [c for c in tasks(rt).created if c[0] == Queue.FAN_OUT.value]  # handed out once
    done.add(page[3])
    tasks(rt).unavailable_at = len(tasks(rt).created) + 2  # Cloud Tasks stops answering mid-page
    with pytest.raises(Transient):
        announcements.run_task(page[2], worker(rt), 1)  # answered 503: the queue runs it again
    assert announcements.run_task(page[2], worker(rt), 2) == "page of 4: 2 queued"
    outcomes = run_queued(rt, done)
    assert outcomes.count("sent") == 4
    got = sorted(m.chat_id for m in tg(rt).sent if m.chat_id in MEMBERS and m.text == "Hello")
    assert got == list(MEMBERS[1:])
    assert tg(rt).to(OWNER)[-1].text == "📣 Announcement sent: 4 sent, 0 blocked, 0 failed"
