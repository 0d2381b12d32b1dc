"""What a buyer does in the bot's private chat: `/start <token>` (the offer, or their subscription
and the offer), the tier buttons that queue an invoice, the renew button, `/subscriptions`,
`/help`; and the owner's `/broadcast`. The bot's webhook routes these here (one router per
feature); the invoice itself is made by create_invoice.
"""

from __future__ import annotations

from collections.abc import Callable

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ChannelDoc, ChannelStatus, PromoCodeDoc
from shared_schemas.ids import (
    CALLBACK_BUY,
    CALLBACK_GIFT,
    CALLBACK_GIFT_PAY,
    CALLBACK_JOIN,
    CALLBACK_PAY,
    CALLBACK_RENEW,
    CALLBACK_STAR_RENEWAL,
    CALLBACK_SUBSCRIPTIONS_PAGE,
    CALLBACK_TRIAL,
    OrderKind,
    PayRail,
    StartKind,
    StartLink,
    buy_callback,
    donate_callback,
    gift_callback,
    gift_order_id,
    gift_pay_callback,
    pay_callback,
    rail_of,
    subscription_order_id,
    trial_callback,
)
from shared_schemas.names import Queue
from shared_schemas.tasks import CreateInvoiceTask
from shared_schemas.telegram import Button, TgCallbackQuery, TgMessage, TgUser
from telepay.adapters.tasks_queue import enqueue_once
from telepay.channels import paging, promo_rules
from telepay.channels.lookup import load_channel, load_subscription
from telepay.channels.star_prices import (
    pay_crypto_button,
    pay_stars_button,
    stars_offered,
)
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.users import display_name
from telepay.runtime import Runtime
from telepay.subscriptions import gift_texts, membership, promos, texts, trials
from telepay.subscriptions.broadcast import owner_repost
from telepay.subscriptions.free_access import join_keyboard
from telepay.subscriptions.trial_rules import Refusal, is_trial

log = get_logger("telepay.webhook")  # the log lines of telegram_webhook keep its logger's name
Rt = Runtime[TelegramWebhookSettings]


def on_message(message: TgMessage, command: str, rt: Rt) -> str:
    """A buyer's command or text other than `/start <token>` (which is `on_start`)."""
    assert message.from_user is not None
    if command == "/broadcast":
        rt.telegram.send_message(message.chat.id, owner_repost(rt, message.from_user.id, message.message_id))
        return "broadcast requested"
    if command == "/subscriptions":
        return membership.list_subscriptions(rt, message.from_user.id)
    if command == "/start":
        rt.telegram.send_message(message.chat.id, t(texts.WELCOME))
        return "welcome"
    if command in {"/help"} or not command.startswith("/"):
        rt.telegram.send_message(message.chat.id, t(texts.WELCOME))
        return "help"
    return "ignored (unknown command)"


def on_start(link: StartLink, message: TgMessage, rt: Rt) -> str:
    """`/start <token>` (the offer), `/start <token>-<tier>` (a tier's button under the offer post)
    or `/start <token>-try` (the free trial's button under it)."""
    assert message.from_user is not None
    task_key = f"start-{message.chat.id}-{message.message_id}"
    if link.kind is StartKind.TRIAL:
        return _trial(rt, message.from_user.id, message.chat.id, link.channel_token, None)
    if link.kind is StartKind.TIER and link.tier_id:
        return _buy(rt, message.from_user, message.chat.id, link.channel_token, link.tier_id, task_key, None)
    channel = load_channel(rt.store, link.channel_token)
    sub = load_subscription(rt.store, link.channel_token, message.from_user.id) if channel else None
    if channel is not None and sub is not None and membership.active(sub, rt):
        shown = membership.show_subscription(rt, message.chat.id, channel, sub)
        offer = show_offer(link.channel_token, message.chat.id, rt, sub.tier_id, message.from_user.id)
        return f"{shown}; {offer}"
    return show_offer(link.channel_token, message.chat.id, rt, viewer=message.from_user.id)


