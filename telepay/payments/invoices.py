"""create_invoice's logic: write the order, create its NowPayments invoice, send the Pay button.

The order id arrives in the task, so every retry works on the same order; a claim keeps two
concurrent runs of one task from creating two invoices, and the invoice id is stored the moment it
exists so a retry never creates another.

What the buyer reads (the invoice's description on the payment page, the Pay button, a refusal)
is in the buyer's language.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import CreateInvoiceSettings
from shared_schemas.documents import ChannelStatus, OrderDoc, OrderStatus
from shared_schemas.ids import OrderKind, PayRail, new_gift_code, parse_order_id
from shared_schemas.names import ClaimPurpose
from shared_schemas.tasks import CreateInvoiceTask
from shared_schemas.telegram import Button
from telepay.adapters.nowpayments_api import NowPaymentsRejected, NowPaymentsUnavailable
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden, is_not_modified
from telepay.channels.lookup import load_channel
from telepay.channels.star_prices import (
    DESCRIPTION_MAX,
    SUBSCRIPTION_PERIOD_SECONDS,
    TITLE_MAX,
    donation_in_stars,
    fit,
    is_star_subscription,
    tier_in_stars,
)
from telepay.core.errors import RetryLater
from telepay.core.i18n import STARS, in_stars, money, t
from telepay.core.logs import get_logger
from telepay.core.users import mark_blocked, speaking_to
from telepay.donations.keypad import confirmed_amount
from telepay.payments.promo_prices import price_with_code
from telepay.runtime import Runtime
from telepay.subscriptions import gift_texts, texts

log = get_logger("telepay.invoices")
Rt = Runtime[CreateInvoiceSettings]


def create_invoice(task: CreateInvoiceTask, attempt: int, rt: Rt) -> str:
    """`attempt` counts from 1; on the queue's last attempt a failure is told to the user. Another
    attempt running right now (`ClaimBusy`) or NowPayments down (`RetryLater`) retries the task."""
    ids = {"order_id": task.order_id, "user_id": task.user_id}
    with rt.claims.hold(ClaimPurpose.INVOICE, task.order_id, lease=timedelta(seconds=60)) as claim:
        if claim.done_before:
            return "already done"
        with speaking_to(rt.store, task.user_id):
            claim.result = outcome = _create(task, attempt, rt)
    log.info("create_invoice: %s", outcome, extra=ids)
    return outcome


def _create(task: CreateInvoiceTask, attempt: int, rt: Rt) -> str:
    orders = rt.store.orders
    order = orders.get(task.order_id)
    if order is None:
        built = _build_order(task, rt)
        if isinstance(built, str):
            return built
        order = built
        if not orders.create(order.order_id, order):
            order = orders.get(task.order_id) or order
    if order.status not in (OrderStatus.CREATING, OrderStatus.INVOICED):
        return f"order already {order.status.value}"
    if order.rail is PayRail.STARS:
        return _create_star_invoice(order, rt)

    if order.invoice_id is None:
        channel = load_channel(rt.store, order.channel_token)
        title = channel.title if channel else order.channel_token
        bot = f"https://t.me/{rt.settings.telegram_bot_username}"
        try:
            invoice = rt.nowpayments.create_invoice(
                price_amount=order.price_amount,
                price_currency=order.price_currency,
                order_id=order.order_id,
                order_description=texts.invoice_description(title, order.days),
                ipn_callback_url=rt.settings.ipn_callback_url,
                success_url=bot,
                cancel_url=bot,
            )
        except NowPaymentsUnavailable as error:
            if attempt < rt.settings.invoice_max_attempts:
                raise RetryLater(str(error)) from error
            return _give_up(order, f"NowPayments unavailable: {error}", rt)
        except NowPaymentsRejected as error:
            # A 4xx will not fix itself by retrying (bad key, bad parameters): tell the user now.
            log.error("NowPayments rejected the invoice: %s", error, extra={"order_id": order.order_id})
            return _give_up(order, f"NowPayments rejected: {error}", rt)
        now = rt.clock.now()
        orders.update(
            order.order_id,
            {
                "invoice_id": invoice.id,
                "invoice_url": invoice.invoice_url,
                "status": OrderStatus.INVOICED,
                "updated_at": now,
            },
        )
        order = order.model_copy(
            update={
                "invoice_id": invoice.id,
                "invoice_url": invoice.invoice_url,
                "status": OrderStatus.INVOICED,
            }
        )

    if order.pay_message_id is None and order.invoice_url:
        channel = load_channel(rt.store, order.channel_token)
        title = channel.title if channel else order.channel_token
        text = (
            gift_texts.gift_pay_prompt(title, money(order.price_amount, order.price_currency), order.days)
            if order.gift
            else texts.pay_prompt(title, order.price_amount, order.price_currency, order.days)
        )
        keyboard = [
            [Button(texts.pay_button(order.price_amount, order.price_currency), url=order.invoice_url)]
        ]
        try:
            message_id = _replace_keypad(rt, order, text, keyboard)
            if message_id is None:
                message_id = rt.telegram.send_message(order.chat_id, text, keyboard=keyboard).message_id
        except TelegramForbidden:
            mark_blocked(rt.store, rt.clock, order.user_id)
            return "invoiced; user blocked the bot"
        orders.update(order.order_id, {"pay_message_id": message_id, "updated_at": rt.clock.now()})
    return "invoiced"


def _replace_keypad(rt: Rt, order: OrderDoc, text: str, keyboard: list[list[Button]]) -> int | None:
    """A donation's Pay button replaces its keypad message; None when there is none to replace."""
    if not order.keypad_session_id:
        return None
    session = rt.store.keypad_sessions.get(order.keypad_session_id)
    message_id = session.message_id if session else None
    if message_id is None:
        return None
    try:
        rt.telegram.edit_message_text(order.chat_id, message_id, text, keyboard)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            return None  # the keypad message is gone: send a new one instead
    return message_id


