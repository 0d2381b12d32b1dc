"""Steps a user takes, over HTTP through the stand-ins, shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from local.fixtures import setup_channel
from shared_schemas.names import ClaimPurpose, Collection, Queue
from telepay.core.claims import Claim


@dataclass
class Channel:
    token: str
    owner: int
    open: int
    closed: int


def new_channel(endpoints: dict[str, Any], tg: TelegramControl, token: str, **settings: Any) -> Channel:
    """An owner's channel as an operator registers it (`telepay channels register`), with `settings`
    added to the fixtures' Night Owls Club (`local.fixtures.night_owls`)."""
    ids = setup_channel(endpoints, tg, token, **settings)
    return Channel(token, ids["owner"], ids["open"], ids["closed"])


def open_invoice(tg: TelegramControl, user: int, token: str, tier_index: int = 0) -> dict[str, Any]:
    """/start <token>, tap a tier; returns the message with the Pay button."""
    before = _last_id(tg, user)
    tg.say(user, f"/start {token}")
    offer = tg.wait_message(user, "Choose how long", after=before)
    tg.press(user, offer["message_id"], buttons(offer)[tier_index]["callback_data"])
    choice = tg.choose_payment(user, after=offer["message_id"])  # crypto
    return tg.wait_message(user, "Your invoice is ready", after=choice["message_id"])


def pay(
    np: NowPaymentsControl,
    pay_message: dict[str, Any],
    statuses: tuple[str, ...] = ("waiting", "confirming", "finished"),
    **payment_fields: Any,
) -> int:
    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment = np.pay(invoice["id"], **payment_fields)
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


def queue_path(endpoints: dict[str, Any], queue: Queue) -> str:
    return f"projects/{endpoints['project']}/locations/{endpoints['tasks_location']}/queues/{queue.value}"


def tasks_idle(endpoints: dict[str, Any], queue: Queue, timeout: float = 60) -> None:
    """Waits until the queue has no task pending or in flight (the Cloud Tasks stand-in knows)."""
    answer = httpx.post(
        f"{endpoints['tasks_emulator']}/_control/wait_idle",
        json={"queue": queue_path(endpoints, queue), "timeout": timeout},
        timeout=timeout + 10,
    ).json()
    assert answer["idle"], f"{queue.value} still busy after {timeout} s: {answer['stats']}"


def notified(db: Any, order_id: str, timeout: float = 30) -> None:
    """Waits until every payment event of a settled order is published and notify has finished both
    of its messages (their claims are done): from then on a redelivered event is refused by its claim,
    so a count of messages is final."""

    def done() -> bool:
        outbox = docs_where(db, Collection.OUTBOX.value, "order_id", order_id)
        claims = [
            db.collection(Collection.CLAIMS.value)
            .document(Claim(ClaimPurpose.MESSAGE, f"{d['event_id']}:{who}").doc_id)
            .get()
            .to_dict()
            for d in outbox
            for who in ("buyer", "owner")
        ]
        published = bool(outbox) and all(d["published"] for d in outbox)
        return published and all(c and c["status"] == "done" for c in claims)

    wait_for(f"the notices of {order_id}", done, timeout=timeout)


def donate(
    tg: TelegramControl, np: NowPaymentsControl, user: int, token: str, digits: str, **payment: Any
) -> int:
    """/start <token>_DONATE, type the amount on the keypad, confirm, pay; the payment id."""
    tg.say(user, f"/start {token}_DONATE")
    keypad = tg.wait_message(user, "Amount: $0.00")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    for digit in digits:
        tg.press(user, keypad["message_id"], keys[digit])
    wait_for(
        "the amount on the keypad",
        lambda: any(
            m["message_id"] == keypad["message_id"] and f"Amount: ${digits}\n" in m["text"]
            for m in tg.transcript(user)
        ),
    )
    tg.press(user, keypad["message_id"], keys["✅ Confirm"])
    tg.choose_payment(user, message_id=keypad["message_id"])  # crypto
    return pay(np, pay_button_in_place(tg, user, keypad["message_id"]), **payment)


def pay_button_in_place(tg: TelegramControl, user: int, keypad_message_id: int) -> dict[str, Any]:
    """The keypad message once create_invoice has turned it into the Pay button."""
    return wait_for(
        "the Pay button in place of the keypad",
        lambda: next(
            (
                m
                for m in tg.transcript(user)
                if m["message_id"] == keypad_message_id and "invoice is ready" in m["text"]
            ),
            None,
        ),
    )


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
