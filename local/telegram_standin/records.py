"""The world's records: users, bots, chats, members, invite links, messages and pending updates.

Plain data (and a bot's wake-up signal); what the world does with them is in ``model.py``, their Bot
API shapes in ``views.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .ratelimit import Limits, RateLimiter

JSON = dict[str, Any]
DELIVERIES_KEPT = 10_000

CHANNEL_RIGHTS = (
    "can_manage_chat",
    "can_change_info",
    "can_post_messages",
    "can_edit_messages",
    "can_delete_messages",
    "can_invite_users",
    "can_restrict_members",
    "can_promote_members",
    "can_manage_video_chats",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_manage_direct_messages",
    "is_anonymous",
)
SUPERGROUP_RIGHTS = (
    "can_manage_chat",
    "can_change_info",
    "can_delete_messages",
    "can_invite_users",
    "can_restrict_members",
    "can_pin_messages",
    "can_manage_topics",
    "can_promote_members",
    "can_manage_video_chats",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "is_anonymous",
)
DEFAULT_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_post_messages",
    "can_edit_messages",
    "can_delete_messages",
    "can_invite_users",
    "can_restrict_members",
    "can_pin_messages",
)

# Delivered unless allowed_updates names the types explicitly (Bot API: "chat_member",
# "message_reaction" and "message_reaction_count" must be asked for).
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


@dataclass
class Config:
    limits: Limits = field(default_factory=Limits)
    webhook_retry_base: float = 1.0
    webhook_retry_max: float = 60.0
    webhook_timeout: float = 30.0
    callback_answer_timeout: float = 15.0
    strict_webhook_urls: bool = False
    set_webhook_interval: float = 1.0
    pre_checkout_timeout: float = 10.0  # Telegram: "the bot must answer within 10 seconds"
    default_star_balance: int = 100_000  # a new user's Stars

    def as_dict(self) -> JSON:
        return {
            "rate_limits": self.limits.as_dict(),
            "webhook_retry_base": self.webhook_retry_base,
            "webhook_retry_max": self.webhook_retry_max,
            "webhook_timeout": self.webhook_timeout,
            "callback_answer_timeout": self.callback_answer_timeout,
            "strict_webhook_urls": self.strict_webhook_urls,
            "pre_checkout_timeout": self.pre_checkout_timeout,
            "default_star_balance": self.default_star_balance,
        }


@dataclass
class User:
    id: int
    first_name: str
    last_name: str = ""
    username: str = ""
    language_code: str = ""
    is_bot: bool = False
    is_premium: bool = False
    deactivated: bool = False


@dataclass
class Member:
    user_id: int
    status: str
    rights: dict[str, bool] = field(default_factory=dict)
    until_date: int = 0
    custom_title: str = ""
    can_be_edited: bool = False
    joined_via: str = ""  # the invite link a member joined through, while a member


@dataclass
class InviteLink:
    invite_link: str
    chat_id: int
    creator_id: int
    name: str = ""
    expire_date: int = 0
    member_limit: int = 0
    creates_join_request: bool = False
    is_primary: bool = False
    is_revoked: bool = False
    joined: set[int] = field(default_factory=set)  # current members that joined through it


@dataclass
class JoinRequest:
    user_id: int
    chat_id: int
    date: int
    invite_link: str


@dataclass
class Message:
    message_id: int
    chat_id: int
    date: int
    text: str
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    from_id: int | None = None
    sender_chat_id: int | None = None
    outgoing: bool = False  # sent by a bot through the Bot API
    bot_id: int | None = None  # the bot that sent it, or whose private chat it is in
    edit_date: int = 0
    deleted: bool = False
    deleted_at: int = 0
    reply_to: int | None = None
    protect_content: bool = False
    history: list[JSON] = field(default_factory=list)
    service: JSON = field(default_factory=dict)


@dataclass
class PrivateChat:
    user_id: int
    started: bool = False
    blocked: bool = False
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1


@dataclass
class Chat:
    id: int
    type: str  # "channel" or "supergroup"
    title: str
    username: str = ""
    description: str = ""
    members: dict[int, Member] = field(default_factory=dict)
    links: dict[str, InviteLink] = field(default_factory=dict)
    requests: dict[int, JoinRequest] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1

    @property
    def right_names(self) -> tuple[str, ...]:
        """The administrator rights this type of chat has."""
        return CHANNEL_RIGHTS if self.type == "channel" else SUPERGROUP_RIGHTS


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    chat_instance: str
    created: float  # monotonic
    answered: bool = False
    answer: JSON | None = None


@dataclass
class StarInvoice:
    """An invoice in Telegram Stars: an invoice message (``chat_id`` and ``message_id``) or a link."""

    bot_id: int
    title: str
    description: str
    payload: str
    label: str
    amount: int
    start_parameter: str = ""
    photo_url: str = ""
    subscription_period: int = 0
    link: str = ""  # https://t.me/$<slug> for createInvoiceLink
    chat_id: int = 0  # the private chat of an invoice message
    message_id: int = 0
    paid_charge_id: str = ""  # an invoice message is paid once (it then shows its receipt)


@dataclass
class StarCharge:
    """One payment of a user to a bot (a first payment or a subscription's renewal)."""

    charge_id: str
    user_id: int
    bot_id: int
    amount: int
    payload: str
    date: int
    subscription_id: str = ""  # the first charge's id, for subscription payments
    subscription_period: int = 0
    expiration_date: int = 0  # the period this charge paid for ends (subscriptions)
    is_first_recurring: bool = False
    refunded: bool = False
    refund_date: int = 0
    delivered: bool = True  # False when the control API lost its successful_payment update


@dataclass
class StarSubscription:
    """A user's Star subscription to a bot, keyed by the id of its first charge."""

    id: str
    user_id: int
    bot_id: int
    amount: int
    payload: str
    period: int
    until: int  # the end of the period paid for
    canceled: bool = False  # no renewal (by the user, or by the bot)
    bot_canceled: bool = False  # the bot canceled it; the user cannot re-enable it until the bot allows
    ended: bool = False  # not renewed at a period's end: over for good
    end_reason: str = ""  # "canceled", "balance_too_low", "failure"
    charges: list[str] = field(default_factory=list)


@dataclass
class StarTransaction:
    """A line of the bot's Star account: a payment in (``incoming``), a refund out, or a
    withdrawal to Fragment (``partner`` "fragment")."""

    id: str
    user_id: int
    amount: int
    date: int
    incoming: bool
    payload: str
    subscription_period: int = 0
    partner: str = "user"


@dataclass
class PreCheckoutQuery:
    id: str
    user_id: int
    invoice: StarInvoice
    created: float  # monotonic
    answered: bool = False
    ok: bool = False
    error_message: str = ""
    expired: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    body: JSON
    queue: str
    expires_at: float  # monotonic
    attempts: int = 0
    next_try: float = 0.0
    in_flight: bool = False


class PendingUpdates:
    """A bot's updates not yet confirmed, kept in update_id order (ids are given in order, so the
    order they were added in): delivering or dropping one costs the same with 30 pending or 30,000.
    A list sorted and rebuilt on every delivery made the stand-in's CPU, not the webhook, the limit
    of a 100,000-member expiry run."""

    def __init__(self) -> None:
        self._by_id: dict[int, PendingUpdate] = {}

    def add(self, update: PendingUpdate) -> None:
        assert not self._by_id or update.update_id > next(reversed(self._by_id)), "update ids come in order"
        self._by_id[update.update_id] = update

    def discard(self, update_id: int) -> None:
        self._by_id.pop(update_id, None)

    def clear(self) -> None:
        self._by_id.clear()

    def drop_expired(self, now: float) -> None:
        """Updates older than their time to live (24 h) are dropped, as Telegram does; they expire
        in the order they came, so only the oldest are looked at."""
        expired = []
        for update_id, update in self._by_id.items():
            if update.expires_at > now:
                break
            if not update.in_flight:
                expired.append(update_id)
        for update_id in expired:
            del self._by_id[update_id]

    def drop_below(self, offset: int) -> None:
        """getUpdates' positive offset: every update before it is confirmed."""
        confirmed = list(itertools.takewhile(lambda update_id: update_id < offset, self._by_id))
        for update_id in confirmed:
            del self._by_id[update_id]

    def keep_last(self, count: int) -> None:
        """getUpdates' negative offset: only the last `count` are kept."""
        for update_id in list(itertools.islice(self._by_id, max(0, len(self._by_id) - count))):
            del self._by_id[update_id]

    def __iter__(self) -> Iterator[PendingUpdate]:
        """In update_id order (adding or removing one while iterating is an error)."""
        return iter(self._by_id.values())

    def first(self, count: int) -> list[PendingUpdate]:
        return list(itertools.islice(self._by_id.values(), count))

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass
class Webhook:
    url: str
    secret_token: str = ""
    max_connections: int = 40
    ip_address: str = ""


@dataclass
class Failure:
    status: int
    count: int
    retry_after: int = 0
    description: str = ""
    delay: float = 0.0


class BotState:
    """One bot account, as the Bot API server keeps it for one token."""

    def __init__(self, token: str, user: User) -> None:
        self.token = token
        self.user = user
        self.privates: dict[int, PrivateChat] = {}
        self.known_users: set[int] = set()
        self.pending = PendingUpdates()
        self.next_update_id = 100_000_000 + secrets.randbelow(800_000_000)
        self.allowed_updates: list[str] | None = None
        self.webhook: Webhook | None = None
        self.last_error_date = 0
        self.last_error_message = ""
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.commands: list[JSON] = []  # the default scope's
        self.scoped_commands: dict[
            str, list[JSON]
        ] = {}  # other scopes: `chat:<id>`, `all_private_chats`, ...
        # language code -> scope (`default`, `chat:<id>`, ...) -> its list for users of that language
        self.language_commands: dict[str, dict[str, list[JSON]]] = {}
        self.menu_buttons: dict[int, JSON] = {}  # private chat id -> its menu button (setChatMenuButton)
        self.limiter = RateLimiter()
        self.last_set_webhook = -1e9
        # The last DELIVERIES_KEPT webhook deliveries (each attempt: when, the answer), for /_control.
        self.deliveries: deque[JSON] = deque(maxlen=DELIVERIES_KEPT)
        self.poll_generation = 0
        # Telegram Stars: the bot's invoices (by link and by message), charges, subscriptions,
        # its account (transactions, balance) and the pre-checkout queries waiting for answers.
        self.invoice_links: dict[str, StarInvoice] = {}
        self.invoice_messages: dict[tuple[int, int], StarInvoice] = {}
        self.charges: dict[str, StarCharge] = {}
        self.subscriptions: dict[str, StarSubscription] = {}
        self.star_transactions: list[StarTransaction] = []
        self.star_balance = 0
        self.pre_checkout_queries: dict[str, PreCheckoutQuery] = {}
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Wakes every waiter (long polls, the webhook worker)."""
        old = self._changed
        self._changed = asyncio.Event()
        old.set()

    async def wait_changed(self, seconds: float) -> None:
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    def allows(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed_updates

    def private(self, user_id: int) -> PrivateChat:
        chat = self.privates.get(user_id)
        if chat is None:
            chat = PrivateChat(user_id=user_id)
            self.privates[user_id] = chat
        return chat
