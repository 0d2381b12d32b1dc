"""expire_subscriptions' flow: the every-minute sweep, and the reminder and removal tasks it queues
(what is due when, and what a removal does, are the pure rules of `expiry_rules`).

The sweep streams the ids of the subscriptions whose `next_action_at` is due (one query, no
other field), leases them and hands them out in pages: the first it plans itself, the others go
in page tasks on the `fan-out` queue (`run_page`), which read their subscriptions and queue one
named task per due action (names make a repeated sweep harmless; the sweep itself is claimed on
its scheduled time). Tasks run on the paced `telegram-actions` queue and
re-check the subscription before acting: a renewal may have raced them. A 429 reschedules the task
after `retry_after` without counting as a failure; lost rights are recorded and the owner told once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import ChannelDoc, QueueHorizonDoc, SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import join_callback, renew_callback, subscription_id, support_callback
from shared_schemas.names import ClaimPurpose, Queue, queue_spec
from shared_schemas.queries import SUBSCRIPTIONS_DUE
from shared_schemas.tasks import (
    SWEEP_PAGE_ACTIONS,
    DueSubscription,
    ExpiryAction,
    ExpiryPageTask,
    ExpiryTask,
)
from shared_schemas.telegram import Button
from telepay.adapters.tasks_queue import enqueue_to_self
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden, TelegramRetryAfter
from telepay.channels.day_counts import count_expired
from telepay.channels.lookup import load_channel, load_channel_cached
from telepay.channels.notices import notify_owner_once
from telepay.core.errors import ClaimBusy
from telepay.core.fanout import chunked_stream, page_name
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Tx, array_union
from telepay.core.users import mark_blocked, speaking_to
from telepay.runtime import Runtime
from telepay.subscriptions import texts
from telepay.subscriptions.expiry_rules import (
    QUEUED_LEASE,
    STAR_RENEWAL_WAIT,
    DueAction,
    Removal,
    next_action,
    parse_offsets,
    queued_lease,
    reminder_key,
    removal_step,
    renews_by_itself,
    task_name,
)
from telepay.subscriptions.trial_rules import is_trial

log = get_logger("telepay.expiry")
Rt = Runtime[ExpireSubscriptionsSettings]
ACTIONS_PER_SECOND = queue_spec(Queue.TELEGRAM_ACTIONS).max_dispatches_per_second
PAGE_PATH = "/task/page"  # expire_subscriptions' path for the fan-out queue's sweep pages
# A removal Telegram refused is tried again: each minute while the bot lacks rights (one probe per
# channel and sweep, so a channel's backlog goes out within two minutes of the rights coming back),
# with a growing wait for a refusal about the member (e.g. an administrator), up to an hour.
RIGHTS_RETRY = timedelta(minutes=1)
MEMBER_RETRY_MAX = timedelta(hours=1)
SWEEP_LEASE = timedelta(minutes=3)  # a sweep's claim on its schedule, and on running at all
RUNNING = "running"  # the claim key of the sweep in progress (schedule keys are times)
# A run beside another waits this long for it to end: with a sweep of 100,000 (two minutes on
# this machine) it stays inside the function's 180 s timeout.
WAIT_FOR_RUNNING = timedelta(seconds=60)
RUNNING_POLL_SECONDS = 1.0
ENQUEUE_THREADS = 16
PAGE_THREADS = 4  # a page task queues its actions a few at a time: the paced tasks run beside it
HORIZON_EVERY = 5_000  # actions leased between two writes of the paced queue's horizon
GONE_MEMBER = ("user not found", "user_not_participant", "participant_id_invalid", "member not found")
LOST_RIGHTS = (
    "not enough rights",
    "chat_admin_required",
    "need administrator rights",
    "bot is not a member",
    "chat not found",
    "bot was kicked",
    "have no rights",
)


# -- the sweep -----------------------------------------------------------------------------------
def sweep(rt: Rt, scheduled: str) -> dict[str, int]:
    """One scheduled run. Returns counts for the log. A run of the same schedule in progress
    elsewhere makes this one a duplicate (the next minute's run picks up whatever it leaves)."""
    key = scheduled or rt.clock.now().isoformat()
    return rt.claims.scheduled_run(ClaimPurpose.SWEEP, key, SWEEP_LEASE, lambda: _alone(rt))


def _alone(rt: Rt) -> dict[str, int]:
    """One sweep at a time, whatever minute it was scheduled for: a sweep of 100,000 due takes
    about two minutes, and the next minute's, started beside it, streamed the same due ids before
    the first had leased them and handed every page out again (1,197 page tasks for 500 pages,
    138,528 actions created twice and refused by name). A run that finds another running waits for
    it (up to WAIT_FOR_RUNNING), then sweeps what is left; one that outlives its lease (it
    crashed) is taken over."""
    give_up = time.monotonic() + WAIT_FOR_RUNNING.total_seconds()
    while True:
        started = False
        try:
            with rt.claims.hold(ClaimPurpose.SWEEP, RUNNING, lease=SWEEP_LEASE) as running:
                running.release()  # the next sweep may start once this one is done
                started = True
                return _sweep(rt)
        except ClaimBusy:
            if started:  # busy inside the sweep, not at its start
                raise
            if time.monotonic() >= give_up:
                return {"another_running": 1}
        time.sleep(RUNNING_POLL_SECONDS)


def _sweep(rt: Rt) -> dict[str, int]:
    """Reads the due subscriptions' ids (and when each was due) in one streamed query per status,
    no other field, and leases them, SWEEP_PAGE_ACTIONS to a page: a leased subscription is not due
    again until the paced queue should have reached it (behind what earlier sweeps queued and it
    has not sent yet: `queue_horizons`), plus ten minutes, so a later sweep does not hand it out
    again. The first page it plans itself (reads, decides, queues); the others it hands out, each in
    a page task on the `fan-out` queue (`run_page`) that does the same with its page, so 100,000 due
    at once are handed out in the time one query streams their ids and the leases are written. A
    page is leased before it is handed out: a sweep that stops between the two leaves its
    subscriptions due again when their leases end, not lost."""
    now = rt.clock.now()
    ahead = _queued_ahead(rt, now)
    counts = {
        "queued": 0,
        "rescheduled": 0,
        "already_queued": 0,
        "pages": 0,
        "held": 0,
        "handed_out": 0,
        "page_tasks": 0,
        "ahead": ahead,
    }
    with ThreadPoolExecutor(ENQUEUE_THREADS) as pool:
        handing: list[tuple[int, Future[bool]]] = []
        position = recorded = ahead  # actions queued ahead of this page: earlier sweeps', then ours
        for page in _due_pages(rt, now):
            counts["pages"] += 1
            due = [DueSubscription(id=sub_id, due_at=due_at) for sub_id, due_at in page]
            if counts["pages"] == 1:
                _lease(rt, due, position, now)
                for key, value in _plan_page(rt, due, position, now).items():
                    counts[key] += value
            else:
                handing.append((len(due), pool.submit(_lease_and_hand_out, rt, due, position, now)))
            position += len(due)
            if position - recorded >= HORIZON_EVERY:
                recorded = _record_horizon(rt, now, position)
        if position > recorded:
            _record_horizon(rt, now, position)
        for size, created in handing:
            counts["handed_out"] += size
            counts["page_tasks"] += created.result()
    return counts


def _queued_ahead(rt: Rt, now: datetime) -> int:
    """How many actions earlier sweeps queued that the paced queue, at its rate, has not reached."""
    horizon = rt.store.queue_horizons.get(Queue.TELEGRAM_ACTIONS.value)
    if horizon is None or horizon.until <= now:
        return 0
    return int((horizon.until - now).total_seconds() * ACTIONS_PER_SECOND)


def _record_horizon(rt: Rt, now: datetime, position: int) -> int:
    """The queue should be through `position` actions queued since `now`: moved later, never
    earlier (two sweeps may overlap)."""
    until = now + timedelta(seconds=position / ACTIONS_PER_SECOND)
    horizons, doc_id = rt.store.queue_horizons, Queue.TELEGRAM_ACTIONS.value

    def later(tx: Tx) -> None:
        stored = tx.get(horizons, doc_id)
        if stored is None or stored.until < until:
            tx.set(horizons, doc_id, QueueHorizonDoc(until=until, updated_at=now))

    rt.store.transaction(later)
    return position


def _due_pages(rt: Rt, now: datetime) -> Iterator[list[tuple[str, datetime]]]:
    """Active subscriptions due for a reminder or removal, then expired ones whose removal Telegram
    has not confirmed yet: their ids and due times, SWEEP_PAGE_ACTIONS at a time."""
    keys = (
        key
        for status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED)
        for key in rt.store.subscriptions.keys(SUBSCRIPTIONS_DUE, status=status, below=now)
    )
    yield from chunked_stream(keys, SWEEP_PAGE_ACTIONS)


