"""Owners' announcements: a message to a channel's subscribers, sent as direct messages on the
paced `telegram-actions` queue (the rules are `announce_rules`; the bot's conversation is
`announce_talk`, the owner app's form is in `telepay.owners.app`).

- Send (bot or app) makes the announcement once (a claim on the update or the form's request id)
  in one of the channel's slots of the day (`<token>-<YYYYMMDD>-<n>`, created if absent: the
  `ANNOUNCEMENTS_PER_DAY` limit holds under concurrent sends), then queues its fan-out.
- The fan-out (a task, `ann-<id>-fanout`) reads the audience and hands it out in pages of 500
  recipients, each a task on the `fan-out` queue named by its recipients; a page creates one
  `announcement_sends` record per recipient (create-if-absent) and queues one task per recipient
  named `ann-<id>-<user id>`: a retried fan-out or page adds nobody twice and queues nothing twice,
  and 100,000 recipients are queued by many pages side by side, not by one long task.
- A recipient's task sends the message (entities as the owner's message had them, never a
  parse_mode), unless the announcement was stopped or the recipient blocked the bot, and moves its
  record from `queued` to its outcome in a transaction, once (a retried task sends nothing).
  Telegram's 403 marks the user as having blocked the bot; a 400 counts as failed at once; other
  failures are retried by the queue and counted failed at its last attempt.
- A tally (a task every few seconds) counts the records into the announcement with the database's
  count (no per-recipient write to one hot document, no record read); when every recipient the
  fan-out handed out has its record and is counted, the owner is told once.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from shared_schemas.config import ExpireSubscriptionsSettings, OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.documents import (
    AnnouncementAudience,
    AnnouncementButton,
    AnnouncementButtonKind,
    AnnouncementDoc,
    AnnouncementSendDoc,
    AnnouncementSendState,
    AnnouncementStatus,
    ChannelDoc,
)
from shared_schemas.ids import deep_link, offer_start
from shared_schemas.names import QUEUES, ClaimPurpose, Queue
from shared_schemas.queries import SENDS_OF_ANNOUNCEMENT, SUBSCRIPTIONS_OF_CHANNEL_BY_EXPIRY
from shared_schemas.tasks import AUDIENCE_PAGE_RECIPIENTS, AnnouncementStep, AnnouncementTask
from shared_schemas.telegram import Button
from telepay.adapters.tasks_queue import enqueue_to_self
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.core.errors import Transient
from telepay.core.fanout import page_name
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.core.users import mark_blocked, speaking_to
from telepay.owners import announce_texts as say
from telepay.owners.announce_rules import Content, in_audience, is_over, slot_ids, windows
from telepay.runtime import Runtime
from telepay.subscriptions.gifts import tell_once

log = get_logger("telepay.announcements")
SenderRt = Runtime[TelegramWebhookSettings] | Runtime[OwnerAppSettings]
TaskRt = Runtime[ExpireSubscriptionsSettings]
AnyRt = SenderRt | TaskRt
TASK_PATH = "/task/announcement"  # expire_subscriptions' path for these tasks (its own are on /task)
TALLY_EVERY = timedelta(seconds=3)
PAGE_THREADS = 4  # a page queues its recipients a few at a time: the paced sends run beside it
LAST_ATTEMPT = next(spec.max_attempts for spec in QUEUES if spec.name is Queue.TELEGRAM_ACTIONS)


# -- who gets it -------------------------------------------------------------------------------------
def recipient_pages(
    store: Store,
    token: str,
    audience: AnnouncementAudience,
    days: int | None,
    now: datetime,
    page_size: int = 500,
) -> Iterator[list[int]]:
    """The audience's user ids, a store page at a time."""
    for window in windows(audience, days, now):
        for page in store.subscriptions.pages(
            SUBSCRIPTIONS_OF_CHANNEL_BY_EXPIRY,
            page_size=page_size,
            channel_token=token,
            status=window.status,
            above=window.above,
            below=window.below,
        ):
            yield [stored.doc.user_id for stored in page if in_audience(stored.doc, audience, now)]


