"""The control API (``/_control/...``): drive the simulated world and read what the bot did.

Each endpoint is a plain function of a :class:`Control` (the world, its delivery and the
configuration the app started with) and a ``ControlCall`` (body, path and query as plain values)
that answers the JSON body; ``control_routes`` wraps them in HTTP. Success answers ``{"ok": true,
...}`` (status 200); a request the world cannot carry out answers ``{"ok": false, "error": "..."}``
with status 400, and an unknown user, chat, bot or callback query status 404. The endpoints are
listed in ``README.md`` beside this file.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.control_call import ControlCall, ControlError, control_endpoint

from . import views
from .delivery import Delivery
from .formatting import check_entities
from .model import World
from .protocol import ApiError, json_response
from .records import (
    DEFAULT_ADMIN_RIGHTS,
    JSON,
    MEMBER_STATUSES,
    BotState,
    Chat,
    Config,
    Failure,
    Member,
    StarInvoice,
    StarSubscription,
    StarTransaction,
)

__all__ = ["Control", "ControlCall", "ControlError", "control_routes"]


@dataclass
class Control:
    world: World
    delivery: Delivery
    initial: Config  # what POST /_control/reset restores


ControlHandler = Callable[[Control, ControlCall], JSON | Awaitable[JSON]]


def ok(**fields: Any) -> JSON:
    return {"ok": True, **fields}


# ------------------------------------------------------------------ lookups
def pick_bot(world: World, call: ControlCall) -> BotState:
    """The bot named by ``"bot"`` in the body or ``?bot=`` (token, username or id); else the first."""
    ref = call.body.get("bot", call.query.get("bot"))
    if ref in (None, "", True):
        return world.default_bot()
    for bot in world.bots.values():
        if str(ref) in (bot.token, bot.user.username, f"@{bot.user.username}", str(bot.user.id)):
            return bot
    raise ControlError(f"unknown bot {ref}", 404)


def user_of(world: World, call: ControlCall) -> int:
    user_id = int(call.path["user_id"])
    if user_id not in world.users:
        raise ControlError(f"unknown user {user_id}", 404)
    return user_id


def chat_of(world: World, call: ControlCall) -> Chat:
    chat_id = int(call.path["chat_id"])
    chat = world.chats.get(chat_id)
    if chat is None:
        raise ControlError(f"unknown chat {chat_id}", 404)
    return chat


def target_user(world: World, call: ControlCall) -> int:
    if "user_id" in call.body:
        user_id = int(call.body["user_id"])
    elif "bot" in call.body:
        user_id = pick_bot(world, call).user.id
    else:
        raise ControlError("give user_id, or bot")
    if user_id not in world.users:
        raise ControlError(f"unknown user {user_id}", 404)
    return user_id


def owner_of(chat: Chat) -> int:
    for uid, member in chat.members.items():
        if member.status == "creator":
            return uid
    raise ControlError("the chat has no owner")


def chat_summary(world: World, chat: Chat) -> JSON:
    return {
        "chat": views.chat_json(world, chat.id),
        "owner_id": owner_of(chat),
        "members": [views.member_json(world, chat, uid) for uid in list(chat.members)],
        "join_requests": [
            {"user": views.user_json(world, r.user_id), "date": r.date, "invite_link": r.invite_link}
            for r in chat.requests.values()
        ],
        "invite_links": [
            {
                **views.link_json(world, link, None),
                "member_count": len(link.joined),
                "is_expired": bool(link.expire_date and link.expire_date <= world.now()),
            }
            for link in chat.links.values()
        ],
    }


def _set_member(world: World, chat: Chat, new: Member, actor_id: int) -> JSON:
    world.change_member(chat, new.user_id, new, actor_id)
    return ok(member=views.member_json(world, chat, new.user_id))


# ------------------------------------------------------------------ world
def reset(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    ctx.delivery.stop_all()
    world.config.limits.__dict__.update(vars(ctx.initial.limits))
    for key, value in vars(ctx.initial).items():
        if key != "limits":
            setattr(world.config, key, value)
    world.reset()
    return ok()


def get_config(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(config=world.config.as_dict())


def set_config(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    config = world.config
    limits = call.body.get("rate_limits")
    if isinstance(limits, bool):
        config.limits.enabled = limits
    elif isinstance(limits, dict):
        for key, value in limits.items():
            if key not in vars(config.limits):
                raise ControlError(f"unknown rate limit setting {key}")
            setattr(config.limits, key, type(getattr(config.limits, key))(value))
    for key in (
        "webhook_retry_base",
        "webhook_retry_max",
        "webhook_timeout",
        "callback_answer_timeout",
        "pre_checkout_timeout",
    ):
        if key in call.body:
            setattr(config, key, float(call.body[key]))
    if "default_star_balance" in call.body:
        config.default_star_balance = int(call.body["default_star_balance"])
    if "strict_webhook_urls" in call.body:
        config.strict_webhook_urls = bool(call.body["strict_webhook_urls"])
    if call.body.get("reset_rate_counters"):
        for bot in world.bots.values():
            bot.limiter.reset()
    return ok(config=config.as_dict())


def clock(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    renewals: list[JSON] = []
    if "advance" in call.body:
        world.clock_offset += float(call.body["advance"])
        renewals = world.run_due_renewals()
    return ok(now=world.now(), offset=world.clock_offset, renewals=renewals)


def bots(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(
        bots=[
            {
                "user": views.user_api(bot.user),
                "webhook": vars(bot.webhook) if bot.webhook else None,
                "allowed_updates": bot.allowed_updates,
                "pending_update_count": len(bot.pending),
                "last_error_message": bot.last_error_message or None,
                "commands": bot.commands,
                "scoped_commands": bot.scoped_commands,
                "language_commands": bot.language_commands,
            }
            for bot in world.bots.values()
        ]
    )


# ------------------------------------------------------------------ users
def create_user(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user = world.create_user(
        first_name=str(call.body.get("first_name") or "User"),
        user_id=int(call.body["id"]) if call.body.get("id") is not None else None,
        last_name=str(call.body.get("last_name") or ""),
        username=str(call.body.get("username") or "").lstrip("@"),
        language_code=str(call.body.get("language_code") or ""),
        is_premium=bool(call.body.get("is_premium")),
    )
    return ok(user=views.user_api(user))


def create_users(ctx: Control, call: ControlCall) -> JSON:
    """Many users at once, for benchmarks: each has started the bot and, with `member_of`, is a
    member of that chat from before the bot watched it (no updates: nobody joins now)."""
    world = ctx.world
    count = int(call.body["count"])
    if not 0 < count <= 200_000:
        raise ControlError("count must be 1..200000")
    prefix = str(call.body.get("first_name") or "User")
    bot = pick_bot(world, call)
    chat = None
    if call.body.get("member_of") is not None:
        chat = world.chats.get(int(call.body["member_of"]))
        if chat is None:
            raise ControlError(f"unknown chat {call.body['member_of']}", 404)
    ids = []
    for i in range(count):
        user = world.create_user(first_name=f"{prefix}{i}")
        bot.private(user.id).started = True
        bot.known_users.add(user.id)
        if chat is not None:
            chat.members[user.id] = Member(user_id=user.id, status="member")
        ids.append(user.id)
    return ok(user_ids=ids)


def get_user(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    private = bot.privates.get(user_id)
    return ok(
        user=views.user_api(world.users[user_id]),
        started=bool(private and private.started),
        blocked=bool(private and private.blocked),
        deactivated=world.users[user_id].deactivated,
    )


def start(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    bot.private(user_id).started = True
    bot.known_users.add(user_id)
    world.set_blocked(bot, user_id, False)
    fields: JSON = {"chat_id": user_id}
    if call.body.get("send_command") or call.body.get("payload"):
        payload = str(call.body.get("payload") or "")
        text = "/start" + (f" {payload}" if payload else "")
        msg, update_ids = world.user_sends(user_id, user_id, text, bot)
        fields.update(message=views.message_json(world, msg, bot), update_ids=update_ids)
    return ok(**fields)


def block(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    bot.private(user_id).started = True
    world.set_blocked(bot, user_id, True)
    return ok()


def unblock(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    world.set_blocked(bot, user_id, False)
    return ok()


def deactivate(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    world.users[user_id].deactivated = True
    return ok()


def user_message(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    text = call.body.get("text")
    if not isinstance(text, str) or not text:
        raise ControlError("text is required")
    chat_id = int(call.body.get("chat_id") or user_id)
    # -- announcements: formatting the user chose in their app (entities), or a photo with this caption --
    formatting = call.body.get("entities")
    photo = bool(call.body.get("photo"))
    try:
        extra = check_entities(formatting, text) if formatting is not None else None
    except ApiError as exc:
        raise ControlError(exc.description) from exc
    reply_to = call.body.get("reply_to_message_id")  # -- support --
    if reply_to is not None and (not isinstance(reply_to, int) or chat_id < 0):
        raise ControlError("reply_to_message_id is a message id of the user's private chat")
    try:
        msg, update_ids = world.user_sends(
            user_id, chat_id, text, bot, entities=extra, photo=photo, reply_to=reply_to
        )
    except ValueError as exc:
        raise ControlError(str(exc)) from exc
    return ok(message=views.message_json(world, msg, bot), update_ids=update_ids)


def press(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    bot = pick_bot(world, call)
    chat_id = int(call.body.get("chat_id") or user_id)
    try:
        query, update_id = world.press_button(
            user_id, chat_id, int(call.body["message_id"]), str(call.body["callback_data"]), bot
        )
    except ValueError as exc:
        raise ControlError(str(exc)) from exc
    return ok(callback_query_id=query.id, update_id=update_id)


def join(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    link = call.body.get("invite_link")
    if not isinstance(link, str) or not link:
        raise ControlError("invite_link is required")
    return ok(**world.join_by_link(user_id, link))


def leave(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    chat = world.chats.get(int(call.body["chat_id"]))
    if chat is None:
        raise ControlError("unknown chat", 404)
    if world.status(chat, user_id) == "creator":
        raise ControlError("the owner cannot leave")
    if world.is_member(chat, user_id):
        world.leave_chat(chat, user_id)
    return ok(status=world.status(chat, user_id))


# ------------------------------------------------------------------ chats
def create_chat(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    chat = world.create_chat(
        chat_type=str(call.body.get("type") or "channel"),
        title=str(call.body.get("title") or "Channel"),
        owner_id=int(call.body["owner_id"]),
        username=str(call.body.get("username") or ""),
        chat_id=int(call.body["id"]) if call.body.get("id") is not None else None,
    )
    chat.description = str(call.body.get("description") or "")
    return ok(chat=views.chat_json(world, chat.id))


def get_chat(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(**chat_summary(world, chat_of(world, call)))


def members(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    summary = chat_summary(world, chat_of(world, call))
    return ok(members=summary["members"], join_requests=summary["join_requests"])


def links(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(invite_links=chat_summary(world, chat_of(world, call))["invite_links"])


def add_admin(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    chat = chat_of(world, call)
    user_id = target_user(world, call)
    names = chat.right_names
    given = call.body.get("rights")
    if given is None:
        rights = {name: name in DEFAULT_ADMIN_RIGHTS for name in names}
    else:
        if isinstance(given, list):
            given = {name: True for name in given}
        if not isinstance(given, dict):
            raise ControlError("rights must be an object or a list of right names")
        unknown = [name for name in given if name not in names]
        if unknown:
            raise ControlError(f"unknown rights for a {chat.type}: {unknown}")
        rights = {name: bool(given.get(name, False)) for name in names}
    rights["can_manage_chat"] = True
    if world.status(chat, user_id) == "creator":
        raise ControlError("the owner's rights cannot change")
    actor = int(call.body.get("promoted_by") or owner_of(chat))
    new = Member(
        user_id=user_id,
        status="administrator",
        rights=rights,
        custom_title=str(call.body.get("custom_title") or ""),
    )
    return _set_member(world, chat, new, actor)


def remove_admin(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    chat = chat_of(world, call)
    user_id = int(call.path["user_id"])
    if world.status(chat, user_id) != "administrator":
        raise ControlError("the user is not an administrator")
    status = str(call.body.get("status") or "member")
    if status not in ("member", "left", "kicked"):
        raise ControlError("status must be member, left or kicked")
    return _set_member(world, chat, Member(user_id=user_id, status=status), owner_of(chat))


def add_member(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    chat = chat_of(world, call)
    user_id = target_user(world, call)
    status = str(call.body.get("status") or "member")
    if status not in MEMBER_STATUSES or status in ("creator", "administrator", "restricted"):
        raise ControlError("status must be member, left or kicked (use /admins for administrators)")
    if world.status(chat, user_id) == "creator":
        raise ControlError("the owner's status cannot change")
    actor = int(call.body.get("actor_id") or (user_id if status == "left" else owner_of(chat)))
    new = Member(user_id=user_id, status=status, until_date=int(call.body.get("until_date") or 0))
    return _set_member(world, chat, new, actor)


def transcript(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    bot = pick_bot(world, call)
    chat_id = int(call.path["chat_id"])
    if chat_id > 0:
        if chat_id not in world.users:
            raise ControlError(f"unknown user {chat_id}", 404)
        private = bot.privates.get(chat_id)
        messages = list(private.messages.values()) if private else []
    else:
        chat = chat_of(world, call)
        messages = list(chat.messages.values())
    only_bot = call.query.get("outgoing_only") in ("1", "true")
    records = [views.message_record(world, m, bot) for m in messages if m.outgoing or not only_bot]
    return ok(chat_id=chat_id, messages=records)


# ------------------------------------------------------------------ observation
def file(ctx: Control, call: ControlCall) -> JSON:
    """A document a bot sent: its fields, the chat it went to, and its bytes in base64."""
    found = ctx.world.files.get(str(call.path["file_id"]))
    if found is None:
        raise ControlError("unknown file", 404)
    fields = {key: value for key, value in found.items() if key != "content"}
    return ok(file=fields, content_base64=base64.b64encode(found["content"]).decode("ascii"))


def callback_query(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    query_id = call.path["query_id"]
    for bot in world.bots.values():
        query = bot.callback_queries.get(query_id)
        if query is not None:
            return ok(
                callback_query_id=query.id,
                user_id=query.user_id,
                chat_id=query.chat_id,
                message_id=query.message_id,
                data=query.data,
                answered=query.answered,
                answer=query.answer,
            )
    raise ControlError("unknown callback query", 404)


def calls(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    method = call.query.get("method", "").lower()
    since = int(call.query.get("since_seq") or 0)
    later = world.calls[max(0, since) :]  # seq N is the N-th call: a poll reads only what is new
    return ok(calls=[c for c in later if not method or c["method"].lower() == method])


def stats(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(stats=world.stats)


def updates(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    bot = pick_bot(world, call)
    return ok(
        pending=[
            {
                "update_id": u.update_id,
                "type": u.kind,
                "queue": u.queue,
                "attempts": u.attempts,
                "update": u.body,
            }
            for u in bot.pending
        ],
        deliveries=list(bot.deliveries),
    )


def add_failure(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    method = str(call.body.get("method") or "*").lower()
    status = int(call.body.get("status") or 500)
    if status < 400:
        raise ControlError("status must be an error status (>= 400)")
    failure = Failure(
        status=status,
        count=int(call.body.get("count") or 1),
        retry_after=int(call.body.get("retry_after") or 0),
        description=str(call.body.get("description") or ""),
        delay=float(call.body.get("delay") or 0.0),
    )
    world.failures.setdefault(method, []).append(failure)
    return ok()


def list_failures(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    return ok(failures={m: [vars(f) for f in fs] for m, fs in world.failures.items() if fs})


def clear_failures(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    world.failures.clear()
    return ok()


# ------------------------------------------------------------------ Telegram Stars
def _invoice_to_pay(world: World, call: ControlCall, user_id: int) -> tuple[BotState, StarInvoice]:
    if call.body.get("invoice_link"):
        found = world.find_invoice_link(str(call.body["invoice_link"]))
        if found is None:
            raise ControlError(f"unknown invoice link {call.body['invoice_link']}")
        return found
    if call.body.get("message_id") is None:
        raise ControlError("give message_id (an invoice message in the user's private chat) or invoice_link")
    bot = pick_bot(world, call)
    invoice = bot.invoice_messages.get((user_id, int(call.body["message_id"])))
    msg = world.find_message(bot, user_id, int(call.body["message_id"]))
    if invoice is None or msg is None or msg.deleted:
        raise ControlError(
            f"message {call.body['message_id']} is not an invoice in the user's chat with the bot"
        )
    if invoice.paid_charge_id:
        raise ControlError(f"the invoice was already paid (charge {invoice.paid_charge_id})")
    return bot, invoice


def _check_stars(world: World, user_id: int, invoice: StarInvoice) -> None:
    if world.user_stars(user_id) < invoice.amount:
        raise ControlError(
            f"not enough Stars: the user has {world.user_stars(user_id)}, the invoice asks {invoice.amount}"
            " (BALANCE_TOO_LOW)"
        )


async def pay(ctx: Control, call: ControlCall) -> JSON:
    """The user pays an invoice: pre_checkout_query, the bot's answer (awaited without blocking the
    server: the bot answers through it), then the payment and successful_payment."""
    world = ctx.world
    user_id = user_of(world, call)
    bot, invoice = _invoice_to_pay(world, call, user_id)
    _check_stars(world, user_id, invoice)
    query = world.open_pre_checkout(bot, user_id, invoice)
    try:
        await asyncio.wait_for(query.done.wait(), timeout=world.config.pre_checkout_timeout)
    except TimeoutError:
        query.expired = True
        return ok(result="timeout", pre_checkout_query_id=query.id)
    if not query.ok:
        return ok(result="declined", error_message=query.error_message, pre_checkout_query_id=query.id)
    _check_stars(world, user_id, invoice)
    if invoice.paid_charge_id:
        raise ControlError(f"the invoice was already paid (charge {invoice.paid_charge_id})")
    charge, update_ids = world.pay_invoice(
        bot, user_id, invoice, lose_update=bool(call.body.get("lose_update"))
    )
    fields: JSON = {
        "charge_id": charge.charge_id,
        "update_ids": update_ids,
        "pre_checkout_query_id": query.id,
    }
    if charge.expiration_date:
        fields["subscription_expiration_date"] = charge.expiration_date
    return ok(result="paid", **fields)


def set_stars(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    balance = int(call.body["balance"])
    if balance < 0:
        raise ControlError("balance must not be negative")
    world.star_balances[user_id] = balance
    return ok(user_id=user_id, balance=balance)


def get_stars(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = user_of(world, call)
    now = world.now()
    subs = [s for bot in world.bots.values() for s in bot.subscriptions.values() if s.user_id == user_id]
    charges = [c for bot in world.bots.values() for c in bot.charges.values() if c.user_id == user_id]
    return ok(
        user_id=user_id,
        balance=world.user_stars(user_id),
        subscriptions=[views.star_subscription_record(s, now) for s in subs],
        charges=[views.star_charge_record(c) for c in sorted(charges, key=lambda c: c.date)],
    )


def _user_subscription(world: World, call: ControlCall, user_id: int) -> StarSubscription:
    charge_id = str(call.body.get("charge_id") or "")
    for bot in world.bots.values():
        for sub in bot.subscriptions.values():
            if sub.user_id == user_id and (sub.id == charge_id or charge_id in sub.charges):
                return sub
    raise ControlError(f"the user has no Star subscription with charge {charge_id!r}", 404)


def cancel_subscription(ctx: Control, call: ControlCall) -> JSON:
    """The user cancels the subscription in the Telegram app: no renewal; the period paid for stays."""
    world = ctx.world
    user_id = user_of(world, call)
    sub = _user_subscription(world, call, user_id)
    if sub.ended:
        raise ControlError("the subscription has ended")
    sub.canceled = True
    return ok(subscription=views.star_subscription_record(sub, world.now()))


def reenable_subscription(ctx: Control, call: ControlCall) -> JSON:
    """The user turns renewal back on in the app (refused while the bot keeps it canceled)."""
    world = ctx.world
    user_id = user_of(world, call)
    sub = _user_subscription(world, call, user_id)
    if sub.ended:
        raise ControlError("the subscription has ended")
    if sub.bot_canceled:
        raise ControlError("the bot canceled the subscription; the user cannot re-enable it")
    sub.canceled = False
    return ok(subscription=views.star_subscription_record(sub, world.now()))


def renewal_failures(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    user_id = int(call.body["user_id"])
    if user_id not in world.users:
        raise ControlError(f"unknown user {user_id}", 404)
    count = int(call.body.get("count") or 1)
    if count < 1:
        raise ControlError("count must be at least 1")
    world.renewal_failures.append(
        {"user_id": user_id, "charge_id": str(call.body.get("charge_id") or ""), "count": count}
    )
    return ok(renewal_failures=world.renewal_failures)


def renew(ctx: Control, call: ControlCall) -> JSON:
    return ok(renewals=ctx.world.run_due_renewals())


def dispute_refund(ctx: Control, call: ControlCall) -> JSON:
    """Telegram refunds a payment by itself (a dispute); the bot's balance may go below zero."""
    world = ctx.world
    user_id = int(call.body["user_id"])
    charge_id = str(call.body.get("charge_id") or "")
    for bot in world.bots.values():
        charge = bot.charges.get(charge_id)
        if charge is not None and charge.user_id == user_id:
            if charge.refunded:
                raise ControlError("the charge was already refunded")
            update_ids = world.refund(bot, charge)
            return ok(charge=views.star_charge_record(charge), update_ids=update_ids)
    raise ControlError(f"no charge {charge_id!r} of user {user_id}", 404)