def _lease_of(swept_at: datetime, position: int) -> datetime:
    return swept_at + queued_lease(position, ACTIONS_PER_SECOND)


def _lease(rt: Rt, due: list[DueSubscription], first_position: int, now: datetime) -> None:
    """Written without reading: the page (task) reads them next."""
    with rt.store.batch() as batch:
        for offset, item in enumerate(due):
            batch.update(
                rt.store.subscriptions, item.id, {"next_action_at": _lease_of(now, first_position + offset)}
            )


def _lease_and_hand_out(rt: Rt, due: list[DueSubscription], first_position: int, now: datetime) -> bool:
    """One page task with these subscriptions, named by them and the sweep's time (False: the same
    page was handed out before, by a repeated sweep)."""
    _lease(rt, due, first_position, now)
    page = ExpiryPageTask(due=due, first_position=first_position, swept_at=now)
    name = page_name("sweep-page", [now.isoformat(), *(item.id for item in due)])
    return enqueue_to_self(
        rt.tasks, Queue.FAN_OUT, rt.settings.expire_subscriptions_url, page, name, path=PAGE_PATH
    )


def run_page(page: ExpiryPageTask, rt: Rt) -> str:
    """A page the sweep handed out: each subscription read (one call for the page), its next step
    decided and its due action queued on `telegram-actions` under its own name. A page that fails
    part-way is retried by its queue; what it queued before is found queued."""
    if page.actions:  # handed out by an earlier release, decided by its sweep
        with ThreadPoolExecutor(PAGE_THREADS) as pool:
            queued = sum(pool.map(lambda named: _enqueue(rt, named.task, named.name), page.actions))
        return f"page of {len(page.actions)}: {queued} queued, {len(page.actions) - queued} queued before"
    counts = _plan_page(rt, page.due, page.first_position, page.swept_at)
    outcome = f"page of {len(page.due)}: {counts['queued']} queued, {counts['already_queued']} queued before"
    others = [f"{counts[key]} {key}" for key in ("rescheduled", "held") if counts[key]]
    return ", ".join([outcome, *others])


