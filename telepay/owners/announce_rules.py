"""The rules of an owner's announcement, as pure functions: what may be sent (a text of 1 to 4096
UTF-16 units with Telegram's entities as the owner's message carried them, or one photo with a
caption of at most 1024; never markup parsed from the text), to whom (the audiences and their day
counts, 1 to 365), with which button (Renew, or a https URL the owner gives), how many a day (the
channel's slots), and when an announcement is over (every recipient counted)."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared_schemas.documents import (
    AnnouncementAudience,
    AnnouncementButton,
    AnnouncementButtonKind,
    AnnouncementDoc,
    AnnouncementStatus,
    SubscriptionDoc,
    SubscriptionStatus,
)
from shared_schemas.telegram import MESSAGE_MAX, TgMessage, utf16_len
from telepay.channels.settings import Invalid
from telepay.core.i18n import t

TEXT_MAX = MESSAGE_MAX  # Telegram's limits: a message's text, a photo's caption (UTF-16 units)
CAPTION_MAX = 1024
DAYS_MIN, DAYS_MAX = 1, 365
DEFAULT_DAYS = {AnnouncementAudience.ENDING: 7, AnnouncementAudience.LAPSED: 30}
LABEL_MAX = 64
URL_MAX = 2048
# The entity types of the Bot API's MessageEntity a bot may send; any other is dropped (the
# message still goes, without that formatting), never passed on for Telegram to refuse.
ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)
_ENTITY_EXTRAS = {"text_link": "url", "pre": "language", "custom_emoji": "custom_emoji_id"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


@dataclass(frozen=True)
class Content:
    """What an announcement says: a text with its entities, or a photo with its caption."""

    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    photo_file_id: str | None = None
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "entities": self.entities,
            "photo_file_id": self.photo_file_id,
            "caption": self.caption,
            "caption_entities": self.caption_entities,
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> Content:
        return cls(
            text=data.get("text"),
            entities=list(data.get("entities") or []),
            photo_file_id=data.get("photo_file_id"),
            caption=data.get("caption"),
            caption_entities=list(data.get("caption_entities") or []),
        )


def clean_entities(text: str, raw: object) -> list[dict[str, Any]]:
    """Telegram's entities of `text` as a bot may send them back: known types only, each within
    the text (offsets and lengths in UTF-16 code units), with only the fields its type has."""
    if not isinstance(raw, list):
        return []
    size = utf16_len(text)
    kept: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in ENTITY_TYPES:
            continue
        offset, length = item.get("offset"), item.get("length")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (offset, length)):
            continue
        assert isinstance(offset, int) and isinstance(length, int)
        if offset < 0 or length <= 0 or offset + length > size:
            continue
        entity: dict[str, Any] = {"type": item["type"], "offset": offset, "length": length}
        extra = _ENTITY_EXTRAS.get(item["type"])
        if extra and isinstance(item.get(extra), str):
            entity[extra] = item[extra]
        if item["type"] == "text_link" and "url" not in entity:
            continue
        if item["type"] == "text_mention":
            user = item.get("user")
            if not isinstance(user, dict) or not isinstance(user.get("id"), int):
                continue
            entity["user"] = {
                "id": user["id"],
                "is_bot": bool(user.get("is_bot")),
                "first_name": str(user.get("first_name") or ""),
            }
        kept.append(entity)
    return kept


def check_text(text: str) -> str | Invalid:
    if not text.strip():
        return Invalid(t("Send the announcement as a message: some text, or a photo with a caption."))
    if utf16_len(text) > TEXT_MAX:
        return Invalid(
            t("That's longer than Telegram allows ({limit} characters): shorten it, please.", limit=TEXT_MAX)
        )
    return text


def content_of(message: TgMessage) -> Content | Invalid:
    """The owner's message as the announcement: a text with its entities, or the largest size of
    a photo with its caption and caption entities."""
    if message.photo:
        largest = max(message.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
        caption = message.caption or ""
        if utf16_len(caption) > CAPTION_MAX:
            return Invalid(
                t(
                    "A photo's caption can be {limit} characters at most: shorten it, please.",
                    limit=CAPTION_MAX,
                )
            )
        return Content(
            photo_file_id=largest.file_id,
            caption=caption or None,
            caption_entities=clean_entities(caption, message.caption_entities) if caption else [],
        )
    text = check_text(message.text or "")
    if isinstance(text, Invalid):
        return text
    return Content(text=text, entities=clean_entities(text, message.entities))


def parse_days(answer: str) -> int | Invalid:
    answer = answer.strip()
    if not re.fullmatch(r"[0-9]{1,3}", answer) or not DAYS_MIN <= int(answer) <= DAYS_MAX:
        return Invalid(t("Send a number of days from {low} to {high}.", low=DAYS_MIN, high=DAYS_MAX))
    return int(answer)


def check_url(url: str) -> str | Invalid:
    """A https URL with a real host name: what a button may open."""
    refusal = Invalid(t("Send a link starting with https:// (for example https://example.com/news)."))
    if len(url) > URL_MAX or any(c.isspace() for c in url):
        return refusal
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return refusal
    host = parts.hostname or ""
    if parts.scheme != "https" or not _HOST.fullmatch(host) or parts.username or parts.password:
        return refusal
    return url


def parse_url_button(answer: str) -> AnnouncementButton | Invalid:
    """`https://…`, or `Label https://…` (the label at most 64 characters)."""
    words = answer.strip().rsplit(None, 1)
    if not words:
        return check_url("")  # type: ignore[return-value]
    url = check_url(words[-1])
    if isinstance(url, Invalid):
        return url
    label = words[0].strip() if len(words) == 2 else None
    if label is not None and len(label) > LABEL_MAX:
        return Invalid(t("Keep the button's label under {limit} characters, please.", limit=LABEL_MAX))
    return AnnouncementButton(kind=AnnouncementButtonKind.URL, url=url, label=label)


@dataclass(frozen=True)
class Window:
    """Which subscriptions an audience reads: by status, with `expires_at` within [above, below]."""

    status: SubscriptionStatus
    above: datetime | None
    below: datetime | None


def windows(audience: AnnouncementAudience, days: int | None, now: datetime) -> tuple[Window, ...]:
    if audience is AnnouncementAudience.ENDING:
        return (Window(SubscriptionStatus.ACTIVE, now, now + timedelta(days=days or 7)),)
    if audience is AnnouncementAudience.LAPSED:
        since = now - timedelta(days=days or 30)
        # Ended, and those whose end the sweep has not reached yet.
        return (
            Window(SubscriptionStatus.EXPIRED, since, now),
            Window(SubscriptionStatus.ACTIVE, since, now - timedelta(microseconds=1)),
        )
    return (Window(SubscriptionStatus.ACTIVE, now, None),)


def in_audience(sub: SubscriptionDoc, audience: AnnouncementAudience, now: datetime) -> bool:
    """What the query cannot say: a trial member's access is their trial's."""
    if audience is AnnouncementAudience.TRIAL:
        return sub.trial_ends_at is not None and sub.trial_ends_at == sub.expires_at and sub.expires_at > now
    return True


def slot_ids(token: str, now: datetime, per_day: int) -> list[str]:
    """The ids an announcement of this channel may take today (UTC): the first free one is taken."""
    day = now.strftime("%Y%m%d")
    return [f"{token}-{day}-{n}" for n in range(1, per_day + 1)]


def is_over(announcement: AnnouncementDoc) -> bool:
    """Every recipient the fan-out handed out has its record (its page ran), and every record is
    counted."""
    counted = announcement.sent + announcement.blocked + announcement.failed
    return (
        announcement.queued_all
        and announcement.total >= announcement.recipients
        and counted >= announcement.total
    )


def may_send(announcement: AnnouncementDoc) -> bool:
    return announcement.status in (AnnouncementStatus.SENDING, AnnouncementStatus.DRAFT)


def check_form(
    body: dict[str, Any],
) -> tuple[Content, AnnouncementAudience, int | None, str | None, str | None, str] | list[dict[str, str]]:
    """The owner app's compose form (text only), with the bot's limits: (content, audience, days,
    button kind or None, the URL of a URL button, request id) or the reasons field by field."""
    errors: list[dict[str, str]] = []
    text = body.get("text")
    checked = check_text(text) if isinstance(text, str) else check_text("")
    if isinstance(checked, Invalid):
        errors.append({"field": "text", "reason": checked.reason})
    raw_audience = body.get("audience")
    audience = (
        AnnouncementAudience(raw_audience)
        if raw_audience in {a.value for a in AnnouncementAudience}
        else None
    )
    if audience is None:
        errors.append({"field": "audience", "reason": t("Choose who gets it.")})
    days: int | None = None
    if audience in DEFAULT_DAYS:
        raw_days = body.get("days")
        if isinstance(raw_days, int) and not isinstance(raw_days, bool) and DAYS_MIN <= raw_days <= DAYS_MAX:
            days = raw_days
        else:
            errors.append(
                {
                    "field": "days",
                    "reason": t("Send a number of days from {low} to {high}.", low=DAYS_MIN, high=DAYS_MAX),
                }
            )
    button = body.get("button")
    url: str | None = None
    if button not in (None, "", "renew", "url"):
        errors.append({"field": "button", "reason": t("Choose Renew, a link, or no button.")})
    if button == "url":
        raw_url = body.get("url")
        found = check_url(raw_url) if isinstance(raw_url, str) else check_url("")
        if isinstance(found, Invalid):
            errors.append({"field": "url", "reason": found.reason})
        else:
            url = found
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        errors.append(
            {"field": "request_id", "reason": t("This form is out of date: open it again, please.")}
        )
    if errors or audience is None or isinstance(checked, Invalid) or not isinstance(request_id, str):
        return errors
    return Content(text=checked), audience, days, (str(button) if button else None), url, request_id
