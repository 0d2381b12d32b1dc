"""The rules of an owner's grant, as pure functions: what `/grant` and `/revoke` (and the owner app's
form) may ask. Days are 1 to 3660 (a tier's limit), a note at most 500 characters; a grant adds
days from max(now, expiry), a revoke takes days off (never before now) or ends the access now;
someone is named by @username (a user the bot has seen) or by Telegram user id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telepay.channels.settings import Invalid
from telepay.core.i18n import t

DAYS_MIN, DAYS_MAX = 1, 3660
REASON_MAX = 500
NO_REASON = "-"  # the record's reason when the owner gave none (the record needs one)
_USERNAME = re.compile(r"^@[A-Za-z0-9_]{4,32}$")
_USER_ID = re.compile(r"^[0-9]{1,20}$")  # ASCII digits only


@dataclass(frozen=True)
class Who:
    """Someone an owner named: by user id, or by @username (found among the users the bot saw)."""

    user_id: int | None = None
    username: str | None = None  # lower-cased, without the @

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else str(self.user_id)


@dataclass(frozen=True)
class Asked:
    """`/grant @alice 7`, `/grant @alice -7`, `/revoke @alice 7`, `/revoke @alice`."""

    who: Who
    days: int | None  # None: a revoke ending the access now
    take: bool  # a revoke (days taken off)


def parse_who(text: str) -> Who | Invalid:
    text = text.strip()
    if _USER_ID.fullmatch(text) and int(text) > 0:
        return Who(user_id=int(text))
    if _USERNAME.fullmatch(text):
        return Who(username=text[1:].lower())
    return Invalid(t("Send their @username or their Telegram user id (digits)."))


def parse_days(text: str) -> int | Invalid:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,5}", text) or not DAYS_MIN <= int(text) <= DAYS_MAX:
        return Invalid(t("Send a number of days from {low} to {high}.", low=DAYS_MIN, high=DAYS_MAX))
    return int(text)


def parse_reason(text: str) -> str | Invalid:
    text = text.strip()
    if len(text) > REASON_MAX:
        return Invalid(t("Keep the note under {limit} characters, please.", limit=REASON_MAX))
    return text


def parse_command(take: bool, argument: str) -> Asked | Invalid:
    """The arguments of `/grant WHO DAYS` (DAYS below zero takes them off) or `/revoke WHO [DAYS]`."""
    parts = argument.replace(",", " ").split()
    if not parts or len(parts) > 2:
        return Invalid(usage(take))
    who = parse_who(parts[0])
    if isinstance(who, Invalid):
        return who
    if len(parts) == 1:
        return Asked(who, None, True) if take else Invalid(usage(take))
    number = parts[1]
    if number.startswith("-") and not take:
        take, number = True, number[1:]
    days = parse_days(number)
    if isinstance(days, Invalid):
        return days
    return Asked(who, days, take)


def usage(take: bool) -> str:
    if take:
        return t(
            "Send /revoke @username 7 to take 7 days off, or /revoke @username to end their access now "
            "(a user id works too). /revoke alone asks step by step."
        )
    return t(
        "Send /grant @username 7 to give 7 days (a user id works too; -7 takes them off). "
        "/grant alone asks step by step."
    )


def check_form(
    user_id: object, days: object, take: object, reason: object
) -> tuple[int, int | None, bool, str] | list[dict[str, str]]:
    """The owner app's form, with the same limits: (user id, days or None, take, reason) or the
    reasons field by field."""
    errors: list[dict[str, str]] = []
    uid = user_id if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0 else None
    if uid is None:
        errors.append({"field": "user_id", "reason": t("Send their Telegram user id (digits).")})
    taking = take is True
    count: int | None = None
    if days is None and taking:
        count = None
    elif isinstance(days, int) and not isinstance(days, bool) and DAYS_MIN <= days <= DAYS_MAX:
        count = days
    else:
        errors.append(
            {
                "field": "days",
                "reason": t("Send a number of days from {low} to {high}.", low=DAYS_MIN, high=DAYS_MAX),
            }
        )
    note = reason if isinstance(reason, str) else "" if reason is None else None
    if note is None or len(note.strip()) > REASON_MAX:
        errors.append(
            {
                "field": "reason",
                "reason": t("Keep the note under {limit} characters, please.", limit=REASON_MAX),
            }
        )
    if errors or uid is None or note is None:
        return errors
    return uid, count, taking, note.strip()
