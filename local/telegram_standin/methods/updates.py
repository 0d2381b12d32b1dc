"""The bot itself and its updates: getMe, logOut/close, getUpdates, setWebhook, deleteWebhook,
getWebhookInfo."""

from __future__ import annotations

import json
import re
import time
import urllib.parse

from .. import views
from ..botapi import Answer, Ctx, api_method
from ..delivery import Delivery
from ..protocol import ApiError, Args, bad_request, too_many_requests
from ..records import JSON, BotState, Webhook

SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]*")


@api_method("getMe")
async def get_me(ctx: Ctx, args: Args) -> JSON:
    out = views.user_api(ctx.bot.user)
    out.update(
        {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
    )
    return out


@api_method("logOut", "close")
async def log_out(ctx: Ctx, args: Args) -> bool:
    return True


def _update_allowed(bot: BotState, args: Args) -> None:
    if "allowed_updates" not in args:
        return  # "If not specified, the previous setting will be used."
    raw = args.get("allowed_updates")
    if raw == "":
        return
    try:
        value = json.loads(raw)
    except ValueError:
        return
    if not isinstance(value, list):
        return
    names = [v for v in value if isinstance(v, str)]
    bot.allowed_updates = names or None


@api_method("getUpdates")
async def get_updates(ctx: Ctx, args: Args) -> list[JSON]:
    if ctx.bot.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = args.integer("offset")
    limit = args.integer("limit", 100, 1, 100)
    timeout = args.integer("timeout", 0, 0, 50)
    _update_allowed(ctx.bot, args)
    return await ctx.delivery.get_updates(ctx.bot, offset, limit, timeout)


def _delete_webhook(ctx: Ctx, args: Args) -> Answer:
    bot = ctx.bot
    if args.flag("drop_pending_updates"):
        bot.pending.clear()
    if bot.webhook is None:
        return Answer(True, "Webhook is already deleted")
    bot.webhook = None
    bot.last_error_date = 0
    bot.last_error_message = ""
    ctx.delivery.stop_worker(bot.token)
    for update in bot.pending:
        update.in_flight = False
    bot.notify()
    return Answer(True, "Webhook was deleted")


@api_method("deleteWebhook")
async def delete_webhook(ctx: Ctx, args: Args) -> Answer:
    return _delete_webhook(ctx, args)


@api_method("setWebhook")
async def set_webhook(ctx: Ctx, args: Args) -> Answer:
    bot = ctx.bot
    world = ctx.world
    url = args.get("url")
    if not url:
        return _delete_webhook(ctx, args)
    now = time.monotonic()
    if world.config.limits.enabled and now - bot.last_set_webhook < world.config.set_webhook_interval:
        raise too_many_requests(1)
    bot.last_set_webhook = now
    parsed = urllib.parse.urlsplit(url if "://" in url else "https://" + url)
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or not parsed.hostname:
        raise bad_request("invalid webhook URL specified")
    if world.config.strict_webhook_urls:
        if scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parsed.port or 443) not in (80, 88, 443, 8443):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = args.get("secret_token")
    if len(secret) > 256:
        raise bad_request("secret token is too long")
    if not SECRET_TOKEN_RE.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = args.integer("max_connections", 40, 1, 100)
    drop = args.flag("drop_pending_updates")
    _update_allowed(bot, args)
    full_url = url if "://" in url else "https://" + url
    new = Webhook(url=full_url, secret_token=secret, max_connections=max_connections, ip_address="127.0.0.1")
    old = bot.webhook
    if old is not None and old == new and not drop:
        return Answer(True, "Webhook is already set")
    if drop:
        bot.pending.clear()
    if old is not None:
        ctx.delivery.stop_worker(bot.token)
        for update in bot.pending:
            update.in_flight = False
    if old is None or old.url != new.url:
        bot.last_error_date = 0
        bot.last_error_message = ""
    bot.webhook = new
    bot.notify()  # ends a waiting getUpdates with 409
    ctx.delivery.ensure_worker(bot)
    return Answer(True, "Webhook was set")


@api_method("getWebhookInfo")
async def get_webhook_info(ctx: Ctx, args: Args) -> JSON:
    bot = ctx.bot
    Delivery.drop_expired(bot)
    hook = bot.webhook
    out: JSON = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending),
    }
    if bot.last_error_date:
        out["last_error_date"] = bot.last_error_date
        out["last_error_message"] = bot.last_error_message
    if hook is not None:
        out["max_connections"] = hook.max_connections
        out["ip_address"] = hook.ip_address
    if bot.allowed_updates is not None:
        out["allowed_updates"] = list(bot.allowed_updates)
    return out
