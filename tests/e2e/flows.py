"""Steps a user takes, over HTTP through the stand-ins, shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from local.demo import setup_channel


@dataclass
class Channel:
    token: str
    owner: int
    open: int
    closed: int


def new_channel(endpoints: dict[str, Any], tg: TelegramControl, token: str) -> Channel:
    ids = setup_channel(endpoints, tg, token)
    return Channel(token, ids["owner"], ids["open"], ids["closed"])


def open_invoice(tg: TelegramControl, user: int, token: str, tier_index: int = 0) -> dict[str, Any]:
    """/start <token>, tap a tier; returns the message with the Pay button."""
    before = _last_id(tg, user)
    tg.say(user, f"/start {token}")
    offer = tg.wait_message(user, "Choose how long", after=before)
    tg.press(user, offer["message_id"], buttons(offer)[tier_index]["callback_data"])
    return tg.wait_message(user, "Your invoice is ready", after=offer["message_id"])


def pay(
    np: NowPaymentsControl,
    pay_message: dict[str, Any],
    statuses: tuple[str, ...] = ("waiting", "confirming", "finished"),
) -> int:
    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment = np.pay(invoice["id"])
    for status in statuses:
        [ipn] = np.steps(payment, [{"status": status}])
        assert ipn["response_status"] == 200, ipn
    return payment


def subscribe(
    tg: TelegramControl, np: NowPaymentsControl, user: int, channel: Channel, tier_index: int = 0
) -> dict[str, Any]:
    """The whole purchase; returns the receipt message."""
    pay_message = open_invoice(tg, user, channel.token, tier_index)
    pay(np, pay_message)
    return tg.wait_message(user, "Payment received", after=pay_message["message_id"])


def join(tg: TelegramControl, user: int, channel: Channel, receipt: dict[str, Any]) -> str:
    result = tg.join(user, buttons(receipt)[0]["url"])
    assert result["result"] == "requested", result
    wait_for("the join approval", lambda: tg.member_status(channel.closed, user) == "member")
    return "member"


def _last_id(tg: TelegramControl, chat: int) -> int:
    messages = tg.transcript(chat)
    return max((m["message_id"] for m in messages), default=0)


def texts_in(tg: TelegramControl, chat: int, containing: str) -> list[str]:
    return [m["text"] for m in tg.transcript(chat) if containing in (m.get("text") or "")]


def docs_where(db: Any, collection: str, field: str, value: Any) -> list[dict[str, Any]]:
    from google.cloud.firestore_v1.base_query import FieldFilter

    return [
        s.to_dict() for s in db.collection(collection).where(filter=FieldFilter(field, "==", value)).stream()
    ]
