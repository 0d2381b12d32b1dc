"""Identifiers: channel tokens, order ids, subscription ids and Telegram callback data.

Order id format (replaces the old ``PGP-{user}|{channel}``, which could not tell a renewal from a
donation and was not unique per invoice)::

    tp1-<kind>-<channel token>-<user id>-<tier or amount>-<nonce>

* ``kind`` is ``sub`` (subscription), ``don`` (donation) or ``gft`` (a tier bought as a gift: a
  subscription order whose days go to whoever redeems the gift, never to the buyer's own
  subscription, so its id can never be taken for one of the buyer's own orders);
* for ``sub`` the fourth part is the tier id (``t1``..); for ``don`` it is the amount in cents;
* ``nonce`` is 10 random base32 characters, so every order (and every invoice) is unique.

Only ``[a-z0-9-]`` and ``_`` in the token appear, so the id is safe in URLs, Firestore document ids
and NowPayments' ``order_id``. Prices are never taken from an order id: the order document holds
what was charged, and the id only says what was bought (for logs and support).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

ORDER_ID_VERSION = "tp1"
CHANNEL_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{6,24}$")
_NONCE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_ORDER_ID_RE = re.compile(
    r"^tp1-(?P<kind>sub|don|gft)-(?P<token>[A-Za-z0-9]{6,24})-(?P<user>\d{1,20})-"
    r"(?P<what>t\d{1,2}|\d{1,9})-(?P<nonce>[a-z2-7]{10})$"
)


class OrderKind(StrEnum):
    SUBSCRIPTION = "sub"
    DONATION = "don"


class PayRail(StrEnum):
    """How an order is paid."""

    NOWPAYMENTS = "nowpayments"  # crypto, through a NowPayments invoice
    STARS = "stars"  # Telegram Stars, through a Telegram invoice (currency XTR)


@dataclass(frozen=True)
class OrderRef:
    kind: OrderKind
    channel_token: str
    user_id: int
    tier_id: str | None
    amount_cents: int | None
    nonce: str
    gift: bool = False  # `gft`: a subscription tier bought as a gift

    def __str__(self) -> str:
        what = self.tier_id if self.kind is OrderKind.SUBSCRIPTION else str(self.amount_cents)
        kind = GIFT_ORDER_KIND if self.gift else self.kind.value
        return f"{ORDER_ID_VERSION}-{kind}-{self.channel_token}-{self.user_id}-{what}-{self.nonce}"


GIFT_ORDER_KIND = "gft"


def new_nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(10))


def new_channel_token() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def subscription_order_id(channel_token: str, user_id: int, tier_id: str, nonce: str | None = None) -> str:
    if not re.fullmatch(r"t\d{1,2}", tier_id):
        raise ValueError(f"bad tier id {tier_id!r}")
    ref = OrderRef(OrderKind.SUBSCRIPTION, channel_token, user_id, tier_id, None, nonce or new_nonce())
    return str(ref)


def gift_order_id(channel_token: str, user_id: int, tier_id: str, nonce: str | None = None) -> str:
    """A tier bought as a gift (`tp1-gft-...`): its kind is a subscription's, its days the redeemer's."""
    if not re.fullmatch(r"t\d{1,2}", tier_id):
        raise ValueError(f"bad tier id {tier_id!r}")
    ref = OrderRef(
        OrderKind.SUBSCRIPTION, channel_token, user_id, tier_id, None, nonce or new_nonce(), gift=True
    )
    return str(ref)


def donation_order_id(channel_token: str, user_id: int, amount_cents: int, nonce: str | None = None) -> str:
    if amount_cents <= 0:
        raise ValueError("donation amount must be positive")
    ref = OrderRef(OrderKind.DONATION, channel_token, user_id, None, amount_cents, nonce or new_nonce())
    return str(ref)


def parse_order_id(order_id: str) -> OrderRef:
    """Parse an order id; raises ValueError for anything not made by this module."""
    match = _ORDER_ID_RE.fullmatch(order_id)
    if match is None:
        raise ValueError(f"not a TelePay order id: {order_id[:80]!r}")
    gift = match["kind"] == GIFT_ORDER_KIND
    kind = OrderKind.SUBSCRIPTION if gift else OrderKind(match["kind"])
    what = match["what"]
    if kind is OrderKind.SUBSCRIPTION and not what.startswith("t"):
        raise ValueError("subscription order id without a tier")
    if kind is OrderKind.DONATION and what.startswith("t"):
        raise ValueError("donation order id without an amount")
    return OrderRef(
        kind=kind,
        channel_token=match["token"],
        user_id=int(match["user"]),
        tier_id=what if kind is OrderKind.SUBSCRIPTION else None,
        amount_cents=int(what) if kind is OrderKind.DONATION else None,
        nonce=match["nonce"],
        gift=gift,
    )


SPREAD_PREFIX_LENGTH = 6


def spread_id(key: str) -> str:
    """`key` behind 6 hex characters of its SHA-256: ids of work that comes in order (Telegram's
    update ids, NowPayments' payment ids, one sweep's task names) land all over the key space
    instead of at its end. Firestore (and Cloud Tasks) split a busy key range only when writes are
    spread; monotonically increasing ids keep hitting the last split, which Google documents caps a
    collection near 500 writes a second. The same key always gives the same id, so a duplicate still
    finds its twin, and the key stays readable after the hash."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:SPREAD_PREFIX_LENGTH]
    return f"{digest}-{key}"


