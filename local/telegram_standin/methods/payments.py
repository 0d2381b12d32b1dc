"""Payments in Telegram Stars: sendInvoice, createInvoiceLink, answerPreCheckoutQuery,
refundStarPayment, editUserStarSubscription, getStarTransactions, getMyStarBalance.

Only Stars (currency ``XTR``) are modelled: the stand-in has no payment providers. Arguments are read
in the server's order (``get_input_message_invoice`` in ``Client.cpp``: title, description, payload,
currency, prices), then the checks TDLib makes, then those Telegram's servers make. The server's
descriptions are lower-cased in their first letter, as the server does for every error it answers.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from .. import views
from ..botapi import Ctx, api_method, check_chat, check_private_write, get_user_id, resolve_chat, take_slot
from ..protocol import ApiError, Args, bad_request, to_integer, utf16_len
from ..records import JSON, StarInvoice
from .messages import parse_reply_markup

# Bot API: "Product name, 1-32 characters", "Product description, 1-255 characters", "Bot-defined
# invoice payload, 1-128 bytes"; subscription_period "must always be 2592000 (30 days)",
# "Subscription price must no exceed 10000 Telegram Stars".
MAX_TITLE = 32
MAX_DESCRIPTION = 255
MAX_PAYLOAD_BYTES = 128
SUBSCRIPTION_PERIOD = 2_592_000
SUBSCRIPTION_MAX_STARS = 10_000
# Not documented for one-off invoices; a public measurement against Telegram found 100000 Stars
# accepted and 150000 refused (CURRENCY_TOTAL_AMOUNT_INVALID). A guess: see README.
INVOICE_MAX_STARS = 100_000
INTEGER_RE = re.compile(r"-?[0-9]+")
QUERY_ID_INVALID = "query is too old and response timeout expired or query ID is invalid"


def _required(args: Args, name: str) -> str:
    """The server's ``get_required_string_arg`` (its message, first letter lower-cased)."""
    value = args.get(name)
    if value == "":
        raise bad_request(f'parameter "{name}" is required')
    return value


