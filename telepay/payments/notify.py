"""notify's logic: message the buyer and the owner about a payment event, each at most once.

When every message is sent (or was before), the event's outbox record is marked handled;
reconciliation publishes again an event that stays unhandled.

Each message is claimed (`msg:<event id>:<recipient>`) before it is sent and marked done after, so a
re-delivered event sends nothing twice. A user who blocked the bot is recorded and not retried;
Telegram's `retry_after` is honoured; other failures raise, so Pub/Sub retries with backoff and
finally dead-letters the message (alerted in Terraform).

Each message is made in its reader's language: the buyer's receipt in the buyer's, the owner's
notice in the owner's (`speaking_to` the recipient).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import NotifySettings
from shared_schemas.ids import OrderKind, deep_link, gift_start
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from shared_schemas.names import ClaimPurpose
from shared_schemas.telegram import Button
from telepay.adapters.telegram_api import TelegramForbidden
from telepay.channels.lookup import load_subscription
from telepay.channels.notices import wait_out_retry_after
from telepay.core.errors import Malformed
from telepay.core.i18n import money, t
from telepay.core.logs import get_logger
from telepay.core.store import NotFound
from telepay.core.users import mark_blocked, speaking_to
from telepay.runtime import Runtime
from telepay.subscriptions import gift_texts, texts
from telepay.subscriptions.access import Paid, deliver_access
from telepay.support import unreachable  # -- support --

log = get_logger("telepay.notify")
Rt = Runtime[NotifySettings]


def handle_event(envelope: Envelope[PaymentEvent], rt: Rt) -> list[str]:
    event = envelope.data
    done = []
    for recipient, user_id, send in _messages(envelope.type, event, rt):
        done.append(_once(rt, envelope, recipient, user_id, send))
    if envelope.type is EventType.PAYMENT_SETTLED:  # -- support --: once per order
        unreachable.after_receipt(rt, done, event.order_id, event.user_id)
    _mark_handled(rt, envelope.event_id)
    return done


def _mark_handled(rt: Rt, event_id: str) -> None:
    """Everyone told: reconciliation no longer publishes the event again."""
    try:
        rt.store.outbox.update(event_id, {"handled": True, "handled_at": rt.clock.now()})
    except NotFound:  # its outbox record has expired (a replay of an old event)
        log.info("handled an event no longer in the outbox", extra={"event_id": event_id})


def _messages(kind: EventType, event: PaymentEvent, rt: Rt) -> list[tuple[str, int, Callable[[], None]]]:
    """Who is told what about one payment event: (recipient, their user id, the send)."""
    buyer, owner = event.user_id, event.owner_user_id
    if kind is EventType.PAYMENT_SETTLED and event.gift_code is not None:  # a gift: no access, the gift
        return [
            ("buyer", buyer, lambda: _gift_buyer(rt, event)),
            ("owner", owner, lambda: _gift_owner(rt, event)),
        ]
    if kind is EventType.PAYMENT_SETTLED and event.kind is OrderKind.SUBSCRIPTION:
        return [
            ("buyer", buyer, lambda: _subscription_buyer(rt, event)),
            ("owner", owner, lambda: _subscription_owner(rt, event)),
        ]
    if kind is EventType.PAYMENT_SETTLED:
        return [
            ("buyer", buyer, lambda: _donation_donor(rt, event)),
            ("owner", owner, lambda: _donation_owner(rt, event)),
        ]
    if kind is EventType.PAYMENT_PARTIALLY_PAID:
        return [("buyer", buyer, lambda: _partial(rt, event))]
    if kind is EventType.PAYMENT_EXPIRED:
        return [
            ("buyer", buyer, lambda: _send(rt, event.chat_id, texts.payment_expired(event.channel_title)))
        ]
    if kind is EventType.PAYMENT_REFUNDED:
        until = event.subscription_expires_at if event.kind is OrderKind.SUBSCRIPTION else None
        amount, currency, title = event.price_amount, event.price_currency, event.channel_title
        return [
            (
                "buyer",
                buyer,
                lambda: _send(rt, event.chat_id, texts.refund_buyer(title, amount, currency, until)),
            ),
            (
                "owner",
                owner,
                lambda: _send(
                    rt, owner, texts.owner_refund_notice(_buyer_name(event), title, amount, currency, until)
                ),
            ),
        ]
    if kind is EventType.PAYMENT_FAILED:
        return [("buyer", buyer, lambda: _send(rt, event.chat_id, texts.payment_failed(event.channel_title)))]
    return []


def _once(
    rt: Rt, envelope: Envelope[PaymentEvent], recipient: str, user_id: int, send: Callable[[], None]
) -> str:
    if not user_id:
        return f"{recipient}: nobody to tell"
    key = f"{envelope.event_id}:{recipient}"
    with rt.claims.hold(
        ClaimPurpose.MESSAGE, key, lease=timedelta(seconds=60), keep_for=timedelta(days=14)
    ) as claim:
        if claim.done_before:
            return f"{recipient}: already done"
        try:
            with speaking_to(rt.store, user_id):
                wait_out_retry_after(send)
            claim.result = "sent"
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, user_id)
            claim.result = "blocked"
            log.info("%s blocked the bot; not retried", recipient, extra={"event_id": envelope.event_id})
    return f"{recipient}: {claim.result}"


def _send(rt: Rt, chat_id: int, text: str, keyboard: list[list[Button]] | None = None) -> None:
    rt.telegram.send_message(chat_id, text, keyboard=keyboard)


def _paid(event: PaymentEvent) -> str:
    return texts.paid_with(event.actually_paid, event.pay_currency)


def _subscription_buyer(rt: Rt, event: PaymentEvent) -> None:
    if event.subscription_expires_at is None or event.days is None:
        raise Malformed(f"settled subscription event {event.order_id} without its expiry or days")
    subscription = load_subscription(rt.store, event.channel_token, event.user_id)
    paid = Paid(
        user_id=event.user_id,
        chat_id=event.chat_id,
        channel_token=event.channel_token,
        title=event.channel_title,
        closed_channel_id=event.closed_channel_id,
        expires_at=event.subscription_expires_at,
        amount=event.price_amount,
        currency=event.price_currency,
        days=event.days,
        order_id=event.order_id,
        payment_id=event.payment_id,
        renewed_by_telegram=event.renewed_by_telegram,
        renews_on=event.renews_on,
    )
    deliver_access(rt, paid, in_channel=subscription is not None and subscription.in_channel)


def _buyer_name(event: PaymentEvent) -> str:
    return texts.buyer_name(event.buyer_name, event.user_id)


def _subscription_owner(rt: Rt, event: PaymentEvent) -> None:
    if event.subscription_expires_at is None or event.days is None:
        raise Malformed(f"settled subscription event {event.order_id} without its expiry or days")
    if event.renewed_by_telegram:
        notice = texts.owner_star_renewal_notice(
            _buyer_name(event), event.channel_title, event.price_amount, event.subscription_expires_at
        )
        _send(rt, event.owner_user_id, notice)
        return
    notice = texts.owner_subscription_notice(
        _buyer_name(event),
        event.channel_title,
        texts.duration(event.days),
        event.price_amount,
        event.price_currency,
        _paid(event),
        event.subscription_expires_at,
    )
    _send(rt, event.owner_user_id, notice + promo_note(event))


def _donation_donor(rt: Rt, event: PaymentEvent) -> None:
    _send(
        rt,
        event.chat_id,
        texts.donation_thanks(event.channel_title, event.price_amount, event.price_currency),
    )


def _donation_owner(rt: Rt, event: PaymentEvent) -> None:
    _send(
        rt,
        event.owner_user_id,
        texts.owner_donation_notice(
            _buyer_name(event), event.channel_title, event.price_amount, event.price_currency, _paid(event)
        ),
    )


def _partial(rt: Rt, event: PaymentEvent) -> None:
    paid = event.actually_paid or Decimal(0)
    text = texts.partially_paid(event.channel_title, paid, event.pay_amount, event.pay_currency or "")
    _send(rt, event.chat_id, text)


# -- gifts --
def _gift_buyer(rt: Rt, event: PaymentEvent) -> None:
    """The gift to forward: its link redeems it once (`telepay.subscriptions.gifts`)."""
    if event.gift_code is None or event.days is None:
        raise Malformed(f"settled gift event {event.order_id} without its code or days")
    link = deep_link(rt.settings.telegram_bot_username, gift_start(event.channel_token, event.gift_code))
    _send(rt, event.chat_id, gift_texts.gift_ready(event.channel_title, event.days, link))


def _gift_owner(rt: Rt, event: PaymentEvent) -> None:
    amount = money(event.price_amount, event.price_currency)
    notice = gift_texts.owner_gift_notice(
        _buyer_name(event), event.channel_title, event.days or 0, amount, _paid(event)
    )
    _send(rt, event.owner_user_id, notice)


# -- promo codes --
def promo_note(event: PaymentEvent) -> str:
    """The owner's notice names the code a payment was priced with (and when it was honoured
    although used up: the order was made before it ran out)."""
    if not event.promo_code:
        return ""
    if event.promo_used_up:
        return "\n" + t(
            "🏷 Code {code} (used up: honoured, the order was made before).", code=event.promo_code
        )
    full = event.full_price_amount
    if full is None:
        return "\n" + t("🏷 Code {code}.", code=event.promo_code)
    return "\n" + t(
        "🏷 Code {code} (full price {full}).", code=event.promo_code, full=money(full, event.price_currency)
    )