def subscription_id(channel_token: str, user_id: int) -> str:
    """One subscription document per (channel, user): renewals extend it."""
    return f"{channel_token}-{user_id}"


# Telegram callback data (at most 64 bytes). Prices never travel in callback data.
CALLBACK_BUY = "buy"  # buy:<token>:<tier id>
CALLBACK_DONATE = "don"  # don:<token>
CALLBACK_KEYPAD = "kp"  # kp:<session id>:<key>
CALLBACK_RENEW = "ren"  # ren:<token>:<tier id>: the offer with that tier first
CALLBACK_JOIN = "join"  # join:<token>: the presser's own join link to that channel, made when tapped
CALLBACK_PAY = "pay"  # pay:<token>:<tier id>:<s|c>: pay that tier in Stars or in crypto
CALLBACK_DONATION_PAY = "dpy"  # dpy:<keypad session id>:<s|c>: pay the confirmed donation so
CALLBACK_STAR_RENEWAL = "srn"  # srn:<token>:<on|off>: the buyer's auto-renewal of a Star subscription
# A page of a long list, for whoever presses it (`<prefix>:<page number from 0>`).
CALLBACK_CHANNELS_PAGE = "lch"  # an owner's /channels
CALLBACK_STATS_PAGE = "lst"  # an owner's /stats
CALLBACK_SUBSCRIPTIONS_PAGE = "lsu"  # a buyer's /subscriptions


CALLBACK_OWNER = "ow"  # ow:<conversation version>:<answer>: a button of an owner's conversation
CALLBACK_PAUSE = "pau"  # pau:<token>
CALLBACK_RESUME = "res"  # res:<token>
CALLBACK_WALLET_CANCEL = "wcx"  # wcx:<token>:<hold stamp>: undo a payout wallet change
CALLBACK_LANGUAGE = "lng"  # lng:<catalog name, e.g. pt_BR>: /language, anyone's choice
# -- gifts --
CALLBACK_GIFT = "gft"  # gft:<token>:<tier id>: buy that tier as a gift
CALLBACK_GIFT_PAY = "gpy"  # gpy:<token>:<tier id>:<s|c>: pay that gift in Stars or in crypto


def gift_callback(channel_token: str, tier_id: str) -> str:
    return f"{CALLBACK_GIFT}:{channel_token}:{tier_id}"


def gift_pay_callback(channel_token: str, tier_id: str, rail: PayRail) -> str:
    return f"{CALLBACK_GIFT_PAY}:{channel_token}:{tier_id}:{RAIL_CODES[rail]}"


def owner_callback(version: int, answer: str) -> str:
    return f"{CALLBACK_OWNER}:{version}:{answer}"


def pause_callback(channel_token: str) -> str:
    return f"{CALLBACK_PAUSE}:{channel_token}"


def resume_callback(channel_token: str) -> str:
    return f"{CALLBACK_RESUME}:{channel_token}"


def wallet_cancel_callback(channel_token: str, stamp: str) -> str:
    return f"{CALLBACK_WALLET_CANCEL}:{channel_token}:{stamp}"


def language_callback(language: str) -> str:
    return f"{CALLBACK_LANGUAGE}:{language}"


def buy_callback(channel_token: str, tier_id: str) -> str:
    return f"{CALLBACK_BUY}:{channel_token}:{tier_id}"