def withdraw(ctx: Control, call: ControlCall) -> JSON:
    """The bot's owner withdraws Stars to Fragment: the bot's balance goes down."""
    world = ctx.world
    bot = pick_bot(world, call)
    amount = int(call.body["amount"])
    if amount < 1 or amount > bot.star_balance:
        raise ControlError(f"amount must be 1 to the bot's balance ({bot.star_balance})")
    bot.star_balance -= amount
    tx = StarTransaction(
        id="wd" + secrets.token_hex(12),
        user_id=0,
        amount=amount,
        date=world.now(),
        incoming=False,
        payload="",
        partner="fragment",
    )
    bot.star_transactions.append(tx)
    return ok(balance=bot.star_balance, transaction=views.star_transaction_json(world, tx))


def stars(ctx: Control, call: ControlCall) -> JSON:
    world = ctx.world
    bot = pick_bot(world, call)
    return ok(
        bot_id=bot.user.id,
        balance=bot.star_balance,
        transactions=[views.star_transaction_json(world, tx) for tx in bot.star_transactions],
        invoice_links=[
            {
                **views.invoice_json(inv),
                "link": inv.link,
                "payload": inv.payload,
                "subscription_period": inv.subscription_period,
            }
            for inv in bot.invoice_links.values()
        ],
        renewal_failures=world.renewal_failures,
    )