def _build_order(task: CreateInvoiceTask, rt: Rt) -> OrderDoc | str:
    """Price and duration come from Firestore (channel tiers, keypad session), never the client."""
    try:
        ref = parse_order_id(task.order_id)
    except ValueError:
        return "rejected: malformed order id"
    if ref.user_id != task.user_id or ref.channel_token != task.channel_token or ref.kind is not task.kind:
        return "rejected: order id does not match the task"
    if ref.gift != task.gift:
        return "rejected: order id does not match the task"
    channel = load_channel(rt.store, task.channel_token)
    now = rt.clock.now()
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        rt.telegram.send_message(task.chat_id, t(texts.OFFER_CHANGED))
        return "rejected: channel unavailable"
    star_subscription = False
    full_price: Decimal | None = None
    if ref.kind is OrderKind.SUBSCRIPTION:
        tier = channel.tier(task.tier_id or "")
        if tier is None or tier.tier_id != ref.tier_id:
            rt.telegram.send_message(task.chat_id, t(texts.OFFER_CHANGED))
            return "rejected: tier unavailable"
        price, days = tier.price, tier.days
        if task.rail is PayRail.STARS:
            stars = tier_in_stars(tier, rt.settings.stars_usd_price) if rt.settings.stars_enabled else None
            if stars is None:
                rt.telegram.send_message(task.chat_id, t(texts.OFFER_CHANGED))
                return "rejected: tier not sold in Stars"
            # A gift in Stars is a one-time payment: a Star subscription would renew the buyer's.
            price, star_subscription = Decimal(stars), is_star_subscription(tier) and not task.gift
        if task.promo_code and not task.gift:  # -- promo codes --: priced here, from the code as it is now
            priced = price_with_code(rt, channel, tier, task.user_id, task.promo_code, task.rail, price)
            if isinstance(priced, str) or priced.price == 0:
                rt.telegram.send_message(
                    task.chat_id, priced if isinstance(priced, str) else t(texts.OFFER_CHANGED)
                )
                return "rejected: promo code no longer applies"
            price, full_price, star_subscription = priced.price, priced.full, False
    else:
        amount = confirmed_amount(rt.store, task.keypad_session_id, task.user_id, task.channel_token)
        if amount is None:
            rt.telegram.send_message(task.chat_id, t(texts.OFFER_CHANGED))
            return "rejected: no confirmed donation amount"
        price, days = amount, None
        if task.rail is PayRail.STARS:
            stars = donation_in_stars(amount, rt.settings.stars_usd_price, rt.settings.stars_enabled)
            if stars is None:
                rt.telegram.send_message(task.chat_id, t(texts.OFFER_CHANGED))
                return "rejected: donation not payable in Stars"
            price = Decimal(stars)
    return OrderDoc(
        order_id=task.order_id,
        kind=ref.kind,
        user_id=task.user_id,
        chat_id=task.chat_id,
        buyer_name=task.buyer_name,
        channel_token=task.channel_token,
        tier_id=task.tier_id,
        days=days,
        price_amount=price,
        price_currency=STARS if task.rail is PayRail.STARS else channel.currency,
        rail=task.rail,
        star_subscription=star_subscription,
        status=OrderStatus.CREATING,
        keypad_session_id=task.keypad_session_id,
        created_at=now,
        updated_at=now,
        gift=task.gift,
        gift_code=new_gift_code() if task.gift else None,
        promo_code=task.promo_code if full_price is not None else None,
        full_price_amount=full_price,
    )