def audience_count(
    store: Store, token: str, audience: AnnouncementAudience, days: int | None, now: datetime
) -> int:
    """How many the audience has, counted by the database: no subscription is read (the owner's
    conversation asks three times, and reading a channel of 100,000 members took minutes on the
    emulator and 100,000 reads a question on Firestore). Only the trial audience reads its window:
    which active members are on their trial, a query cannot say."""
    if audience is AnnouncementAudience.TRIAL:
        return sum(len(page) for page in recipient_pages(store, token, audience, days, now))
    return sum(
        store.subscriptions.count(
            SUBSCRIPTIONS_OF_CHANNEL_BY_EXPIRY,
            channel_token=token,
            status=window.status,
            above=window.above,
            below=window.below,
        )
        for window in windows(audience, days, now)
    )


# -- what is sent ------------------------------------------------------------------------------------
def renew_button(bot_username: str, token: str) -> AnnouncementButton:
    return AnnouncementButton(
        kind=AnnouncementButtonKind.RENEW, url=deep_link(bot_username, offer_start(token))
    )


def keyboard_of(button: AnnouncementButton | None) -> list[list[Button]] | None:
    """The button in the current language (Renew, the owner's label, or Open)."""
    if button is None:
        return None
    label = t(say.RENEW) if button.kind is AnnouncementButtonKind.RENEW else button.label or t(say.OPEN)
    return [[Button(label, url=button.url)]]


def deliver(rt: AnyRt, chat_id: int, content: Content, button: AnnouncementButton | None) -> None:
    """The announcement in one chat, exactly as the owner wrote it (the preview too)."""
    keyboard = keyboard_of(button)
    if content.photo_file_id:
        rt.telegram.send_photo(
            chat_id, content.photo_file_id, content.caption, content.caption_entities, keyboard=keyboard
        )
    else:
        rt.telegram.send_formatted(chat_id, content.text or "", content.entities, keyboard=keyboard)


def content_of(announcement: AnnouncementDoc) -> Content:
    return Content(
        text=announcement.text,
        entities=announcement.entities,
        photo_file_id=announcement.photo_file_id,
        caption=announcement.caption,
        caption_entities=announcement.caption_entities,
    )


# -- Send ----------------------------------------------------------------------------------------------
def make(
    rt: SenderRt,
    owner_id: int,
    channel: ChannelDoc,
    content: Content,
    audience: AnnouncementAudience,
    days: int | None,
    button: AnnouncementButton | None,
    key: str,
    via: str,
) -> AnnouncementDoc | str:
    """The announcement made and its fan-out queued, once per `key` (a re-delivered update or a
    resent form finds it); a refusal in words when today's slots are taken."""
    store, now = rt.store, rt.clock.now()
    with rt.claims.hold(ClaimPurpose.ANNOUNCEMENT, key, keep_for=timedelta(days=2)) as claim:
        if claim.done_before:
            earlier = store.announcements.get(claim.previous_result or "")
            if earlier is None:
                return say.limit_reached(channel.title, rt.settings.announcements_per_day)
            queue_fan_out(rt, earlier.announcement_id)  # queued before, or queued now if that failed
            return earlier
        doc_fields = content.as_data() | {
            "channel_token": channel.token,
            "owner_user_id": owner_id,
            "button": button,
            "audience": audience,
            "audience_days": days,
            "via": via,
            "created_at": now,
        }
        made: AnnouncementDoc | None = None
        for slot in slot_ids(channel.token, now, rt.settings.announcements_per_day):
            doc = AnnouncementDoc.model_validate(doc_fields | {"announcement_id": slot})
            if store.announcements.create(slot, doc):
                made = doc
                break
        if made is None:
            claim.result = ""
            return say.limit_reached(channel.title, rt.settings.announcements_per_day)
        claim.result = made.announcement_id
    queue_fan_out(rt, made.announcement_id)
    started = {"status": AnnouncementStatus.SENDING, "started_at": now}
    store.announcements.update(made.announcement_id, started)
    return made.model_copy(update=started)


def _enqueue(rt: AnyRt, task: AnnouncementTask, name: str, at: datetime | None = None) -> bool:
    url = rt.settings.expire_subscriptions_url
    return enqueue_to_self(rt.tasks, Queue.TELEGRAM_ACTIONS, url, task, name, at, path=TASK_PATH)


def queue_fan_out(rt: AnyRt, announcement_id: str) -> bool:
    task = AnnouncementTask(step=AnnouncementStep.FAN_OUT, announcement_id=announcement_id)
    return _enqueue(rt, task, f"ann-{announcement_id}-fanout")


