"""Sending a paid subscriber their access: the receipt with a join-request link (or, for a member
already in the channel, the new end date). Used by notify right after a payment settles, and by
reconciliation for anyone who never got it.

Only a 403 on the message to the buyer means the buyer blocked the bot. When the bot cannot make a
link in the closed channel (removed, or without the right to invite), the access is delayed, not
lost: the subscription stays marked `access_sent = false`, the buyer hears that access is on its
way, the owner hears which right to restore, and reconciliation sends the access once it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from shared_schemas.config import AccessSettings
from shared_schemas.documents import ChannelDoc
from shared_schemas.ids import parse_order_id, subscription_id, support_callback
from shared_schemas.names import ClaimPurpose
from shared_schemas.telegram import Button
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels.notices import notify_owner_once
from telepay.core.errors import ClaimBusy
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.users import speaking_to
from telepay.runtime import Runtime
from telepay.subscriptions import texts

log = get_logger("telepay.access")


@dataclass(frozen=True)
class Paid:
    """What a buyer paid for, as the receipt tells it."""

    user_id: int
    chat_id: int
    channel_token: str
    title: str
    closed_channel_id: int
    expires_at: datetime
    amount: Decimal
    currency: str
    days: int
    order_id: str
    payment_id: int | str | None = None  # the payment this receipt is for (an order may hear of several)
    renewed_by_telegram: bool = False  # a Star subscription Telegram renewed by itself
    renews_on: datetime | None = None  # a Star subscription: Telegram's next charge


def deliver_access(rt: Runtime[AccessSettings], paid: Paid, in_channel: bool) -> str:
    """Send the receipt and, to someone not in the channel, a join-request link. Returns "sent" or
    "delayed"; a 403 on the message itself propagates (the caller records the blocked user).

    Once per payment: notify (from the payment event) and reconciliation (access still pending) may
    both try, in either order; whichever comes second finds the claim done and sends nothing. A
    further payment on a settled order (a wallet's double send) gets its own receipt. The buyer
    reads it in their language, whoever's update or task this is."""
    with rt.claims.hold(
        ClaimPurpose.MESSAGE, f"{paid.order_id}:{paid.payment_id}:access", keep_for=timedelta(days=14)
    ) as claim:
        if claim.done_before:
            return "sent"
        with speaking_to(rt.store, paid.user_id):
            outcome = _deliver(rt, paid, in_channel)
        if outcome != "sent":
            claim.release()  # delayed: a later attempt (reconciliation) sends it
        return outcome


def _deliver(rt: Runtime[AccessSettings], paid: Paid, in_channel: bool) -> str:
    sub_id = subscription_id(paid.channel_token, paid.user_id)
    if in_channel:
        text = texts.access_extended(paid.title, paid.expires_at, paid.amount, paid.currency, paid.days)
        if paid.renewed_by_telegram:
            text = texts.star_renewed(paid.title, paid.expires_at, paid.amount, paid.renews_on)
        elif paid.renews_on is not None:
            text = f"{text}\n\n{texts.star_renews_on(paid.renews_on)}"
        rt.telegram.send_message(paid.chat_id, text, keyboard=[[_help_button(paid)]])
        _mark_sent(rt, sub_id)
        return "sent"
    try:
        link = _receipt_link(rt, paid)
    except (TelegramBadRequest, TelegramForbidden) as error:
        _delayed(rt, paid, sub_id, str(error))
        return "delayed"
    text = texts.access_granted(paid.title, paid.expires_at, paid.amount, paid.currency, paid.days)
    if paid.renewed_by_telegram:
        text = texts.star_renewed(paid.title, paid.expires_at, paid.amount, paid.renews_on)
    elif paid.renews_on is not None:
        text = f"{text}\n\n{texts.star_renews_on(paid.renews_on)}"
    join = Button(texts.join_button(paid.title), url=link)
    rt.telegram.send_message(paid.chat_id, text, keyboard=[[join], [_help_button(paid)]])
    _mark_sent(rt, sub_id)
    return "sent"


def _help_button(paid: Paid) -> Button:  # -- support --: under every receipt
    return Button(t(texts.HELP_BUTTON), callback_data=support_callback(paid.channel_token))


def _receipt_link(rt: Runtime[AccessSettings], paid: Paid) -> str:
    """The receipt's join link, made once per payment: a receipt Telegram refused for a moment (429)
    is sent again with the same link, for half the link's lifetime."""
    key = f"{paid.order_id}:{paid.payment_id}:{paid.closed_channel_id}"
    return reused_join_link(rt, key, paid.closed_channel_id, f"order {parse_order_id(paid.order_id).nonce}")


def reused_join_link(
    rt: Runtime[AccessSettings],
    key: str,
    closed_channel_id: int,
    name: str,
    keep_for: timedelta | None = None,
) -> str:
    """A join-request link made once for `key` and handed out again while its record lasts
    (`keep_for`, by default half the link's lifetime, so it is always good for at least that long
    when handed over). Telegram's 400/403 propagates, and the next attempt makes the link."""
    lifetime = timedelta(hours=rt.settings.invite_link_hours)
    with rt.claims.hold(ClaimPurpose.JOIN_LINK, key, keep_for=keep_for or lifetime / 2) as claim:
        if claim.done_before and claim.previous_result:
            return claim.previous_result
        claim.result = join_link(rt, closed_channel_id, name)
        return claim.result


def join_link(rt: Runtime[AccessSettings], closed_channel_id: int, name: str) -> str:
    """A join-request link: whoever uses it, the bot approves only subscribers. Raises Telegram's
    400/403 when the bot cannot make links in that channel."""
    return rt.telegram.create_join_request_link(
        closed_channel_id,
        name=name,
        expire_date=rt.clock.now() + timedelta(hours=rt.settings.invite_link_hours),
    )


def _mark_sent(rt: Runtime[AccessSettings], sub_id: str) -> None:
    rt.store.subscriptions.update(sub_id, {"access_sent": True, "access_problem": None})


def _delayed(rt: Runtime[AccessSettings], paid: Paid, sub_id: str, problem: str) -> None:
    log.warning("access delayed: %s", problem, extra={"subscription_id": sub_id})
    rt.store.subscriptions.update(sub_id, {"access_sent": False, "access_problem": problem})
    channel = rt.store.channels.get(paid.channel_token)
    if channel is not None:
        rt.store.channels.update(channel.token, {"bot_rights_problem": problem})
        title = channel.title
        notify_owner_once(
            rt, ClaimPurpose.RIGHTS_NOTICE, channel, lambda: texts.access_blocked(title, problem)
        )
    _tell_buyer_once(rt, paid, channel)


def _tell_buyer_once(rt: Runtime[AccessSettings], paid: Paid, channel: ChannelDoc | None) -> None:
    key = f"{paid.order_id}:access-delayed"
    try:
        with rt.claims.hold(ClaimPurpose.MESSAGE, key, keep_for=timedelta(days=14)) as claim:
            if claim.done_before:
                return
            claim.result = "sent"
            title = channel.title if channel else paid.title
            rt.telegram.send_message(paid.chat_id, texts.access_delayed(title, paid.expires_at))
    except ClaimBusy:
        return
