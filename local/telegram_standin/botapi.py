"""The Bot API's method registry, the context a method runs in, and the checks methods share.

The methods themselves are in ``methods/``, one module per resource; each registers itself with
:func:`api_method` when imported, and importing the ``methods`` package imports them all. Each
method reads its string arguments as the Bot API server does, checks them in the server's order,
and answers Telegram's error descriptions. Method names are case-insensitive, as Telegram's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .delivery import Delivery
from .model import World
from .protocol import Args, bad_request, forbidden, too_many_requests
from .records import BotState, Chat

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