RAIL_CODES = {PayRail.STARS: "s", PayRail.NOWPAYMENTS: "c"}


def rail_of(code: str) -> PayRail | None:
    return next((rail for rail, known in RAIL_CODES.items() if known == code), None)


def pay_callback(channel_token: str, tier_id: str, rail: PayRail) -> str:
    return f"{CALLBACK_PAY}:{channel_token}:{tier_id}:{RAIL_CODES[rail]}"


def donation_pay_callback(session_id: str, rail: PayRail) -> str:
    return f"{CALLBACK_DONATION_PAY}:{session_id}:{RAIL_CODES[rail]}"


def star_renewal_callback(channel_token: str, on: bool) -> str:
    return f"{CALLBACK_STAR_RENEWAL}:{channel_token}:{'on' if on else 'off'}"


def donate_callback(channel_token: str) -> str:
    return f"{CALLBACK_DONATE}:{channel_token}"


def renew_callback(channel_token: str, tier_id: str | None) -> str:
    return f"{CALLBACK_RENEW}:{channel_token}:{tier_id or ''}"


def join_callback(channel_token: str) -> str:
    return f"{CALLBACK_JOIN}:{channel_token}"


def page_callback(prefix: str, number: int) -> str:
    return f"{prefix}:{number}"


def keypad_callback(session_id: str, key: str) -> str:
    return f"{CALLBACK_KEYPAD}:{session_id}:{key}"


def parse_callback(data: str) -> tuple[str, list[str]]:
    """The prefix of callback data and its parts (`buy:<token>:<tier>` → `("buy", [token, tier])`)."""
    prefix, _, rest = data.partition(":")
    return prefix, rest.split(":") if rest else []


# Deep links: `t.me/<bot>?start=<parameter>` (at most 64 characters of A-Z a-z 0-9 _ -).
DONATE_SUFFIX = "_DONATE"
GIFT_PREFIX = "G"  # `<token>_G<gift code>`: a gift code is GIFT_CODE_LENGTH characters of GIFT_ALPHABET
GIFT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GIFT_CODE_LENGTH = 12
PROMO_CODE_RE = re.compile(r"^[A-Za-z0-9]{4,32}$")
RESERVED_PROMO_CODES = frozenset({"DONATE"})  # the donation link's suffix
_GIFT_CODE_RE = re.compile(rf"^[{GIFT_ALPHABET}]{{{GIFT_CODE_LENGTH}}}$")


class StartKind(StrEnum):
    OFFER = "offer"  # `<token>`: the channel's offer
    TIER = "tier"  # `<token>-<tier id>`: a tier's button under the offer post
    DONATE = "donate"  # `<token>_DONATE`: the donation keypad
    PROMO = "promo"  # `<token>_<CODE>`: the offer with a promo code applied
    GIFT = "gift"  # `<token>_G<gift code>`: redeem a gift (no promo code has that shape)
    TRIAL = "trial"  # `<token>-try`: start the channel's free trial (the daily post's link)


@dataclass(frozen=True)
class StartLink:
    kind: StartKind
    channel_token: str
    tier_id: str | None = None
    code: str | None = None  # PROMO: the code as typed (upper-cased); GIFT: the gift code


def normal_promo_code(code: str) -> str:
    """Codes are case-insensitive: stored and compared upper-cased."""
    return code.strip().upper()


def is_valid_promo_code(code: str) -> bool:
    """4 to 32 letters and digits, not `DONATE` and not the shape of a gift link's code."""
    normal = normal_promo_code(code)
    gift_shaped = normal.startswith(GIFT_PREFIX) and is_gift_code(normal[len(GIFT_PREFIX) :])
    return bool(PROMO_CODE_RE.fullmatch(code)) and normal not in RESERVED_PROMO_CODES and not gift_shaped


def new_gift_code() -> str:
    return "".join(secrets.choice(GIFT_ALPHABET) for _ in range(GIFT_CODE_LENGTH))


def is_gift_code(code: str) -> bool:
    return bool(_GIFT_CODE_RE.fullmatch(code))


def promo_start(channel_token: str, code: str) -> str:
    return f"{channel_token}_{normal_promo_code(code)}"


def gift_start(channel_token: str, gift_code: str) -> str:
    return f"{channel_token}_{GIFT_PREFIX}{gift_code}"


def offer_start(channel_token: str) -> str:
    return channel_token