# ------------------------------------------------------------------ HTTP
def _endpoint(ctx: Control, handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    return control_endpoint(
        lambda call: handler(ctx, call), json_response, lambda message: {"ok": False, "error": message}
    )


def control_routes(ctx: Control) -> list[Route]:
    def route(path: str, handler: ControlHandler, *methods: str) -> Route:
        return Route(f"/_control{path}", _endpoint(ctx, handler), methods=list(methods or ["GET"]))

    return [
        route("/reset", reset, "POST"),
        route("/config", get_config),
        route("/config", set_config, "POST"),
        route("/clock", clock, "GET", "POST"),
        route("/bots", bots),
        route("/users", create_user, "POST"),
        route("/users/bulk", create_users, "POST"),
        route("/users/{user_id:int}", get_user),
        route("/users/{user_id:int}/start", start, "POST"),
        route("/users/{user_id:int}/block", block, "POST"),
        route("/users/{user_id:int}/unblock", unblock, "POST"),
        route("/users/{user_id:int}/deactivate", deactivate, "POST"),
        route("/users/{user_id:int}/messages", user_message, "POST"),
        route("/users/{user_id:int}/press", press, "POST"),
        route("/users/{user_id:int}/join", join, "POST"),
        route("/users/{user_id:int}/leave", leave, "POST"),
        route("/users/{user_id:int}/pay", pay, "POST"),
        route("/users/{user_id:int}/stars", set_stars, "POST"),
        route("/users/{user_id:int}/stars", get_stars),
        route("/users/{user_id:int}/star_subscriptions/cancel", cancel_subscription, "POST"),
        route("/users/{user_id:int}/star_subscriptions/reenable", reenable_subscription, "POST"),
        route("/chats", create_chat, "POST"),
        route("/chats/{chat_id}", get_chat),
        route("/chats/{chat_id}/members", members),
        route("/chats/{chat_id}/members", add_member, "POST"),
        route("/chats/{chat_id}/links", links),
        route("/chats/{chat_id}/admins", add_admin, "POST"),
        route("/chats/{chat_id}/admins/{user_id:int}", remove_admin, "DELETE"),
        route("/chats/{chat_id}/transcript", transcript),
        route("/callback_queries/{query_id}", callback_query),
        route("/files/{file_id}", file),
        route("/calls", calls),
        route("/stats", stats),
        route("/updates", updates),
        route("/failures", add_failure, "POST"),
        route("/failures", list_failures),
        route("/failures", clear_failures, "DELETE"),
        route("/stars", stars),
        route("/stars/renewal_failures", renewal_failures, "POST"),
        route("/stars/renew", renew, "POST"),
        route("/stars/refund", dispute_refund, "POST"),
        route("/stars/withdraw", withdraw, "POST"),
    ]