def send_task_name(announcement_id: str, user_id: int) -> str:
    return f"ann-{announcement_id}-{user_id}"


def send_id(announcement_id: str, user_id: int) -> str:
    return f"{announcement_id}-{user_id}"


# -- the tasks ---------------------------------------------------------------------------------------
def run_task(task: AnnouncementTask, rt: TaskRt, attempt: int) -> str:
    announcement = rt.store.announcements.get(task.announcement_id)
    if announcement is None:
        return "no such announcement"
    if task.step is AnnouncementStep.FAN_OUT:
        return fan_out(rt, announcement)
    if task.step is AnnouncementStep.TALLY:
        return tally(rt, announcement, task.round)
    if task.step is AnnouncementStep.PAGE:
        return queue_page(rt, announcement, task.user_ids)
    if task.user_id is None:
        return "no recipient"
    return send_one(rt, announcement, task.user_id, attempt)


def fan_out(rt: TaskRt, announcement: AnnouncementDoc) -> str:
    """The audience handed out in pages of recipients (`page`, on the `fan-out` queue, each named by
    its recipients: a retried fan-out hands out nothing twice); then the first tally."""
    if announcement.status in (AnnouncementStatus.STOPPED, AnnouncementStatus.DONE):
        return f"announcement {announcement.status.value}"
    store, ann_id, now = rt.store, announcement.announcement_id, rt.clock.now()
    recipients = pages = 0
    url = rt.settings.expire_subscriptions_url
    for users in recipient_pages(
        store,
        announcement.channel_token,
        announcement.audience,
        announcement.audience_days,
        now,
        page_size=AUDIENCE_PAGE_RECIPIENTS,
    ):
        if not users:
            continue
        task = AnnouncementTask(step=AnnouncementStep.PAGE, announcement_id=ann_id, user_ids=users)
        name = page_name(f"ann-{ann_id}-page", [str(user) for user in users])
        enqueue_to_self(rt.tasks, Queue.FAN_OUT, url, task, name, path=TASK_PATH)
        recipients += len(users)
        pages += 1
    store.announcements.update(ann_id, {"queued_all": True, "recipients": recipients})
    _queue_tally(rt, ann_id, 0, now)
    return f"fanned out: {recipients} recipients, pages: {pages}"


def queue_page(rt: TaskRt, announcement: AnnouncementDoc, users: list[int]) -> str:
    """One page of recipients: a record and a named task each (a retried page finds its records
    and its task names: nobody is added or queued twice)."""
    if announcement.status in (AnnouncementStatus.STOPPED, AnnouncementStatus.DONE):
        return f"announcement {announcement.status.value}"
    store, ann_id, now = rt.store, announcement.announcement_id, rt.clock.now()

    def add(user: int) -> bool:
        record = AnnouncementSendDoc(announcement_id=ann_id, user_id=user, created_at=now)
        return store.announcement_sends.create(send_id(ann_id, user), record)

    def queue(user: int) -> bool:
        task = AnnouncementTask(step=AnnouncementStep.SEND, announcement_id=ann_id, user_id=user)
        return _enqueue(rt, task, send_task_name(ann_id, user))

    with ThreadPoolExecutor(PAGE_THREADS) as pool:
        list(pool.map(add, users))  # the records first: a tally counts a recipient once queued
        queued = sum(pool.map(queue, users))
    return f"page of {len(users)}: {queued} queued"


def _queue_tally(rt: TaskRt, ann_id: str, number: int, now: datetime) -> None:
    task = AnnouncementTask(step=AnnouncementStep.TALLY, announcement_id=ann_id, round=number)
    _enqueue(rt, task, f"ann-{ann_id}-tally-{number}", now + TALLY_EVERY if number else None)


