"""The ASGI app: Bot API routes, the control API and the lifespan that runs webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import botapi
from .control import Control, control_routes
from .delivery import Delivery
from .methods import METHODS
from .model import World
from .protocol import ApiError, Args, json_arg, json_response, read_args
from .ratelimit import Limits
from .records import Config

TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")


async def execute(world: World, delivery: Delivery, token: str, method: str, args: Args) -> tuple[int, Any]:
    """Runs one Bot API call and answers (HTTP status, JSON body); records it in the call log."""
    started = time.time()
    bot = world.bots.get(token)
    canonical = method
    status = 200
    body: Any
    try:
        if bot is None:
            if TOKEN_RE.fullmatch(token):
                raise ApiError(401, "Unauthorized")
            raise ApiError(404, "Not Found")
        entry = METHODS.get(method.lower())
        if entry is None:
            if method.lower() in botapi.REAL_METHODS:
                raise ApiError(501, f"Not Implemented: the Telegram stand-in does not implement {method}")
            raise ApiError(404, "Not Found")
        canonical, handler = entry
        failure = _take_failure(world, method.lower())
        if failure is not None:
            world.stats["injected_failures"] += 1
            if failure.delay:
                await asyncio.sleep(failure.delay)
            if failure.status == 429:
                raise ApiError(
                    429,
                    failure.description or f"Too Many Requests: retry after {max(1, failure.retry_after)}",
                    {"retry_after": max(1, failure.retry_after)},
                )
            default = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
            raise ApiError(
                failure.status, failure.description or default.get(failure.status, "Internal Server Error")
            )
        ctx = botapi.Ctx(world=world, delivery=delivery, bot=bot, method=canonical)
        result = await handler(ctx, args)
        if isinstance(result, botapi.Answer):
            body = {"ok": True, "result": result.result, "description": result.description}
        else:
            body = {"ok": True, "result": result}
    except ApiError as exc:
        status = exc.code
        body = exc.body()
    stats = world.stats
    stats["calls"] += 1
    stats["methods"][canonical] = stats["methods"].get(canonical, 0) + 1
    stats["statuses"][str(status)] = stats["statuses"].get(str(status), 0) + 1
    if status == 429:
        stats["too_many_requests"] += 1
    world.calls.append(
        {
            "seq": len(world.calls) + 1,
            "time": started,
            "duration": round(time.time() - started, 4),
            "bot_id": bot.user.id if bot is not None else None,
            "method": canonical,
            "params": args.as_dict(),
            "status": status,
            "response": body,
        }
    )
    return status, body


def _take_failure(world: World, method: str) -> Any:
    for key in (method, "*"):
        queue = world.failures.get(key)
        if queue:
            failure = queue[0]
            failure.count -= 1
            if failure.count <= 0:
                queue.pop(0)
            return failure
    return None


def create_app(
    bot_token: str,
    bot_username: str,
    rate_limits: bool = True,
    bot_id: int | None = None,
    bot_first_name: str = "",
    webhook_retry_base: float = 1.0,
    webhook_retry_max: float = 60.0,
    webhook_timeout: float = 30.0,
    callback_answer_timeout: float = 15.0,
    strict_webhook_urls: bool = False,
    extra_bots: list[tuple[str, str]] | None = None,
    pre_checkout_timeout: float = 10.0,
) -> Starlette:
    """Builds the stand-in for one bot (more through ``extra_bots``: (token, username) pairs).

    The bot's id defaults to the number before the token's colon, as Telegram's tokens read.
    """
    config = Config(
        limits=Limits(enabled=rate_limits),
        webhook_retry_base=webhook_retry_base,
        webhook_retry_max=webhook_retry_max,
        webhook_timeout=webhook_timeout,
        callback_answer_timeout=callback_answer_timeout,
        strict_webhook_urls=strict_webhook_urls,
        pre_checkout_timeout=pre_checkout_timeout,
    )
    initial = Config(**{**vars(config), "limits": Limits(**vars(config.limits))})
    world = World(config)
    for token, username, explicit_id in [(bot_token, bot_username, bot_id)] + [
        (t, u, None) for t, u in (extra_bots or [])
    ]:
        prefix = token.split(":", 1)[0]
        the_id = (
            explicit_id
            if explicit_id is not None
            else (int(prefix) if prefix.isdigit() else 100000 + len(world.bots))
        )
        world.add_bot(token, username.lstrip("@"), the_id, bot_first_name)
    delivery = Delivery(world)

    async def on_webhook_reply(bot: Any, reply: dict[str, Any]) -> None:
        method = str(reply.get("method", ""))
        values = {str(k): v for k, v in reply.items() if k != "method"}
        args = Args({k: a for k, a in ((k, json_arg(v)) for k, v in values.items()) if a is not None})
        await execute(world, delivery, bot.token, method, args)

    delivery.on_webhook_reply = on_webhook_reply

    async def bot_api(request: Request) -> Response:
        token = request.path_params["token"]
        method = request.path_params["method"]
        try:
            args = await read_args(request)
        except ApiError as exc:
            return json_response(exc.body(), exc.code)
        status, body = await execute(world, delivery, token, method, args)
        return json_response(body, status)

    async def healthz(request: Request) -> Response:
        return json_response({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await delivery.start()
        try:
            yield
        finally:
            await delivery.stop()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
        *control_routes(Control(world, delivery, initial)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.world = world
    app.state.delivery = delivery
    return app