def show_offer(
    token: str, chat_id: int, rt: Rt, first_tier: str | None = None, viewer: int | None = None
) -> str:
    """The channel's offer; with the free trial's button when the channel offers one and `viewer`
    (the person in this private chat) may start it."""
    channel = load_channel(rt.store, token)
    if channel is None:
        rt.telegram.send_message(chat_id, t(texts.UNKNOWN_OFFER))
        return "unknown offer"
    if channel.status is not ChannelStatus.ACTIVE:
        rt.telegram.send_message(chat_id, t(texts.PAUSED_OFFER))
        return "paused offer"
    stars = stars_offered(channel, rt.settings.stars_usd_price, rt.settings.stars_enabled)
    trial = channel.trial_days if viewer is not None and trials.eligible(rt.store, channel, viewer) else None
    code = promos.applied(rt, channel, chat_id)  # a private chat's id is its user's
    text = promos.offer_text(channel, code, trial) if code else texts.offer(channel, trial)
    keyboard = offer_keyboard(channel, first_tier, stars, trial, code)
    rt.telegram.send_message(chat_id, text, keyboard=keyboard)
    if code is None:
        return "offer shown with a trial" if trial else "offer shown"
    return f"offer shown with code {code.code}" + (" and a trial" if trial else "")


def offer_keyboard(
    channel: ChannelDoc,
    first_tier: str | None = None,
    stars: dict[str, int] | None = None,
    trial_days: int | None = None,
    code: PromoCodeDoc | None = None,
) -> list[list[Button]]:
    tiers = sorted(channel.tiers, key=lambda tier: (tier.tier_id != first_tier, tier.tier_id))
    rows = [
        [
            Button(
                promos.tier_button(tier, channel.currency, (stars or {}).get(tier.tier_id), code),
                callback_data=buy_callback(channel.token, tier.tier_id),
            )
        ]
        for tier in tiers
    ]
    if trial_days:
        rows.append([Button(texts.trial_button(trial_days), callback_data=trial_callback(channel.token))])
    rows.append(promos.enter_row(channel))
    rows.append([Button(t(gift_texts.GIFT_BUTTON), callback_data=gift_callback(channel.token, ""))])
    rows.append([Button(t(texts.DONATE_BUTTON), callback_data=donate_callback(channel.token))])
    return rows


