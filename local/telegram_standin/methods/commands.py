"""The bot's commands and menu button: setMyCommands, getMyCommands, deleteMyCommands,
setChatMenuButton, getChatMenuButton."""

from __future__ import annotations

import re
from typing import Any

from ..botapi import Ctx, api_method
from ..protocol import Args, bad_request
from ..records import JSON

_SCOPES_WITHOUT_CHAT = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")


def _command_scope(args: Args) -> str:
    """The key of a BotCommandScope: its type, with the chat (and user) it names."""
    try:
        scope = args.json_value("scope") if args.has("scope") else {"type": "default"}
    except ValueError as exc:
        raise bad_request("can't parse BotCommandScope JSON object") from exc
    kind = scope.get("type") if isinstance(scope, dict) else None
    if kind in _SCOPES_WITHOUT_CHAT:
        return str(kind)
    if kind in ("chat", "chat_administrators", "chat_member") and "chat_id" in scope:
        key = f"{kind}:{scope['chat_id']}"
        return f"{key}:{scope.get('user_id')}" if kind == "chat_member" else key
    raise bad_request("unsupported bot command scope type")


def _commands_of(ctx: Ctx, scope: str) -> list[JSON]:
    return ctx.bot.commands if scope == "default" else ctx.bot.scoped_commands.get(scope, [])


@api_method("setMyCommands")
async def set_my_commands(ctx: Ctx, args: Args) -> bool:
    try:
        commands = args.json_value("commands") if args.has("commands") else []
    except ValueError as exc:
        raise bad_request("can't parse commands JSON object") from exc
    if not isinstance(commands, list):
        raise bad_request('field "commands" must be of type Array')
    for command in commands:
        if not isinstance(command, dict) or not re.fullmatch(
            r"[a-z0-9_]{1,32}", str(command.get("command", ""))
        ):
            raise bad_request("BOT_COMMAND_INVALID")
    listed = [{"command": c["command"], "description": str(c.get("description", ""))} for c in commands]
    scope = _command_scope(args)
    if scope == "default":
        ctx.bot.commands = listed
    else:
        ctx.bot.scoped_commands[scope] = listed
    return True


@api_method("getMyCommands")
async def get_my_commands(ctx: Ctx, args: Args) -> list[JSON]:
    return list(_commands_of(ctx, _command_scope(args)))


@api_method("deleteMyCommands")
async def delete_my_commands(ctx: Ctx, args: Args) -> bool:
    scope = _command_scope(args)
    if scope == "default":
        ctx.bot.commands = []
    else:
        ctx.bot.scoped_commands.pop(scope, None)
    return True


@api_method("setChatMenuButton")
async def set_chat_menu_button(ctx: Ctx, args: Args) -> bool:
    try:
        button: Any = args.json_value("menu_button") if args.has("menu_button") else {"type": "default"}
    except ValueError as exc:
        raise bad_request("can't parse menu button JSON object") from exc
    kind = button.get("type") if isinstance(button, dict) else None
    if kind not in ("default", "commands", "web_app"):
        raise bad_request("unsupported menu button type")
    if kind == "web_app" and not (
        isinstance(button.get("text"), str)
        and isinstance(button.get("web_app"), dict)
        and button["web_app"].get("url")
    ):
        raise bad_request("a web_app menu button needs text and web_app.url")
    chat_id = int(args.get("chat_id") or 0)
    ctx.bot.menu_buttons[chat_id] = button
    return True


@api_method("getChatMenuButton")
async def get_chat_menu_button(ctx: Ctx, args: Args) -> JSON:
    return ctx.bot.menu_buttons.get(int(args.get("chat_id") or 0), {"type": "commands"})
