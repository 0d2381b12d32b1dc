"""What the bot says about announcements: to the owner (the questions, the preview's count, the
progress and the result) and the buttons under an announcement in the recipient's language."""

from __future__ import annotations

from shared_schemas.documents import AnnouncementAudience
from telepay.core.i18n import N_, number, t, tn

ASK_MESSAGE = N_(
    "Send me the announcement: a message with the formatting you want (bold, links…), or one photo "
    "with a caption. I'll send it exactly like that."
)
ASK_AUDIENCE = N_("Who gets it?")
ASK_BUTTON = N_(
    "Add a button under it? Tap Renew (it opens your offer), send a link starting with https:// "
    "(optionally a label first: Schedule https://example.com), or skip it."
)
RENEW = N_("Renew")
OPEN = N_("Open")
NO_BUTTON = N_("No button")
SEND = N_("📣 Send")
CANCEL = N_("Cancel")
NOBODY = N_("Nobody is in that audience right now: pick another one, please.")
PREVIEW_ABOVE = N_("👇 This is how your subscribers will see it:")
AUDIENCES = {
    AnnouncementAudience.ACTIVE: N_("All active subscribers"),
    AnnouncementAudience.ENDING: N_("Ending within 7 days"),
    AnnouncementAudience.LAPSED: N_("Lapsed in the last 30 days"),
    AnnouncementAudience.TRIAL: N_("Members on a free trial"),
}


def ask_days(audience: AnnouncementAudience) -> str:
    if audience is AnnouncementAudience.ENDING:
        return t("Ending within how many days? Tap one or type 1 to 365.")
    return t("Lapsed within how many days? Tap one or type 1 to 365.")


def audience_name(audience: AnnouncementAudience, days: int | None) -> str:
    if audience is AnnouncementAudience.ENDING:
        return tn("subscribers ending within {n} day", "subscribers ending within {n} days", days or 7)
    if audience is AnnouncementAudience.LAPSED:
        return tn(
            "members who lapsed in the last {n} day", "members who lapsed in the last {n} days", days or 30
        )
    if audience is AnnouncementAudience.TRIAL:
        return t("members on a free trial")
    return t("all active subscribers")


def confirm(title: str, count: int, audience: AnnouncementAudience, days: int | None) -> str:
    return tn(
        "Send it to {n} person in {title} ({audience})?",
        "Send it to {n} people in {title} ({audience})?",
        count,
        title=title,
        audience=audience_name(audience, days),
    )


def sending(count: int) -> str:
    return tn("📣 Sending to {n} subscriber…", "📣 Sending to {n} subscribers…", count)


def finished(sent: int, blocked: int, failed: int) -> str:
    return t(
        "📣 Announcement sent: {sent} sent, {blocked} blocked, {failed} failed",
        sent=number(sent),
        blocked=number(blocked),
        failed=number(failed),
    )


def limit_reached(title: str, per_day: int) -> str:
    return tn(
        "You've sent today's announcement for {title} already ({n} a day): try again tomorrow (UTC).",
        "You've sent today's {n} announcements for {title} already: try again tomorrow (UTC).",
        per_day,
        title=title,
    )
