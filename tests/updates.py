"""Telegram updates as the Bot API sends them, for handler tests."""

from __future__ import annotations

from typing import Any


def user(user_id: int, first_name: str = "Ada", username: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        found["username"] = username
    return found


def start(update_id: int, text: str, user_id: int, first_name: str = "Ada") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": user_id, "type": "private"},
            "from": user(user_id, first_name),
            "text": text,
        },
    }


def press(
    update_id: int, data: str, user_id: int, message_id: int = 9, text: str | None = None
) -> dict[str, Any]:
    """A button press; `text`: the message with the button as the user saw it when pressing."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
    }
    if text is not None:
        message["text"] = text
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": user(user_id),
            "chat_instance": "x",
            "data": data,
            "message": message,
        },
    }


def join_request(update_id: int, chat_id: int, user_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "chat_join_request": {
            "chat": {"id": chat_id, "type": "channel", "title": "Members"},
            "from": user(user_id),
            "user_chat_id": user_id,
            "date": 0,
        },
    }


BOT_ID = 1  # the harness's token is "1:test"


def bot_member(status: str, rights: tuple[str, ...] = ()) -> dict[str, Any]:
    member: dict[str, Any] = {
        "user": {"id": BOT_ID, "is_bot": True, "first_name": "TelePay"},
        "status": status,
    }
    if status == "administrator":
        member |= {"can_be_edited": False, "can_manage_chat": True} | {r: True for r in rights}
    return member


def my_chat_member(
    update_id: int,
    chat_id: int,
    by: int,
    status: str,
    rights: tuple[str, ...] = (),
    title: str = "Night Owls",
    date: int | None = None,
) -> dict[str, Any]:
    """The bot's own status in a channel changed (made admin, rights changed, removed)."""
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": {"id": chat_id, "type": "channel", "title": title},
            "from": user(by),
            "date": update_id if date is None else date,
            "old_chat_member": bot_member("left"),
            "new_chat_member": bot_member(status, rights),
        },
    }


def private_bot_status(update_id: int, user_id: int, blocked: bool) -> dict[str, Any]:
    """The user blocked the bot (kicked) or unblocked it (member): Telegram's only update for that."""
    old, new = ("member", "kicked") if blocked else ("kicked", "member")
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
            "from": user(user_id),
            "date": update_id,
            "old_chat_member": bot_member(old),
            "new_chat_member": bot_member(new),
        },
    }


def pre_checkout(
    update_id: int, user_id: int, payload: str, stars: int, currency: str = "XTR"
) -> dict[str, Any]:
    """The buyer pressed Pay on a Stars invoice."""
    return {
        "update_id": update_id,
        "pre_checkout_query": {
            "id": f"pcq{update_id}",
            "from": user(user_id),
            "currency": currency,
            "total_amount": stars,
            "invoice_payload": payload,
        },
    }


def star_payment(
    update_id: int,
    user_id: int,
    payload: str,
    stars: int,
    charge_id: str,
    date: int = 0,
    expiration: int | None = None,
    recurring: bool = False,
    first: bool = False,
) -> dict[str, Any]:
    """Telegram's `successful_payment` message of a Stars payment (a renewal: `recurring`, not `first`)."""
    payment: dict[str, Any] = {
        "currency": "XTR",
        "total_amount": stars,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    if expiration is not None:
        payment |= {
            "subscription_expiration_date": expiration,
            "is_recurring": recurring,
            "is_first_recurring": first,
        }
    return {
        "update_id": update_id,
        "message": {
            "message_id": 50_000 + update_id,
            "date": date,
            "chat": {"id": user_id, "type": "private"},
            "from": user(user_id),
            "successful_payment": payment,
        },
    }


def star_refund(update_id: int, user_id: int, payload: str, stars: int, charge_id: str) -> dict[str, Any]:
    """Telegram's `refunded_payment` message."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 60_000 + update_id,
            "date": 0,
            "chat": {"id": user_id, "type": "private"},
            "from": user(user_id),
            "refunded_payment": {
                "currency": "XTR",
                "total_amount": stars,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
            },
        },
    }


# -- support --
def reply(update_id: int, text: str, user_id: int, reply_to: int, first_name: str = "Ada") -> dict[str, Any]:
    """A private message replying to the bot's message `reply_to` (Telegram sends the replied
    message along, as `reply_to_message`)."""
    update = start(update_id, text, user_id, first_name)
    update["message"]["reply_to_message"] = {
        "message_id": reply_to,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "text": "…",
    }
    return update
