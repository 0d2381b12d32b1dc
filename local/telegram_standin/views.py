"""The world's JSON views: users, chats, members, invite links, messages and Telegram Stars payments
in the Bot API's shapes.

Pure functions of the world's records (``records.py``), used by the Bot API methods (``methods/``),
by the updates the world emits (``model.py``) and by the control API. They read the world through
:class:`WorldView`, which ``model.World`` satisfies, so they do not depend on ``model.py``.
Wire-level parsing and errors are in ``protocol.py``.
"""

from __future__ import annotations

from typing import Protocol

from .records import (
    JSON,
    BotState,
    Chat,
    InviteLink,
    Member,
    Message,
    StarCharge,
    StarInvoice,
    StarSubscription,
    StarTransaction,
    User,
)


class WorldView(Protocol):
    """What the views read of the world (``model.World``)."""

    users: dict[int, User]
    chats: dict[int, Chat]

    def member(self, chat: Chat, user_id: int) -> Member | None: ...

    def find_message(self, bot: BotState, chat_id: int, message_id: int) -> Message | None: ...


def user_api(user: User) -> JSON:
    out: JSON = {"id": user.id, "is_bot": user.is_bot, "first_name": user.first_name}
    if user.last_name:
        out["last_name"] = user.last_name
    if user.username:
        out["username"] = user.username
    if user.language_code:
        out["language_code"] = user.language_code
    if user.is_premium:
        out["is_premium"] = True
    return out


def user_json(world: WorldView, user_id: int) -> JSON:
    user = world.users.get(user_id)
    if user is None:
        return {"id": user_id, "is_bot": False, "first_name": ""}
    return user_api(user)


