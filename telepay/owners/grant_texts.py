"""What the bot says about an owner's grants: to the owner (the questions, the result, `/stats`) and
to the member whose access changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from telepay.core.i18n import N_, number, t, tn, when
from telepay.subscriptions.texts import duration

ASK_WHO = N_("Who? Send their @username or their Telegram user id.")
ASK_REASON = N_("A note for the record (only you and support see it)? Or skip it.")
SKIP = N_("Skip")
CONFIRM = N_("✅ Confirm")
CANCEL = N_("Cancel")
END_NOW = N_("End their access now")
NOTHING_TO_REVOKE = N_("They have no active access to this channel, so there's nothing to take off.")


def unknown_username(username: str) -> str:
    return t(
        "I don't know @{username} yet: ask them to open the bot once, or use their user id.",
        username=username,
    )


def ask_days(who: str, take: bool) -> str:
    if take:
        return t("How many days to take off {who}'s access? Tap or type 1 to 3660.", who=who)
    return t("How many days to give {who}? Tap or type 1 to 3660.", who=who)


def confirm(who: str, title: str, days: int | None, take: bool, reason: str) -> str:
    if take and days is None:
        text = t("End {who}'s access to {title} now?", who=who, title=title)
    elif take:
        text = t(
            "Take {duration} off {who}'s access to {title}?",
            duration=duration(days or 0),
            who=who,
            title=title,
        )
    else:
        text = t("Give {who} {duration} of {title}?", who=who, duration=duration(days or 0), title=title)
    return f"{text}\n{t('Note: {note}', note=reason)}" if reason else text


def done(who: str, title: str, days: int | None, take: bool, until: datetime) -> str:
    if take and days is None:
        return t("Done: {who}'s access to {title} ends now.", who=who, title=title)
    if take:
        return t(
            "Done: {duration} taken off {who}'s access to {title}; it now ends {until}.",
            duration=duration(days or 0),
            who=who,
            title=title,
            until=when(until),
        )
    return t(
        "Done: {who} has {duration} more of {title}, until {until}. I told them.",
        who=who,
        duration=duration(days or 0),
        title=title,
        until=when(until),
    )


def member_granted(title: str, days: int, until: datetime) -> str:
    return t(
        "🎁 The owner of {title} gave you {duration} of access, until {until}.",
        title=title,
        duration=duration(days),
        until=when(until),
    )


def member_revoked(title: str, days: int | None, until: datetime) -> str:
    if days is None:
        return t("The owner of {title} ended your access.", title=title)
    return t(
        "The owner of {title} took {duration} off your access: it now ends {until}.",
        title=title,
        duration=duration(days),
        until=when(until),
    )


def grants_line(windows: Sequence[tuple[int, int, int]]) -> str:
    """`/stats`: the owner's grants per window (days, grants, days given), apart from sales."""
    parts = [
        tn(
            "last {n} day: {grants} grant(s), {given} day(s) given",
            "last {n} days: {grants} grant(s), {given} day(s) given",
            window,
            grants=number(count),
            given=number(given),
        )
        for window, count, given in windows
    ]
    return t("🎁 Your grants (not sales): {windows}", windows="; ".join(parts))