def send_one(rt: TaskRt, announcement: AnnouncementDoc, user_id: int, attempt: int) -> str:
    """One recipient's message, sent and counted once."""
    store, record_id = rt.store, send_id(announcement.announcement_id, user_id)
    record = store.announcement_sends.get(record_id)
    if record is None:
        return "not a recipient"
    if record.state is not AnnouncementSendState.QUEUED:
        return f"already counted ({record.state.value})"
    if announcement.status is AnnouncementStatus.STOPPED:
        return "announcement stopped"
    user = store.users.get(str(user_id))
    if user is not None and user.blocked_bot:
        return _count(rt, record_id, AnnouncementSendState.BLOCKED, None)
    with rt.claims.hold(ClaimPurpose.ANNOUNCEMENT_SEND, record_id) as claim:
        if claim.done_before:
            return "sent before"
        problem: str | None = None
        try:
            with speaking_to(store, user_id):
                deliver(rt, user_id, content_of(announcement), announcement.button)
            state = AnnouncementSendState.SENT
        except TelegramForbidden:
            mark_blocked(store, rt.clock, user_id)
            state = AnnouncementSendState.BLOCKED
        except TelegramBadRequest as error:  # the same request fails the same way
            state, problem = AnnouncementSendState.FAILED, str(error)
        except Transient as error:
            if attempt < LAST_ATTEMPT:
                raise  # the queue tries again (the claim is released)
            state, problem = AnnouncementSendState.FAILED, str(error)

        def work(tx: Tx) -> tuple[str, None]:
            return _counted(tx, store, record_id, state, problem, rt.clock.now()), None

        return rt.claims.transaction_finishing(claim, work)[0]


def _counted(
    tx: Tx, store: Store, record_id: str, state: AnnouncementSendState, problem: str | None, now: datetime
) -> str:
    current = tx.get(store.announcement_sends, record_id)
    if current is None or current.state is not AnnouncementSendState.QUEUED:
        return "already counted"
    tx.set(
        store.announcement_sends,
        record_id,
        current.model_copy(update={"state": state, "done_at": now, "problem": problem}),
    )
    return state.value


def _count(rt: TaskRt, record_id: str, state: AnnouncementSendState, problem: str | None) -> str:
    now = rt.clock.now()
    return rt.store.transaction(lambda tx: _counted(tx, rt.store, record_id, state, problem, now))


def counts_of(store: Store, ann_id: str) -> dict[AnnouncementSendState, int]:
    """The recipients by outcome, counted by the database (a tally of 100,000 reads none)."""
    return {
        state: store.announcement_sends.count(SENDS_OF_ANNOUNCEMENT, announcement_id=ann_id, state=state)
        for state in AnnouncementSendState
    }


def tally(rt: TaskRt, announcement: AnnouncementDoc, number: int) -> str:
    """The outcomes counted into the announcement; the owner told once when all are in, else the
    next tally queued."""
    store, ann_id, now = rt.store, announcement.announcement_id, rt.clock.now()
    counts = counts_of(store, ann_id)
    fields: dict[str, object] = {
        "total": sum(counts.values()),
        "sent": counts[AnnouncementSendState.SENT],
        "blocked": counts[AnnouncementSendState.BLOCKED],
        "failed": counts[AnnouncementSendState.FAILED],
    }

    def work(tx: Tx) -> AnnouncementDoc | None:
        current = tx.get(store.announcements, ann_id)
        if current is None:
            return None
        after = current.model_copy(update=fields)
        if current.status is AnnouncementStatus.SENDING and is_over(after):
            after = after.model_copy(update={"status": AnnouncementStatus.DONE, "finished_at": now})
        tx.set(store.announcements, ann_id, after)
        return after

    after = store.transaction(work)
    if after is None:
        return "no such announcement"
    if after.status is AnnouncementStatus.DONE:
        tell_once(
            rt,
            f"announcement:{ann_id}",
            after.owner_user_id,
            lambda: say.finished(after.sent, after.blocked, after.failed),
        )
        return "done, owner told"
    if after.status is AnnouncementStatus.STOPPED:
        return "stopped"
    _queue_tally(rt, ann_id, number + 1, now)
    return f"tally {number}: {counts[AnnouncementSendState.QUEUED]} to go"


# -- operators -----------------------------------------------------------------------------------------
def stop(store: Store, ann_id: str, now: datetime) -> AnnouncementDoc | None:
    """Stop a running announcement: its recipients' tasks send nothing more (None: no such one)."""

    def work(tx: Tx) -> AnnouncementDoc | None:
        current = tx.get(store.announcements, ann_id)
        if current is None:
            return None
        if current.status in (AnnouncementStatus.DONE, AnnouncementStatus.STOPPED):
            return current
        after = current.model_copy(update={"status": AnnouncementStatus.STOPPED, "finished_at": now})
        tx.set(store.announcements, ann_id, after)
        return after

    return store.transaction(work)
