"""daily_broadcast's logic: post each active channel's offer into its open channel once a day.

The daily run queues one task per channel and day on the paced `broadcast` queue (task names
dedupe a repeated run). Each task posts the offer, deletes the previous post and records the new
message id, so a channel always shows one current offer. A permanent failure (bot removed, rights
lost, chat gone) is counted; after `BROADCAST_PAUSE_AFTER_FAILURES` in a row the channel's
broadcast pauses and its owner is told once. A successful post resets the count.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared_schemas.documents import ChannelDoc, ChannelStatus
from shared_schemas.names import Collection, Queue
from shared_schemas.queries import ACTIVE_CHANNELS, CHANNELS_OF_OWNER
from shared_schemas.tasks import BroadcastTask
from telepay import texts
from telepay.adapters.tasks_queue import enqueue_to_self
from telepay.adapters.telegram_api import (
    Button,
    TelegramBadRequest,
    TelegramForbidden,
    TelegramRetryAfter,
)
from telepay.channels import load_channel
from telepay.logs import get_logger
from telepay.queries import build

if TYPE_CHECKING:
    from telepay.runtime import Runtime

log = get_logger("telepay.broadcast")
PAGE = 500
ENQUEUE_THREADS = 16


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


def deep_link(bot_username: str, start: str) -> str:
    return f"https://t.me/{bot_username}?start={start}"


def offer_post_keyboard(channel: ChannelDoc, bot_username: str) -> list[list[Button]]:
    rows = [
        [
            Button(
                texts.tier_button(t, channel.currency),
                url=deep_link(bot_username, f"{channel.token}-{t.tier_id}"),
            )
        ]
        for t in channel.tiers
    ]
    rows.append([Button(texts.DONATE_BUTTON, url=deep_link(bot_username, f"{channel.token}_DONATE"))])
    return rows


# -- the daily run ---------------------------------------------------------------------------------
def daily_run(rt: Runtime, day: str, only: str | None = None) -> dict[str, int]:
    """Queue one post per active channel (or just `only`) for `day`; a repeated run queues nothing new."""
    counts = {"queued": 0, "already_queued": 0, "paused": 0}
    tokens: list[str] = []
    if only:
        tokens = [only]
    else:
        last = None
        while True:
            query = build(rt.db, ACTIVE_CHANNELS, status=ChannelStatus.ACTIVE.value)
            if last is not None:
                query = query.start_after(last)
            page = list(query.limit(PAGE).stream())
            for snapshot in page:
                channel = ChannelDoc.model_validate(snapshot.to_dict())
                if channel.broadcast.paused_reason:
                    counts["paused"] += 1
                else:
                    tokens.append(channel.token)
            if len(page) < PAGE:
                break
            last = page[-1]
    with ThreadPoolExecutor(ENQUEUE_THREADS) as pool:
        results = pool.map(
            lambda token: _enqueue(
                rt, BroadcastTask(channel_token=token, day=day), f"broadcast-{token}-{day}"
            ),
            tokens,
        )
        for queued in results:
            counts["queued" if queued else "already_queued"] += 1
    return counts


def _enqueue(rt: Runtime, task: BroadcastTask, name: str, at: datetime | None = None) -> bool:
    return enqueue_to_self(rt.tasks, Queue.BROADCAST, rt.settings.daily_broadcast_url, task, name, at)


# -- one post ----------------------------------------------------------------------------------------
def post_offer(task: BroadcastTask, rt: Runtime) -> str:
    key = f"{task.channel_token}:{task.day}" + (":manual" if task.manual else "")
    claim = rt.claims.claim("broadcast", key, lease=timedelta(minutes=2), keep_for=timedelta(days=3))
    if not claim.acquired and not task.manual:
        return f"duplicate ({claim.outcome.value})"
    try:
        outcome = _post(task, rt)
    except Exception:
        if claim.acquired:
            claim.release()
        raise
    if claim.acquired:
        if outcome.startswith("rescheduled"):
            claim.release()
        else:
            claim.done(outcome)
    return outcome


def _post(task: BroadcastTask, rt: Runtime) -> str:
    channel = load_channel(rt.db, task.channel_token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        return "channel inactive"
    if channel.broadcast.paused_reason and not task.manual:
        return "paused"
    if channel.broadcast.last_posted_day == task.day and not task.manual:
        return "already posted today"
    ref = rt.db.collection(Collection.CHANNELS.value).document(channel.token)
    try:
        message = rt.telegram.send_message(
            channel.open_channel_id,
            texts.offer(channel),
            keyboard=offer_post_keyboard(channel, rt.settings.telegram_bot_username),
        )
    except TelegramRetryAfter as error:
        later = rt.clock.now() + timedelta(seconds=error.seconds)
        again = task.model_copy(update={"reschedules": task.reschedules + 1})
        name = f"broadcast-{channel.token}-{task.day}{'-manual' if task.manual else ''}-r{again.reschedules}"
        _enqueue(rt, again, name, at=later)
        return f"rescheduled after {error.seconds:g} s"
    except (TelegramForbidden, TelegramBadRequest) as error:
        return _permanent_failure(rt, channel, str(error))
    previous = channel.broadcast.last_message_id
    ref.update(
        {
            "broadcast.last_message_id": message.message_id,
            "broadcast.last_posted_day": task.day,
            "broadcast.consecutive_failures": 0,
            "broadcast.paused_reason": None,
        }
    )
    if previous and previous != message.message_id:
        try:
            rt.telegram.delete_message(channel.open_channel_id, previous)
        except (TelegramBadRequest, TelegramForbidden) as error:
            log.info("previous offer not deleted: %s", error, extra={"channel_token": channel.token})
        except TelegramRetryAfter:
            log.info("previous offer not deleted (rate limited)", extra={"channel_token": channel.token})
    return "posted"


def _permanent_failure(rt: Runtime, channel: ChannelDoc, problem: str) -> str:
    from google.cloud import firestore

    threshold = rt.settings.broadcast_pause_after_failures
    ref = rt.db.collection(Collection.CHANNELS.value).document(channel.token)

    @firestore.transactional
    def count(transaction: Any) -> int:
        data = ref.get(transaction=transaction).to_dict() or {}
        failures = int((data.get("broadcast") or {}).get("consecutive_failures", 0)) + 1
        updates: dict[str, Any] = {"broadcast.consecutive_failures": failures}
        if failures >= threshold:
            updates["broadcast.paused_reason"] = problem
        transaction.update(ref, updates)
        return failures

    failures = count(rt.db.transaction())
    log.warning(
        "offer post failed (%s in a row): %s", failures, problem, extra={"channel_token": channel.token}
    )
    if failures < threshold:
        return f"failed ({failures} in a row)"
    notice = rt.claims.claim("broadcast-paused", channel.token, keep_for=timedelta(days=30))
    if notice.acquired:
        try:
            rt.telegram.send_message(
                channel.owner_user_id, texts.broadcast_paused(channel.title, problem, failures)
            )
        except (TelegramForbidden, TelegramBadRequest):
            pass
        notice.done("sent")
    return "paused"


# -- the owner's /broadcast ----------------------------------------------------------------------
def owner_repost(rt: Runtime, owner_id: int, update_id: int) -> str:
    """Queue a re-post of the owner's channels now, once per cooldown; the answer says what happened."""
    now = rt.clock.now()
    cooldown = timedelta(minutes=rt.settings.broadcast_manual_cooldown_minutes)
    channels = [
        ChannelDoc.model_validate(s.to_dict())
        for s in build(rt.db, CHANNELS_OF_OWNER, owner_user_id=owner_id).stream()
    ]
    if not channels:
        return texts.NOT_AN_OWNER
    lines = []
    for channel in channels:
        last = channel.broadcast.last_manual_at
        if last is not None and last + cooldown > now:
            wait = math.ceil((last + cooldown - now).total_seconds() / 60)
            lines.append(texts.broadcast_cooldown(channel.title, wait))
            continue
        rt.db.collection(Collection.CHANNELS.value).document(channel.token).update(
            {"broadcast.last_manual_at": now}
        )
        task = BroadcastTask(channel_token=channel.token, day=day_of(now), manual=True)
        _enqueue(rt, task, f"manual-{channel.token}-{update_id}")
        lines.append(texts.broadcast_queued(channel.title))
    return "\n".join(lines)
