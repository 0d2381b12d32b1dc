"""Chats and members: getChat, getChatMember, getChatAdministrators, getChatMemberCount, leaveChat,
banChatMember, unbanChatMember."""

from __future__ import annotations

from .. import views
from ..botapi import Ctx, api_method, chat_of, check_chat, get_user_id, resolve_chat
from ..protocol import Args, bad_request
from ..records import JSON, Chat, Member


@api_method("getChat")
async def get_chat(ctx: Ctx, args: Args) -> JSON:
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "read")
    return views.chat_json(ctx.world, chat_id, full=True, bot=ctx.bot)


def _check_members_readable(ctx: Ctx, chat: Chat) -> None:
    if chat.type == "channel" and not ctx.world.is_admin(chat, ctx.bot.user.id):
        raise bad_request("member list is inaccessible")


@api_method("getChatMember")
async def get_chat_member(ctx: Ctx, args: Args) -> JSON:
    chat_id = resolve_chat(ctx, args)
    user_id = get_user_id(args)
    world = ctx.world
    check_chat(ctx, chat_id, "read" if user_id == ctx.bot.user.id else "members")
    if user_id not in world.users:
        raise bad_request("user not found")
    if chat_id > 0:
        if user_id not in (chat_id, ctx.bot.user.id):
            raise bad_request("user not found")
        return {"user": views.user_json(world, user_id), "status": "member"}
    chat = chat_of(ctx, chat_id)
    if user_id != ctx.bot.user.id:
        _check_members_readable(ctx, chat)
    return views.member_json(world, chat, user_id)


@api_method("getChatAdministrators")
async def get_chat_administrators(ctx: Ctx, args: Args) -> list[JSON]:
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "members")
    if chat_id > 0:
        raise bad_request("there are no administrators in the private chat")
    chat = chat_of(ctx, chat_id)
    _check_members_readable(ctx, chat)
    return [
        views.member_json(ctx.world, chat, uid)
        for uid in list(chat.members)
        if ctx.world.status(chat, uid) in ("creator", "administrator")
    ]


@api_method("getChatMemberCount", "getChatMembersCount")
async def get_chat_member_count(ctx: Ctx, args: Args) -> int:
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "read")
    if chat_id > 0:
        return 2
    chat = chat_of(ctx, chat_id)
    return sum(1 for uid in list(chat.members) if ctx.world.is_member(chat, uid))


@api_method("leaveChat")
async def leave_chat(ctx: Ctx, args: Args) -> bool:
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "read")
    if chat_id > 0:
        raise bad_request("chat member status can't be changed in private chats")
    chat = chat_of(ctx, chat_id)
    if ctx.world.status(chat, ctx.bot.user.id) == "creator":
        raise bad_request("can't leave chat as its owner")
    ctx.world.leave_chat(chat, ctx.bot.user.id)
    return True


def _restrict_target(ctx: Ctx, args: Args) -> tuple[Chat, int]:
    user_id = get_user_id(args)
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        raise bad_request("method is available for supergroup and channel chats only")
    return chat_of(ctx, chat_id), user_id


def _check_restrict_rights(ctx: Ctx, chat: Chat, user_id: int) -> None:
    world = ctx.world
    if not world.has_right(chat, ctx.bot.user.id, "can_restrict_members"):
        raise bad_request("not enough rights to restrict/unrestrict chat member")
    if user_id not in world.users:
        raise bad_request("user not found")
    status = world.status(chat, user_id)
    if status == "creator":
        raise bad_request("can't remove chat owner")
    if status == "administrator":
        raise bad_request("user is an administrator of the chat")


@api_method("banChatMember", "kickChatMember")
async def ban_chat_member(ctx: Ctx, args: Args) -> bool:
    chat, user_id = _restrict_target(ctx, args)
    _check_restrict_rights(ctx, chat, user_id)
    world = ctx.world
    until = args.integer("until_date")
    now = world.now()
    if until and (until - now < 30 or until - now > 366 * 86400):
        until = 0  # Telegram: less than 30 seconds or more than 366 days from now is forever
    world.change_member(
        chat, user_id, Member(user_id=user_id, status="kicked", until_date=until), ctx.bot.user.id
    )
    return True


@api_method("unbanChatMember")
async def unban_chat_member(ctx: Ctx, args: Args) -> bool:
    chat, user_id = _restrict_target(ctx, args)
    world = ctx.world
    if args.flag("only_if_banned") and world.status(chat, user_id) != "kicked":
        return True  # answered before any rights check, as the Bot API server does
    _check_restrict_rights(ctx, chat, user_id)
    if world.status(chat, user_id) == "left":
        return True
    # Without only_if_banned this removes a current member: "The user will not return to the group or
    # channel automatically, but will be able to join via link".
    world.change_member(chat, user_id, Member(user_id=user_id, status="left"), ctx.bot.user.id)
    return True