def _plan_page(rt: Rt, due: list[DueSubscription], first_position: int, swept_at: datetime) -> dict[str, int]:
    """Each subscription's next step, decided on the document as it is now: its due action queued
    (the sweep's lease stays on it), a later one rescheduled, none cleared, a removal in a channel
    whose bot lacks rights held (one probes the channel per page). The lease the sweep wrote is read
    as the due time the sweep saw; any other value was written since and is taken as it is."""
    settings, subscriptions = rt.settings, rt.store.subscriptions
    offsets = parse_offsets(settings.reminder_offsets_hours)
    now = rt.clock.now()
    counts = {"queued": 0, "already_queued": 0, "rescheduled": 0, "held": 0}
    probed: set[str] = set()
    named_tasks: list[tuple[ExpiryTask, str]] = []
    found = subscriptions.get_many([item.id for item in due])
    with rt.store.batch() as batch:
        for offset, (item, stored) in enumerate(zip(due, found, strict=True)):
            if stored is None:
                continue
            sub = stored.doc
            if sub.next_action_at == _lease_of(swept_at, first_position + offset):
                sub = sub.model_copy(update={"next_action_at": item.due_at})
            step = next_action(sub, offsets, _grace(rt, sub.channel_token, sub), now)
            if step is None:
                batch.update(subscriptions, item.id, {"next_action_at": None})
            elif step.retry and not _may_probe(rt, sub.channel_token, probed):
                batch.update(subscriptions, item.id, {"next_action_at": now + RIGHTS_RETRY})
                counts["held"] += 1
            elif step.at <= now:
                payload = ExpiryTask(
                    action=step.action,
                    subscription_id=item.id,
                    expires_at=sub.expires_at,
                    offset_seconds=step.offset_seconds,
                )
                named_tasks.append((payload, task_name(item.id, step, sub.expires_at)))
            else:
                batch.update(subscriptions, item.id, {"next_action_at": step.at})
                counts["rescheduled"] += 1
    with ThreadPoolExecutor(PAGE_THREADS) as pool:
        for queued in pool.map(lambda named: _enqueue(rt, *named), named_tasks):
            counts["queued" if queued else "already_queued"] += 1
    return counts


