"""The owner app's Announcements: the channel's announcements with their status and counts
(`GET /api/channels/<token>/announcements`), and a compose form (`POST`, text only) with the bot's
limits (`announce_rules.check_form`) and the same sending (`telepay.owners.announcements`): the
owner's own check (still the creator of both chats), the day's slots, once per form (its request
id). Answers are (status, body) pairs the app turns into its replies."""

from __future__ import annotations

from typing import Any

from shared_schemas.config import OwnerAppSettings
from shared_schemas.documents import AnnouncementButton, AnnouncementButtonKind, AnnouncementDoc, ChannelDoc
from shared_schemas.queries import ANNOUNCEMENTS_OF_CHANNEL
from telepay.owners import announcements, grants
from telepay.owners.announce_rules import check_form
from telepay.runtime import Runtime

Rt = Runtime[OwnerAppSettings]
LISTED = 50  # the newest this many


def row(a: AnnouncementDoc) -> dict[str, Any]:
    return {
        "id": a.announcement_id,
        "created_at": a.created_at.isoformat(),
        "status": a.status.value,
        "audience": a.audience.value,
        "days": a.audience_days,
        "text": a.text if a.text is not None else a.caption,
        "photo": a.photo_file_id is not None,
        "total": a.total,
        "sent": a.sent,
        "blocked": a.blocked,
        "failed": a.failed,
        "via": a.via,
    }


def listed(rt: Rt, channel: ChannelDoc) -> tuple[int, Any]:
    found = [
        s.doc
        for page in rt.store.announcements.pages(ANNOUNCEMENTS_OF_CHANNEL, channel_token=channel.token)
        for s in page
    ]
    newest = sorted(found, key=lambda a: a.created_at, reverse=True)[:LISTED]
    return 200, {"announcements": [row(a) for a in newest], "per_day": rt.settings.announcements_per_day}


def compose(rt: Rt, user_id: int, channel: ChannelDoc, body: dict[str, Any]) -> tuple[int, Any]:
    """{announcement, recipients}; 422 with each field's reason; 403 (worded) not the owner or the day's limit reached."""
    checked = check_form(body)
    if isinstance(checked, list):
        return 422, {"errors": checked}
    content, audience, days, button_kind, url, request_id = checked
    problem = grants.refusal(rt, user_id, channel)
    if problem is not None:
        return 403, {"error": problem}
    count = announcements.audience_count(rt.store, channel.token, audience, days, rt.clock.now())
    if count == 0:
        return 422, {"errors": [{"field": "audience", "reason": "nobody"}]}
    button: AnnouncementButton | None = None
    if button_kind == "renew":
        button = announcements.renew_button(rt.settings.telegram_bot_username, channel.token)
    elif button_kind == "url" and url:
        button = AnnouncementButton(kind=AnnouncementButtonKind.URL, url=url)
    key = f"app-{user_id}-{channel.token}-{request_id}"
    made = announcements.make(rt, user_id, channel, content, audience, days, button, key, "owner_app")
    if isinstance(made, str):
        return 403, {"error": made}  # worded for the owner, as the app shows refusals
    return 200, {"announcement": row(made), "recipients": count}
