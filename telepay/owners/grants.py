"""A channel owner gives or takes days of one member's access (`/grant`, `/revoke`, the owner app's
form), recorded as the operator's support actions are (`support_actions`, `source` `owner`: who,
when, why, the expiry before and after), in the same transaction as the subscription
(`free_access`: days added from max(now, expiry), or taken off never before now). Only the
channel's owner who is still the creator of both its chats may (`telepay.owners.admins`). The
member is told, once; a grant's message has the Join button.

A grant from the bot is recorded as `<user>-<token>-owner-<update id>`: a re-delivered update finds
its record and changes nothing. `/stats` and the owner app count the owners' grants apart from sales.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from shared_schemas.config import TelegramSettings
from shared_schemas.documents import ChannelDoc, SubscriptionDoc, SupportAction, SupportActionDoc
from shared_schemas.ids import subscription_id
from shared_schemas.queries import GRANTS_OF_CHANNEL
from telepay.channels.day_counts import count_joined, set_subscription
from telepay.channels.notices import send_waiting
from telepay.core.i18n import t
from telepay.core.store import Tx
from telepay.core.users import user_by_username
from telepay.owners import admins
from telepay.owners import grant_texts as say_grant
from telepay.owners import texts as say
from telepay.owners.grant_rules import NO_REASON, Who
from telepay.runtime import Runtime
from telepay.subscriptions import texts as buyer_texts
from telepay.subscriptions.free_access import (
    is_active,
    join_keyboard,
    support_action_id,
    support_record,
    with_days_added,
    with_days_taken,
)
from telepay.subscriptions.gifts import tell_once

Rt = Runtime[TelegramSettings]
OWNER_SOURCE = "owner"


@dataclass(frozen=True)
class Change:
    """What an owner asked: `days` added (or taken off with `take`; None with `take`: ended now)."""

    member_id: int
    days: int | None
    take: bool
    reason: str
    via: str  # `bot` or `owner_app`


@dataclass(frozen=True)
class Granted:
    record: SupportActionDoc
    subscription: SubscriptionDoc


def bot_action_id(member_id: int, token: str, update_id: int) -> str:
    return f"{member_id}-{token}-owner-{update_id}"


def new_action_id(member_id: int, token: str, now: datetime) -> str:
    return support_action_id(member_id, token, now)


def resolve(rt: Rt, who: Who) -> int | None:
    """The user id an owner named (an @username only when the bot has seen it)."""
    if who.user_id is not None:
        return who.user_id
    return user_by_username(rt.store, who.username or "")


def refusal(rt: Rt, owner_id: int, channel: ChannelDoc) -> str | None:
    """Why this person may not change this channel's members' access, in words (None: they may)."""
    chats = (channel.open_channel_id, channel.closed_channel_id)
    refused = admins.change_refusal(rt, owner_id, chats, channel=channel)
    if refused is None:
        return None
    if refused.why is admins.Why.NOT_OWNER or refused.chat_id is None:
        return t(say.NOT_OWNER)
    return say.creator_needed(channel.title)


def apply(rt: Rt, owner_id: int, channel: ChannelDoc, change: Change, action_id: str) -> Granted | str:
    """The change made and recorded in one transaction (run again with the same `action_id`, it
    finds its record and changes nothing), then the member told once. A refusal in words."""
    problem = refusal(rt, owner_id, channel)
    if problem is not None:
        return problem
    store, now = rt.store, rt.clock.now()
    token, sub_id = channel.token, subscription_id(channel.token, change.member_id)

    def work(tx: Tx) -> Granted | str:
        before = tx.get(store.support_actions, action_id)
        current = tx.get(store.subscriptions, sub_id)
        fresh = tx.get(store.channels, token)
        if before is not None and current is not None:
            return Granted(before, current)
        if fresh is None or fresh.owner_user_id != owner_id:
            return t(say.NOT_OWNER)
        if change.take:
            if current is None or not is_active(current, now):
                return t(say_grant.NOTHING_TO_REVOKE)
            after = with_days_taken(current, change.days, now)
        else:
            after = with_days_added(
                fresh, current, change.member_id, change.days or 0, now, f"grant-{action_id}"
            )
        record = support_record(
            SupportAction.REVOKE if change.take else SupportAction.GRANT,
            current,
            after,
            change.days,
            change.reason or NO_REASON,
            f"owner {owner_id} ({change.via})",
            now,
            OWNER_SOURCE,
        )
        set_subscription(tx, store, sub_id, current, after)
        tx.set(store.support_actions, action_id, record)
        count_joined(tx, store, current, after, now)
        return Granted(record, after)

    result = store.transaction(work)
    if isinstance(result, Granted):
        _tell_member(rt, channel, result, action_id)
    return result


def _tell_member(rt: Rt, channel: ChannelDoc, done: Granted, action_id: str) -> None:
    record, sub = done.record, done.subscription
    granted = record.action is SupportAction.GRANT

    def text() -> str:  # made in the member's language
        if granted:
            return say_grant.member_granted(channel.title, record.days or 0, sub.expires_at)
        return say_grant.member_revoked(channel.title, record.days, sub.expires_at)

    keyboard = join_keyboard(channel, sub, buyer_texts.join_button(channel.title)) if granted else None
    # Waits out a short 429 (a grant made in a busy second): the grant is made, so the member is told.
    send = partial(send_waiting, rt)
    tell_once(rt, f"{action_id}:member", record.user_id, text, keyboard, send)


def grant_windows(rt: Rt, token: str, now: datetime, windows: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Per window of days: the owner's grants and the days they gave (revokes are not counted)."""
    grants = [
        record
        for page in rt.store.support_actions.pages(
            GRANTS_OF_CHANNEL,
            channel_token=token,
            source=OWNER_SOURCE,
            above=now - timedelta(days=max(windows)),
        )
        for stored in page
        if (record := stored.doc).action is SupportAction.GRANT
    ]
    result = []
    for window in windows:
        recent = [g for g in grants if g.at >= now - timedelta(days=window)]
        result.append((window, len(recent), sum(g.days or 0 for g in recent)))
    return result
