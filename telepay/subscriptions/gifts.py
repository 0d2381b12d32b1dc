"""Gifts in the bot: redeeming one (`/start <token>_G<code>`, the link the buyer forwarded) and the
buyer's unredeemed gifts in `/subscriptions`. Buying one is a buy with `gift` set
(`telepay.subscriptions.router`); its gift is written when it settles (`telepay.payments.gifts`).

Redeeming is one transaction: it reads the gift and the redeemer's subscription, adds the gift's
days (`free_access.with_days_added`) and marks the gift redeemed, so among any number of people
opening the link at once exactly one gets the days; the others hear it was already redeemed. The
redeemer gets the Join button (its link is made when tapped); the buyer is told, once.
"""

from __future__ import annotations

from collections.abc import Callable

from shared_schemas.config import TelegramSettings, TelegramWebhookSettings
from shared_schemas.documents import GiftDoc, GiftState, SubscriptionDoc
from shared_schemas.ids import StartLink, deep_link, gift_start, subscription_id
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import GIFTS_READY_OF_BUYER
from shared_schemas.telegram import Button, TgMessage
from telepay.channels import notices
from telepay.channels.day_counts import count_joined, set_subscription
from telepay.channels.lookup import load_channel
from telepay.core.errors import ClaimBusy
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.runtime import Runtime
from telepay.subscriptions import gift_texts, texts
from telepay.subscriptions.free_access import join_keyboard, with_days_added
from telepay.subscriptions.gift_rules import Redemption, redemption

log = get_logger("telepay.webhook")
Rt = Runtime[TelegramWebhookSettings]
REFUSALS = {
    Redemption.UNKNOWN: gift_texts.GIFT_UNKNOWN,
    Redemption.TAKEN: gift_texts.GIFT_TAKEN,
    Redemption.MINE: gift_texts.GIFT_MINE,
    Redemption.VOIDED: gift_texts.GIFT_VOIDED,
}


def on_start(link: StartLink, message: TgMessage, rt: Rt) -> str:
    """`/start <token>_G<code>`: the gift's days for whoever opens it first."""
    assert message.from_user is not None
    user_id, code, token = message.from_user.id, link.code or "", link.channel_token
    channel = load_channel(rt.store, token)
    verdict, gift, sub = redeem(rt, token, code, user_id) if channel else (Redemption.UNKNOWN, None, None)
    if verdict is not Redemption.OK or channel is None or gift is None or sub is None:
        rt.telegram.send_message(message.chat.id, t(REFUSALS.get(verdict, gift_texts.GIFT_UNKNOWN)))
        if verdict is Redemption.MINE and gift is not None and channel is not None:
            _tell_buyer(rt, gift, channel.title)  # a re-delivered redemption whose notice was lost
        return f"gift {verdict.value}"
    keyboard = join_keyboard(channel, sub, texts.join_button(channel.title))
    rt.telegram.send_message(
        message.chat.id, gift_texts.gift_redeemed(channel.title, gift.days, sub.expires_at), keyboard=keyboard
    )
    _tell_buyer(rt, gift, channel.title)
    return "gift redeemed"


def redeem(
    rt: Runtime[TelegramSettings], token: str, code: str, user_id: int
) -> tuple[Redemption, GiftDoc | None, SubscriptionDoc | None]:
    """One transaction: the gift read, its days added to `user_id`'s subscription, marked redeemed."""
    store, now = rt.store, rt.clock.now()
    sub_id = subscription_id(token, user_id)

    def work(tx: Tx) -> tuple[Redemption, GiftDoc | None, SubscriptionDoc | None]:
        gift = tx.get(store.gifts, code)
        verdict = redemption(gift, token, user_id)
        channel = tx.get(store.channels, token)
        if verdict is not Redemption.OK or gift is None or channel is None:
            return (verdict if channel else Redemption.UNKNOWN), gift, None
        current = tx.get(store.subscriptions, sub_id)
        sub = with_days_added(channel, current, user_id, gift.days, now, f"gift-{code}")
        set_subscription(tx, store, sub_id, current, sub)
        count_joined(tx, store, current, sub, now)
        tx.update(
            store.gifts,
            code,
            {
                "state": GiftState.REDEEMED,
                "redeemed_by": user_id,
                "redeemed_at": now,
                "expires_after_redeem": sub.expires_at,
            },
        )
        return Redemption.OK, gift, sub

    return store.transaction(work)


def _tell_buyer(rt: Rt, gift: GiftDoc, title: str) -> None:
    tell_once(
        rt,
        f"{gift.code}:buyer",
        gift.buyer_user_id,
        lambda: gift_texts.gift_redeemed_buyer(title, gift.days),
    )


def tell_once(
    rt: Runtime[TelegramSettings],
    key: str,
    user_id: int,
    text: Callable[[], str],
    keyboard: list[list[Button]] | None = None,
    send: notices.Send | None = None,
) -> str:
    """Tell `user_id` something once (`claims/gift-msg:<key>`; `channels.notices.tell_once`, with
    its `send`), or "being told elsewhere" while another instance tells it."""
    try:
        return notices.tell_once(rt, ClaimPurpose.GIFT_MESSAGE, key, user_id, text, keyboard, send)
    except ClaimBusy:
        return "being told elsewhere"


def unredeemed_lines(rt: Rt, user_id: int) -> list[str]:
    """The gifts `user_id` bought that nobody redeemed yet, each with its link (for /subscriptions)."""
    gifts = rt.store.gifts.find(GIFTS_READY_OF_BUYER, buyer_user_id=user_id, state=GiftState.READY)
    lines = []
    for gift in sorted(gifts, key=lambda g: g.created_at):
        channel = load_channel(rt.store, gift.channel_token)
        link = deep_link(rt.settings.telegram_bot_username, gift_start(gift.channel_token, gift.code))
        lines.append(gift_texts.gift_line(channel.title if channel else gift.channel_token, gift.days, link))
    return lines