def _on_buy(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    token, tier_id = parts
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return _buy(rt, query.from_user, chat_id, token, tier_id, f"buy-{query.id}", query.id)


def _on_pay(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt, gift: bool = False) -> str:
    """How to pay, chosen: for the buyer themselves, or (`gift`) for the tier bought as a gift."""
    token, tier_id, code = parts
    rail = rail_of(code)
    if rail is None:
        rt.telegram.answer_callback_query(query.id, t(texts.BUTTON_GONE))
        return "unknown button"
    chat_id = query.message.chat.id if query.message else query.from_user.id
    task_key = f"{'gpay' if gift else 'pay'}-{query.id}"
    return _buy(rt, query.from_user, chat_id, token, tier_id, task_key, query.id, rail, gift=gift)


def _on_renew(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    token, tier_id = parts
    chat_id = query.message.chat.id if query.message else query.from_user.id
    rt.telegram.answer_callback_query(query.id)
    return show_offer(token, chat_id, rt, tier_id or None, query.from_user.id)


def _on_join(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    return membership.on_join(rt, query.from_user.id, parts[0], query.id)


def _on_star_renewal(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    token, state = parts
    if state not in ("on", "off"):
        rt.telegram.answer_callback_query(query.id, t(texts.BUTTON_GONE))
        return "unknown button"
    return membership.on_star_renewal(rt, query.from_user.id, token, state == "on", query.id)


def _on_subscriptions_page(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    number = paging.page_number(parts[0])
    if number is None:
        rt.telegram.answer_callback_query(query.id, t(texts.BUTTON_GONE))
        return "unknown button"
    rt.telegram.answer_callback_query(query.id)
    return membership.list_subscriptions(rt, query.from_user.id, number, paging.pressed_message(query))


# -- gifts --
def _on_gift(query: TgCallbackQuery, parts: list[str], rt: Rt) -> str:
    """🎁 Buy as a gift: the tiers to give (a channel with one tier goes straight to it), then as a buy."""
    token, tier_id = parts
    chat_id = query.message.chat.id if query.message else query.from_user.id
    channel = load_channel(rt.store, token)
    if not tier_id and channel is not None and len(channel.tiers) == 1:
        tier_id = channel.tiers[0].tier_id
    if tier_id or channel is None:
        return _buy(rt, query.from_user, chat_id, token, tier_id, f"gift-{query.id}", query.id, gift=True)
    rt.telegram.answer_callback_query(query.id)
    stars = stars_offered(channel, rt.settings.stars_usd_price, rt.settings.stars_enabled)
    keyboard = [
        [
            Button(
                texts.tier_button(tier, channel.currency, stars.get(tier.tier_id)),
                callback_data=gift_callback(token, tier.tier_id),
            )
        ]
        for tier in channel.tiers
    ]
    rt.telegram.send_message(chat_id, t(gift_texts.WHICH_GIFT), keyboard=keyboard)
    return "gift tiers shown"


# -- free trials --
def _on_trial(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    chat_id = query.message.chat.id if query.message else query.from_user.id
    return _trial(rt, query.from_user.id, chat_id, parts[0], query.id)


def _trial(rt: Rt, user_id: int, chat_id: int, token: str, query_id: str | None) -> str:
    """ "🎁 Try N days free" pressed (or the daily post's link opened): the trial starts if this
    account may have one (checked again here, in the transaction that grants it); else the reason,
    kindly, and the tiers. A second press while the trial runs (a double tap, a re-delivered update)
    shows the trial again: it never grants twice."""
    channel = load_channel(rt.store, token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        if query_id:
            rt.telegram.answer_callback_query(query_id)
        return f"trial: {show_offer(token, chat_id, rt)}"
    outcome = trials.start(rt.store, rt.clock, channel, user_id)
    if query_id:
        rt.telegram.answer_callback_query(query_id)
    sub, trial = outcome.subscription, outcome.trial
    again = (
        outcome.refusal is Refusal.USED and sub is not None and is_trial(sub) and membership.active(sub, rt)
    )
    if sub is not None and trial is not None and (outcome.new or again):
        text = texts.trial_started(channel.title, trial.days, sub.expires_at)
        keyboard = join_keyboard(channel, sub, texts.join_button(channel.title))
        rt.telegram.send_message(chat_id, text, keyboard=keyboard)
        return "trial started" if outcome.new else "trial shown again"
    why = {
        Refusal.USED: texts.trial_already_used,
        Refusal.PAID: texts.trial_for_newcomers,
        Refusal.OFF: texts.trial_not_offered,
    }[outcome.refusal or Refusal.OFF]
    rt.telegram.send_message(chat_id, why(channel.title))
    return f"trial refused ({outcome.refusal}); {show_offer(token, chat_id, rt, viewer=user_id)}"


# Button prefix → (number of parts, handler).
CALLBACKS: dict[str, tuple[int, Callable[[TgCallbackQuery, list[str], int, Rt], str]]] = {
    CALLBACK_BUY: (2, _on_buy),
    CALLBACK_PAY: (3, _on_pay),
    CALLBACK_STAR_RENEWAL: (2, _on_star_renewal),
    CALLBACK_RENEW: (2, _on_renew),
    CALLBACK_JOIN: (1, _on_join),
    CALLBACK_SUBSCRIPTIONS_PAGE: (1, _on_subscriptions_page),
    # -- gifts --
    CALLBACK_GIFT: (2, lambda query, parts, update_id, rt: _on_gift(query, parts, rt)),
    CALLBACK_GIFT_PAY: (
        3,
        lambda query, parts, update_id, rt: _on_pay(query, parts, update_id, rt, gift=True),
    ),
    # -- free trials --
    CALLBACK_TRIAL: (1, _on_trial),
}


def _buy(
    rt: Rt,
    user: TgUser,
    chat_id: int,
    token: str,
    tier_id: str,
    task_key: str,
    query_id: str | None,
    rail: PayRail | None = None,
    gift: bool = False,
) -> str:
    """A tier chosen: when it can be paid in Stars too, the buyer picks how to pay (`rail` None);
    then the invoice is queued. Prices are read here and again by create_invoice, never taken from
    the button. `gift`: the tier bought as a gift (its own order id; in Stars a one-time payment)."""
    user_id = user.id
    channel = load_channel(rt.store, token)
    tier = channel.tier(tier_id) if channel else None
    if channel is None or channel.status is not ChannelStatus.ACTIVE or tier is None:
        if query_id:
            rt.telegram.answer_callback_query(query_id, t(texts.OFFER_CHANGED), alert=True)
        else:
            rt.telegram.send_message(
                chat_id, t(texts.UNKNOWN_OFFER if channel is None else texts.OFFER_CHANGED)
            )
        return "stale offer"
    stars = stars_offered(channel, rt.settings.stars_usd_price, rt.settings.stars_enabled).get(tier_id)
    # A gift is bought at the full price: a code is for the buyer's own access.
    promo = promos.Purchase() if gift else promos.for_purchase(rt, channel, tier, user_id)
    if promo.refused is not None:  # the code stopped applying since the offer was shown
        if query_id:
            rt.telegram.answer_callback_query(query_id)
        promos.forget(rt, token, user_id)
        rt.telegram.send_message(chat_id, promo_rules.refusal_text(promo.refused, promo.name, channel.title))
        return f"promo refused ({promo.refused}); {show_offer(token, chat_id, rt, tier_id)}"
    if promo.code is not None and promo.free(tier):
        if query_id:
            rt.telegram.answer_callback_query(query_id)
        return promos.grant_free(rt, channel, tier, promo.code, user_id, chat_id)
    full_tier, tier = tier, promo.tier(tier)
    stars = promos.stars_with(promo.code, full_tier, stars)
    if rail is PayRail.STARS and stars is None:
        if query_id:
            rt.telegram.answer_callback_query(query_id, t(texts.OFFER_CHANGED), alert=True)
        return "stale offer (no Stars price)"
    if rail is None and stars is not None:
        if query_id:
            rt.telegram.answer_callback_query(query_id)
        pay = gift_pay_callback if gift else pay_callback
        keyboard = [
            [Button(pay_stars_button(stars), callback_data=pay(token, tier_id, PayRail.STARS))],
            [
                Button(
                    pay_crypto_button(tier.price, channel.currency),
                    callback_data=pay(token, tier_id, PayRail.NOWPAYMENTS),
                )
            ],
        ]
        text = (
            gift_texts.gift_rail_choice(channel.title, tier.days)
            if gift
            else texts.rail_choice(
                channel.title, tier, channel.currency, stars, promo.star_subscription(tier)
            )
        )
        rt.telegram.send_message(chat_id, text, keyboard=keyboard)
        return "payment choice shown"
    # The order id is chosen here, so a retried task or a re-delivered update reuses it.
    order_id = (gift_order_id if gift else subscription_order_id)(token, user_id, tier_id)
    payload = CreateInvoiceTask(
        order_id=order_id,
        user_id=user_id,
        chat_id=chat_id,
        channel_token=token,
        kind=OrderKind.SUBSCRIPTION,
        tier_id=tier_id,
        buyer_name=display_name(user)[:80],
        rail=rail or PayRail.NOWPAYMENTS,
        gift=gift,
        promo_code=promo.code.code if promo.code else None,
    )
    if not enqueue_once(rt.tasks, Queue.CREATE_INVOICE, rt.settings.create_invoice_url, payload, task_key):
        log.info("task %s already queued", task_key)
    if query_id:
        rt.telegram.answer_callback_query(query_id, t(texts.PREPARING_INVOICE))
    return "invoice queued"