def _labeled_price(value: Any) -> tuple[str, int]:
    prefix = "can't parse labeled price: "
    if not isinstance(value, dict):
        raise bad_request(prefix + "LabeledPrice must be an Object")
    if "label" not in value:
        raise bad_request(prefix + 'Can\'t find field "label"')
    label = value["label"]
    if not isinstance(label, str):
        raise bad_request(prefix + 'Field "label" must be of type String')
    if not label:
        raise bad_request(prefix + "LabeledPrice label must be non-empty")
    if "amount" not in value:
        raise bad_request(prefix + 'Can\'t find field "amount"')
    amount = value["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise bad_request(prefix + 'Field "amount" must be a Number')
    # TDLib reads the number's text as an integer: 1.5, 1.0 or "12x" are not valid Numbers.
    if isinstance(amount, int):
        number = amount
    elif isinstance(amount, str) and INTEGER_RE.fullmatch(amount):
        number = int(amount)
    else:
        raise bad_request(prefix + 'Field "amount" must be a valid Number')
    return label, number


def read_invoice(ctx: Ctx, args: Args, link: bool) -> StarInvoice:
    """The invoice arguments of sendInvoice / createInvoiceLink, checked as Telegram checks them."""
    title = _required(args, "title")
    description = _required(args, "description")
    payload = _required(args, "payload")
    currency = _required(args, "currency")
    raw_prices = _required(args, "prices")
    try:
        prices_value = json.loads(raw_prices)
    except ValueError as exc:
        raise bad_request("can't parse prices JSON object") from exc
    if not isinstance(prices_value, list):
        raise bad_request("expected an Array of labeled prices")
    prices = [_labeled_price(price) for price in prices_value]
    if not prices:
        raise bad_request("there must be at least one price")
    # sendInvoice reads subscription_period too (the server shares the argument reading), but only
    # invoice links may carry one; a sendInvoice period is ignored here (see README).
    period = args.integer("subscription_period", 0, 0) if link else 0
    # TDLib (InputInvoice.cpp)
    total = sum(amount for _, amount in prices)
    if total <= 0:
        raise bad_request("total price must be positive")
    # Telegram's servers
    if currency != "XTR":
        # No payment provider exists in the stand-in: every other currency is refused as Telegram
        # refuses a bot without a valid provider token.
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    if args.get("provider_token") or len(prices) != 1:
        raise bad_request("STARS_INVOICE_INVALID")
    if utf16_len(title) > MAX_TITLE:
        raise bad_request("TITLE_INVALID")
    if utf16_len(description) > MAX_DESCRIPTION:
        raise bad_request("DESCRIPTION_INVALID")
    if len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if period and period != SUBSCRIPTION_PERIOD:
        raise bad_request("SUBSCRIPTION_PERIOD_INVALID")
    if period and total > SUBSCRIPTION_MAX_STARS:
        raise bad_request("SUBSCRIPTION_AMOUNT_INVALID")
    if total > INVOICE_MAX_STARS:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return StarInvoice(
        bot_id=ctx.bot.user.id,
        title=title,
        description=description,
        payload=payload,
        label=prices[0][0],
        amount=total,
        start_parameter=args.get("start_parameter"),
        photo_url=args.get("photo_url"),
        subscription_period=period,
    )


def _invoice_markup(args: Args, invoice: StarInvoice) -> JSON:
    """The message's keyboard: as given (its first button must be a Pay button), or Telegram's own
    Pay button."""
    markup = parse_reply_markup(args)
    if markup is None:
        return {"inline_keyboard": [[{"text": f"Pay ⭐️{invoice.amount}", "pay": True}]]}
    first = markup["inline_keyboard"][0][0] if markup["inline_keyboard"][0] else {}
    if first.get("pay") is not True:
        raise bad_request("REPLY_MARKUP_BUY_EMPTY")
    return markup


@api_method("sendInvoice")
async def send_invoice(ctx: Ctx, args: Args) -> JSON:
    invoice = read_invoice(ctx, args, link=False)
    markup = _invoice_markup(args, invoice)
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    if chat_id < 0:
        raise ApiError(501, "Not Implemented: the Telegram stand-in models invoices in private chats only")
    check_chat(ctx, chat_id, "write")
    check_private_write(ctx, chat_id, sending=True)
    take_slot(ctx, chat_id, counts_globally=True)
    world.stats["sends"] += 1
    msg = world.new_message(
        ctx.bot,
        chat_id,
        "",
        from_id=ctx.bot.user.id,
        outgoing=True,
        reply_markup=markup,
        protect_content=args.flag("protect_content"),
        service={"invoice": views.invoice_json(invoice)},
    )
    invoice.chat_id = chat_id
    invoice.message_id = msg.message_id
    ctx.bot.invoice_messages[(chat_id, msg.message_id)] = invoice
    return views.message_json(world, msg, ctx.bot)


@api_method("createInvoiceLink")
async def create_invoice_link(ctx: Ctx, args: Args) -> str:
    if args.has("business_connection_id"):
        raise ApiError(501, "Not Implemented: the Telegram stand-in does not model business connections")
    invoice = read_invoice(ctx, args, link=True)
    while True:
        url = "https://t.me/$" + secrets.token_urlsafe(16)
        if ctx.world.find_invoice_link(url) is None:
            break
    invoice.link = url
    ctx.bot.invoice_links[url] = invoice
    return url


@api_method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(ctx: Ctx, args: Args) -> bool:
    query_id = str(to_integer(args.get("pre_checkout_query_id")))
    ok = args.flag("ok")
    error_message = ""
    if not ok:
        error_message = _required(args, "error_message")
    query = ctx.bot.pre_checkout_queries.get(query_id)
    if query is None or query.answered or query.expired:
        raise bad_request(QUERY_ID_INVALID)
    if time.monotonic() - query.created > ctx.world.config.pre_checkout_timeout:
        query.expired = True
        raise bad_request(QUERY_ID_INVALID)
    query.answered = True
    query.ok = ok
    query.error_message = error_message
    query.done.set()
    return True


@api_method("refundStarPayment")
async def refund_star_payment(ctx: Ctx, args: Args) -> bool:
    user_id = get_user_id(args)
    charge_id = _required(args, "telegram_payment_charge_id")
    charge = ctx.bot.charges.get(charge_id)
    if charge is None or charge.user_id != user_id:
        raise bad_request("CHARGE_NOT_FOUND")
    if charge.refunded:
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    if ctx.bot.star_balance < charge.amount:
        raise bad_request("BALANCE_TOO_LOW")
    ctx.world.refund(ctx.bot, charge)
    return True


@api_method("editUserStarSubscription")
async def edit_user_star_subscription(ctx: Ctx, args: Args) -> bool:
    user_id = get_user_id(args)
    charge_id = args.get("telegram_payment_charge_id")
    is_canceled = args.flag("is_canceled")
    # Telegram takes the charge id of the subscription's first payment (payments.botCancelStarsSubscription).
    sub = ctx.bot.subscriptions.get(charge_id)
    if sub is None or sub.user_id != user_id:
        raise bad_request("CHARGE_ID_INVALID")
    if sub.ended:
        return True
    if is_canceled:
        # "the subscription must be active up to the end of the current subscription period"
        sub.canceled = True
        sub.bot_canceled = True
    elif sub.bot_canceled:
        # "Pass False to allow the user to re-enable a subscription that was previously canceled by
        # the bot": it stays canceled until the user turns it back on.
        sub.bot_canceled = False
    return True


@api_method("getStarTransactions")
async def get_star_transactions(ctx: Ctx, args: Args) -> JSON:
    offset = args.integer("offset", 0, 0)
    limit = args.integer("limit", 100, 1, 100)
    page = ctx.bot.star_transactions[offset : offset + limit]
    return {"transactions": [views.star_transaction_json(ctx.world, tx) for tx in page]}


@api_method("getMyStarBalance")
async def get_my_star_balance(ctx: Ctx, args: Args) -> JSON:
    return {"amount": ctx.bot.star_balance}