def chat_json(world: WorldView, chat_id: int, full: bool = False, bot: BotState | None = None) -> JSON:
    if chat_id > 0:
        user = world.users[chat_id]
        out: JSON = {"id": chat_id, "first_name": user.first_name}
        if user.last_name:
            out["last_name"] = user.last_name
        if user.username:
            out["username"] = user.username
        out["type"] = "private"
        if full:
            if user.username:
                out["active_usernames"] = [user.username]
            out["accepted_gift_types"] = {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            }
            out["max_reaction_count"] = 11
            out["accent_color_id"] = chat_id % 7
        return out
    chat = world.chats[chat_id]
    out = {"id": chat_id, "title": chat.title}
    if chat.username:
        out["username"] = chat.username
    out["type"] = chat.type
    if full:
        if chat.username:
            out["active_usernames"] = [chat.username]
        if chat.description:
            out["description"] = chat.description
        if bot is not None:
            primary = next(
                (
                    link
                    for link in chat.links.values()
                    if link.is_primary and not link.is_revoked and link.creator_id == bot.user.id
                ),
                None,
            )
            if primary is not None:
                out["invite_link"] = primary.invite_link
        if chat.type == "supergroup":
            out["permissions"] = {
                "can_send_messages": True,
                "can_send_media_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        out["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        out["max_reaction_count"] = 11
        out["accent_color_id"] = abs(chat_id) % 7
    return out


def member_json(world: WorldView, chat: Chat, user_id: int) -> JSON:
    member = world.member(chat, user_id)
    status = member.status if member is not None else "left"
    out: JSON = {"user": user_json(world, user_id), "status": status}
    if member is None:
        return out
    if status == "creator":
        if member.custom_title:
            out["custom_title"] = member.custom_title
        out["is_anonymous"] = False
    elif status == "administrator":
        out["can_be_edited"] = member.can_be_edited
        for name in chat.right_names:
            out[name] = bool(member.rights.get(name))
        out["can_manage_chat"] = True
        out["can_manage_voice_chats"] = bool(member.rights.get("can_manage_video_chats"))
        if member.custom_title:
            out["custom_title"] = member.custom_title
    elif status == "member":
        if member.until_date:
            out["until_date"] = member.until_date
    elif status == "kicked":
        out["until_date"] = member.until_date
    return out


def link_json(world: WorldView, link: InviteLink, bot: BotState | None) -> JSON:
    url = link.invite_link
    if bot is not None and link.creator_id != bot.user.id:
        # "If the link was created by another chat administrator, then the second part of
        # the link will be replaced with '…'."
        head, _, tail = url.partition("+")
        url = f"{head}+{tail[: len(tail) // 2]}..." if tail else url
    out: JSON = {"invite_link": url}
    if link.name:
        out["name"] = link.name
    out["creator"] = user_json(world, link.creator_id)
    if link.expire_date:
        out["expire_date"] = link.expire_date
    if link.member_limit:
        out["member_limit"] = link.member_limit
    chat = world.chats.get(link.chat_id)
    pending = 0
    if chat is not None:
        pending = sum(1 for r in chat.requests.values() if r.invite_link == link.invite_link)
    if pending:
        out["pending_join_request_count"] = pending
    out["creates_join_request"] = link.creates_join_request
    out["is_primary"] = link.is_primary
    out["is_revoked"] = link.is_revoked
    return out


def message_json(
    world: WorldView, msg: Message, bot: BotState | None = None, with_reply: bool = True
) -> JSON:
    out: JSON = {"message_id": msg.message_id}
    if msg.from_id is not None:
        out["from"] = user_json(world, msg.from_id)
    if msg.sender_chat_id is not None:
        out["sender_chat"] = chat_json(world, msg.sender_chat_id)
    out["chat"] = chat_json(world, msg.chat_id)
    out["date"] = msg.date
    if msg.edit_date:
        out["edit_date"] = msg.edit_date
    if with_reply and msg.reply_to is not None and bot is not None:
        replied = world.find_message(bot, msg.chat_id, msg.reply_to)
        if replied is not None and not replied.deleted:
            out["reply_to_message"] = message_json(world, replied, bot, with_reply=False)
    if msg.service:
        out.update(msg.service)
    else:
        out["text"] = msg.text
        if msg.entities:
            out["entities"] = [dict(e) for e in msg.entities]
    if msg.reply_markup is not None:
        out["reply_markup"] = msg.reply_markup
    if msg.protect_content:
        out["has_protected_content"] = True
    return out


def message_record(world: WorldView, msg: Message, bot: BotState) -> JSON:
    return {
        "message_id": msg.message_id,
        "outgoing": msg.outgoing,
        "from": user_json(world, msg.from_id) if msg.from_id is not None else None,
        "date": msg.date,
        "text": msg.text,
        "entities": msg.entities,
        "reply_markup": msg.reply_markup,
        "edit_date": msg.edit_date or None,
        "deleted": msg.deleted,
        "deleted_at": msg.deleted_at or None,
        "history": msg.history,
        "service": msg.service or None,
        "message": message_json(world, msg, bot),
    }


# ------------------------------------------------------------------ Telegram Stars
def invoice_json(invoice: StarInvoice) -> JSON:
    """Invoice, as the server writes it (the photo is left out, as the server leaves it out)."""
    return {
        "title": invoice.title,
        "description": invoice.description,
        "start_parameter": invoice.start_parameter,
        "currency": "XTR",
        "total_amount": invoice.amount,
    }


def successful_payment_json(charge: StarCharge) -> JSON:
    out: JSON = {
        "currency": "XTR",
        "total_amount": charge.amount,
        "invoice_payload": charge.payload,
        "telegram_payment_charge_id": charge.charge_id,
        "provider_payment_charge_id": "",
    }
    if charge.subscription_period:
        out["is_recurring"] = True
        if charge.is_first_recurring:
            out["is_first_recurring"] = True
        out["subscription_expiration_date"] = charge.expiration_date
    return out


def refunded_payment_json(charge: StarCharge) -> JSON:
    # The server leaves provider_payment_charge_id out when it is empty, as it is for Stars.
    return {
        "currency": "XTR",
        "total_amount": charge.amount,
        "invoice_payload": charge.payload,
        "telegram_payment_charge_id": charge.charge_id,
    }


def star_transaction_json(world: WorldView, tx: StarTransaction) -> JSON:
    """StarTransaction: a payment in has a ``source``, a refund out a ``receiver``; both a
    TransactionPartnerUser of ``transaction_type`` ``invoice_payment`` (a withdrawal: a
    TransactionPartnerFragment)."""
    partner: JSON
    if tx.partner == "fragment":
        partner = {"type": "fragment", "withdrawal_state": {"type": "pending"}}
    else:
        partner = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": user_json(world, tx.user_id),
        }
        if tx.payload:
            partner["invoice_payload"] = tx.payload
        if tx.subscription_period:
            partner["subscription_period"] = tx.subscription_period
    out: JSON = {"id": tx.id, "date": tx.date}
    out["source" if tx.incoming else "receiver"] = partner
    out["amount"] = tx.amount
    return out


def star_subscription_record(sub: StarSubscription, now: int) -> JSON:
    return {
        "charge_id": sub.id,
        "bot_id": sub.bot_id,
        "amount": sub.amount,
        "payload": sub.payload,
        "period": sub.period,
        "until": sub.until,
        "canceled": sub.canceled,
        "bot_canceled": sub.bot_canceled,
        "active": not sub.ended and sub.until > now,
        "ended": sub.ended,
        "end_reason": sub.end_reason or None,
        "charges": list(sub.charges),
    }


def star_charge_record(charge: StarCharge) -> JSON:
    return {
        "charge_id": charge.charge_id,
        "bot_id": charge.bot_id,
        "user_id": charge.user_id,
        "amount": charge.amount,
        "payload": charge.payload,
        "date": charge.date,
        "subscription_id": charge.subscription_id or None,
        "subscription_expiration_date": charge.expiration_date or None,
        "refunded": charge.refunded,
        "refund_date": charge.refund_date or None,
        "update_delivered": charge.delivered,
    }
