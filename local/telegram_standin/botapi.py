"""The Bot API methods of the stand-in.

Each method reads its string arguments as the Bot API server does, checks them in the server's
order, and answers Telegram's error descriptions. Method names are case-insensitive, as Telegram's.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import views
from .delivery import Delivery
from .formatting import format_text
from .model import JSON, BotState, Chat, InviteLink, Member, Message, Webhook, World
from .protocol import ApiError, Args, bad_request, forbidden, too_many_requests

# Every method of the real Bot API server (tdlib/telegram-bot-api's method table). Those the
# stand-in does not implement answer 501 rather than 404, so that a missing piece shows as such.
_REAL_METHOD_NAMES = """
getme getmycommands setmycommands deletemycommands getmydefaultadministratorrights
setmydefaultadministratorrights getmyname setmyname setmyprofilephoto removemyprofilephoto
getmydescription setmydescription getmyshortdescription setmyshortdescription getchatmenubutton
setchatmenubutton getuserprofilephotos getuserprofileaudios sendmessage sendanimation sendaudio
senddice senddocument sendlivephoto sendphoto sendsticker sendvideo sendvideonote sendvoice
sendpaidmedia sendgame sendinvoice sendlocation sendvenue sendcontact sendpoll stoppoll
sendchecklist copymessage copymessages forwardmessage forwardmessages sendmediagroup
sendchataction sendmessagedraft setmessagereaction editmessagetext editmessagelivelocation
stopmessagelivelocation editmessagemedia editmessagecaption editmessagechecklist
editmessagereplymarkup deletemessage deletemessages deletemessagereaction
deleteallmessagereactions poststory repoststory editstory deletestory createinvoicelink
getmystarbalance getstartransactions refundstarpayment edituserstarsubscription
getavailablegifts sendgift giftpremiumsubscription getmanagedbottoken
getmanagedbotaccesssettings setmanagedbotaccesssettings replacemanagedbottoken verifyuser
verifychat removeuserverification removechatverification setgamescore getgamehighscores
answerwebappquery answerguestquery answerinlinequery savepreparedinlinemessage
savepreparedkeyboardbutton answercallbackquery answershippingquery answerprecheckoutquery
exportchatinvitelink createchatinvitelink createchatsubscriptioninvitelink editchatinvitelink
editchatsubscriptioninvitelink revokechatinvitelink getbusinessconnection readbusinessmessage
deletebusinessmessages setbusinessaccountname setbusinessaccountusername setbusinessaccountbio
setbusinessaccountprofilephoto removebusinessaccountprofilephoto setbusinessaccountgiftsettings
getbusinessaccountstarbalance transferbusinessaccountstars getbusinessaccountgifts getusergifts
getchatgifts convertgifttostars upgradegift transfergift setuseremojistatus getchat
getuserpersonalchatmessages setchatphoto deletechatphoto setchattitle setchatpermissions
setchatdescription pinchatmessage unpinchatmessage unpinallchatmessages approvesuggestedpost
declinesuggestedpost setchatstickerset deletechatstickerset getforumtopiciconstickers
createforumtopic editforumtopic closeforumtopic reopenforumtopic deleteforumtopic
unpinallforumtopicmessages editgeneralforumtopic closegeneralforumtopic reopengeneralforumtopic
hidegeneralforumtopic unhidegeneralforumtopic unpinallgeneralforumtopicmessages getchatmember
getchatadministrators getchatmembercount getchatmemberscount leavechat promotechatmember
setchatadministratorcustomtitle setchatmembertag banchatmember kickchatmember restrictchatmember
unbanchatmember banchatsenderchat unbanchatsenderchat approvechatjoinrequest
declinechatjoinrequest getuserchatboosts getstickerset getcustomemojistickers uploadstickerfile
createnewstickerset addstickertoset replacestickerinset setstickersettitle setstickersetthumb
setstickersetthumbnail setcustomemojistickersetthumbnail deletestickerset
setstickerpositioninset deletestickerfromset setstickeremojilist setstickerkeywords
setstickermaskposition setpassportdataerrors sendcustomrequest answercustomquery getupdates
setwebhook deletewebhook getwebhookinfo getfile
"""
REAL_METHODS = frozenset(_REAL_METHOD_NAMES.split())

INVITE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]*")


@dataclass
class Answer:
    """A successful answer with a ``description`` beside the result (setWebhook's, for example)."""

    result: Any
    description: str


@dataclass
class Ctx:
    world: World
    delivery: Delivery
    bot: BotState
    method: str


Handler = Callable[[Ctx, Args], Awaitable[Any]]
METHODS: dict[str, tuple[str, Handler]] = {}


def api_method(*names: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        for name in names:
            METHODS[name.lower()] = (name, func)
        return func

    return register


# --------------------------------------------------------------------------- shared checks
def resolve_chat(ctx: Ctx, args: Args, name: str = "chat_id") -> int:
    raw = args.get(name).strip()
    if not raw:
        raise bad_request("chat_id is empty")
    world = ctx.world
    if raw.startswith("@"):
        chat = world.chat_by_username(raw)
        if chat is None:
            raise bad_request("chat not found")
        return chat.id
    try:
        chat_id = int(raw)
    except ValueError as exc:
        raise bad_request("chat not found") from exc
    if chat_id > 0:
        user = world.users.get(chat_id)
        if user is None or user.is_bot or not world.bot_knows_user(ctx.bot, chat_id):
            raise bad_request("chat not found")
        return chat_id
    chat = world.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    if not chat.username and ctx.bot.user.id not in chat.members:
        raise bad_request("chat not found")
    return chat_id


def check_chat(ctx: Ctx, chat_id: int, access: str) -> None:
    """The server's check_chat_access; ``access`` is read, members, edit or write."""
    world = ctx.world
    if chat_id > 0:
        user = world.users[chat_id]
        if user.deactivated and access in ("edit", "write"):
            raise forbidden("user is deactivated")
        return
    chat = world.chats[chat_id]
    status = world.status(chat, ctx.bot.user.id)
    if status == "kicked":
        raise forbidden(f"bot was kicked from the {chat.type} chat")
    if not world.is_member(chat, ctx.bot.user.id):
        need = access in ("edit", "write") if chat.username else True
        if need:
            raise forbidden(f"bot is not a member of the {chat.type} chat")


def join_request_grant(ctx: Ctx, user_id: int) -> bool:
    """A bot that received a user's join request may write to them until it is decided."""
    world = ctx.world
    for chat in world.chats.values():
        if user_id in chat.requests and world.has_right(chat, ctx.bot.user.id, "can_invite_users"):
            return True
    return False


def check_private_write(ctx: Ctx, user_id: int, sending: bool) -> None:
    private = ctx.bot.privates.get(user_id)
    if private is not None and private.blocked:
        raise forbidden("bot was blocked by the user")
    if private is not None and private.started:
        return
    if sending and join_request_grant(ctx, user_id):
        return
    raise forbidden("bot can't initiate conversation with a user")


def chat_of(ctx: Ctx, chat_id: int) -> Chat:
    chat = ctx.world.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def get_user_id(args: Args) -> int:
    user_id = args.int64("user_id")
    if user_id <= 0:
        raise bad_request("invalid user_id specified")
    return user_id


def take_slot(ctx: Ctx, chat_id: int, counts_globally: bool) -> None:
    retry_after = ctx.bot.limiter.check(chat_id, chat_id > 0, counts_globally)
    if retry_after:
        ctx.world.stats["rate_limited"] += 1
        raise too_many_requests(retry_after)


def parse_reply_markup(args: Args) -> JSON | None:
    """Validates ``reply_markup``; returns the inline keyboard a message keeps, or None."""
    raw = args.get("reply_markup")
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise bad_request("can't parse reply keyboard markup JSON object") from exc
    if not isinstance(value, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" not in value:
        for key in ("keyboard",):
            if key in value and not isinstance(value[key], list):
                raise bad_request('field "keyboard" must be of type Array')
        return None
    rows = value["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" must be of type Array')
    out_rows: list[list[JSON]] = []
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        new_row: list[JSON] = []
        for button in row:
            new_row.append(_inline_button(button))
        out_rows.append(new_row)
    if not out_rows:
        return None
    return {"inline_keyboard": out_rows}


def _inline_button(button: Any) -> JSON:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    out: JSON = {"text": text}
    url = button.get("url")
    if isinstance(url, str) and url:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme.lower() not in ("http", "https", "tg", "ton") or (
            parsed.scheme.lower() in ("http", "https") and not parsed.netloc
        ):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        out["url"] = url
        return out
    data = button.get("callback_data")
    if isinstance(data, str) and data:
        if len(data.encode("utf-8")) > 64:
            raise bad_request("BUTTON_DATA_INVALID")
        out["callback_data"] = data
        return out
    for key in (
        "callback_game",
        "pay",
        "login_url",
        "web_app",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
    ):
        if key in button:
            out[key] = button[key]
            return out
    raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")


def get_message_for_edit(ctx: Ctx, args: Args) -> Message:
    if args.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat_id = resolve_chat(ctx, args)
    message_id = args.integer("message_id")
    if message_id <= 0:
        raise bad_request("message identifier is not specified")
    check_chat(ctx, chat_id, "edit")
    msg = ctx.world.find_message(ctx.bot, chat_id, message_id)
    if msg is None or msg.deleted:
        raise bad_request("message to edit not found")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=False)
    if not msg.outgoing or msg.bot_id != ctx.bot.user.id:
        raise bad_request("message can't be edited")
    if chat_id < 0:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not (
            ctx.world.has_right(chat, ctx.bot.user.id, "can_post_messages")
            or ctx.world.has_right(chat, ctx.bot.user.id, "can_edit_messages")
        ):
            raise bad_request("message can't be edited")
    return msg


def apply_edit(ctx: Ctx, msg: Message, text: str, entities: list[JSON], markup: JSON | None) -> JSON:
    if msg.text == text and msg.entities == entities and msg.reply_markup == markup:
        raise bad_request(
            "message is not modified: specified new message content and reply markup are exactly the "
            "same as a current content and reply markup of the message"
        )
    take_slot(ctx, msg.chat_id, counts_globally=False)
    ctx.world.stats["edits"] = ctx.world.stats.get("edits", 0) + 1
    msg.history.append(
        {
            "text": msg.text,
            "entities": msg.entities,
            "reply_markup": msg.reply_markup,
            "edit_date": msg.edit_date or None,
            "replaced_at": ctx.world.now(),
            "method": ctx.method,
        }
    )
    msg.text = text
    msg.entities = entities
    msg.reply_markup = markup
    msg.edit_date = ctx.world.now()
    return views.message_json(ctx.world, msg, ctx.bot)


# --------------------------------------------------------------------------- bot and messages
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


@api_method("sendMessage")
async def send_message(ctx: Ctx, args: Args) -> JSON:
    text, entities = format_text(args.get("text"), args.get("parse_mode"), args.get("entities"))
    markup = parse_reply_markup(args)
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    else:
        chat = chat_of(ctx, chat_id)
        if chat.type == "channel" and not world.has_right(chat, ctx.bot.user.id, "can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
    reply_to: int | None = None
    allow_without = args.flag("allow_sending_without_reply")
    if args.has("reply_parameters"):
        try:
            params = args.json_value("reply_parameters")
        except ValueError as exc:
            raise bad_request("can't parse reply parameters JSON object") from exc
        if not isinstance(params, dict):
            raise bad_request("object expected as reply parameters")
        reply_to = int(params.get("message_id") or 0) or None
        allow_without = allow_without or bool(params.get("allow_sending_without_reply"))
    elif args.has("reply_to_message_id"):
        reply_to = args.integer("reply_to_message_id") or None
    if reply_to is not None:
        target = world.find_message(ctx.bot, chat_id, reply_to)
        if target is None or target.deleted:
            if not allow_without:
                raise bad_request("message to be replied not found")
            reply_to = None
    take_slot(ctx, chat_id, counts_globally=True)
    world.stats["sends"] += 1
    is_channel = chat_id < 0 and world.chats[chat_id].type == "channel"
    msg = world.new_message(
        ctx.bot,
        chat_id,
        text,
        entities,
        from_id=None if is_channel else ctx.bot.user.id,
        sender_chat_id=chat_id if is_channel else None,
        outgoing=True,
        reply_markup=markup,
        reply_to=reply_to,
        protect_content=args.flag("protect_content"),
    )
    if chat_id > 0 and not ctx.bot.private(chat_id).started:
        ctx.bot.known_users.add(chat_id)
    return views.message_json(world, msg, ctx.bot)


@api_method("editMessageText")
async def edit_message_text(ctx: Ctx, args: Args) -> JSON:
    text, entities = format_text(args.get("text"), args.get("parse_mode"), args.get("entities"))
    markup = parse_reply_markup(args)
    msg = get_message_for_edit(ctx, args)
    return apply_edit(ctx, msg, text, entities, markup)


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: Ctx, args: Args) -> JSON:
    markup = parse_reply_markup(args)
    msg = get_message_for_edit(ctx, args)
    return apply_edit(ctx, msg, msg.text, msg.entities, markup)


@api_method("deleteMessage")
async def delete_message(ctx: Ctx, args: Args) -> bool:
    if not args.get("chat_id").strip():
        raise bad_request("chat identifier is not specified")
    message_id = args.integer("message_id")
    if message_id <= 0:
        raise bad_request("message identifier is not specified")
    world = ctx.world
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    msg = world.find_message(ctx.bot, chat_id, message_id)
    if msg is None or msg.deleted:
        raise bad_request("message to delete not found")
    if chat_id < 0:
        chat = chat_of(ctx, chat_id)
        own = msg.outgoing and msg.bot_id == ctx.bot.user.id
        may = world.has_right(chat, ctx.bot.user.id, "can_delete_messages") or (
            own and (chat.type != "channel" or world.has_right(chat, ctx.bot.user.id, "can_post_messages"))
        )
        if not may:
            raise bad_request("message can't be deleted")
    if world.now() - msg.date >= 48 * 3600:
        raise bad_request("message can't be deleted for everyone")
    msg.deleted = True
    msg.deleted_at = world.now()
    return True


@api_method("sendChatAction")
async def send_chat_action(ctx: Ctx, args: Args) -> bool:
    if not args.has("action"):
        raise bad_request('Parameter "action" is required')
    chat_id = resolve_chat(ctx, args)
    check_chat(ctx, chat_id, "write")
    if chat_id > 0:
        check_private_write(ctx, chat_id, sending=True)
    return True


@api_method("answerCallbackQuery")
async def answer_callback_query(ctx: Ctx, args: Args) -> bool:
    query_id = args.get("callback_query_id").strip()
    query = ctx.bot.callback_queries.get(query_id)
    too_old = bad_request("query is too old and response timeout expired or query ID is invalid")
    if query is None or query.answered:
        raise too_old
    if time.monotonic() - query.created > ctx.world.config.callback_answer_timeout:
        raise too_old
    query.answered = True
    query.answer = {
        "text": args.get("text"),
        "show_alert": args.flag("show_alert"),
        "url": args.get("url"),
        "cache_time": args.integer("cache_time", 0, 0, 24 * 30 * 3600),
        "answered_at": time.time(),
    }
    return True


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


# --------------------------------------------------------------------------- chats and members
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


# --------------------------------------------------------------------------- invite links
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


# --------------------------------------------------------------------------- updates
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
        bot.pending = []
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
        bot.pending = []
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
