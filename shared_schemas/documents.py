"""Firestore documents. Field docs become `docs/schema.md` (generated; a test fails when stale).

Each model names its collection, who writes it and who reads it, and the composite indexes the
code's queries need (Terraform declares exactly those).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared_schemas.ids import OrderKind, PayRail
from shared_schemas.money import Money
from shared_schemas.names import ClaimPurpose, Collection, Function

# How long records that only serve an investigation or a replay are kept. Firestore's TTL policy
# (terraform/firestore.tf) deletes a document some time after its `expire_at`, typically within a
# day; nothing relies on the deletion for correctness, it only keeps the collections bounded.
OUTBOX_PUBLISHED_RETENTION = timedelta(days=7)  # a published event, for replays and investigations
UNKNOWN_IPN_RETENTION = timedelta(days=90)  # an IPN matching no order, for disputes with NowPayments
FAILED_UPDATE_RETENTION = timedelta(days=30)  # a Telegram update that failed permanently


class IndexField(BaseModel):
    model_config = ConfigDict(frozen=True)
    field_path: str
    order: str = "ASCENDING"


class CompositeIndex(BaseModel):
    model_config = ConfigDict(frozen=True)
    collection: Collection
    fields: tuple[IndexField, ...]
    used_by: str


class Document(BaseModel):
    """Base for Firestore documents."""

    # Built on first use: a function loads every document model but uses a few.
    model_config = ConfigDict(extra="ignore", use_enum_values=False, defer_build=True)
    collection: ClassVar[Collection]
    written_by: ClassVar[tuple[Function, ...]]
    read_by: ClassVar[tuple[Function, ...]]
    doc_id_is: ClassVar[str]
    ttl_field: ClassVar[str | None] = None
    # A collection written at the rate of sales (a launch's burst): what writes it, and the fields
    # with no single-field index (an index on an ever-increasing value, a timestamp, takes every
    # write at its end and caps the collection near 500 writes a second; terraform/firestore.tf
    # exempts them). Composite indexes are declared apart (all_composite_indexes) and unaffected.
    high_rate: ClassVar[str | None] = None
    unindexed_fields: ClassVar[tuple[str, ...]] = ()

    def to_firestore(self) -> dict[str, object]:
        """Firestore-ready fields: timestamps stay timestamps, decimals become exact strings."""
        result = firestore_value(self.model_dump(mode="python"))
        assert isinstance(result, dict)
        return result


def firestore_value(value: object) -> object:
    """Decimals are stored as strings (Firestore has no decimal type and floats lose cents)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {str(k): firestore_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [firestore_value(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
class ChannelStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class PayoutStrategy(StrEnum):
    INSTANT = "instant"
    THRESHOLD = "threshold"


class Tier(BaseModel):
    model_config = ConfigDict(frozen=True)
    tier_id: str = Field(pattern=r"^t\d{1,2}$", description="Stable id used in callback data.")
    price: Money = Field(description="Price in the channel's currency, two decimals.")
    days: int = Field(ge=1, le=3660, description="Access bought, in days.")
    label: str | None = Field(default=None, max_length=40, description="Optional name, e.g. 'Monthly'.")
    stars: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Price in Telegram Stars (Telegram takes 1 to 10,000 a payment); None: the USD price "
        "converted at `STARS_USD_PRICE`, rounded up to a whole Star.",
    )

    @field_validator("price")
    @classmethod
    def _two_decimals(cls, value: Decimal) -> Decimal:
        if value <= 0 or value != value.quantize(Decimal("0.01")):
            raise ValueError("price must be positive with at most two decimals")
        return value


class BroadcastState(BaseModel):
    last_message_id: int | None = Field(default=None, description="Current offer post in the open channel.")
    last_posted_day: str | None = Field(default=None, description="UTC day (YYYY-MM-DD) of the last post.")
    consecutive_failures: int = Field(default=0, description="Permanent failures in a row.")
    paused_reason: str | None = Field(default=None, description="Why broadcasting is paused, if it is.")
    last_manual_at: datetime | None = Field(default=None, description="Last owner /broadcast (cooldown).")
    last_manual_message: int | None = Field(
        default=None,
        description="The /broadcast message that set last_manual_at (a re-delivery is no new one).",
    )


class WalletHold(BaseModel):
    """A changed payout wallet holds the channel's payouts for a cooling-off period: whoever got
    hold of an owner's Telegram for a minute cannot have the balance paid to their own wallet before
    the owner sees the change and cancels it (which restores the wallet from before)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    previous_currency: str | None = Field(
        description="The wallet's coin before the first change of this hold."
    )
    previous_network: str | None = None
    previous_wallet: str | None = Field(description="The address a cancel restores.")
    changed_at: datetime = Field(description="The latest change (it names the hold in the cancel button).")
    until: datetime = Field(description="Payouts of this channel wait until then (UTC).")
    changed_by: int = Field(description="Telegram user id of who changed it (0 for an operator).")
    source: str = Field(description="`bot`, `owner_app` or `operator <who>`.")


class ChannelDoc(Document):
    collection: ClassVar[Collection] = Collection.CHANNELS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.DAILY_BROADCAST,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
    )
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.CREATE_INVOICE,
        Function.KEYPAD,
        Function.NOTIFY,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.DAILY_BROADCAST,
        Function.OWNER_APP,
    )
    doc_id_is: ClassVar[str] = "channel token (the deep-link parameter)"
    token: str = Field(description="Deep-link token; also the document id.")
    owner_user_id: int = Field(description="Telegram user id of the owner (gets payment notices).")
    title: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    open_channel_id: int = Field(description="Public channel where the offer is posted.")
    closed_channel_id: int = Field(description="Private channel subscribers join.")
    tiers: list[Tier] = Field(min_length=1, max_length=3)
    trial_days: int | None = Field(
        default=None,
        ge=1,
        le=30,
        description="A free trial offered to newcomers, in days (1 to 30); None: no trial.",
    )
    currency: str = Field(default="USD", description="Currency of tier prices and donations.")
    language: str = Field(
        default="en",
        description="Language of the channel's posts (the daily offer, the donation post): a catalog name, e.g. `ru`.",
    )
    status: ChannelStatus = Field(
        default=ChannelStatus.ACTIVE, description="`paused`: no new sales and no daily post (owner's /pause)."
    )
    donation_min: Money = Field(default=Decimal("4.99"))
    donation_max: Money = Field(default=Decimal("9999.99"))
    donation_message: str | None = Field(
        default=None, max_length=500, description="Owner's text for the donation post in the closed channel."
    )
    donation_post_message_id: int | None = Field(
        default=None,
        description="The donation post in the closed channel (edited in place when the text changes).",
    )
    grace_period_minutes: int = Field(default=0, ge=0, description="Extra time after expiry before removal.")
    payout_wallet: str | None = Field(
        default=None, description="Owner's wallet; copied onto each payout (a change applies to later ones)."
    )
    payout_currency: str | None = Field(default=None, description="Payout currency, e.g. `usdttrc20`.")
    payout_network: str | None = None
    payout_strategy: PayoutStrategy = Field(
        default=PayoutStrategy.INSTANT,
        description="`instant`: one payout per settled payment; `threshold`: once the balance reaches the threshold.",
    )
    payout_threshold: Money = Field(default=Decimal("0"), description="Threshold strategy: in USD.")
    bot_rights_problem: str | None = Field(
        default=None, description="Set when Telegram refused an action for lack of rights."
    )
    payout_problem: str | None = Field(
        default=None,
        description="Why this channel's payouts are held (NowPayments refused to plan them); cleared when they go again.",
    )
    wallet_hold: WalletHold | None = Field(
        default=None,
        description="Set when the payout wallet changed: payouts wait until `until` (or the owner cancels).",
    )
    broadcast: BroadcastState = Field(default_factory=BroadcastState)
    created_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, description="Last change of the owner's settings.")

    def tier(self, tier_id: str) -> Tier | None:
        return next((t for t in self.tiers if t.tier_id == tier_id), None)


# ---------------------------------------------------------------------------------------------
class OrderStatus(StrEnum):
    CREATING = "creating"  # order written, invoice not yet created
    INVOICED = "invoiced"  # invoice exists, Pay button sent
    PARTIALLY_PAID = "partially_paid"
    SETTLED = "settled"
    EXPIRED = "expired"
    FAILED = "failed"  # payment failed or refunded
    INVOICE_FAILED = "invoice_failed"  # NowPayments kept failing; the user was told
    REFUNDED = "refunded"  # settled, then its payment was refunded: the access it paid for ended


class PaymentStatus(StrEnum):
    WAITING = "waiting"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    SENDING = "sending"
    PARTIALLY_PAID = "partially_paid"
    FINISHED = "finished"
    FAILED = "failed"
    REFUNDED = "refunded"
    EXPIRED = "expired"


# Monotonic progress of a payment: a lower rank never overwrites a higher one.
PAYMENT_STATUS_RANK: dict[PaymentStatus, int] = {
    PaymentStatus.WAITING: 0,
    PaymentStatus.CONFIRMING: 1,
    PaymentStatus.CONFIRMED: 2,
    PaymentStatus.SENDING: 3,
    PaymentStatus.PARTIALLY_PAID: 4,
    PaymentStatus.FINISHED: 5,
    PaymentStatus.EXPIRED: 5,
    PaymentStatus.FAILED: 5,
    PaymentStatus.REFUNDED: 6,
}


class OrderDoc(Document):
    collection: ClassVar[Collection] = Collection.ORDERS
    written_by: ClassVar[tuple[Function, ...]] = (Function.CREATE_INVOICE, Function.IPN_HANDLER)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.CREATE_INVOICE,
        Function.IPN_HANDLER,
        Function.NOTIFY,
        Function.TELEGRAM_WEBHOOK,  # an owner's /stats
        Function.OWNER_APP,  # the owner app's overview and subscribers
    )
    doc_id_is: ClassVar[str] = (
        "order id (`tp1-<kind>-<token>-<user>-<tier|cents>-<nonce>`): a channel's orders share a prefix, "
        "then spread by buyer and a random nonce, never in time order"
    )
    high_rate: ClassVar[str | None] = "one per purchase (create_invoice), updated by each IPN"
    unindexed_fields: ClassVar[tuple[str, ...]] = (
        "settled_at",
        "subscription_expires_at",
        "created_at",
        "updated_at",
    )

    order_id: str
    kind: OrderKind = Field(description="`sub` (subscription) or `don` (donation).")
    user_id: int
    chat_id: int = Field(description="Private chat with the buyer.")
    buyer_name: str = Field(default="", description="Buyer's Telegram name, for the owner's notice.")
    channel_token: str
    tier_id: str | None = None
    days: int | None = Field(default=None, description="Days bought (subscriptions).")
    price_amount: Money = Field(
        description="What is charged, from the channel document at order time (Stars: a whole number of Stars)."
    )
    price_currency: str = Field(description="`USD`, or `XTR` for Telegram Stars.")
    rail: PayRail = Field(default=PayRail.NOWPAYMENTS, description="`nowpayments` (crypto) or `stars`.")
    star_subscription: bool = Field(
        default=False,
        description="Stars: the invoice is a Star subscription (30-day tiers): Telegram renews it every 30 days.",
    )
    status: OrderStatus = OrderStatus.CREATING
    invoice_id: str | None = None
    invoice_url: str | None = None
    pay_message_id: int | None = Field(default=None, description="Message with the Pay button.")
    payment_id: int | str | None = Field(
        default=None, description="NowPayments' payment id, or the Telegram Stars charge id that settled it."
    )
    payment_status: PaymentStatus | None = Field(default=None, description="Highest status seen.")
    actually_paid: Money | None = None
    pay_amount: Money | None = None
    pay_currency: str | None = None
    settled_at: datetime | None = None
    subscription_expires_at: datetime | None = Field(default=None, description="Expiry after settling.")
    extra_payment_ids: list[int | str] = Field(
        default_factory=list,
        description="Further payments applied after settlement (a double send, a reused Pay button, a "
        "Star subscription's renewal by Telegram: its charge id).",
    )
    refunded_payment_ids: list[int | str] = Field(
        default_factory=list, description="Payments refunded after they were applied."
    )
    keypad_session_id: str | None = None
    created_at: datetime
    updated_at: datetime
    # -- gifts --
    gift: bool = Field(
        default=False,
        description="A tier bought as a gift (`tp1-gft-...`): settling it writes a `gifts` document "
        "instead of extending the buyer's subscription.",
    )
    gift_code: str | None = Field(
        default=None,
        description="A gift order: the code of its gift (made with the order, so a settlement run again "
        "writes the same gift; a further payment's gift has a code derived from it).",
    )
    # -- promo codes --
    promo_code: str | None = Field(
        default=None, description="The promo code it was priced with (its use is counted when it settles)."
    )
    full_price_amount: Money | None = Field(
        default=None,
        description="With a promo code: the price before it (`price_amount` is what is charged).",
    )


# ---------------------------------------------------------------------------------------------
class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"


class StarRenewal(BaseModel):
    """A Star subscription: Telegram charges the buyer every 30 days until it is cancelled."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    charge_id: str = Field(description="The first payment's charge id (editUserStarSubscription takes it).")
    order_id: str = Field(description="The order the subscription was bought with (renewals apply to it).")
    stars: int = Field(description="What each period costs, in Stars.")
    period_end: datetime = Field(description="`subscription_expiration_date`: Telegram's next charge (UTC).")
    canceled: bool = Field(
        default=False, description="The buyer stopped auto-renewal (the period paid stays)."
    )


class SubscriptionDoc(Document):
    collection: ClassVar[Collection] = Collection.SUBSCRIPTIONS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.IPN_HANDLER,
        Function.TELEGRAM_WEBHOOK,
        Function.NOTIFY,
        Function.EXPIRE_SUBSCRIPTIONS,
    )
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.NOTIFY,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.OWNER_APP,
    )
    doc_id_is: ClassVar[str] = "`<channel token>-<user id>` (one per channel and user; renewals extend it)"
    high_rate: ClassVar[str | None] = (
        "written by each settled purchase, then by the expiry sweep's reminders and removal"
    )
    unindexed_fields: ClassVar[tuple[str, ...]] = (
        "expires_at",
        "started_at",
        "renewed_at",
        "next_action_at",
        "removed_at",
        "trial_ends_at",
        "updated_at",
    )

    channel_token: str
    user_id: int
    closed_channel_id: int
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    expires_at: datetime = Field(description="Access ends here (UTC); extended from max(now, expiry).")
    started_at: datetime
    renewed_at: datetime | None = Field(
        default=None, description="Last settlement; reminders already past at that moment are skipped."
    )
    tier_id: str | None = Field(default=None, description="Last tier bought (Renew shows it first).")
    last_order_id: str
    in_channel: bool = Field(default=False, description="Approved into the closed channel.")
    joined_chats: list[int] = Field(
        default_factory=list,
        description="Every closed chat of the channel the member was approved into (an earlier one too, "
        "if the owner moved the channel): removal removes them from each.",
    )
    moved_from_chat: int | None = Field(
        default=None,
        description="The owner moved the closed chat away from this one: the sweep sends the member a "
        "Join button for the new chat, then clears it.",
    )
    reminders_sent: list[str] = Field(
        default_factory=list, description="`<offset seconds>@<expiry iso>` for each reminder sent."
    )
    next_action_at: datetime | None = Field(
        default=None,
        description="When the sweep should next look at it (reminder or removal); null when expired.",
    )
    removed_at: datetime | None = None
    removal_problem: str | None = Field(
        default=None, description="Why Telegram refused the removal, if it did (it is tried again)."
    )
    removal_attempts: int = Field(default=0, description="Removals Telegram refused so far.")
    access_sent: bool = Field(
        default=True,
        description="The buyer got their access (receipt and join link) for the current expiry; "
        "false from settlement until notify (or reconciliation) sends it.",
    )
    access_problem: str | None = Field(default=None, description="Why the access could not be sent yet.")
    membership_date: int = Field(
        default=0, description="Telegram's date of the last membership change seen (older ones are ignored)."
    )
    star_renewal: StarRenewal | None = Field(
        default=None, description="Set while the access is a Star subscription Telegram renews by itself."
    )
    trial_ends_at: datetime | None = Field(
        default=None,
        description="The end of the member's free trial: while it equals `expires_at` the current access "
        "is the trial's (reminders and the goodbye say so); a purchase writes the subscription without it.",
    )
    updated_at: datetime


