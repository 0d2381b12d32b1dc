"""Invite links and join requests: createChatInviteLink, editChatInviteLink, revokeChatInviteLink,
exportChatInviteLink, approveChatJoinRequest, declineChatJoinRequest."""

from __future__ import annotations

import secrets

from .. import views
from ..botapi import Ctx, api_method, chat_of, check_chat, get_user_id, resolve_chat
from ..model import World
from ..protocol import Args, bad_request
from ..records import JSON, Chat, InviteLink, Member

INVITE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def _new_link_url(world: World) -> str:
    while True:
        url = "https://t.me/+" + "".join(secrets.choice(INVITE_ALPHABET) for _ in range(16))
        if world.find_link(url) is None:
            return url


def _link_target(ctx: Ctx, args: Args) -> Chat:
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        raise bad_request("can't invite members to a private chat")
    return chat_of(ctx, chat_id)


def _link_settings(ctx: Ctx, args: Args, chat: Chat) -> tuple[str, int, int, bool]:
    name = args.get("name")[:32]
    expire_date = args.integer("expire_date", 0, 0)
    member_limit = args.integer("member_limit", 0, 0, 100000)
    creates_join_request = args.flag("creates_join_request")
    if creates_join_request and member_limit:
        raise bad_request("member limit can't be specified for links requiring administrator approval")
    if not ctx.world.has_right(chat, ctx.bot.user.id, "can_invite_users"):
        raise bad_request("not enough rights to manage chat invite link")
    if expire_date and expire_date <= ctx.world.now():
        raise bad_request("EXPIRE_DATE_INVALID")
    if member_limit > 99999:
        raise bad_request("USAGE_LIMIT_INVALID")
    return name, expire_date, member_limit, creates_join_request


@api_method("createChatInviteLink")
async def create_chat_invite_link(ctx: Ctx, args: Args) -> JSON:
    chat = _link_target(ctx, args)
    name, expire_date, member_limit, creates_join_request = _link_settings(ctx, args, chat)
    link = InviteLink(
        invite_link=_new_link_url(ctx.world),
        chat_id=chat.id,
        creator_id=ctx.bot.user.id,
        name=name,
        expire_date=expire_date,
        member_limit=member_limit,
        creates_join_request=creates_join_request,
    )
    chat.links[link.invite_link] = link
    return views.link_json(ctx.world, link, ctx.bot)


def _find_chat_link(ctx: Ctx, args: Args, chat: Chat) -> InviteLink:
    url = args.get("invite_link").strip()
    if not url:
        raise bad_request("invite link must be non-empty")
    if not ctx.world.has_right(chat, ctx.bot.user.id, "can_invite_users"):
        raise bad_request("not enough rights to manage chat invite link")
    link = chat.links.get(url)
    if link is None:
        raise bad_request("INVITE_HASH_EXPIRED")
    return link


@api_method("editChatInviteLink")
async def edit_chat_invite_link(ctx: Ctx, args: Args) -> JSON:
    chat = _link_target(ctx, args)
    link = _find_chat_link(ctx, args, chat)
    if link.is_revoked:
        raise bad_request("INVITE_REVOKED_MISSING")
    name, expire_date, member_limit, creates_join_request = _link_settings(ctx, args, chat)
    link.name, link.expire_date = name, expire_date
    link.member_limit, link.creates_join_request = member_limit, creates_join_request
    return views.link_json(ctx.world, link, ctx.bot)


@api_method("revokeChatInviteLink")
async def revoke_chat_invite_link(ctx: Ctx, args: Args) -> JSON:
    chat = _link_target(ctx, args)
    link = _find_chat_link(ctx, args, chat)
    if link.is_revoked:
        raise bad_request("INVITE_REVOKED_MISSING")
    link.is_revoked = True
    if link.is_primary:
        link.is_primary = False
        _new_primary(ctx, chat)
    return views.link_json(ctx.world, link, ctx.bot)


def _new_primary(ctx: Ctx, chat: Chat) -> InviteLink:
    link = InviteLink(
        invite_link=_new_link_url(ctx.world),
        chat_id=chat.id,
        creator_id=ctx.bot.user.id,
        is_primary=True,
    )
    chat.links[link.invite_link] = link
    return link


@api_method("exportChatInviteLink")
async def export_chat_invite_link(ctx: Ctx, args: Args) -> str:
    chat = _link_target(ctx, args)
    if not ctx.world.has_right(chat, ctx.bot.user.id, "can_invite_users"):
        raise bad_request("not enough rights to manage chat invite link")
    for link in chat.links.values():
        if link.is_primary and link.creator_id == ctx.bot.user.id:
            link.is_primary = False
            link.is_revoked = True
    return _new_primary(ctx, chat).invite_link


def _join_request_target(ctx: Ctx, args: Args) -> tuple[Chat, int]:
    user_id = get_user_id(args)
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        raise bad_request("the chat can't have join requests")
    chat = chat_of(ctx, chat_id)
    if not ctx.world.has_right(chat, ctx.bot.user.id, "can_invite_users"):
        raise bad_request("not enough rights to manage chat join requests")
    if ctx.world.is_member(chat, user_id):
        raise bad_request("USER_ALREADY_PARTICIPANT")
    if user_id not in chat.requests:
        raise bad_request("HIDE_REQUESTER_MISSING")
    return chat, user_id


@api_method("approveChatJoinRequest")
async def approve_chat_join_request(ctx: Ctx, args: Args) -> bool:
    chat, user_id = _join_request_target(ctx, args)
    request = chat.requests.pop(user_id)
    link = chat.links.get(request.invite_link)
    if link is not None:
        link.joined.add(user_id)
    ctx.world.change_member(
        chat,
        user_id,
        Member(user_id=user_id, status="member", joined_via=request.invite_link if link else ""),
        ctx.bot.user.id,
        link,
    )
    return True


@api_method("declineChatJoinRequest")
async def decline_chat_join_request(ctx: Ctx, args: Args) -> bool:
    chat, user_id = _join_request_target(ctx, args)
    chat.requests.pop(user_id)
    return True