def _may_probe(rt: Rt, token: str, probed: set[str]) -> bool:
    channel = load_channel(rt.store, token)
    if channel is None or not channel.bot_rights_problem:
        return True
    if token in probed:
        return False
    probed.add(token)
    return True


def _grace(rt: Rt, token: str, sub: SubscriptionDoc | None = None) -> timedelta:
    """The owner's grace period, and for a Star subscription Telegram renews by itself the time its
    renewal may take to arrive (the member is not removed at the very moment Telegram charges)."""
    channel = load_channel_cached(rt.store, token)
    grace = timedelta(minutes=channel.grace_period_minutes if channel else 0)
    return grace + STAR_RENEWAL_WAIT if renews_by_itself(sub) else grace


def _enqueue(rt: Rt, payload: ExpiryTask, name: str, at: datetime | None = None) -> bool:
    return enqueue_to_self(
        rt.tasks, Queue.TELEGRAM_ACTIONS, rt.settings.expire_subscriptions_url, payload, name, at
    )


# -- the tasks -----------------------------------------------------------------------------------
def run_task(task: ExpiryTask, rt: Rt) -> str:
    try:
        if task.action is ExpiryAction.REMIND:
            return _remind(task, rt)
        if task.action is ExpiryAction.INVITE:
            return _invite(task, rt)
        return _remove(task, rt)
    except TelegramRetryAfter as error:
        return _reschedule(task, rt, error.seconds)


def _reschedule(task: ExpiryTask, rt: Rt, seconds: float) -> str:
    """Telegram said "too many requests": run again after retry_after, not counted as a failure."""
    later = task.model_copy(update={"reschedules": task.reschedules + 1})
    due = DueAction(task.action, task.expires_at, task.offset_seconds)
    name = f"{task_name(task.subscription_id, due, task.expires_at)}-r{later.reschedules}"
    _enqueue(rt, later, name, at=rt.clock.now() + timedelta(seconds=seconds))
    return f"rescheduled after {seconds:g} s"


def _remind(task: ExpiryTask, rt: Rt) -> str:
    subscriptions = rt.store.subscriptions
    key = reminder_key(task.offset_seconds, task.expires_at)
    purpose_key = f"{task.subscription_id}:{key}"
    with rt.claims.hold(ClaimPurpose.REMIND, purpose_key, keep_for=timedelta(days=40)) as claim:
        if claim.done_before:
            return "duplicate (done)"
        sub = subscriptions.get(task.subscription_id)
        if sub is None or sub.status is not SubscriptionStatus.ACTIVE or sub.expires_at != task.expires_at:
            claim.result = "stale"
            return "stale: renewed or ended"
        if key in sub.reminders_sent:
            claim.result = "sent before"
            return "sent before"
        channel = load_channel_cached(rt.store, sub.channel_token)
        title = channel.title if channel else sub.channel_token
        try:
            with speaking_to(rt.store, sub.user_id):
                rt.telegram.send_message(
                    sub.user_id,
                    _reminder_text(sub, title, rt.clock.now()),
                    keyboard=[[_renew_button(sub)], [_help_button(sub)]],
                )
            claim.result = "reminded"
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, sub.user_id)
            claim.result = "user blocked the bot"
        subscriptions.update(
            task.subscription_id, {"reminders_sent": array_union(key), "next_action_at": rt.clock.now()}
        )
    return claim.result