# ---------------------------------------------------------------------------------------------
class OutboxDoc(Document):
    collection: ClassVar[Collection] = Collection.OUTBOX
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.IPN_HANDLER,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.NOTIFY,
    )
    read_by: ClassVar[tuple[Function, ...]] = (Function.IPN_HANDLER, Function.EXPIRE_SUBSCRIPTIONS)
    doc_id_is: ClassVar[str] = (
        "event id (`<order id>.<event type>`, or `<order id>.<payment id>.<type>`): spread as order ids are"
    )
    ttl_field: ClassVar[str | None] = "expire_at"
    high_rate: ClassVar[str | None] = "one per payment event (ipn_handler), marked published and handled"
    # `envelope` is the event as published (its timestamps included): nothing queries it.
    unindexed_fields: ClassVar[tuple[str, ...]] = ("created_at", "published_at", "handled_at", "envelope")

    event_id: str
    topic: str
    order_id: str
    envelope: dict[str, object] = Field(description="The Pub/Sub message (an `Envelope`), as JSON.")
    published: bool = False
    created_at: datetime
    published_at: datetime | None = None
    publish_attempts: int = 0
    handled: bool = Field(
        default=False,
        description="notify told everyone this event is for (or found them told already); "
        "reconciliation publishes again an event published but not handled.",
    )
    handled_at: datetime | None = None
    redeliveries: int = Field(
        default=0, description="Times reconciliation published the event again because it was not handled."
    )
    expire_at: datetime | None = Field(
        default=None,
        description="TTL: set when the event is published (published_at + OUTBOX_PUBLISHED_RETENTION); "
        "an unpublished event never expires.",
    )


