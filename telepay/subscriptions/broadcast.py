"""daily_broadcast's logic: post each active channel's offer into its open channel once a day.

The daily run queues one task per channel and day on the paced `telegram-actions` queue (task
names dedupe a repeated run), the one queue every bulk message of the bot goes through, so the
day's posts share Telegram's ~30 messages a second with removals, reminders and announcements
instead of adding their own 30 to them. expire_subscriptions, that queue's target, serves them on
`/task/broadcast`; daily_broadcast sends nothing itself. Each task posts the offer, deletes the previous post and records the new
message id, so a channel always shows one current offer. A permanent failure (bot removed, rights
lost, chat gone) is counted; after `BROADCAST_PAUSE_AFTER_FAILURES` in a row the channel's
broadcast pauses and its owner is told once. A successful post resets the count.

Posts are in the channel's language (`ChannelDoc.language`), whoever reads them; the owner's
notices in the owner's.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from shared_schemas.config import BroadcastEnqueuerSettings, BroadcastPosterSettings, TelegramWebhookSettings
from shared_schemas.documents import BroadcastState, ChannelDoc, ChannelStatus
from shared_schemas.ids import deep_link, donate_start, tier_start, trial_start
from shared_schemas.names import ClaimPurpose, Queue
from shared_schemas.queries import ACTIVE_CHANNELS, CHANNELS_OF_OWNER
from shared_schemas.tasks import BroadcastTask, PostKind
from shared_schemas.telegram import Button
from telepay.adapters.tasks_queue import enqueue_to_self
from telepay.adapters.telegram_api import (
    TelegramBadRequest,
    TelegramForbidden,
    TelegramRetryAfter,
    is_not_modified,
)
from telepay.channels.lookup import load_channel
from telepay.channels.notices import notify_owner_once
from telepay.channels.star_prices import stars_offered
from telepay.core import i18n
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.runtime import Runtime
from telepay.subscriptions import texts

log = get_logger("telepay.broadcast")
Rt = Runtime[BroadcastPosterSettings]
TASK_PATH = "/task/broadcast"  # expire_subscriptions' path for the posts (its removals are on /task)
PAGE = 500
ENQUEUE_THREADS = 16


def day_of(moment: datetime) -> str:
    return moment.date().isoformat()


def offer_post_keyboard(
    channel: ChannelDoc, bot_username: str, stars: Mapping[str, int] | None = None
) -> list[list[Button]]:
    """The offer post's buttons, in the current language (the caller speaks the channel's); `stars`:
    the tiers' Star prices, for those that can be paid in Stars."""
    stars = stars or {}
    rows = [
        [
            Button(
                texts.tier_button(tier, channel.currency, stars.get(tier.tier_id)),
                url=deep_link(bot_username, tier_start(channel.token, tier.tier_id)),
            )
        ]
        for tier in channel.tiers
    ]
    if channel.trial_days:  # anyone may tap it: who may start a trial is checked in the bot
        trial_url = deep_link(bot_username, trial_start(channel.token))
        rows.append([Button(texts.trial_button(channel.trial_days), url=trial_url)])
    rows.append(
        [Button(i18n.t(texts.DONATE_BUTTON), url=deep_link(bot_username, donate_start(channel.token)))]
    )
    return rows


# -- the daily run ---------------------------------------------------------------------------------
def daily_run(rt: Runtime[BroadcastEnqueuerSettings], day: str, only: str | None = None) -> dict[str, int]:
    """Queue one post per active channel (or just `only`) for `day`; a repeated run queues nothing new."""
    counts = {"queued": 0, "already_queued": 0, "paused": 0}
    tokens: list[str] = []
    if only:
        tokens = [only]
    else:
        for page in rt.store.channels.pages(ACTIVE_CHANNELS, page_size=PAGE, status=ChannelStatus.ACTIVE):
            for stored in page:
                if stored.doc.broadcast.paused_reason:
                    counts["paused"] += 1
                else:
                    tokens.append(stored.doc.token)
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


def queue_todays_post(rt: Runtime[BroadcastEnqueuerSettings], token: str) -> bool:
    """Post a channel's offer now, as today's daily post (a new or resumed channel): named like the
    daily run's task, so the two never both post."""
    day = day_of(rt.clock.now())
    return _enqueue(rt, BroadcastTask(channel_token=token, day=day), f"broadcast-{token}-{day}")