def _create_star_invoice(order: OrderDoc, rt: Rt) -> str:
    """A Telegram invoice in Stars: a Star subscription's link (30-day tiers) in a message with its
    button, or a one-time invoice message. Its payload is the order id; what it costs was fixed
    in the order, from the channel."""
    if order.pay_message_id is not None:
        return "invoiced"
    channel = load_channel(rt.store, order.channel_token)
    title = channel.title if channel else order.channel_token
    stars = int(order.price_amount)
    description = fit(texts.invoice_description(title, order.days), DESCRIPTION_MAX)
    label = fit(texts.invoice_description(title, order.days), TITLE_MAX)
    text = (
        gift_texts.gift_pay_prompt(title, in_stars(stars), order.days)
        if order.gift
        else texts.star_pay_prompt(title, stars, order.days, order.star_subscription)
    )
    try:
        if order.star_subscription:
            link = order.invoice_url or rt.telegram.create_star_invoice_link(
                fit(title, TITLE_MAX),
                description,
                order.order_id,
                label,
                stars,
                subscription_period=SUBSCRIPTION_PERIOD_SECONDS,
            )
            if order.invoice_url is None:
                rt.store.orders.update(
                    order.order_id,
                    {"invoice_url": link, "status": OrderStatus.INVOICED, "updated_at": rt.clock.now()},
                )
            keyboard = [[Button(texts.star_subscribe_button(stars), url=link)]]
            message_id = _replace_keypad(rt, order, text, keyboard)
            if message_id is None:
                message_id = rt.telegram.send_message(order.chat_id, text, keyboard=keyboard).message_id
        else:
            _replace_keypad(rt, order, text, [])
            message_id = rt.telegram.send_star_invoice(
                order.chat_id, fit(title, TITLE_MAX), description, order.order_id, label, stars
            ).message_id
    except TelegramForbidden:
        mark_blocked(rt.store, rt.clock, order.user_id)
        return "user blocked the bot"
    except TelegramBadRequest as error:  # Telegram refused the invoice: it will refuse it again
        log.error("Telegram refused a Stars invoice: %s", error, extra={"order_id": order.order_id})
        rt.store.orders.update(
            order.order_id, {"status": OrderStatus.INVOICE_FAILED, "updated_at": rt.clock.now()}
        )
        rt.telegram.send_message(order.chat_id, t(texts.STARS_UNAVAILABLE))
        return f"invoice failed: Telegram refused: {error}"
    rt.store.orders.update(
        order.order_id,
        {"pay_message_id": message_id, "status": OrderStatus.INVOICED, "updated_at": rt.clock.now()},
    )
    return "invoiced in Stars"


def _give_up(order: OrderDoc, reason: str, rt: Rt) -> str:
    rt.store.orders.update(
        order.order_id, {"status": OrderStatus.INVOICE_FAILED, "updated_at": rt.clock.now()}
    )
    try:
        rt.telegram.send_message(order.chat_id, t(texts.INVOICE_FAILED))
    except TelegramForbidden:
        mark_blocked(rt.store, rt.clock, order.user_id)
    return f"invoice failed: {reason}"