def tier_start(channel_token: str, tier_id: str) -> str:
    return f"{channel_token}-{tier_id}"


def donate_start(channel_token: str) -> str:
    return f"{channel_token}{DONATE_SUFFIX}"


def parse_start(parameter: str) -> StartLink:
    """What a `/start <parameter>` asks for; the token is checked where the channel is read."""
    if parameter.endswith(DONATE_SUFFIX):
        return StartLink(StartKind.DONATE, parameter[: -len(DONATE_SUFFIX)])
    token, underscore, code = parameter.partition("_")
    if underscore and code:
        code = normal_promo_code(code)
        if code.startswith(GIFT_PREFIX) and is_gift_code(code[len(GIFT_PREFIX) :]):
            return StartLink(StartKind.GIFT, token, code=code[len(GIFT_PREFIX) :])
        if is_valid_promo_code(code):
            return StartLink(StartKind.PROMO, token, code=code)
        return StartLink(StartKind.OFFER, parameter)  # no such code can exist: an unknown offer
    token, _, tier_id = parameter.partition("-")
    if tier_id == TRIAL_START:
        return StartLink(StartKind.TRIAL, token)
    if tier_id:
        return StartLink(StartKind.TIER, token, tier_id)
    return StartLink(StartKind.OFFER, parameter)


def deep_link(bot_username: str, parameter: str) -> str:
    return f"https://t.me/{bot_username}?start={parameter}"


def is_valid_channel_token(token: str) -> bool:
    return bool(CHANNEL_TOKEN_RE.fullmatch(token))


# -- promo codes --
CALLBACK_PROMO_ENTER = "pce"  # pce:<token>: the buyer's "🏷 I have a code" under an offer
CALLBACK_PROMO_LIST = "pcl"  # pcl:<token>: an owner's /promos, for one of their channels
CALLBACK_PROMO_ACTION = "pca"  # pca:<token>:<CODE>:<p|r|e>: pause, resume or end a code


def promo_code_id(channel_token: str, code: str) -> str:
    return f"{channel_token}-{normal_promo_code(code)}"


def promo_use_id(channel_token: str, code: str, user_id: int) -> str:
    return f"{promo_code_id(channel_token, code)}-{user_id}"


def promo_applied_id(channel_token: str, user_id: int) -> str:
    return f"{channel_token}-{user_id}"


def promo_enter_callback(channel_token: str) -> str:
    return f"{CALLBACK_PROMO_ENTER}:{channel_token}"


def promo_list_callback(channel_token: str) -> str:
    return f"{CALLBACK_PROMO_LIST}:{channel_token}"


def promo_action_callback(channel_token: str, code: str, action: str) -> str:
    """At most 63 bytes: a 24-character token and a 32-character code fit."""
    return f"{CALLBACK_PROMO_ACTION}:{channel_token}:{normal_promo_code(code)}:{action}"


# -- free trials --
CALLBACK_TRIAL = "try"  # try:<token>: start the presser's free trial of that channel (eligibility re-checked)
TRIAL_START = "try"  # `<token>-try`: no tier id has that shape (`t<digits>`)


def trial_callback(channel_token: str) -> str:
    return f"{CALLBACK_TRIAL}:{channel_token}"


def trial_start(channel_token: str) -> str:
    return f"{channel_token}-{TRIAL_START}"


def trial_id(channel_token: str, user_id: int) -> str:
    """One trial per (channel, account), ever."""
    return f"{channel_token}-{user_id}"


# -- support --
CALLBACK_SUPPORT = "sup"  # sup:<token>: the buyer's support conversation about that channel (Help button)
CALLBACK_SUPPORT_CLOSE = "spx"  # spx:<thread id>: close a support thread (its buyer or its owner)


def support_callback(channel_token: str) -> str:
    return f"{CALLBACK_SUPPORT}:{channel_token}"


def support_close_callback(thread_id: str) -> str:
    return f"{CALLBACK_SUPPORT_CLOSE}:{thread_id}"


def support_thread_id(buyer_user_id: int, update_id: int) -> str:
    """One thread per update that opened it: a re-delivered update opens none twice."""
    return f"{buyer_user_id}-{update_id}"


def support_reply_id(chat_id: int, message_id: int) -> str:
    """The bot's message a reply answers: (the chat it was sent to, its message id)."""
    return f"{chat_id}:{message_id}"