class ClaimStatus(StrEnum):
    PROCESSING = "processing"
    DONE = "done"


class ClaimDoc(Document):
    collection: ClassVar[Collection] = Collection.CLAIMS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.IPN_HANDLER,
        Function.NOTIFY,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.DAILY_BROADCAST,
        Function.KEYPAD,
    )
    read_by: ClassVar[tuple[Function, ...]] = written_by
    doc_id_is: ClassVar[str] = (
        "`<hash>-<purpose>:<key>` (`spread_id`: 6 hex characters of the SHA-256 of `<purpose>:<key>` "
        "first, since update ids and payment ids come in order), e.g. `3c7d86-update:123`, "
        "`3ff6ec-ipn:55:finished:0.00005`, `…-msg:<event>:buyer`"
    )
    ttl_field: ClassVar[str | None] = "expire_at"
    high_rate: ClassVar[str | None] = (
        "several per sale: every update, IPN, invoice and message claims its work"
    )
    unindexed_fields: ClassVar[tuple[str, ...]] = ("lease_until", "created_at")

    purpose: ClaimPurpose
    status: ClaimStatus
    lease_until: datetime = Field(description="A processing claim older than this may be taken over.")
    created_at: datetime
    expire_at: datetime = Field(description="TTL: the record is deleted after this (bounded lifetime).")
    result: str | None = None


class UnknownIpnDoc(Document):
    """A payment notice matching no order: an IPN, a payout IPN, or a Telegram Star transaction
    reconciliation found for no TelePay order (`stars-<transaction id>`)."""

    collection: ClassVar[Collection] = Collection.UNKNOWN_IPNS
    written_by: ClassVar[tuple[Function, ...]] = (Function.IPN_HANDLER, Function.EXPIRE_SUBSCRIPTIONS)
    read_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    doc_id_is: ClassVar[str] = "`<payment id>-<status>`, `payout-<id>-<status>`, `stars-<transaction id>`"
    ttl_field: ClassVar[str | None] = "expire_at"

    received_at: datetime
    order_id: str | None
    payment_id: int | None
    payment_status: str | None
    reason: str
    body: dict[str, object]
    expire_at: datetime | None = Field(
        default=None, description="TTL: received_at + UNKNOWN_IPN_RETENTION unless given."
    )

    @model_validator(mode="after")
    def _expires(self) -> UnknownIpnDoc:
        if self.expire_at is None:
            self.expire_at = self.received_at + UNKNOWN_IPN_RETENTION
        return self


class FailedUpdateDoc(Document):
    collection: ClassVar[Collection] = Collection.FAILED_UPDATES
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = ()
    doc_id_is: ClassVar[str] = "update id"
    ttl_field: ClassVar[str | None] = "expire_at"

    update_id: int
    reason: str
    update: dict[str, object]
    recorded_at: datetime
    expire_at: datetime | None = Field(
        default=None, description="TTL: recorded_at + FAILED_UPDATE_RETENTION unless given."
    )

    @model_validator(mode="after")
    def _expires(self) -> FailedUpdateDoc:
        if self.expire_at is None:
            self.expire_at = self.recorded_at + FAILED_UPDATE_RETENTION
        return self


FAILED_TASK_LIFETIME = timedelta(days=30)


class FailedTaskDoc(Document):
    """A Cloud Task that cannot succeed (malformed, or refused for good): kept for the operator
    instead of being retried until Cloud Tasks drops it."""

    collection: ClassVar[Collection] = Collection.FAILED_TASKS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.CREATE_INVOICE,
        Function.KEYPAD,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.DAILY_BROADCAST,
    )
    read_by: ClassVar[tuple[Function, ...]] = ()
    doc_id_is: ClassVar[str] = "`<function>-<task name>` (Cloud Tasks' task name header)"
    ttl_field: ClassVar[str | None] = "expire_at"

    function: Function
    task_name: str
    reason: str = Field(description="Why it cannot succeed (the error's type and message).")
    body: str = Field(description="The task's body as received (at most 10,000 characters).")
    attempt: int = Field(description="Cloud Tasks' attempt number, from 1.")
    path: str | None = Field(
        default=None,
        description="The request path it came on (`/task/page`, ...): which of the function's kinds of"
        " task it is, so a replay goes to the same queue and path (none: a record from before it was kept).",
    )
    queue: str | None = Field(
        default=None,
        description="The queue it came from (`X-CloudTasks-QueueName`), the one a replay queues it on: an"
        " announcement's tasks come on one path from `telegram-actions` and `fan-out` (none: a record from"
        " before it was kept, or a call not from Cloud Tasks: the path's first queue).",
    )
    recorded_at: datetime
    expire_at: datetime = Field(description=f"TTL: kept {FAILED_TASK_LIFETIME.days} days.")


class UserDoc(Document):
    collection: ClassVar[Collection] = Collection.USERS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.NOTIFY,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.CREATE_INVOICE,
    )
    read_by: ClassVar[tuple[Function, ...]] = (Function.NOTIFY,)
    doc_id_is: ClassVar[str] = "Telegram user id"

    user_id: int
    blocked_bot: bool = Field(
        default=False,
        description="The user blocked the bot (Telegram answered 403, or told so by my_chat_member); "
        "cleared when they unblock it.",
    )
    blocked_at: datetime | None = None
    language: str | None = Field(
        default=None, description="The language the user chose with /language (a catalog name, e.g. `pt_BR`)."
    )
    language_code: str | None = Field(
        default=None, description="The `language_code` of the user's latest Telegram update (e.g. `pt-br`)."
    )
    username: str | None = Field(
        default=None,
        description="The user's Telegram @username, lower-cased, as last seen (an owner's `/grant @name` "
        "finds the user by it).",
    )


class KeypadStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"  # the amount is fixed; the donation order is queued
    CANCELLED = "cancelled"


class KeypadSessionDoc(Document):
    collection: ClassVar[Collection] = Collection.KEYPAD_SESSIONS
    written_by: ClassVar[tuple[Function, ...]] = (Function.KEYPAD,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.KEYPAD, Function.CREATE_INVOICE)
    doc_id_is: ClassVar[str] = "session id (random, carried in the keypad's callback data)"
    ttl_field: ClassVar[str | None] = "expire_at"

    session_id: str
    user_id: int
    user_name: str = ""
    chat_id: int
    channel_token: str
    message_id: int | None = None
    amount_text: str = ""
    status: KeypadStatus = KeypadStatus.OPEN
    order_id: str | None = None
    applied_presses: list[str] = Field(default_factory=list, description="Callback query ids applied.")
    presses: list[str] = Field(
        default_factory=list,
        description="The editing keys applied, as `<update id>:<key>`; `amount_text` is them applied "
        "in update id order to `presses_base` (Cloud Tasks may run presses out of order).",
    )
    presses_base: str = Field(
        default="", description="The amount the oldest presses, no longer listed, made."
    )
    updated_at: datetime
    expire_at: datetime


# ---------------------------------------------------------------------------------------------
class EntryState(StrEnum):
    AVAILABLE = "available"  # owed to the owner, not yet in a payout
    RESERVED = "reserved"  # covered by a payout that has not ended
    PAID = "paid"  # its payout finished
    REVERSED = "reversed"  # its payment was refunded before any payout covered it: owed nothing


class LedgerEntryDoc(Document):
    """What one settled payment owes the channel's owner. Booked in the transaction that settles
    the payment, so a replayed IPN or event books nothing; balances are sums of these by state
    (no balance document is written per payment)."""

    collection: ClassVar[Collection] = Collection.LEDGER
    written_by: ClassVar[tuple[Function, ...]] = (Function.IPN_HANDLER, Function.PAYOUT)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.PAYOUT,
        Function.OWNER_APP,
        Function.TELEGRAM_WEBHOOK,  # -- exports --: an owner's /payouts and /export
    )
    doc_id_is: ClassVar[str] = "order id (one settlement per order: the id makes booking idempotent)"
    high_rate: ClassVar[str | None] = (
        "one per settled payment (in the settling transaction), then reserved and paid"
    )
    unindexed_fields: ClassVar[tuple[str, ...]] = ("retry_after", "held_until", "booked_at", "updated_at")

    entry_id: str = Field(description="Same as the document id (the order id).")
    order_id: str
    payment_id: int | str = Field(description="NowPayments' payment id, or the Telegram Stars charge id.")
    kind: OrderKind
    channel_token: str
    owner_user_id: int
    gross_amount: Money = Field(description="What the buyer was charged, in the price currency.")
    gross_currency: str = Field(description="The price currency (lower case): `usd`, or `xtr` (Stars).")
    fee_percent: Money = Field(description="Platform fee in percent at booking time (history keeps it).")
    fee_amount: Money = Field(description="Fee in the price currency, rounded half up to its unit.")
    net_amount: Money = Field(description="gross_amount - fee_amount, in the price currency.")
    settled_amount: Money = Field(
        description="What NowPayments settled into the operator's account (`outcome_amount`); for Stars, "
        "their value in USD at `STARS_PAYOUT_USD` per Star."
    )
    settled_currency: str = Field(description="NowPayments' `outcome_currency` (lower case).")
    settled_fee: Money = Field(description="Fee in the settlement currency (same rule, 1e-8 unit).")
    settled_net: Money = Field(
        description="settled_amount - settled_fee: what the owner is paid, in the settlement currency."
    )
    state: EntryState = EntryState.AVAILABLE
    payout_id: str | None = Field(default=None, description="The payout covering it (reserved, paid).")
    releases: int = Field(default=0, description="Times a failed payout gave it back (part of payout ids).")
    retry_after: datetime | None = Field(
        default=None, description="After a failed payout: not planned again before this (no failure loop)."
    )
    held_until: datetime | None = Field(
        default=None,
        description="Stars: Telegram holds Stars before they can be withdrawn, so the entry is not paid "
        "out before this (`STARS_HOLD_DAYS` after the payment).",
    )
    reverses: str | None = Field(
        default=None,
        description=(
            "An offset entry (`<entry id>.refund`): the entry whose payment was refunded after a payout "
            "covered it. Its amounts are that entry's, negative, netted against the owner's next payouts."
        ),
    )
    booked_at: datetime
    updated_at: datetime


class PayoutState(StrEnum):
    RESERVED = "reserved"  # entries reserved; nothing asked of NowPayments yet (or not recorded)
    CREATED = "created"  # NowPayments has the withdrawal (WAITING); not verified
    VERIFIED = "verified"  # 2FA code accepted; NowPayments processes it
    SENDING = "sending"  # NowPayments reported it on its way
    FINISHED = "finished"  # sent; its entries are paid
    FAILED = "failed"  # ended without sending; its entries went back to the balance


# Payout states only move forward; a terminal state never changes.
PAYOUT_STATE_RANK: dict[PayoutState, int] = {
    PayoutState.RESERVED: 0,
    PayoutState.CREATED: 1,
    PayoutState.VERIFIED: 2,
    PayoutState.SENDING: 3,
    PayoutState.FINISHED: 4,
    PayoutState.FAILED: 4,
}
PAYOUT_TERMINAL = frozenset({PayoutState.FINISHED, PayoutState.FAILED})


class PayoutDoc(Document):
    """One NowPayments withdrawal to one owner's wallet, covering a reserved set of entries."""

    collection: ClassVar[Collection] = Collection.PAYOUTS
    written_by: ClassVar[tuple[Function, ...]] = (Function.PAYOUT, Function.IPN_HANDLER)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.PAYOUT,
        Function.IPN_HANDLER,
        Function.OWNER_APP,
        Function.TELEGRAM_WEBHOOK,  # -- exports --: an owner's /payouts and /export
    )
    doc_id_is: ClassVar[str] = (
        "`po-<channel token>-<hash of the entry ids>`; also NowPayments' `unique_external_id`"
    )

    payout_id: str
    channel_token: str
    owner_user_id: int
    entry_ids: list[str] = Field(description="The ledger entries it covers (reserved by it).")
    settled_currency: str = Field(description="Currency the entries' net amounts are in.")
    settled_amount: Money = Field(description="Sum of the entries' settled_net.")
    net_price_amount: Money = Field(description="Sum of the entries' net_amount (price currency).")
    price_currency: str
    address: str = Field(
        description="Owner's wallet, copied at reservation (a later change applies next time)."
    )
    currency: str = Field(
        description="NowPayments' code of the owner's coin on their network (e.g. `usdttrc20` for USDT on Tron)."
    )
    network: str | None = None
    amount: Money = Field(description="Amount sent, in the payout currency (rounded down when converted).")
    strategy: PayoutStrategy
    state: PayoutState = PayoutState.RESERVED
    open: bool = Field(default=True, description="False once finished or failed.")
    batch_id: str | None = Field(default=None, description="NowPayments payout (batch) id.")
    withdrawal_id: str | None = Field(default=None, description="NowPayments withdrawal id.")
    unique_external_id: str | None = Field(
        default=None,
        description="What creating it at NowPayments sends as `unique_external_id` (the payout id); "
        "set at reservation. None on a payout reserved before create attempts were recorded.",
    )
    create_attempted_at: datetime | None = Field(
        default=None,
        description="When TelePay first asked NowPayments to create it, recorded before the call. Set "
        "without a `withdrawal_id`: that answer was lost, so the next attempt searches NowPayments "
        "by `unique_external_id` before creating (never on a first attempt).",
    )
    nowpayments_status: str | None = Field(default=None, description="Last status NowPayments reported.")
    hash: str | None = Field(default=None, description="Blockchain transaction hash, once sent.")
    failure_reason: str | None = None
    attention: str | None = Field(
        default=None, description="Why it is stuck until the operator acts (e.g. 2FA code refused)."
    )
    attempts: int = Field(default=0, description="Failed attempts in a row (backoff).")
    next_attempt_at: datetime = Field(description="When the every-minute run next resumes or polls it.")
    notice_pending: bool = Field(default=False, description="The owner has not been told how it ended.")
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None


