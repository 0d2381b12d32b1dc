"""Cloud Task payloads (JSON bodies of HTTP tasks), one model per queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared_schemas.ids import OrderKind, PayRail
from shared_schemas.names import Queue


class CreateInvoiceTask(BaseModel):
    """Create the invoice of an order. The order id is chosen by the enqueuer, so a retried task
    (or a duplicated update) works on the same order and never makes a second invoice."""

    model_config = ConfigDict(extra="forbid")
    order_id: str
    user_id: int
    chat_id: int
    channel_token: str
    kind: OrderKind
    tier_id: str | None = None
    keypad_session_id: str | None = Field(default=None, description="Donations: amount is read from it.")
    buyer_name: str = Field(default="", max_length=80, description="For the owner's notice (display only).")
    rail: PayRail = Field(default=PayRail.NOWPAYMENTS, description="Crypto (NowPayments) or Telegram Stars.")
    # -- gifts --
    gift: bool = Field(default=False, description="The tier bought as a gift (a `tp1-gft-...` order id).")
    # -- promo codes --
    promo_code: str | None = Field(
        default=None,
        max_length=32,
        description="The code the buyer applied (create_invoice checks it again and prices it itself).",
    )


class KeypadAction(StrEnum):
    OPEN = "open"
    PRESS = "press"


class KeypadTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: KeypadAction
    user_id: int
    user_name: str = Field(default="", max_length=80, description="For the owner's notice (display only).")
    chat_id: int
    channel_token: str
    session_id: str | None = None
    key: str | None = None
    callback_query_id: str | None = None
    message_id: int | None = None
    update_id: int | None = Field(
        default=None,
        description="Telegram's update id of a press: a chat's presses are applied in this order, "
        "whatever order the queue runs them in.",
    )
    shown_amount: str | None = Field(
        default=None,
        max_length=80,
        description="The keypad's amount line as the donor saw it when pressing Confirm; a confirm "
        "of an amount the session no longer holds is refused (never used as the amount).",
    )


class ExpiryAction(StrEnum):
    REMIND = "remind"
    REMOVE = "remove"
    INVITE = "invite"  # the closed chat moved: a Join button for the new one


class ExpiryTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: ExpiryAction
    subscription_id: str
    expires_at: datetime = Field(description="The expiry this action was planned for.")
    offset_seconds: int = Field(default=0, description="Reminders: how long before expiry.")
    reschedules: int = Field(default=0, description="Times Telegram's retry_after moved this task.")


# How many named tasks one fan-out page hands on (a page's payload stays well under Cloud Tasks'
# 100 KB: an expiry action with its name is about 200 bytes, a recipient's id a dozen).
SWEEP_PAGE_ACTIONS = 200
AUDIENCE_PAGE_RECIPIENTS = 500


class NamedExpiryTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The task's name on telegram-actions (it dedupes a repeat).")
    task: ExpiryTask


class DueSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="The subscription's document id.")
    due_at: datetime = Field(description="Its `next_action_at` when the sweep read it, before leasing it.")


class ExpiryPageTask(BaseModel):
    """A page of the sweep's due subscriptions on the `fan-out` queue (expire_subscriptions'
    `/task/page`): the page task reads them, decides each one's next step and queues the due
    actions on `telegram-actions`, each under its own name, so a retried page, or a subscription
    handed out by an overlapping sweep too, is queued once. The sweep leased them before handing the
    page out. A page an earlier release handed out carries its `actions`, decided by the sweep."""

    model_config = ConfigDict(extra="forbid")
    due: list[DueSubscription] = Field(
        default_factory=list,
        max_length=SWEEP_PAGE_ACTIONS,
        description="The subscriptions to read, decide and queue, in the sweep's order.",
    )
    first_position: int = Field(
        default=0,
        ge=0,
        description="How many actions are queued ahead of this page (earlier sweeps' not yet sent, then this "
        "sweep's): its lease.",
    )
    actions: list[NamedExpiryTask] = Field(
        default_factory=list,
        max_length=SWEEP_PAGE_ACTIONS,
        description="A page from an earlier release: its actions, decided by that sweep, queued as they are.",
    )
    swept_at: datetime = Field(description="When the sweep that handed it out ran.")

    @model_validator(mode="after")
    def _one_kind(self) -> ExpiryPageTask:
        if bool(self.due) == bool(self.actions):
            raise ValueError("a page carries either due subscriptions or actions, one at least")
        return self


class PostKind(StrEnum):
    OFFER = "offer"  # the offer with its tiers, in the open channel (daily, /broadcast)
    DONATION = "donation"  # the donation post with its Donate button, in the closed channel


class BroadcastTask(BaseModel):
    """One offer or donation post (expire_subscriptions' `/task/broadcast`, on `telegram-actions`);
    named `broadcast-<token>-<day>` for the day's post, so a repeated daily run queues nothing twice."""

    model_config = ConfigDict(extra="forbid")
    channel_token: str
    day: str = Field(description="UTC day, YYYY-MM-DD.")
    manual: bool = False
    post: PostKind = Field(default=PostKind.OFFER, description="Which post this task makes.")
    reschedules: int = Field(default=0, description="Times Telegram's retry_after moved this task.")


# -- announcements --
class AnnouncementStep(StrEnum):
    FAN_OUT = "fan_out"  # hand the audience out in pages (on the fan-out queue)
    PAGE = "page"  # one page of recipients: a record and a named task each
    SEND = "send"  # one recipient's message
    TALLY = "tally"  # count the outcomes; when all are counted, tell the owner


class AnnouncementTask(BaseModel):
    """An announcement's work (expire_subscriptions' `/task/announcement`): its fan-out and tally and
    each recipient's send on the `telegram-actions` queue, the pages of its audience on `fan-out`;
    named `ann-<announcement id>-<user id>` per recipient, so a retried page queues nothing twice."""

    model_config = ConfigDict(extra="forbid")
    step: AnnouncementStep
    announcement_id: str
    user_id: int | None = Field(default=None, description="SEND: the recipient.")
    round: int = Field(default=0, description="TALLY: how many tallies came before this one.")
    user_ids: list[int] = Field(
        default_factory=list, max_length=AUDIENCE_PAGE_RECIPIENTS, description="PAGE: the recipients."
    )


TASK_PAYLOADS: dict[Queue, type[BaseModel]] = {
    Queue.CREATE_INVOICE: CreateInvoiceTask,
    Queue.KEYPAD: KeypadTask,
    Queue.TELEGRAM_ACTIONS: ExpiryTask,
    Queue.FAN_OUT: ExpiryPageTask,
}
