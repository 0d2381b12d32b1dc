"""Pub/Sub messages. Every message is an `Envelope` (event id, type, schema version, occurred_at)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared_schemas.ids import OrderKind
from shared_schemas.money import Money
from shared_schemas.names import Topic

SCHEMA_VERSION = 1


class EventType(StrEnum):
    PAYMENT_SETTLED = "payment.settled"
    PAYMENT_PARTIALLY_PAID = "payment.partially_paid"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"  # a settled payment was refunded: the access it paid for ends


class PaymentEvent(BaseModel):
    """What notify needs to message the buyer and the owner, without reading anything else."""

    model_config = ConfigDict(extra="forbid")
    order_id: str
    kind: OrderKind
    user_id: int
    chat_id: int
    buyer_name: str = ""
    channel_token: str
    channel_title: str
    owner_user_id: int
    closed_channel_id: int
    tier_id: str | None = None
    days: int | None = None
    price_amount: Money
    price_currency: str
    payment_id: int | str = Field(description="NowPayments' payment id, or the Telegram Stars charge id.")
    payment_status: str
    actually_paid: Money | None = None
    pay_amount: Money | None = None
    pay_currency: str | None = None
    subscription_expires_at: datetime | None = Field(default=None, description="New expiry (settled subs).")
    previous_expires_at: datetime | None = Field(default=None, description="Expiry before this payment.")
    was_active: bool = Field(default=False, description="The buyer had access before this payment.")
    rail: str = Field(default="nowpayments", description="`nowpayments` (crypto) or `stars`.")
    renewed_by_telegram: bool = Field(
        default=False, description="A Star subscription's renewal that Telegram charged by itself."
    )
    renews_on: datetime | None = Field(
        default=None, description="A Star subscription: when Telegram charges next (unless cancelled)."
    )
    # -- gifts --
    gift_code: str | None = Field(
        default=None,
        description="A gift order's payment: the code of the gift it paid for (the buyer gets its link).",
    )
    # -- promo codes --
    promo_code: str | None = Field(default=None, description="The promo code the order was priced with.")
    full_price_amount: Money | None = Field(default=None, description="The price before the code.")
    promo_used_up: bool = Field(
        default=False,
        description="The code had run out of uses when this payment settled: honoured (the buyer saw the price).",
    )


T = TypeVar("T", bound=BaseModel)


class Envelope(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")
    event_id: str
    type: EventType
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime
    data: T


# Which topic carries which event type.
EVENT_TOPICS: dict[EventType, Topic] = {
    EventType.PAYMENT_SETTLED: Topic.PAYMENT_EVENTS,
    EventType.PAYMENT_PARTIALLY_PAID: Topic.PAYMENT_EVENTS,
    EventType.PAYMENT_EXPIRED: Topic.PAYMENT_EVENTS,
    EventType.PAYMENT_FAILED: Topic.PAYMENT_EVENTS,
    EventType.PAYMENT_REFUNDED: Topic.PAYMENT_EVENTS,
}

EVENT_PAYLOADS: dict[EventType, type[BaseModel]] = dict.fromkeys(EventType, PaymentEvent)