class BotChatDoc(Document):
    """A chat the bot was added to (from `my_chat_member`): the channels an owner may pick in
    `/newchannel`. Rights are re-checked with getChatMember when they matter; this is the record."""

    collection: ClassVar[Collection] = Collection.BOT_CHATS
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "Telegram chat id"

    chat_id: int
    title: str = ""
    type: str = Field(description="`channel` or `supergroup`.")
    username: str | None = Field(default=None, description="Public @username, if the chat has one.")
    added_by: int = Field(description="User who last made the bot an admin (or changed its rights).")
    status: str = Field(description="The bot's status: administrator, member, left or kicked.")
    rights: list[str] = Field(default_factory=list, description="The bot's `can_*` rights granted.")
    changed_at: int = Field(description="Telegram's date of the change (an older update never overwrites).")
    updated_at: datetime


class ChatOfferDoc(Document):
    """Which offer sells through a Telegram chat: written in the same transaction that puts a
    channel live or moves it to the chat, which reads it first, so two offers never take one chat
    at once. A record whose channel has since moved elsewhere is taken over (it is read with it)."""

    collection: ClassVar[Collection] = Collection.CHAT_OFFERS
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)  # and operators
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "Telegram chat id"

    chat_id: int
    channel_token: str = Field(description="The channel whose open or closed chat this is.")
    role: str = Field(description="`open` or `closed`.")
    since: datetime


CONVERSATION_LIFETIME = timedelta(hours=24)


class ConversationDoc(Document):
    """Where an owner is in a multi-step conversation (`/newchannel`, `/edit`). Each update moves
    it in a transaction that checks `version` (two instances never both apply an answer to the
    same question) and `last_update_id` (a re-delivered update is not applied twice)."""

    collection: ClassVar[Collection] = Collection.CONVERSATIONS
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "`<user id>:<conversation name>`, e.g. `42:newchannel`"
    ttl_field: ClassVar[str | None] = "expire_at"

    user_id: int
    name: str = Field(
        description="`newchannel`, `edit`, `grant`, `promo`, `export`; or `support`: a buyer's wait for "
        "their support message."
    )
    version: int = Field(description="Incremented by every applied update; buttons carry it.")
    step: str = Field(description="The question waiting for an answer; `done` or `cancelled` at the end.")
    data: dict[str, Any] = Field(default_factory=dict, description="Answers so far, already validated.")
    last_update_id: int = Field(description="Telegram update applied last.")
    updated_at: datetime
    expire_at: datetime = Field(description="TTL: updated_at + 24 hours; an expired conversation is over.")


class ChannelChangeDoc(Document):
    """One change of a channel's settings by its owner (the bot's `/edit`, `/pause`, `/resume`, or
    the owner app): what changed, from what to what, by whom and where. Never updated."""

    collection: ClassVar[Collection] = Collection.CHANNEL_CHANGES
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
    )  # and operators
    read_by: ClassVar[tuple[Function, ...]] = ()
    doc_id_is: ClassVar[str] = "`<channel token>-<UTC time, microseconds>-<random>`"

    channel_token: str
    user_id: int = Field(description="Who changed it (the channel's owner; 0 for an operator).")
    source: str = Field(
        description="`bot` (a conversation or command), `owner_app`, or `operator <who>` (`telepay channels update`)."
    )
    changes: dict[str, Any] = Field(
        description='Each changed setting: `{"before": ..., "after": ...}` as stored in the channel.'
    )
    changed_at: datetime
    reason: str | None = Field(
        default=None, max_length=500, description="An operator's support case (`telepay channels transfer`)."
    )


class SupportAction(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


class SupportActionDoc(Document):
    """An operator's (`telepay access grant|revoke`) or a channel owner's (`/grant`, `/revoke`, the
    owner app) change of one user's access to one channel, kept for the record: who, when, why and
    what it did. The subscription itself is changed in the same
    transaction, as a paid renewal (grant) or an ending now (revoke) would change it."""

    collection: ClassVar[Collection] = Collection.SUPPORT_ACTIONS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
    )  # and operators
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP)
    doc_id_is: ClassVar[str] = (
        "`<user id>-<channel token>-<unix ms>-<nonce>`; an owner's from the bot: `<user id>-<channel "
        "token>-owner-<update id>` (a re-delivered update records nothing twice)"
    )

    action: SupportAction
    channel_token: str
    user_id: int
    days: int | None = Field(
        default=None, description="Days of access added (grant) or taken off (revoke; none: ended now)."
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why (the support case; an owner's optional note, else `-`).",
    )
    operator: str = Field(
        description="Who ran it (`--operator`, the gcloud account or the OS user); for a channel owner's "
        "grant `owner <user id> (bot)` or `owner <user id> (owner_app)`."
    )
    at: datetime
    expires_before: datetime | None = Field(default=None, description="The subscription's expiry before.")
    expires_after: datetime = Field(description="The subscription's expiry after.")
    # -- owner grants --
    source: str = Field(
        default="operator",
        description="`operator` (`telepay access`) or `owner` (the channel's owner: `/grant`, `/revoke`, "
        "the owner app). `/stats` and the owner app count the owners' grants apart from sales.",
    )


class StarPaymentDoc(Document):
    """One Telegram Stars charge, written in the transaction that applies it (a re-delivered
    `successful_payment` finds it and changes nothing) and updated when it is refunded.
    Reconciliation compares these with Telegram's `getStarTransactions`."""

    collection: ClassVar[Collection] = Collection.STAR_PAYMENTS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.EXPIRE_SUBSCRIPTIONS,
    )  # and operators (`telepay payments refund`)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK, Function.EXPIRE_SUBSCRIPTIONS)
    doc_id_is: ClassVar[str] = "`telegram_payment_charge_id`"

    charge_id: str
    order_id: str = Field(description="The order it paid (a renewal: the subscription's first order).")
    user_id: int
    channel_token: str
    kind: OrderKind
    stars: int = Field(description="`total_amount`, in Stars.")
    recurring: bool = Field(default=False, description="A renewal Telegram charged by itself.")
    subscription_expiration_date: datetime | None = None
    outcome: str = Field(description="What applying it did (`settled`, `renewed`, `already settled`, ...).")
    source: str = Field(
        description="`update` (successful_payment) or `reconciliation` (getStarTransactions)."
    )
    paid_at: datetime
    refunded_at: datetime | None = None
    refund_source: str | None = Field(
        default=None, description="`operator <who>`, `telegram` (refunded_payment) or `reconciliation`."
    )
    refund_reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why an operator refunded it (`telepay payments refund --reason`).",
    )


class ReconcileStateDoc(Document):
    """Where reconciliation's reading of an outside record stands between runs: `stars`, the count of
    the bot's Telegram Star transactions (`getStarTransactions`, chronological) already compared with
    `star_payments`. Each run re-reads `STARS_REREAD_MARGIN` before it, so a transaction Telegram
    listed late is not missed."""

    collection: ClassVar[Collection] = Collection.RECONCILE_STATE
    written_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    doc_id_is: ClassVar[str] = "what is read: `stars`"

    offset: int = Field(default=0, ge=0, description="Transactions compared so far (the next run's offset).")
    updated_at: datetime


