"""The parts of Telegram updates TelePay reads (extra fields are ignored).

telegram_webhook parses every update into `TelegramUpdate` before acting on it. `Button` is what
TelePay sends: an inline keyboard's button, a plain value the features build and the Telegram
adapter turns into the library's markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TgUser(_Model):
    id: int
    is_bot: bool = False
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None  # the user's Telegram app language (an IETF tag), if Telegram sends it


class TgChat(_Model):
    id: int
    type: str
    title: str | None = None
    username: str | None = None


class TgSuccessfulPayment(_Model):
    """A payment the bot received (Telegram Stars: currency `XTR`, `total_amount` in Stars)."""

    currency: str
    total_amount: int
    invoice_payload: str
    telegram_payment_charge_id: str
    provider_payment_charge_id: str = ""
    subscription_expiration_date: int | None = None
    is_recurring: bool = False
    is_first_recurring: bool = False


class TgRefundedPayment(_Model):
    """A payment Telegram refunded (the bot's refundStarPayment, or Telegram's own decision)."""

    currency: str
    total_amount: int
    invoice_payload: str
    telegram_payment_charge_id: str


class TgPreCheckoutQuery(_Model):
    """The buyer pressed Pay: the bot must say within 10 seconds whether the order still stands."""

    id: str
    from_user: TgUser = Field(alias="from")
    currency: str
    total_amount: int
    invoice_payload: str


class TgPhotoSize(_Model):
    """One size of a photo a user sent (Telegram sends several, the largest last)."""

    file_id: str
    width: int = 0
    height: int = 0
    file_size: int | None = None


class TgMessage(_Model):
    message_id: int
    chat: TgChat
    from_user: TgUser | None = Field(default=None, alias="from")
    text: str | None = None
    date: int = 0
    successful_payment: TgSuccessfulPayment | None = None
    refunded_payment: TgRefundedPayment | None = None
    reply_to_message: TgMessage | None = None  # -- support --: the message this one replies to
    # -- announcements: an owner's message kept as Telegram sent it --
    entities: list[dict[str, Any]] = Field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = Field(default_factory=list)
    photo: list[TgPhotoSize] = Field(default_factory=list)


class TgCallbackQuery(_Model):
    id: str
    from_user: TgUser = Field(alias="from")
    message: TgMessage | None = None
    data: str | None = None


class TgInviteLink(_Model):
    invite_link: str
    name: str | None = None
    creates_join_request: bool = False


class TgChatJoinRequest(_Model):
    chat: TgChat
    from_user: TgUser = Field(alias="from")
    user_chat_id: int | None = None
    date: int = 0
    invite_link: TgInviteLink | None = None


class TgChatMember(_Model):
    """A member's status in a chat; an administrator's rights are its `can_*` fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    user: TgUser
    status: str  # creator, administrator, member, restricted, left, kicked

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    def rights(self) -> dict[str, bool]:
        """The `can_*` rights granted (all of them for the chat's creator)."""
        extra = self.model_extra or {}
        return {k: bool(v) for k, v in extra.items() if k.startswith("can_")}


class TgChatMemberUpdated(_Model):
    chat: TgChat
    from_user: TgUser = Field(alias="from")
    date: int = 0
    old_chat_member: TgChatMember
    new_chat_member: TgChatMember


class TelegramUpdate(_Model):
    update_id: int
    message: TgMessage | None = None
    callback_query: TgCallbackQuery | None = None
    chat_join_request: TgChatJoinRequest | None = None
    my_chat_member: TgChatMemberUpdated | None = None
    chat_member: TgChatMemberUpdated | None = None
    pre_checkout_query: TgPreCheckoutQuery | None = None


# What setWebhook asks Telegram to send (operators pass this; the local stack does too): what
# telegram_webhook acts on. `my_chat_member` (the bot's own status and rights in a chat) is how
# owners register channels; `chat_member` (members joining and leaving closed channels) tells who
# is in a channel, so a subscriber who left gets a fresh Join button and reconciliation finds
# members past their end; `pre_checkout_query` is a Telegram Stars buyer pressing Pay.
ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "pre_checkout_query",
    "callback_query",
    "chat_join_request",
    "my_chat_member",
    "chat_member",
)


# What Telegram refuses in what a bot sends: a message's text is 1-4096 characters after entity
# parsing, counted as Telegram counts them, in UTF-16 code units ("Bad Request: message is too
# long"); a button's callback data is 1-64 bytes ("Bad Request: BUTTON_DATA_INVALID").
MESSAGE_MAX = 4096
CALLBACK_DATA_MAX = 64


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None
    web_app: str | None = None  # a Mini App's URL, opened inside Telegram
    pay: bool = False  # an invoice's Pay button (Telegram Stars); must be the first button


Keyboard = Sequence[Sequence[Button]]