def queue_donation_post(rt: Runtime[BroadcastEnqueuerSettings], channel: ChannelDoc) -> bool:
    """Post (or refresh) the closed channel's donation post: when a channel goes live and whenever
    its donation message (or its language) changes. Named by the text, so the same text is never
    posted twice."""
    with i18n.speaking(channel.language):
        text = texts.donation_post(channel.title, channel.donation_message)
    digest = hashlib.sha256(text.encode()).hexdigest()
    task = BroadcastTask(channel_token=channel.token, day=day_of(rt.clock.now()), post=PostKind.DONATION)
    return _enqueue(rt, task, f"donation-post-{channel.token}-{digest[:16]}")


def post_donation(task: BroadcastTask, rt: Rt) -> str:
    """One donation post per closed channel: the earlier post is edited in place (its id is kept on
    the channel), a new one sent only when there is none. Without the right to post, nothing is
    posted and the owner is told which right to grant. A 429 raises: Cloud Tasks retries."""
    channel = load_channel(rt.store, task.channel_token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        return "channel inactive"
    bot = rt.settings.telegram_bot_username
    with i18n.speaking(channel.language):
        text = texts.donation_post(channel.title, channel.donation_message)
        keyboard = [[Button(i18n.t(texts.DONATE_BUTTON), url=deep_link(bot, donate_start(channel.token)))]]
    previous = channel.donation_post_message_id
    try:
        if previous is not None and _edited(rt, channel.closed_channel_id, previous, text, keyboard):
            return "donation post updated"
        message = rt.telegram.send_message(channel.closed_channel_id, text, keyboard=keyboard)
    except (TelegramForbidden, TelegramBadRequest) as error:
        log.info("donation post refused: %s", error, extra={"channel_token": channel.token})
        key = f"{channel.token}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        title, problem = channel.title, str(error)
        notify_owner_once(
            rt,
            ClaimPurpose.DONATION_POST_REFUSED,
            channel,
            lambda: texts.donation_post_refused(title, problem),
            key=key,
        )
        return "donation post refused: owner told"
    rt.store.channels.update(channel.token, {"donation_post_message_id": message.message_id})
    return "donation post sent"


def _edited(rt: Rt, chat_id: int, message_id: int, text: str, keyboard: list[list[Button]]) -> bool:
    """True when the post was edited (or already says this); False when it is gone."""
    try:
        rt.telegram.edit_message_text(chat_id, message_id, text, keyboard)
    except TelegramBadRequest as error:
        if is_not_modified(error):
            return True
        if "message to edit not found" in str(error).lower():
            return False
        raise
    return True


def _enqueue(
    rt: Runtime[BroadcastEnqueuerSettings], task: BroadcastTask, name: str, at: datetime | None = None
) -> bool:
    url = rt.settings.expire_subscriptions_url
    return enqueue_to_self(rt.tasks, Queue.TELEGRAM_ACTIONS, url, task, name, at, path=TASK_PATH)


# -- one post ----------------------------------------------------------------------------------------
def post_offer(task: BroadcastTask, rt: Rt) -> str:
    """A manual re-post (the owner's /broadcast) is its own work: each one is named by its update
    and queued once, so it posts again even when the day's post was made."""
    if task.post is PostKind.DONATION:
        return post_donation(task, rt)
    if task.manual:
        return _post(task, rt)
    key = f"{task.channel_token}:{task.day}"
    with rt.claims.hold(
        ClaimPurpose.BROADCAST, key, lease=timedelta(minutes=2), keep_for=timedelta(days=3)
    ) as claim:
        if claim.done_before:
            return "duplicate (done)"
        claim.result = outcome = _post(task, rt)
        if outcome.startswith("rescheduled"):
            claim.release()
    return outcome


def _post(task: BroadcastTask, rt: Rt) -> str:
    channel = load_channel(rt.store, task.channel_token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        return "channel inactive"
    if channel.broadcast.paused_reason and not task.manual:
        # The owner's notice may not have gone out (a 429 on it made this task retry): once, now.
        _tell_paused(rt, channel, channel.broadcast.paused_reason, channel.broadcast.consecutive_failures)
        return "paused"
    if channel.broadcast.last_posted_day == task.day and not task.manual:
        return "already posted today"
    with i18n.speaking(channel.language):
        text = texts.offer(channel, channel.trial_days)
        offered = stars_offered(channel, rt.settings.stars_usd_price, rt.settings.stars_enabled)
        keyboard = offer_post_keyboard(channel, rt.settings.telegram_bot_username, offered)
    try:
        message = rt.telegram.send_message(channel.open_channel_id, text, keyboard=keyboard)
    except TelegramRetryAfter as error:
        later = rt.clock.now() + timedelta(seconds=error.seconds)
        again = task.model_copy(update={"reschedules": task.reschedules + 1})
        name = f"broadcast-{channel.token}-{task.day}{'-manual' if task.manual else ''}-r{again.reschedules}"
        _enqueue(rt, again, name, at=later)
        return f"rescheduled after {error.seconds:g} s"
    except (TelegramForbidden, TelegramBadRequest) as error:
        return _permanent_failure(rt, channel, str(error))
    previous = channel.broadcast.last_message_id
    rt.store.channels.update(
        channel.token,
        {
            "broadcast.last_message_id": message.message_id,
            "broadcast.last_posted_day": task.day,
            "broadcast.consecutive_failures": 0,
            "broadcast.paused_reason": None,
        },
    )
    if previous and previous != message.message_id:
        try:
            rt.telegram.delete_message(channel.open_channel_id, previous)
        except (TelegramBadRequest, TelegramForbidden) as error:
            log.info("previous offer not deleted: %s", error, extra={"channel_token": channel.token})
        except TelegramRetryAfter:
            log.info("previous offer not deleted (rate limited)", extra={"channel_token": channel.token})
    return "posted"


def _permanent_failure(rt: Rt, channel: ChannelDoc, problem: str) -> str:
    threshold = rt.settings.broadcast_pause_after_failures
    channels = rt.store.channels

    def count(tx: Tx) -> int:
        current = tx.get(channels, channel.token)
        failures = (current.broadcast.consecutive_failures if current else 0) + 1
        updates: dict[str, Any] = {"broadcast.consecutive_failures": failures}
        if failures >= threshold:
            updates["broadcast.paused_reason"] = problem
        tx.update(channels, channel.token, updates)
        return failures

    failures = rt.store.transaction(count)
    log.warning(
        "offer post failed (%s in a row): %s", failures, problem, extra={"channel_token": channel.token}
    )
    if failures < threshold:
        return f"failed ({failures} in a row)"
    _tell_paused(rt, channel, problem, failures)
    return "paused"


def _tell_paused(rt: Rt, channel: ChannelDoc, problem: str, failures: int) -> None:
    title = channel.title
    notify_owner_once(
        rt, ClaimPurpose.BROADCAST_PAUSED, channel, lambda: texts.broadcast_paused(title, problem, failures)
    )


# -- the owner's /broadcast ----------------------------------------------------------------------
def owner_repost(rt: Runtime[TelegramWebhookSettings], owner_id: int, update_id: int) -> str:
    """Queue a re-post of the owner's channels now, once per cooldown; the answer says what happened."""
    now = rt.clock.now()
    cooldown = timedelta(minutes=rt.settings.broadcast_manual_cooldown_minutes)
    channels = rt.store.channels.find(CHANNELS_OF_OWNER, owner_user_id=owner_id)
    if not channels:
        return i18n.t(texts.NOT_AN_OWNER)
    lines = []
    channels_repo = rt.store.channels
    for channel in channels:
        token = channel.token

        def reserve(tx: Tx, token: str = token) -> tuple[BroadcastState | None, float]:
            """Check and set the cooldown in one go: two /broadcast at once queue one re-post.
            The same /broadcast re-delivered by Telegram (after a 429 on the answer) is let through:
            its task name makes the re-post happen once."""
            current = tx.get(channels_repo, token)
            state = current.broadcast if current else None
            last = state.last_manual_at if state else None
            again = state is not None and state.last_manual_message == update_id
            if last is not None and last + cooldown > now and not again:
                return state, (last + cooldown - now).total_seconds()
            if not again:
                updates = {"broadcast.last_manual_at": now, "broadcast.last_manual_message": update_id}
                tx.update(channels_repo, token, updates)
            return state, 0.0

        previous, wait = rt.store.transaction(reserve)
        if wait:
            lines.append(texts.broadcast_cooldown(channel.title, math.ceil(wait / 60)))
            continue
        task = BroadcastTask(channel_token=token, day=day_of(now), manual=True)
        try:
            _enqueue(rt, task, f"manual-{token}-{update_id}")
        except Exception:
            # Not queued: the cooldown is set only for a re-post that was.
            restore = {
                "broadcast.last_manual_at": previous.last_manual_at if previous else None,
                "broadcast.last_manual_message": previous.last_manual_message if previous else None,
            }
            channels_repo.update(token, restore)
            raise
        lines.append(texts.broadcast_queued(channel.title))
    return "\n".join(lines)