class QueueHorizonDoc(Document):
    """When a paced queue should be through every action queued on it so far, at its configured
    rate: the sweep's leases start behind it, so what a sweep queues behind an earlier minute's
    backlog is not found due again before the queue reaches it. Written once per few thousand
    actions queued (a transaction that only moves it later), read at the start of each sweep."""

    collection: ClassVar[Collection] = Collection.QUEUE_HORIZONS
    written_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    doc_id_is: ClassVar[str] = "the queue's name: `telegram-actions`"

    until: datetime = Field(description="When the queue should have sent the last action queued so far.")
    updated_at: datetime


class PaySupportDoc(Document):
    """A buyer's `/paysupport` (Telegram asks bots that take Stars to answer it): kept for the operator."""

    collection: ClassVar[Collection] = Collection.PAY_SUPPORT
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = ()
    doc_id_is: ClassVar[str] = "`<user id>-<update id>`"

    user_id: int
    text: str = Field(max_length=4096, description="What the buyer wrote after /paysupport, if anything.")
    channel_tokens: list[str] = Field(
        description="The channels the buyer paid for (their owners were named)."
    )
    at: datetime


# -- gifts --
class GiftState(StrEnum):
    READY = "ready"  # paid, waiting for whoever opens its link
    REDEEMED = "redeemed"  # its days went to `redeemed_by`
    VOIDED = "voided"  # its payment was refunded before anyone redeemed it


class GiftDoc(Document):
    """A tier bought as a gift: written in the transaction that settles the gift order, redeemed once
    (`/start <token>_G<code>`) in a transaction that reads it, adds its days to the redeemer's
    subscription and marks it redeemed. Refunding its payment voids it, or takes its days back off
    the redeemer's subscription."""

    collection: ClassVar[Collection] = Collection.GIFTS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.IPN_HANDLER,
        Function.TELEGRAM_WEBHOOK,
        Function.EXPIRE_SUBSCRIPTIONS,
    )
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.IPN_HANDLER,
        Function.TELEGRAM_WEBHOOK,
        Function.EXPIRE_SUBSCRIPTIONS,
    )
    doc_id_is: ClassVar[str] = (
        "the gift code (12 characters of `GIFT_ALPHABET`, in the link `<token>_G<code>`)"
    )

    code: str = Field(description="Same as the document id.")
    channel_token: str
    tier_id: str
    days: int = Field(ge=1, le=3660, description="Days of access the gift gives (the tier's, at purchase).")
    order_id: str = Field(description="The gift order that paid for it.")
    entry_id: str = Field(
        description="The ledger entry of the payment that paid for it (a refund finds it by it)."
    )
    buyer_user_id: int = Field(
        description="Who bought it (told when it is redeemed; `/subscriptions` lists it)."
    )
    state: GiftState = GiftState.READY
    created_at: datetime
    redeemed_by: int | None = Field(default=None, description="Who redeemed it.")
    redeemed_at: datetime | None = None
    expires_after_redeem: datetime | None = Field(
        default=None, description="The redeemer's expiry right after redeeming it."
    )
    voided_at: datetime | None = Field(default=None, description="Its payment was refunded (state `voided`).")


# -- promo codes --
PROMO_APPLIED_LIFETIME = timedelta(hours=24)  # a code a buyer applied, until they buy
PROMO_ENTRY_LIFETIME = timedelta(minutes=15)  # waiting for the code a buyer types


class PromoStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # the owner's pause: refused until resumed
    ENDED = "ended"  # the owner ended it: refused for good


class PromoCodeDoc(Document):
    """A channel's promo code, made by its owner (`/promo` or the owner app): a percentage or a fixed
    USD amount off, for some or all tiers, within optional dates and limits. Its uses and revenue
    are counted in the transaction that settles each payment made with it."""

    collection: ClassVar[Collection] = Collection.PROMO_CODES
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
        Function.IPN_HANDLER,
    )
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.CREATE_INVOICE,
        Function.IPN_HANDLER,
        Function.OWNER_APP,
    )
    doc_id_is: ClassVar[str] = "`<channel token>-<CODE>` (codes are upper-cased: unique per channel)"

    code: str = Field(description="4 to 32 letters and digits, upper-cased (buyers may type any case).")
    channel_token: str
    percent_off: int | None = Field(default=None, ge=1, le=100, description="Percentage off (1 to 100).")
    amount_off: Money | None = Field(
        default=None, description="Or a fixed amount off, in USD (a price never goes below zero)."
    )
    tier_ids: list[str] = Field(default_factory=list, description="Tiers it applies to; empty: all tiers.")
    starts_at: datetime | None = Field(default=None, description="Not valid before (UTC); None: at once.")
    ends_at: datetime | None = Field(default=None, description="Not valid from then on (UTC); None: no end.")
    max_uses: int | None = Field(default=None, ge=1, description="Paid or free uses in all; None: no limit.")
    max_uses_per_buyer: int | None = Field(default=None, ge=1, description="Uses per buyer; None: no limit.")
    new_subscribers_only: bool = Field(
        default=False, description="Refused to a buyer whose access to the channel is active."
    )
    status: PromoStatus = Field(default=PromoStatus.ACTIVE, description="`active`, `paused` or `ended`.")
    uses: int = Field(default=0, description="Settled orders (and free grants) made with it.")
    revenue: Money = Field(default=Decimal("0"), description="What those orders charged in USD.")
    revenue_stars: int = Field(default=0, description="What those orders charged in Telegram Stars.")
    created_by: int = Field(description="Telegram user id of the owner who made it.")
    created_at: datetime
    updated_at: datetime


class PromoUseDoc(Document):
    """One buyer's uses of one code (for `max_uses_per_buyer`), counted with the code's."""

    collection: ClassVar[Collection] = Collection.PROMO_USES
    written_by: ClassVar[tuple[Function, ...]] = (Function.IPN_HANDLER, Function.TELEGRAM_WEBHOOK)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.CREATE_INVOICE,
        Function.IPN_HANDLER,
    )
    doc_id_is: ClassVar[str] = "`<channel token>-<CODE>-<user id>`"

    channel_token: str
    code: str
    user_id: int
    uses: int = Field(default=0, description="Settled orders and free grants of this buyer with the code.")
    order_ids: list[str] = Field(
        default_factory=list, description="The orders (or `free-<update id>` grants) counted."
    )
    updated_at: datetime


class PromoAppliedDoc(Document):
    """The code a buyer applied to a channel's offer (from its link or typed), until they buy:
    buttons cannot carry it (64 bytes), so the tier buttons find it here, and create_invoice checks
    it again."""

    collection: ClassVar[Collection] = Collection.PROMO_APPLIED
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "`<channel token>-<user id>`"
    ttl_field: ClassVar[str | None] = "expire_at"

    channel_token: str
    user_id: int
    code: str
    applied_at: datetime
    expire_at: datetime = Field(
        description="TTL: applied_at + 24 hours; after it the offer is at full price."
    )


class PromoEntryDoc(Document):
    """A buyer tapped "🏷 I have a code": their next text message is the code for this channel."""

    collection: ClassVar[Collection] = Collection.PROMO_ENTRIES
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "Telegram user id"
    ttl_field: ClassVar[str | None] = "expire_at"

    user_id: int
    channel_token: str
    asked_at: datetime
    expire_at: datetime = Field(description="TTL: asked_at + 15 minutes; a later text is no code.")


# -- free trials --
class TrialDoc(Document):
    """One free trial of one channel by one Telegram account, ever: written in the transaction that
    adds its days to the subscription (which reads it first, so a double tap or a re-delivered update
    never grants two), and marked converted in the transaction that settles the member's first
    purchase after it."""

    collection: ClassVar[Collection] = Collection.TRIALS
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK, Function.IPN_HANDLER)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.IPN_HANDLER,
        Function.OWNER_APP,
    )  # and operators (`telepay users show`)
    doc_id_is: ClassVar[str] = "`<channel token>-<user id>` (one trial per channel and account)"

    channel_token: str
    user_id: int
    days: int = Field(description="The trial's length when it started (the channel's `trial_days` then).")
    started_at: datetime
    ends_at: datetime = Field(description="Where the trial's days ended the access (UTC) when it started.")
    converted_order_id: str | None = Field(
        default=None, description="The first subscription order the member paid after the trial started."
    )
    converted_at: datetime | None = Field(default=None, description="When that order settled.")


