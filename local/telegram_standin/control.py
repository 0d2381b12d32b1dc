"""The control API (``/_control/...``): drive the simulated world and read what the bot did.

Every endpoint takes and answers JSON. Success answers ``{"ok": true, ...}`` (status 200); a
request the world cannot carry out answers ``{"ok": false, "error": "..."}`` with status 400, and
an unknown user, chat, bot or callback query status 404. The endpoints are listed in the package
docstring (``local/telegram_standin/__init__.py``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .delivery import Delivery
from .model import (
    CHANNEL_RIGHTS,
    DEFAULT_ADMIN_RIGHTS,
    JSON,
    MEMBER_STATUSES,
    SUPERGROUP_RIGHTS,
    BotState,
    Chat,
    Config,
    Failure,
    Member,
    World,
)
from .protocol import json_response


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


Endpoint = Callable[[Request], Awaitable[Response]]


def control_routes(world: World, delivery: Delivery, initial: Config) -> list[Route]:
    def ok(**fields: Any) -> Response:
        return json_response({"ok": True, **fields})

    def wrap(func: Callable[[Request, JSON], Awaitable[Response]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            body: JSON = {}
            raw = await request.body()
            if raw:
                try:
                    decoded = json.loads(raw)
                except ValueError:
                    return json_response({"ok": False, "error": "the body must be JSON"}, 400)
                if not isinstance(decoded, dict):
                    return json_response({"ok": False, "error": "the body must be a JSON object"}, 400)
                body = decoded
            try:
                return await func(request, body)
            except ControlError as exc:
                return json_response({"ok": False, "error": str(exc)}, exc.status)
            except (ValueError, KeyError, TypeError) as exc:
                return json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, 400)

        return endpoint

    # ------------------------------------------------------------------ lookups
    def pick_bot(request: Request, body: JSON) -> BotState:
        ref = body.get("bot", request.query_params.get("bot"))
        if ref in (None, "", True):
            return world.default_bot()
        for bot in world.bots.values():
            if str(ref) in (bot.token, bot.user.username, f"@{bot.user.username}", str(bot.user.id)):
                return bot
        raise ControlError(f"unknown bot {ref}", 404)

    def user_of(request: Request) -> int:
        user_id = int(request.path_params["user_id"])
        if user_id not in world.users:
            raise ControlError(f"unknown user {user_id}", 404)
        return user_id

    def chat_of(request: Request) -> Chat:
        chat_id = int(request.path_params["chat_id"])
        chat = world.chats.get(chat_id)
        if chat is None:
            raise ControlError(f"unknown chat {chat_id}", 404)
        return chat

    def target_user(chat: Chat, body: JSON, request: Request) -> int:
        if "user_id" in body:
            user_id = int(body["user_id"])
        elif "bot" in body:
            user_id = pick_bot(request, body).user.id
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

    def chat_summary(chat: Chat) -> JSON:
        return {
            "chat": world.chat_json(chat.id),
            "owner_id": owner_of(chat),
            "members": [world.member_json(chat, uid) for uid in list(chat.members)],
            "join_requests": [
                {"user": world.user_json(r.user_id), "date": r.date, "invite_link": r.invite_link}
                for r in chat.requests.values()
            ],
            "invite_links": [
                {
                    **world.link_json(link, None),
                    "member_count": len(link.joined),
                    "is_expired": bool(link.expire_date and link.expire_date <= world.now()),
                }
                for link in chat.links.values()
            ],
        }

    # ------------------------------------------------------------------ world
    async def reset(request: Request, body: JSON) -> Response:
        delivery.stop_all()
        world.config.limits.__dict__.update(vars(initial.limits))
        for key, value in vars(initial).items():
            if key != "limits":
                setattr(world.config, key, value)
        world.reset()
        return ok()

    async def get_config(request: Request, body: JSON) -> Response:
        return ok(config=world.config.as_dict())

    async def set_config(request: Request, body: JSON) -> Response:
        config = world.config
        limits = body.get("rate_limits")
        if isinstance(limits, bool):
            config.limits.enabled = limits
        elif isinstance(limits, dict):
            for key, value in limits.items():
                if key not in vars(config.limits):
                    raise ControlError(f"unknown rate limit setting {key}")
                setattr(config.limits, key, type(getattr(config.limits, key))(value))
        for key in ("webhook_retry_base", "webhook_retry_max", "webhook_timeout", "callback_answer_timeout"):
            if key in body:
                setattr(config, key, float(body[key]))
        if "strict_webhook_urls" in body:
            config.strict_webhook_urls = bool(body["strict_webhook_urls"])
        if body.get("reset_rate_counters"):
            for bot in world.bots.values():
                bot.limiter.reset()
        return ok(config=config.as_dict())

    async def clock(request: Request, body: JSON) -> Response:
        if "advance" in body:
            world.clock_offset += float(body["advance"])
        return ok(now=world.now(), offset=world.clock_offset)

    async def bots(request: Request, body: JSON) -> Response:
        return ok(
            bots=[
                {
                    "user": bot.user.to_api(),
                    "webhook": vars(bot.webhook) if bot.webhook else None,
                    "allowed_updates": bot.allowed_updates,
                    "pending_update_count": len(bot.pending),
                    "last_error_message": bot.last_error_message or None,
                    "commands": bot.commands,
                }
                for bot in world.bots.values()
            ]
        )

    # ------------------------------------------------------------------ users
    async def create_user(request: Request, body: JSON) -> Response:
        user = world.create_user(
            first_name=str(body.get("first_name") or "User"),
            user_id=int(body["id"]) if body.get("id") is not None else None,
            last_name=str(body.get("last_name") or ""),
            username=str(body.get("username") or "").lstrip("@"),
            language_code=str(body.get("language_code") or ""),
            is_premium=bool(body.get("is_premium")),
        )
        return ok(user=user.to_api())

    async def get_user(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        private = bot.privates.get(user_id)
        return ok(
            user=world.users[user_id].to_api(),
            started=bool(private and private.started),
            blocked=bool(private and private.blocked),
            deactivated=world.users[user_id].deactivated,
        )

    async def start(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        private = bot.private(user_id)
        was_blocked = private.blocked
        private.started = True
        bot.known_users.add(user_id)
        if was_blocked:
            private.blocked = False
            world.private_member_change(bot, user_id, "kicked", "member")
        fields: JSON = {"chat_id": user_id}
        if body.get("send_command") or body.get("payload"):
            payload = str(body.get("payload") or "")
            text = "/start" + (f" {payload}" if payload else "")
            msg, update_ids = world.user_sends(user_id, user_id, text, bot)
            fields.update(message=world.message_json(msg, bot), update_ids=update_ids)
        return ok(**fields)

    async def block(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        private = bot.private(user_id)
        private.started = True
        if not private.blocked:
            private.blocked = True
            world.private_member_change(bot, user_id, "member", "kicked")
        return ok()

    async def unblock(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        private = bot.private(user_id)
        if private.blocked:
            private.blocked = False
            world.private_member_change(bot, user_id, "kicked", "member")
        return ok()

    async def deactivate(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        world.users[user_id].deactivated = True
        return ok()

    async def user_message(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise ControlError("text is required")
        chat_id = int(body.get("chat_id") or user_id)
        try:
            msg, update_ids = world.user_sends(user_id, chat_id, text, bot)
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        return ok(message=world.message_json(msg, bot), update_ids=update_ids)

    async def press(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        bot = pick_bot(request, body)
        chat_id = int(body.get("chat_id") or user_id)
        try:
            query, update_id = world.press_button(
                user_id, chat_id, int(body["message_id"]), str(body["callback_data"]), bot
            )
        except ValueError as exc:
            raise ControlError(str(exc)) from exc
        return ok(callback_query_id=query.id, update_id=update_id)

    async def join(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        link = body.get("invite_link")
        if not isinstance(link, str) or not link:
            raise ControlError("invite_link is required")
        return ok(**world.join_by_link(user_id, link))

    async def leave(request: Request, body: JSON) -> Response:
        user_id = user_of(request)
        chat = world.chats.get(int(body["chat_id"]))
        if chat is None:
            raise ControlError("unknown chat", 404)
        if world.status(chat, user_id) == "creator":
            raise ControlError("the owner cannot leave")
        if world.is_member(chat, user_id):
            world.leave_chat(chat, user_id)
        return ok(status=world.status(chat, user_id))

    # ------------------------------------------------------------------ chats
    async def create_chat(request: Request, body: JSON) -> Response:
        chat = world.create_chat(
            chat_type=str(body.get("type") or "channel"),
            title=str(body.get("title") or "Channel"),
            owner_id=int(body["owner_id"]),
            username=str(body.get("username") or ""),
            chat_id=int(body["id"]) if body.get("id") is not None else None,
        )
        chat.description = str(body.get("description") or "")
        return ok(chat=world.chat_json(chat.id))

    async def get_chat(request: Request, body: JSON) -> Response:
        return ok(**chat_summary(chat_of(request)))

    async def members(request: Request, body: JSON) -> Response:
        summary = chat_summary(chat_of(request))
        return ok(members=summary["members"], join_requests=summary["join_requests"])

    async def links(request: Request, body: JSON) -> Response:
        return ok(invite_links=chat_summary(chat_of(request))["invite_links"])

    async def add_admin(request: Request, body: JSON) -> Response:
        chat = chat_of(request)
        user_id = target_user(chat, body, request)
        names = CHANNEL_RIGHTS if chat.type == "channel" else SUPERGROUP_RIGHTS
        given = body.get("rights")
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
        actor = int(body.get("promoted_by") or owner_of(chat))
        world.change_member(
            chat,
            user_id,
            Member(
                user_id=user_id,
                status="administrator",
                rights=rights,
                custom_title=str(body.get("custom_title") or ""),
            ),
            actor,
        )
        return ok(member=world.member_json(chat, user_id))

    async def remove_admin(request: Request, body: JSON) -> Response:
        chat = chat_of(request)
        user_id = int(request.path_params["user_id"])
        if world.status(chat, user_id) != "administrator":
            raise ControlError("the user is not an administrator")
        status = str(body.get("status") or "member")
        if status not in ("member", "left", "kicked"):
            raise ControlError("status must be member, left or kicked")
        world.change_member(chat, user_id, Member(user_id=user_id, status=status), owner_of(chat))
        return ok(member=world.member_json(chat, user_id))

    async def add_member(request: Request, body: JSON) -> Response:
        chat = chat_of(request)
        user_id = target_user(chat, body, request)
        status = str(body.get("status") or "member")
        if status not in MEMBER_STATUSES or status in ("creator", "administrator", "restricted"):
            raise ControlError("status must be member, left or kicked (use /admins for administrators)")
        if world.status(chat, user_id) == "creator":
            raise ControlError("the owner's status cannot change")
        actor = int(body.get("actor_id") or (user_id if status == "left" else owner_of(chat)))
        world.change_member(
            chat,
            user_id,
            Member(user_id=user_id, status=status, until_date=int(body.get("until_date") or 0)),
            actor,
        )
        return ok(member=world.member_json(chat, user_id))

    async def transcript(request: Request, body: JSON) -> Response:
        bot = pick_bot(request, body)
        chat_id = int(request.path_params["chat_id"])
        if chat_id > 0:
            if chat_id not in world.users:
                raise ControlError(f"unknown user {chat_id}", 404)
            private = bot.privates.get(chat_id)
            messages = list(private.messages.values()) if private else []
        else:
            chat = chat_of(request)
            messages = list(chat.messages.values())
        only_bot = request.query_params.get("outgoing_only") in ("1", "true")
        records = [world.message_record(m, bot) for m in messages if m.outgoing or not only_bot]
        return ok(chat_id=chat_id, messages=records)

    # ------------------------------------------------------------------ observation
    async def callback_query(request: Request, body: JSON) -> Response:
        query_id = request.path_params["query_id"]
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

    async def calls(request: Request, body: JSON) -> Response:
        method = request.query_params.get("method", "").lower()
        items = [c for c in world.calls if not method or c["method"].lower() == method]
        since = request.query_params.get("since_seq")
        if since:
            items = [c for c in items if c["seq"] > int(since)]
        return ok(calls=items)

    async def stats(request: Request, body: JSON) -> Response:
        return ok(stats=world.stats)

    async def updates(request: Request, body: JSON) -> Response:
        bot = pick_bot(request, body)
        return ok(
            pending=[
                {
                    "update_id": u.update_id,
                    "type": u.kind,
                    "queue": u.queue,
                    "attempts": u.attempts,
                    "update": u.body,
                }
                for u in sorted(bot.pending, key=lambda u: u.update_id)
            ],
            deliveries=bot.deliveries,
        )

    async def add_failure(request: Request, body: JSON) -> Response:
        method = str(body.get("method") or "*").lower()
        status = int(body.get("status") or 500)
        if status < 400:
            raise ControlError("status must be an error status (>= 400)")
        failure = Failure(
            status=status,
            count=int(body.get("count") or 1),
            retry_after=int(body.get("retry_after") or 0),
            description=str(body.get("description") or ""),
            delay=float(body.get("delay") or 0.0),
        )
        world.failures.setdefault(method, []).append(failure)
        return ok()

    async def list_failures(request: Request, body: JSON) -> Response:
        return ok(failures={m: [vars(f) for f in fs] for m, fs in world.failures.items() if fs})

    async def clear_failures(request: Request, body: JSON) -> Response:
        world.failures.clear()
        return ok()

    c = "/_control"
    return [
        Route(f"{c}/reset", wrap(reset), methods=["POST"]),
        Route(f"{c}/config", wrap(get_config), methods=["GET"]),
        Route(f"{c}/config", wrap(set_config), methods=["POST"]),
        Route(f"{c}/clock", wrap(clock), methods=["GET", "POST"]),
        Route(f"{c}/bots", wrap(bots), methods=["GET"]),
        Route(f"{c}/users", wrap(create_user), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}", wrap(get_user), methods=["GET"]),
        Route(f"{c}/users/{{user_id:int}}/start", wrap(start), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/block", wrap(block), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/unblock", wrap(unblock), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/deactivate", wrap(deactivate), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/messages", wrap(user_message), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/press", wrap(press), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/join", wrap(join), methods=["POST"]),
        Route(f"{c}/users/{{user_id:int}}/leave", wrap(leave), methods=["POST"]),
        Route(f"{c}/chats", wrap(create_chat), methods=["POST"]),
        Route(f"{c}/chats/{{chat_id}}", wrap(get_chat), methods=["GET"]),
        Route(f"{c}/chats/{{chat_id}}/members", wrap(members), methods=["GET"]),
        Route(f"{c}/chats/{{chat_id}}/members", wrap(add_member), methods=["POST"]),
        Route(f"{c}/chats/{{chat_id}}/links", wrap(links), methods=["GET"]),
        Route(f"{c}/chats/{{chat_id}}/admins", wrap(add_admin), methods=["POST"]),
        Route(f"{c}/chats/{{chat_id}}/admins/{{user_id:int}}", wrap(remove_admin), methods=["DELETE"]),
        Route(f"{c}/chats/{{chat_id}}/transcript", wrap(transcript), methods=["GET"]),
        Route(f"{c}/callback_queries/{{query_id}}", wrap(callback_query), methods=["GET"]),
        Route(f"{c}/calls", wrap(calls), methods=["GET"]),
        Route(f"{c}/stats", wrap(stats), methods=["GET"]),
        Route(f"{c}/updates", wrap(updates), methods=["GET"]),
        Route(f"{c}/failures", wrap(add_failure), methods=["POST"]),
        Route(f"{c}/failures", wrap(list_failures), methods=["GET"]),
        Route(f"{c}/failures", wrap(clear_failures), methods=["DELETE"]),
    ]