def _reminder_text(sub: SubscriptionDoc, title: str, now: datetime) -> str:
    """A Star subscription's says Telegram renews it; a free trial's, that the trial ends."""
    if renews_by_itself(sub) and sub.star_renewal is not None:
        return texts.star_reminder(title, sub.expires_at, sub.star_renewal.stars)
    if is_trial(sub):
        return texts.trial_reminder(title, sub.expires_at, now)
    return texts.reminder(title, sub.expires_at, now)


def _invite(task: ExpiryTask, rt: Rt) -> str:
    """The owner moved the channel's closed chat: the member gets a Join button for the new one
    (its link is made when tapped, `subscriptions.membership.on_join`), once per new chat."""
    subscriptions = rt.store.subscriptions
    sub = subscriptions.get(task.subscription_id)
    if sub is None or sub.moved_from_chat is None or sub.status is not SubscriptionStatus.ACTIVE:
        return "stale: not moved or ended"
    key = f"{task.subscription_id}:{sub.closed_channel_id}"
    with rt.claims.hold(ClaimPurpose.MOVED_INVITE, key, keep_for=timedelta(days=40)) as claim:
        if not claim.done_before:
            channel = load_channel(rt.store, sub.channel_token)
            title = channel.title if channel else sub.channel_token
            claim.result = "invited"
            try:
                with speaking_to(rt.store, sub.user_id):
                    rt.telegram.send_message(
                        sub.user_id,
                        texts.channel_moved(title, sub.expires_at),
                        keyboard=[
                            [Button(texts.join_button(title), callback_data=join_callback(sub.channel_token))]
                        ],
                    )
            except TelegramForbidden:
                mark_blocked(rt.store, rt.clock, sub.user_id)
                claim.result = "user blocked the bot"
            except TelegramBadRequest as error:  # e.g. a user who never started the bot
                claim.result = f"not told: {error}"[:200]
        subscriptions.update(
            task.subscription_id, {"moved_from_chat": None, "next_action_at": rt.clock.now()}
        )  # the next sweep plans its reminders and removal again
    return claim.result or "invited before"


def _remove_from_earlier_chats(rt: Rt, sub: SubscriptionDoc) -> None:
    """A member approved into a closed chat the owner has since moved away from is removed there
    too (the chat they are actually in); Telegram refusing there (the bot left that chat) is noted."""
    for chat_id in dict.fromkeys(sub.joined_chats):
        if chat_id == sub.closed_channel_id:
            continue
        try:
            rt.telegram.remove_member(chat_id, sub.user_id)
        except (TelegramBadRequest, TelegramForbidden) as error:
            log.info(
                "not removed from an earlier closed chat: %s",
                error,
                extra={"subscription_id": subscription_id(sub.channel_token, sub.user_id)},
            )


def _remove(task: ExpiryTask, rt: Rt) -> str:
    store = rt.store
    now = rt.clock.now()

    def mark_expired(tx: Tx) -> tuple[Removal, SubscriptionDoc | None]:
        sub = tx.get(store.subscriptions, task.subscription_id)
        grace = _grace(rt, sub.channel_token, sub) if sub else timedelta(0)
        step = removal_step(sub, task.expires_at, grace, now)
        if step is Removal.REMOVE:
            # Expired first, so a renewal that commits meanwhile knows the member is on the way
            # out; still due until Telegram confirms the removal.
            tx.update(
                store.subscriptions,
                task.subscription_id,
                {
                    "status": SubscriptionStatus.EXPIRED,
                    "next_action_at": now + QUEUED_LEASE,
                    "updated_at": now,
                },
            )
            if sub is not None:
                count_expired(tx, store, sub, now)
        return step, sub

    step, sub = store.transaction(mark_expired)
    if sub is None or step in (Removal.GONE, Removal.RENEWED, Removal.NOT_DUE):
        return str(step.value)
    channel = load_channel_cached(store, sub.channel_token)
    if step is Removal.TELL_ONLY:
        # Removed before; the message may still be owed (a 429 rescheduled the task after the
        # removal): the claim makes this send it at most once.
        _tell_expired(rt, sub, channel)
        return str(step.value)
    try:
        _remove_from_earlier_chats(rt, sub)
        rt.telegram.remove_member(sub.closed_channel_id, sub.user_id)
    except (TelegramBadRequest, TelegramForbidden) as error:
        reason = str(error).lower()
        if not any(marker in reason for marker in GONE_MEMBER):
            return _removal_refused(rt, task.subscription_id, sub, channel, str(error))
    store.subscriptions.update(
        task.subscription_id,
        {"removed_at": rt.clock.now(), "in_channel": False, "removal_problem": None, "next_action_at": None},
    )
    if channel is not None and channel.bot_rights_problem:
        store.channels.update(
            channel.token, {"bot_rights_problem": None}
        )  # a removal worked: rights are back
    _tell_expired(rt, sub, channel)
    return "removed"