# -- announcements --
class AnnouncementStatus(StrEnum):
    DRAFT = "draft"  # made, its fan-out not queued yet
    SENDING = "sending"  # its fan-out queued: recipients are being sent to
    DONE = "done"  # every recipient counted (sent, blocked or failed); the owner told
    STOPPED = "stopped"  # an operator stopped it (`telepay announcements stop`): nothing more is sent


class AnnouncementAudience(StrEnum):
    ACTIVE = "active"  # every active subscriber
    ENDING = "ending"  # active, access ending within `audience_days`
    LAPSED = "lapsed"  # access ended within the last `audience_days`
    TRIAL = "trial"  # active on the channel's free trial


class AnnouncementButtonKind(StrEnum):
    RENEW = "renew"  # the channel's offer deep link, labelled Renew in the recipient's language
    URL = "url"  # a https URL the owner gave


class AnnouncementButton(BaseModel):
    kind: AnnouncementButtonKind
    url: str = Field(
        description="Where the button leads (the offer's `t.me/<bot>?start=<token>` link, or https)."
    )
    label: str | None = Field(
        default=None, max_length=64, description="A URL button's label as the owner gave it (None: Open)."
    )


class AnnouncementDoc(Document):
    """An owner's message to the channel's subscribers (`/announce` or the owner app): what is sent
    (text with Telegram's entities as the owner's message had them, or a photo with its caption and
    caption entities; never parsed from markup), to whom, and how it went. Made once per Send (a
    claim on the update or form), in one of the channel's `ANNOUNCEMENTS_PER_DAY` slots of the day;
    its counts are the tally of its `announcement_sends`."""

    collection: ClassVar[Collection] = Collection.ANNOUNCEMENTS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
        Function.EXPIRE_SUBSCRIPTIONS,
    )  # and operators (`telepay announcements stop`)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
        Function.EXPIRE_SUBSCRIPTIONS,
    )
    doc_id_is: ClassVar[str] = (
        "`<channel token>-<YYYYMMDD>-<n>`: the n-th of the channel's slots of that UTC day"
    )

    announcement_id: str = Field(description="Same as the document id.")
    channel_token: str
    owner_user_id: int = Field(description="Who sent it (the channel's owner then).")
    text: str | None = Field(
        default=None, description="A text announcement's text (at most 4096 UTF-16 units)."
    )
    entities: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The text's formatting as Telegram's MessageEntity objects (offsets in UTF-16 units).",
    )
    photo_file_id: str | None = Field(
        default=None,
        description="A photo announcement: Telegram's file_id of the largest size the owner sent.",
    )
    caption: str | None = Field(default=None, description="The photo's caption (at most 1024 UTF-16 units).")
    caption_entities: list[dict[str, Any]] = Field(
        default_factory=list, description="The caption's formatting, as `entities`."
    )
    button: AnnouncementButton | None = Field(default=None, description="One optional button under it.")
    audience: AnnouncementAudience
    audience_days: int | None = Field(
        default=None, description="`ending` and `lapsed`: the number of days (1 to 365)."
    )
    status: AnnouncementStatus = AnnouncementStatus.DRAFT
    total: int = Field(default=0, description="Recipients queued (one `announcement_sends` each).")
    sent: int = Field(default=0, description="Recipients Telegram delivered it to (as of the last tally).")
    blocked: int = Field(default=0, description="Recipients who blocked the bot (none sent to them).")
    failed: int = Field(
        default=0, description="Recipients Telegram refused it for, or still failing at the last attempt."
    )
    queued_all: bool = Field(
        default=False, description="The fan-out handed out every page of recipients (`recipients` in all)."
    )
    recipients: int = Field(
        default=0,
        description="How many recipients the fan-out handed out (the tally waits for their records).",
    )
    via: str = Field(default="bot", description="`bot` or `owner_app`.")
    created_at: datetime
    started_at: datetime | None = Field(default=None, description="When its fan-out was queued.")
    finished_at: datetime | None = Field(default=None, description="When it was done (or stopped).")


class AnnouncementSendState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


class AnnouncementSendDoc(Document):
    """One recipient of one announcement: created by the fan-out (create-if-absent, so a retried
    fan-out adds nobody twice), moved once from `queued` to its outcome by the recipient's task in a
    transaction (a retried task finds it counted and sends nothing)."""

    collection: ClassVar[Collection] = Collection.ANNOUNCEMENT_SENDS
    written_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.EXPIRE_SUBSCRIPTIONS,)
    doc_id_is: ClassVar[str] = "`<announcement id>-<user id>`"

    announcement_id: str
    user_id: int
    state: AnnouncementSendState = AnnouncementSendState.QUEUED
    created_at: datetime
    done_at: datetime | None = Field(default=None, description="When its outcome was counted.")
    problem: str | None = Field(default=None, description="Why it failed, as Telegram said.")


# -- support --
SUPPORT_MESSAGES_KEPT = 50  # a thread keeps its newest 50 messages (`message_count` counts them all)
SUPPORT_MAPPED_KEPT = 100  # and the newest 100 Telegram messages that map replies to it
SUPPORT_REPLY_RETENTION = timedelta(days=180)  # a reply to a message older than that opens nothing


class SupportStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SupportSide(StrEnum):
    BUYER = "buyer"
    OWNER = "owner"


class SupportMessage(BaseModel):
    """One message of a support thread."""

    sender: SupportSide = Field(description="Who wrote it: `buyer` or `owner`.")
    text: str = Field(max_length=4096, description="What they wrote.")
    at: datetime
    update_id: int = Field(description="The Telegram update that carried it (a re-delivery adds nothing).")


class SupportThreadDoc(Document):
    """A buyer's support conversation with a channel's owner (`/support`, `/paysupport`, the Help
    button under a receipt or a reminder): the buyer's first message, then each reply either side
    sends by replying to the bot's message. Open until either side presses Close."""

    collection: ClassVar[Collection] = Collection.SUPPORT_THREADS
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.OWNER_APP,
    )  # and operators (`telepay users show`)
    doc_id_is: ClassVar[str] = "`<buyer user id>-<update id>` (the update of the buyer's first message)"

    thread_id: str = Field(description="Same as the document id.")
    channel_token: str
    channel_title: str = Field(description="The channel's title when the thread opened.")
    buyer_user_id: int
    buyer_name: str = Field(description="The buyer's name and @username when the thread opened.")
    owner_user_id: int = Field(description="The channel's owner when the thread opened (who answers).")
    status: SupportStatus = SupportStatus.OPEN
    origin: str = Field(description="What opened it: `support`, `paysupport` or `button`.")
    created_at: datetime
    updated_at: datetime
    closed_by: SupportSide | None = Field(default=None, description="Who pressed Close.")
    closed_at: datetime | None = None
    messages: list[SupportMessage] = Field(
        default_factory=list, description=f"The newest {SUPPORT_MESSAGES_KEPT} messages, oldest first."
    )
    message_count: int = Field(default=0, description="Every message the thread ever had.")
    telegram_messages: list[str] = Field(
        default_factory=list,
        description=f"The newest {SUPPORT_MAPPED_KEPT} bot messages (`<chat id>:<message id>`) whose "
        "replies go to this thread (each has its `support_replies` document).",
    )


