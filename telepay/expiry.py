"""expire_subscriptions' logic: the every-minute sweep, and the reminder and removal tasks it queues.

The sweep reads active subscriptions whose `next_action_at` is due, page by page, and queues one
named task per due action (names make a repeated sweep harmless; the sweep itself is claimed on
its scheduled time). Tasks run on the paced `telegram-actions` queue and re-check the subscription
before acting: a renewal may have raced them. A 429 reschedules the task after `retry_after`
without counting as a failure; lost rights are recorded and the owner told once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import renew_callback
from shared_schemas.names import Collection, Queue
from shared_schemas.queries import SUBSCRIPTIONS_DUE
from shared_schemas.tasks import ExpiryAction, ExpiryTask
from telepay import texts
from telepay.adapters.tasks_queue import enqueue_to_self
from telepay.adapters.telegram_api import (
    Button,
    TelegramBadRequest,
    TelegramForbidden,
    TelegramRetryAfter,
)
from telepay.channels import load_channel_cached
from telepay.logs import get_logger
from telepay.queries import build
from telepay.users import mark_blocked

if TYPE_CHECKING:
    from shared_schemas.documents import ChannelDoc
    from telepay.runtime import Runtime

log = get_logger("telepay.expiry")
QUEUED_LEASE = timedelta(minutes=10)  # a queued action is not queued again before this
ENQUEUE_THREADS = 16
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


# -- what is due (pure) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DueAction:
    action: ExpiryAction
    at: datetime
    offset_seconds: int = 0


def reminder_key(offset_seconds: int, expires_at: datetime) -> str:
    return f"{offset_seconds}@{expires_at.isoformat()}"


def parse_offsets(hours: str) -> list[int]:
    return sorted({int(float(h) * 3600) for h in hours.split(",") if h.strip()}, reverse=True)


def next_action(
    sub: SubscriptionDoc, offsets: list[int], grace: timedelta, now: datetime
) -> DueAction | None:
    """The subscription's next reminder or its removal; reminders already past when it was bought
    or renewed, or past its expiry, are skipped."""
    if sub.status is not SubscriptionStatus.ACTIVE:
        return None
    since = sub.renewed_at or sub.started_at
    for offset in offsets:  # largest offset first: the earliest reminder
        at = sub.expires_at - timedelta(seconds=offset)
        if at < since or now >= sub.expires_at:
            continue
        if reminder_key(offset, sub.expires_at) in sub.reminders_sent:
            continue
        return DueAction(ExpiryAction.REMIND, at, offset)
    return DueAction(ExpiryAction.REMOVE, sub.expires_at + grace)


def task_name(sub_id: str, due: DueAction, expires_at: datetime) -> str:
    stamp = int(expires_at.timestamp())
    if due.action is ExpiryAction.REMIND:
        return f"remind-{sub_id}-{due.offset_seconds}-{stamp}"
    return f"remove-{sub_id}-{stamp}"


# -- the sweep -----------------------------------------------------------------------------------
def sweep(rt: Runtime, scheduled: str) -> dict[str, int]:
    """One scheduled run. Returns counts for the log."""
    claim = rt.claims.claim("sweep", scheduled or rt.clock.now().isoformat(), lease=timedelta(minutes=3))
    if not claim.acquired:
        return {"duplicate": 1}
    try:
        counts = _sweep(rt)
    except Exception:
        claim.release()
        raise
    claim.done(str(counts))
    return counts


def _sweep(rt: Runtime) -> dict[str, int]:
    settings = rt.settings
    offsets = parse_offsets(settings.reminder_offsets_hours)
    now = rt.clock.now()
    counts = {"queued": 0, "rescheduled": 0, "already_queued": 0, "pages": 0}
    last = None
    with ThreadPoolExecutor(ENQUEUE_THREADS) as pool:
        while True:
            query = build(rt.db, SUBSCRIPTIONS_DUE, status=SubscriptionStatus.ACTIVE.value, below=now)
            if last is not None:
                query = query.start_after(last)
            page = list(query.limit(settings.sweep_page_size).stream())
            if not page:
                break
            counts["pages"] += 1
            batch = rt.db.batch()
            jobs = []
            for snapshot in page:
                sub = SubscriptionDoc.model_validate(snapshot.to_dict())
                grace = _grace(rt, sub.channel_token)
                due = next_action(sub, offsets, grace, now)
                if due is None:
                    batch.update(snapshot.reference, {"next_action_at": None})
                elif due.at <= now:
                    payload = ExpiryTask(
                        action=due.action,
                        subscription_id=snapshot.id,
                        expires_at=sub.expires_at,
                        offset_seconds=due.offset_seconds,
                    )
                    jobs.append(
                        pool.submit(_enqueue, rt, payload, task_name(snapshot.id, due, sub.expires_at))
                    )
                    batch.update(snapshot.reference, {"next_action_at": now + QUEUED_LEASE})
                else:
                    batch.update(snapshot.reference, {"next_action_at": due.at})
                    counts["rescheduled"] += 1
            for job in jobs:
                counts["queued" if job.result() else "already_queued"] += 1
            batch.commit()
            last = page[-1]
            if len(page) < settings.sweep_page_size:
                break
    return counts


def _grace(rt: Runtime, token: str) -> timedelta:
    channel = load_channel_cached(rt.db, token)
    return timedelta(minutes=channel.grace_period_minutes if channel else 0)


def _enqueue(rt: Runtime, payload: ExpiryTask, name: str, at: datetime | None = None) -> bool:
    return enqueue_to_self(
        rt.tasks, Queue.TELEGRAM_ACTIONS, rt.settings.expire_subscriptions_url, payload, name, at
    )


# -- the tasks -----------------------------------------------------------------------------------
class RetryLater(Exception):
    """Transient: answer 503 so Cloud Tasks retries with backoff."""


def run_task(task: ExpiryTask, rt: Runtime) -> str:
    try:
        if task.action is ExpiryAction.REMIND:
            return _remind(task, rt)
        return _remove(task, rt)
    except TelegramRetryAfter as error:
        return _reschedule(task, rt, error.seconds)


def _reschedule(task: ExpiryTask, rt: Runtime, seconds: float) -> str:
    """Telegram said "too many requests": run again after retry_after, not counted as a failure."""
    later = task.model_copy(update={"reschedules": task.reschedules + 1})
    due = DueAction(task.action, task.expires_at, task.offset_seconds)
    name = f"{task_name(task.subscription_id, due, task.expires_at)}-r{later.reschedules}"
    _enqueue(rt, later, name, at=rt.clock.now() + timedelta(seconds=seconds))
    return f"rescheduled after {seconds:g} s"


def _sub_ref(rt: Runtime, sub_id: str) -> Any:
    return rt.db.collection(Collection.SUBSCRIPTIONS.value).document(sub_id)


def _load(rt: Runtime, sub_id: str) -> SubscriptionDoc | None:
    snapshot = _sub_ref(rt, sub_id).get()
    return SubscriptionDoc.model_validate(snapshot.to_dict()) if snapshot.exists else None


def _remind(task: ExpiryTask, rt: Runtime) -> str:
    from google.cloud import firestore

    key = reminder_key(task.offset_seconds, task.expires_at)
    claim = rt.claims.claim("remind", f"{task.subscription_id}:{key}", keep_for=timedelta(days=40))
    if not claim.acquired:
        return f"duplicate ({claim.outcome.value})"
    try:
        sub = _load(rt, task.subscription_id)
        if sub is None or sub.status is not SubscriptionStatus.ACTIVE or sub.expires_at != task.expires_at:
            claim.done("stale")
            return "stale: renewed or ended"
        if key in sub.reminders_sent:
            claim.done("sent before")
            return "sent before"
        channel = load_channel_cached(rt.db, sub.channel_token)
        title = channel.title if channel else sub.channel_token
        try:
            rt.telegram.send_message(
                sub.user_id,
                texts.reminder(title, sub.expires_at, rt.clock.now()),
                keyboard=[
                    [Button(texts.RENEW_BUTTON, callback_data=renew_callback(sub.channel_token, sub.tier_id))]
                ],
            )
            outcome = "reminded"
        except TelegramForbidden:
            mark_blocked(rt, sub.user_id)
            outcome = "user blocked the bot"
        _sub_ref(rt, task.subscription_id).update(
            {"reminders_sent": firestore.ArrayUnion([key]), "next_action_at": rt.clock.now()}
        )
    except Exception:
        claim.release()
        raise
    claim.done(outcome)
    return outcome


def _remove(task: ExpiryTask, rt: Runtime) -> str:
    from google.cloud import firestore

    ref = _sub_ref(rt, task.subscription_id)
    now = rt.clock.now()

    @firestore.transactional
    def mark_expired(transaction: Any) -> SubscriptionDoc | str | tuple[str, SubscriptionDoc]:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return "no subscription"
        sub = SubscriptionDoc.model_validate(snapshot.to_dict())
        if sub.expires_at != task.expires_at:
            return "renewed: not removed"
        if sub.status is SubscriptionStatus.ACTIVE:
            channel = load_channel_cached(rt.db, sub.channel_token)
            grace = timedelta(minutes=channel.grace_period_minutes if channel else 0)
            if sub.expires_at + grace > now:
                return "not due yet"
            transaction.update(
                ref, {"status": SubscriptionStatus.EXPIRED.value, "next_action_at": None, "updated_at": now}
            )
            return sub
        if sub.removed_at is None:
            return sub  # expired earlier, removal not finished (a rescheduled or retried task)
        return ("already removed", sub)

    result = mark_expired(rt.db.transaction())
    if isinstance(result, tuple):
        # Removed before; the message may still be owed (a 429 rescheduled the task after the
        # removal): the claim makes this send it at most once.
        message, removed = result
        _tell_expired(rt, removed, load_channel_cached(rt.db, removed.channel_token))
        return str(message)
    if isinstance(result, str):
        return result
    sub = result
    channel = load_channel_cached(rt.db, sub.channel_token)
    try:
        rt.telegram.remove_member(sub.closed_channel_id, sub.user_id)
    except (TelegramBadRequest, TelegramForbidden) as error:
        reason = str(error).lower()
        if not any(marker in reason for marker in GONE_MEMBER):
            if any(marker in reason for marker in LOST_RIGHTS):
                _rights_lost(rt, sub, channel, str(error))
                return "bot lacks rights: recorded, owner told"
            raise
    ref.update({"removed_at": rt.clock.now(), "in_channel": False, "removal_problem": None})
    _tell_expired(rt, sub, channel)
    return "removed"


def _tell_expired(rt: Runtime, sub: SubscriptionDoc, channel: ChannelDoc | None) -> None:
    claim = rt.claims.claim(
        "expired-msg", f"{sub.channel_token}-{sub.user_id}:{int(sub.expires_at.timestamp())}"
    )
    if not claim.acquired:
        return
    title = channel.title if channel else sub.channel_token
    try:
        rt.telegram.send_message(
            sub.user_id,
            texts.access_ended(title, sub.expires_at),
            keyboard=[
                [Button(texts.RENEW_BUTTON, callback_data=renew_callback(sub.channel_token, sub.tier_id))]
            ],
        )
    except TelegramForbidden:
        mark_blocked(rt, sub.user_id)
    except TelegramBadRequest as error:  # e.g. a user who never started the bot: nothing to retry
        log.info(
            "could not tell the user: %s",
            error,
            extra={"subscription_id": f"{sub.channel_token}-{sub.user_id}"},
        )
    except Exception:
        claim.release()
        raise
    claim.done("sent")


def _rights_lost(rt: Runtime, sub: SubscriptionDoc, channel: ChannelDoc | None, problem: str) -> None:
    log.warning("removal refused: %s", problem, extra={"channel_token": sub.channel_token})
    _sub_ref(rt, f"{sub.channel_token}-{sub.user_id}").update({"removal_problem": problem})
    if channel is None:
        return
    rt.db.collection(Collection.CHANNELS.value).document(channel.token).update(
        {"bot_rights_problem": problem}
    )
    claim = rt.claims.claim("rights-notice", channel.token, keep_for=timedelta(days=30))
    if not claim.acquired:
        return
    try:
        rt.telegram.send_message(channel.owner_user_id, texts.rights_lost(channel.title, problem))
    except (TelegramForbidden, TelegramBadRequest):
        pass
    claim.done("sent")
