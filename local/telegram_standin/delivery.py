"""Update delivery: webhooks (as the Bot API's WebhookActor does it) and getUpdates long polling.

Webhook delivery keeps Telegram's ordering rules: updates are split into queues (the messages of
one chat; the callback queries of one user; the chat_member and chat_join_request updates about
one user; the my_chat_member updates of one chat), each queue is delivered strictly in order and
one update at a time, and up to ``max_connections`` queues are delivered at once. An update the
webhook does not accept with a 2xx answer (or that fails to connect or times out) is retried with
exponential backoff (``webhook_retry_base`` doubling up to ``webhook_retry_max``, or the webhook's
``Retry-After`` header), and holds back the later updates of its queue only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from .model import World
from .protocol import ApiError
from .records import BotState, PendingUpdate, Webhook

WebhookReplyHandler = Callable[[BotState, dict[str, Any]], Coroutine[Any, Any, None]]


class Delivery:
    def __init__(self, world: World) -> None:
        self.world = world
        self.client: httpx.AsyncClient | None = None
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.inflight: dict[str, set[asyncio.Task[None]]] = {}
        self.on_webhook_reply: WebhookReplyHandler | None = None
        self.background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.client = httpx.AsyncClient(trust_env=False)
        for bot in self.world.bots.values():
            if bot.webhook is not None:
                self.ensure_worker(bot)

    async def stop(self) -> None:
        tasks = list(self.workers.values())
        tasks += [t for group in self.inflight.values() for t in group] + list(self.background)
        for token in list(self.workers):
            self.stop_worker(token)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def ensure_worker(self, bot: BotState) -> None:
        task = self.workers.get(bot.token)
        if task is not None and not task.done():
            bot.notify()
            return
        if self.client is None:
            return  # started by start() once the app's lifespan begins
        self.workers[bot.token] = asyncio.get_running_loop().create_task(self._worker(bot))

    def stop_worker(self, token: str) -> None:
        task = self.workers.pop(token, None)
        if task is not None:
            task.cancel()
        for flight in self.inflight.pop(token, set()):
            flight.cancel()

    def stop_all(self) -> None:
        for token in list(self.workers):
            self.stop_worker(token)

    # ----------------------------------------------------------------- shared
    @staticmethod
    def drop_expired(bot: BotState) -> None:
        bot.pending.drop_expired(time.monotonic())

    # ----------------------------------------------------------------- webhooks
    async def _worker(self, bot: BotState) -> None:
        inflight = self.inflight.setdefault(bot.token, set())
        while bot.webhook is not None:
            hook = bot.webhook
            self.drop_expired(bot)
            now = time.monotonic()
            capacity = max(0, hook.max_connections - len(inflight))
            heads: dict[str, PendingUpdate] = {}  # each queue's first update, in update_id order
            ready: list[PendingUpdate] = []
            for update in bot.pending:
                if len(ready) == capacity:
                    break  # every connection is taken: a delivery that ends wakes this loop
                if update.queue in heads:
                    continue
                heads[update.queue] = update
                if not update.in_flight and update.next_try <= now:
                    ready.append(update)
            for update in ready:
                update.in_flight = True
                task = asyncio.get_running_loop().create_task(self._deliver(bot, hook, update))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            waits = [u.next_try - now for u in heads.values() if not u.in_flight and u.next_try > now]
            await bot.wait_changed(min([5.0, *waits]))

    async def _deliver(self, bot: BotState, hook: Webhook, update: PendingUpdate) -> None:
        config = self.world.config
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        error = ""
        retry_after = 0.0
        status: int | None = None
        reply: Any = None
        update.attempts += 1
        started = time.time()
        try:
            assert self.client is not None
            response = await self.client.post(
                hook.url,
                content=json.dumps(update.body, ensure_ascii=False).encode("utf-8"),
                headers=headers,
                timeout=config.webhook_timeout,
                follow_redirects=False,
            )
            status = response.status_code
            if 200 <= status <= 299:
                if response.content and "json" in response.headers.get("content-type", ""):
                    with contextlib.suppress(ValueError):
                        reply = response.json()
            else:
                error = f"Wrong response from the webhook: {status} {response.reason_phrase}"
                header = response.headers.get("retry-after", "")
                if header.isdigit():
                    retry_after = float(min(int(header), 3600))
        except httpx.TimeoutException:
            error = "Read timeout expired"
        except httpx.ConnectError:
            error = "Connection refused"
        except httpx.HTTPError as exc:
            error = f"Connection error: {type(exc).__name__}"
        finally:
            update.in_flight = False
        bot.deliveries.append(
            {
                "update_id": update.update_id,
                "type": update.kind,
                "attempt": update.attempts,
                "status": status,
                "error": error or None,
                "started": started,
                "time": time.time(),
            }
        )
        if not error:
            self.world.stats["webhook_deliveries"] += 1
            bot.pending.discard(update.update_id)
            if isinstance(reply, dict) and isinstance(reply.get("method"), str) and self.on_webhook_reply:
                task = asyncio.get_running_loop().create_task(self.on_webhook_reply(bot, reply))
                self.background.add(task)
                task.add_done_callback(self.background.discard)
        else:
            self.world.stats["webhook_failures"] += 1
            bot.last_error_date = self.world.now()
            bot.last_error_message = error
            if not retry_after:
                retry_after = min(
                    config.webhook_retry_max, config.webhook_retry_base * (2 ** (update.attempts - 1))
                )
            update.next_try = time.monotonic() + retry_after
        bot.notify()

    # ----------------------------------------------------------------- getUpdates
    async def get_updates(
        self, bot: BotState, offset: int, limit: int, poll_seconds: int
    ) -> list[dict[str, Any]]:
        if offset > 0:
            bot.pending.drop_below(offset)
        elif offset < 0:
            bot.pending.keep_last(-offset)
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.notify()  # a long poll already waiting is terminated by this one
        deadline = time.monotonic() + poll_seconds
        while True:
            self.drop_expired(bot)
            ready = bot.pending.first(limit)
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return [u.body for u in ready]
            await bot.wait_changed(remaining)
            if bot.webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            if bot.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
