"""What we remember about users: whether they blocked the bot (so nothing retries forever); the
language they read (the one they chose with /language, else their Telegram app's); and how we name
them to owners."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from shared_schemas.queries import USER_BY_USERNAME
from shared_schemas.telegram import TgUser
from telepay.core import i18n
from telepay.core.clock import Clock
from telepay.core.store import Store

LANGUAGE_CACHE_SECONDS = 60.0  # a /language choice reaches other instances within a minute


@dataclass(frozen=True)
class _Known:
    """What one read of a user's document told: their /language choice, their Telegram app's
    language, their @username as stored (lower-cased)."""

    read_at: float
    chosen: str | None
    seen: str | None
    username: str | None


# Per store object (a dropped store takes its entries with it: a new one, even at the same id, starts
# empty), per user; an entry is good for LANGUAGE_CACHE_SECONDS.
_USERS: weakref.WeakKeyDictionary[Store, dict[int, _Known]] = weakref.WeakKeyDictionary()


def mark_blocked(store: Store, clock: Clock, user_id: int) -> None:
    store.users.merge(str(user_id), {"user_id": user_id, "blocked_bot": True, "blocked_at": clock.now()})


def on_private_status(store: Store, clock: Clock, user_id: int, status: str) -> str:
    """Telegram's `my_chat_member` in the user's private chat with the bot: "kicked" when they
    block it, "member" when they unblock or restart it. Blocked is recorded at once (nothing is sent
    in vain); unblocked clears it, so announcements and notices reach them again."""
    if status == "kicked":
        mark_blocked(store, clock, user_id)
        return "user blocked the bot"
    if status == "member":
        user = store.users.get(str(user_id))
        if user is not None and user.blocked_bot:
            store.users.merge(str(user_id), {"blocked_bot": False, "blocked_at": None})
            return "user unblocked the bot"
        return "user started the bot"
    return f"ignored (private chat, {status})"


def display_name(user: TgUser) -> str:
    """How a buyer or donor is named in the owner's notices."""
    return f"{user.first_name} (@{user.username})" if user.username else user.first_name


def _known(store: Store, user_id: int) -> _Known:
    users = _USERS.setdefault(store, {})
    hit = users.get(user_id)
    if hit is not None and time.monotonic() - hit.read_at < LANGUAGE_CACHE_SECONDS:
        return hit
    doc = store.users.get(str(user_id))
    known = _Known(
        time.monotonic(),
        doc.language if doc else None,
        doc.language_code if doc else None,
        doc.username if doc else None,
    )
    users[user_id] = known
    return known


def _written(store: Store, user_id: int, known: _Known, **changes: str | None) -> None:
    """What this instance just wrote of the user, remembered as if read now."""
    _USERS.setdefault(store, {})[user_id] = replace(known, read_at=time.monotonic(), **changes)


def _remembered(store: Store, user_id: int) -> tuple[str | None, str | None]:
    known = _known(store, user_id)
    return known.chosen, known.seen


def language_for(store: Store, user_id: int) -> str:
    """The language a user reads: their /language choice, else their Telegram app's, else English."""
    chosen, seen = _remembered(store, user_id)
    return chosen if chosen in i18n.LANGUAGES else i18n.language_of(seen)


def chosen_language(store: Store, user_id: int) -> str | None:
    """The language the user chose with /language, if they chose one."""
    chosen, _ = _remembered(store, user_id)
    return chosen if chosen in i18n.LANGUAGES else None


def remember_language(store: Store, user: TgUser) -> str:
    """An update from `user`: their Telegram `language_code` is remembered when it changed (one
    write then, none otherwise); the language they read is returned."""
    known = _known(store, user.id)
    chosen, seen = known.chosen, known.seen
    if user.language_code and user.language_code != seen:
        store.users.merge(str(user.id), {"user_id": user.id, "language_code": user.language_code})
        _written(store, user.id, known, seen=user.language_code)
        seen = user.language_code
    return chosen if chosen in i18n.LANGUAGES else i18n.language_of(seen)


def choose_language(store: Store, user_id: int, language: str) -> None:
    """/language: the user's choice, over their Telegram app's."""
    if language not in i18n.LANGUAGES:
        raise ValueError(f"no catalog {language!r}")
    store.users.merge(str(user_id), {"user_id": user_id, "language": language})
    _written(store, user_id, _known(store, user_id), chosen=language)


def forget_languages() -> None:
    _USERS.clear()


@contextmanager
def speaking_to(store: Store, user_id: int) -> Iterator[str]:
    """Texts made inside are in the language `user_id` reads (a notice to an owner, a reminder)."""
    with i18n.speaking(language_for(store, user_id)) as language:
        yield language


# -- owner grants --
def remember_username(store: Store, user: TgUser) -> None:
    """An update from `user`: their @username is stored (lower-cased) when it is not stored yet or
    changed, so an owner's `/grant @name` finds them; one write then, none otherwise (read with the
    language, `remember_language` first)."""
    if not user.username:
        return
    wanted = user.username.lower()
    known = _known(store, user.id)
    if known.username != wanted:
        store.users.merge(str(user.id), {"user_id": user.id, "username": wanted})
        _written(store, user.id, known, username=wanted)


def user_by_username(store: Store, username: str) -> int | None:
    """The user the bot has seen with this @username (without the @, any case), if any."""
    found = store.users.first(USER_BY_USERNAME, username=username.lstrip("@").lower())
    return found.user_id if found else None
