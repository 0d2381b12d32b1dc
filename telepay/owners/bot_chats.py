"""The bot's own membership in channels (`my_chat_member`): how owners register channels.

Each change is recorded in `bot_chats` (an older update never overwrites a newer one), the person
who made it is told what the bot can do there and which rights are missing, and when the chat is
part of a live offer its owner is told which offer is affected (`bot_rights_problem` is set, in
English as operators read it too, and cleared once the rights are back). The person who made the
change reads it in their language; an owner told of someone else's change, in the owner's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import BotChatDoc, ChannelDoc
from shared_schemas.queries import CHANNEL_BY_CLOSED_CHAT, CHANNEL_BY_OPEN_CHAT
from shared_schemas.telegram import TgChatMember, TgChatMemberUpdated
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.core import i18n
from telepay.core.i18n import N_
from telepay.core.store import Tx
from telepay.core.users import on_private_status, speaking_to
from telepay.owners import texts as owner_texts
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]


class Role(StrEnum):
    OPEN = "open"  # the public channel where the offer is posted
    CLOSED = "closed"  # the private channel subscribers join


# The rights each role needs, with the words Telegram's admin screen uses for them (translated
# where they are said, `owners.texts`).
REQUIRED_RIGHTS: dict[Role, dict[str, str]] = {
    Role.OPEN: {
        "can_post_messages": N_("post messages"),
        "can_edit_messages": N_("edit messages of others"),
        "can_delete_messages": N_("delete messages of others"),
    },
    Role.CLOSED: {
        "can_invite_users": N_("invite users via link"),
        "can_restrict_members": N_("ban users"),
    },
}


def missing_rights(member: TgChatMember | None, role: Role) -> list[str]:
    """The rights of `role` the member lacks, in words (all of them when not an admin)."""
    if member is not None and member.status == "creator":
        return []
    granted = member.rights() if member is not None and member.status == "administrator" else {}
    return [words for right, words in REQUIRED_RIGHTS[role].items() if not granted.get(right)]


def rights_problem(member: TgChatMember | None, role: Role) -> str | None:
    """What the bot lacks in that role, in the current language (None when nothing)."""
    missing = missing_rights(member, role)
    return owner_texts.rights_problem(role.value, missing) if missing else None


def _affected(offer: Offer, chat_title: str, member: TgChatMember) -> str:
    return owner_texts.offer_affected(offer.channel.title, chat_title, rights_problem(member, offer.role))


@dataclass(frozen=True)
class Offer:
    channel: ChannelDoc
    role: Role


def offers_in_chat(rt: Rt, chat_id: int) -> list[Offer]:
    found = [
        Offer(c, Role.OPEN) for c in rt.store.channels.find(CHANNEL_BY_OPEN_CHAT, open_channel_id=chat_id)
    ]
    found += [
        Offer(c, Role.CLOSED)
        for c in rt.store.channels.find(CHANNEL_BY_CLOSED_CHAT, closed_channel_id=chat_id)
    ]
    return found


def on_my_chat_member(change: TgChatMemberUpdated, rt: Rt) -> str:
    if change.chat.type == "private":  # the user blocked, unblocked or restarted the bot
        return on_private_status(rt.store, rt.clock, change.chat.id, change.new_chat_member.status)
    member = change.new_chat_member
    record = BotChatDoc(
        chat_id=change.chat.id,
        title=change.chat.title or "",
        type=change.chat.type,
        username=change.chat.username,
        added_by=change.from_user.id,
        status=member.status,
        rights=sorted(right for right, granted in member.rights().items() if granted),
        changed_at=change.date,
        updated_at=rt.clock.now(),
    )
    if not _record(rt, record):
        return "stale bot membership change"
    lines = [owner_texts.bot_status(record.title, member.is_admin, _abilities(member))]
    for offer in offers_in_chat(rt, change.chat.id):
        with i18n.speaking(i18n.SOURCE):
            problem = rights_problem(member, offer.role)
        if problem != offer.channel.bot_rights_problem:
            rt.store.channels.update(offer.channel.token, {"bot_rights_problem": problem})
        if problem is None and offer.channel.bot_rights_problem is None:
            continue
        owner = offer.channel.owner_user_id
        if owner == change.from_user.id:
            lines.append(_affected(offer, record.title, member))
        else:
            with speaking_to(rt.store, owner):
                tell(rt, owner, _affected(offer, record.title, member))
    tell(rt, change.from_user.id, "\n\n".join(lines))
    return f"bot is {member.status}"


def _abilities(member: TgChatMember) -> dict[str, list[str]]:
    return {role.value: missing_rights(member, role) for role in Role}


def _record(rt: Rt, record: BotChatDoc) -> bool:
    repo = rt.store.bot_chats
    doc_id = str(record.chat_id)

    def work(tx: Tx) -> bool:
        current = tx.get(repo, doc_id)
        if current is not None and current.changed_at > record.changed_at:
            return False
        if (
            current is not None
            and current.status in ("administrator", "creator")
            and record.status
            in (
                "administrator",
                "creator",
            )
        ):
            # A rights change by another admin keeps who added the bot.
            record.added_by = current.added_by
        tx.set(repo, doc_id, record)
        return True

    return rt.store.transaction(work)


def tell(rt: Rt, user_id: int, text: str) -> None:
    """A private message that may not get through (a person who never started the bot, or who
    blocked it): nothing to retry, the record is what counts."""
    with contextlib.suppress(TelegramForbidden, TelegramBadRequest):
        rt.telegram.send_message(user_id, text)
