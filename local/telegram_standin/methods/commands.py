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


def _language(args: Args) -> str:
    """`language_code`: empty (every language without a menu of its own) or two lowercase letters
    (an ISO 639-1 code), as TDLib's `validate_bot_language_code` requires."""
    code = args.get("language_code")
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise bad_request("Invalid language code specified")
    return code


def _lists(ctx: Ctx, language: str) -> dict[str, list[JSON]]:
    """The scopes' lists of one language (other than the default scope's without a language)."""
    if not language:
        return ctx.bot.scoped_commands
    return ctx.bot.language_commands.setdefault(language, {})


def _commands_of(ctx: Ctx, scope: str, language: str) -> list[JSON]:
    """Exactly the list set for this scope and language (getMyCommands falls back to none)."""
    if scope == "default" and not language:
        return ctx.bot.commands
    lists = ctx.bot.language_commands.get(language, {}) if language else ctx.bot.scoped_commands
    return lists.get(scope, [])


def _command(command: Any) -> JSON:
    """One BotCommand as TDLib's `set_commands` checks it: the command 1 to 32 of `a-z 0-9 _` (the
    server's BOT_COMMAND_INVALID), the description trimmed, 1 to 256 characters."""
    if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
        raise bad_request("BOT_COMMAND_INVALID")
    description = str(command.get("description", "")).strip()
    if not description:
        raise bad_request("Command description must be non-empty")
    if len(description) > 256:
        raise bad_request("Command description length must not exceed 256")
    return {"command": command["command"], "description": description}


@api_method("setMyCommands")
async def set_my_commands(ctx: Ctx, args: Args) -> bool:
    try:
        commands = args.json_value("commands") if args.has("commands") else []
    except ValueError as exc:
        raise bad_request("can't parse commands JSON object") from exc
    if not isinstance(commands, list):
        raise bad_request('field "commands" must be of type Array')
    scope = _command_scope(args)
    language = _language(args)
    listed = [_command(command) for command in commands]
    if scope == "default" and not language:
        ctx.bot.commands = listed
    else:
        _lists(ctx, language)[scope] = listed
    return True


@api_method("getMyCommands")
async def get_my_commands(ctx: Ctx, args: Args) -> list[JSON]:
    scope = _command_scope(args)
    return list(_commands_of(ctx, scope, _language(args)))


@api_method("deleteMyCommands")
async def delete_my_commands(ctx: Ctx, args: Args) -> bool:
    scope = _command_scope(args)
    language = _language(args)
    if scope == "default" and not language:
        ctx.bot.commands = []
    else:
        _lists(ctx, language).pop(scope, None)
        if language and not ctx.bot.language_commands.get(language):
            ctx.bot.language_commands.pop(language, None)
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