class SupportReplyDoc(Document):
    """A message the bot sent in a support thread: a reply to it (Telegram's `reply_to_message`)
    goes to that thread. Written before the message is shown as sent, so a reply finds it."""

    collection: ClassVar[Collection] = Collection.SUPPORT_REPLIES
    written_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK,)
    doc_id_is: ClassVar[str] = "`<chat id>:<message id>` of the bot's message"
    ttl_field: ClassVar[str | None] = "expire_at"

    thread_id: str
    chat_id: int = Field(description="The private chat it was sent in (the buyer's or the owner's).")
    message_id: int
    side: SupportSide = Field(description="Who received it (and so who replies to it).")
    created_at: datetime
    expire_at: datetime = Field(description=f"TTL: created_at + {SUPPORT_REPLY_RETENTION.days} days.")


# -- dashboard --
# Documents a channel's day (and its running totals) is spread over. Firestore keeps one document
# under about one sustained write a second: a launch's 1,000 sales a minute (17 a second) or a
# sweep's removals at Telegram's 30 a second each write today's day, the totals and the day the
# access ends, so 32 shards keep each under one a second. A finished day is folded into one document
# (`telepay.channels.day_counts.fold_finished_days`), so a period's read stays one document a day.
DAY_SHARDS = 32


class TierDay(BaseModel):
    """One tier's sales of one day: how many, in cents of the channel's currency, in Stars."""

    sales: int = 0
    cents: int = 0
    stars: int = 0


class ChannelDayDoc(Document):
    """One channel's counts for one UTC day, each added (`increment`, never read first) in the
    transaction that makes it happen: a payment settled or refunded (`telepay.payments.day_sales`), a
    member added by a trial, a gift, a free code or a grant, a member removed by the sweep. The owners'
    dashboard and `/stats` read a period as these documents (`telepay.owners.dashboard`), never the
    orders or subscriptions themselves. A refund takes its sale off the day it was sold."""

    collection: ClassVar[Collection] = Collection.CHANNEL_DAYS
    written_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.IPN_HANDLER,
        Function.EXPIRE_SUBSCRIPTIONS,
        Function.OWNER_APP,
    )  # and operators (`telepay access grant`)
    read_by: ClassVar[tuple[Function, ...]] = (
        Function.TELEGRAM_WEBHOOK,
        Function.EXPIRE_SUBSCRIPTIONS,  # the fold of finished days
        Function.OWNER_APP,
    )
    doc_id_is: ClassVar[str] = (
        "`<channel token>-<YYYY-MM-DD>` (the UTC day; shard 0) or `<channel token>-<YYYY-MM-DD>-<shard>`"
        f" (shards 1 to {DAY_SHARDS - 1}): each count goes to one of the day's {DAY_SHARDS} shards, picked"
        " at random, so a launch day's sales (or a sweep's removals) do not all write one document; once"
        " the day is over, its shards are folded into shard 0"
    )
    high_rate: ClassVar[str | None] = (
        "in the transaction of each sale, trial, grant and removal: the day's counts, and the `ending` of"
        f" the day a member's access ends, each on one of {DAY_SHARDS} shards (about 0.5 writes a second"
        " a shard for 1,000 sales a minute, 0.9 for removals at Telegram's 30 a second); finished days"
        " are folded into one document every five minutes"
    )

    channel_token: str
    day: str = Field(description="The UTC day, `YYYY-MM-DD`.")
    shard: int = Field(default=0, description=f"0 to {DAY_SHARDS - 1}; a day's figures are its shards' sum.")
    fold: bool = Field(
        default=False,
        description="True on shards 1 and up: still to be folded into shard 0 once the day is over"
        " (a late change to a folded day writes a shard again, folded on the next run).",
    )
    new: int = Field(
        default=0, description="Paid subscriptions whose days run from the payment (no days left)."
    )
    renewed: int = Field(default=0, description="Paid subscriptions that extended days still left.")
    gifts: int = Field(default=0, description="Gifts sold (neither new nor renewed until redeemed).")
    crypto_sales: int = Field(default=0, description="Subscription sales paid in crypto (gifts included).")
    crypto_cents: int = Field(default=0, description="Their revenue, in cents of the channel's currency.")
    stars_sales: int = Field(
        default=0, description="Subscription sales paid in Telegram Stars (renewals too)."
    )
    stars: int = Field(default=0, description="Their revenue, in Stars.")
    donations: int = 0
    donation_cents: int = 0
    donation_stars: int = 0
    joined: int = Field(
        default=0, description="Members who became active (from none or an expired subscription)."
    )
    expired: int = Field(default=0, description="Members whose access ended (marked expired by the sweep).")
    ending: int = Field(
        default=0,
        description="Active members whose access ends on this day (moved in the transaction that changes"
        ' an end, taken off when the sweep marks it expired): the dashboard\'s "ending in 7 days".',
    )
    trials: int = Field(default=0, description="Free trials started.")
    trials_converted: int = Field(default=0, description="Free trials converted by a purchase.")
    trials_ending: int = Field(
        default=0,
        description="Free trials (not converted) whose days end on this day: the members on a trial"
        " now are the sum from today on.",
    )
    tiers: dict[str, TierDay] = Field(default_factory=dict, description="Sales per tier id.")


class ChannelCountsDoc(Document):
    """One shard of a channel's running totals: the members active now (`active`, the sum over the
    channel's shards), added to in the transactions that count a member joined or expired on
    `channel_days`, so the dashboard never counts 100,000 subscriptions to show one number.
    `telepay counts rebuild` sets them from the subscriptions (for channels older than these totals,
    or to repair a drift `telepay counts check` reports)."""

    collection: ClassVar[Collection] = Collection.CHANNEL_COUNTS
    written_by: ClassVar[tuple[Function, ...]] = ChannelDayDoc.written_by  # and operators
    read_by: ClassVar[tuple[Function, ...]] = (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP)
    doc_id_is: ClassVar[str] = (
        f"`<channel token>-<shard>` (shards 0 to {DAY_SHARDS - 1}, one picked at random per change)"
    )
    high_rate: ClassVar[str | None] = (
        "with every member joined or expired (each sale that adds a member, each removal), on one of"
        f" {DAY_SHARDS} shards"
    )

    channel_token: str
    shard: int = 0
    active: int = Field(default=0, description="This shard's part of the members active now.")


DOCUMENTS: tuple[type[Document], ...] = (
    ChannelDoc,
    OrderDoc,
    SubscriptionDoc,
    OutboxDoc,
    ClaimDoc,
    UnknownIpnDoc,
    FailedUpdateDoc,
    UserDoc,
    KeypadSessionDoc,
    FailedTaskDoc,
    LedgerEntryDoc,
    PayoutDoc,
    BotChatDoc,
    ConversationDoc,
    ChannelChangeDoc,
    SupportActionDoc,
    StarPaymentDoc,
    PaySupportDoc,
    ReconcileStateDoc,
    QueueHorizonDoc,
    GiftDoc,
    # -- promo codes --
    PromoCodeDoc,
    PromoUseDoc,
    PromoAppliedDoc,
    PromoEntryDoc,
    # -- free trials --
    TrialDoc,
    # -- announcements --
    AnnouncementDoc,
    AnnouncementSendDoc,
    # -- support --
    SupportThreadDoc,
    SupportReplyDoc,
    # -- dashboard --
    ChannelDayDoc,
    ChannelCountsDoc,
)


def all_unindexed_fields() -> list[tuple[Collection, str]]:
    """(collection, field) of every single-field index exemption (the TTL fields have theirs)."""
    return [(doc.collection, name) for doc in DOCUMENTS for name in doc.unindexed_fields]


def all_composite_indexes() -> list[CompositeIndex]:
    """The composite indexes the code's queries need (see `shared_schemas.queries`)."""
    from shared_schemas.queries import QUERIES

    return [
        CompositeIndex(
            collection=query.collection,
            fields=tuple(IndexField(field_path=name) for name in query.index_fields),
            used_by=f"{query.name}: {query.purpose}",
        )
        for query in QUERIES
        if query.needs_composite_index
    ]


def indexes_of(document: type[Document]) -> list[CompositeIndex]:
    return [index for index in all_composite_indexes() if index.collection == document.collection]