def _removal_refused(
    rt: Rt, sub_id: str, sub: SubscriptionDoc, channel: ChannelDoc | None, problem: str
) -> str:
    """Telegram refused: the member keeps no access they did not pay for, so the removal stays due
    and is tried again; the owner is told once what to fix."""
    now = rt.clock.now()
    attempts = sub.removal_attempts + 1
    lost_rights = any(marker in problem.lower() for marker in LOST_RIGHTS)
    wait = RIGHTS_RETRY if lost_rights else min(RIGHTS_RETRY * 2**attempts, MEMBER_RETRY_MAX)
    log.warning("removal refused, tried again in %s: %s", wait, problem, extra={"subscription_id": sub_id})
    rt.store.subscriptions.update(
        sub_id, {"removal_problem": problem, "removal_attempts": attempts, "next_action_at": now + wait}
    )
    if channel is None:
        return "removal refused: no channel to tell"
    title = channel.title
    if lost_rights:
        rt.store.channels.update(channel.token, {"bot_rights_problem": problem})
        notify_owner_once(rt, ClaimPurpose.RIGHTS_NOTICE, channel, lambda: texts.rights_lost(title, problem))
        return "bot lacks rights: retried, owner told"
    notify_owner_once(
        rt,
        ClaimPurpose.REMOVAL_PROBLEM,
        channel,
        lambda: texts.removal_refused(title, sub.user_id, problem),
        key=f"{sub_id}:{int(sub.expires_at.timestamp())}",
    )
    return "removal refused: retried, owner told"


def _tell_expired(rt: Rt, sub: SubscriptionDoc, channel: ChannelDoc | None) -> None:
    key = f"{subscription_id(sub.channel_token, sub.user_id)}:{int(sub.expires_at.timestamp())}"
    with rt.claims.hold(ClaimPurpose.EXPIRED_MESSAGE, key) as claim:
        if claim.done_before:
            return
        title = channel.title if channel else sub.channel_token
        claim.result = "sent"
        try:
            with speaking_to(rt.store, sub.user_id):
                ended = texts.trial_ended if is_trial(sub) else texts.access_ended
                rt.telegram.send_message(
                    sub.user_id, ended(title, sub.expires_at), keyboard=[[_renew_button(sub)]]
                )
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, sub.user_id)
        except TelegramBadRequest as error:  # e.g. a user who never started the bot: nothing to retry
            log.info(
                "could not tell the user: %s",
                error,
                extra={"subscription_id": subscription_id(sub.channel_token, sub.user_id)},
            )


def _renew_button(sub: SubscriptionDoc) -> Button:
    """Renew (the offer, the member's tier first); after a free trial, the plans (the offer)."""
    label = texts.PLANS_BUTTON if is_trial(sub) else texts.RENEW_BUTTON
    return Button(t(label), callback_data=renew_callback(sub.channel_token, sub.tier_id))


# -- support --
def _help_button(sub: SubscriptionDoc) -> Button:
    """Help (a support conversation about this channel) under every reminder."""
    return Button(t(texts.HELP_BUTTON), callback_data=support_callback(sub.channel_token))
