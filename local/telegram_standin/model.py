"""The world the stand-in simulates: users, bots, chats, messages, invite links and updates.

Every Bot API call and every control call runs on the app's single event loop, and the methods
here never await, so each call sees and leaves the world consistent without explicit locks; only
waiting (long polling, webhook delivery) awaits, on the ``changed`` signal of a bot.

The records the world holds (users, chats, members, ...) are in ``records.py``.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from . import views
from .records import (
    JSON,
    BotState,
    CallbackQuery,
    Chat,
    Config,
    Failure,
    InviteLink,
    JoinRequest,
    Member,
    Message,
    PendingUpdate,
    PreCheckoutQuery,
    PrivateChat,
    StarCharge,
    StarInvoice,
    StarSubscription,
    StarTransaction,
    User,
)


def _chat_instance(bot_id: int, chat_id: int) -> str:
    digest = hashlib.sha256(f"{bot_id}:{chat_id}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big", signed=True))


class World:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.bot_specs: list[tuple[str, User]] = []
        self.clock_offset = 0.0
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.bots: dict[str, BotState] = {}
        self.calls: list[JSON] = []
        self.stats: JSON = {}
        self.failures: dict[str, list[Failure]] = {}
        self.next_user_id = 6_000_000_001
        self.next_channel_seq = 1
        self.star_balances: dict[int, int] = {}  # user id -> Stars (unset: config.default_star_balance)
        self.renewal_failures: list[JSON] = []  # {"user_id", "charge_id", "count"}: renewals that will fail
        self.files: dict[str, JSON] = {}  # file id -> a sent document's fields and its bytes (`content`)
        self.reset()

    # ----------------------------------------------------------------- setup
    def add_bot(self, token: str, username: str, bot_id: int, first_name: str = "") -> BotState:
        user = User(id=bot_id, first_name=first_name or username, username=username, is_bot=True)
        self.bot_specs.append((token, user))
        return self._install_bot(token, user)

    def _install_bot(self, token: str, user: User) -> BotState:
        bot_user = User(**vars(user))
        self.users[bot_user.id] = bot_user
        state = BotState(token, bot_user)
        state.limiter.limits = self.config.limits
        self.bots[token] = state
        return state

    def reset(self) -> None:
        for bot in self.bots.values():
            bot.notify()
        self.clock_offset = 0.0
        self.users = {}
        self.chats = {}
        self.bots = {}
        self.calls = []
        self.stats = {
            "calls": 0,
            "sends": 0,
            "too_many_requests": 0,
            "rate_limited": 0,
            "injected_failures": 0,
            "methods": {},
            "statuses": {},
            "webhook_deliveries": 0,
            "webhook_failures": 0,
        }
        self.failures = {}
        self.next_user_id = 6_000_000_001
        self.next_channel_seq = 1
        self.star_balances = {}
        self.renewal_failures = []
        self.files = {}
        for token, user in self.bot_specs:
            self._install_bot(token, user)

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def default_bot(self) -> BotState:
        return next(iter(self.bots.values()))

    def bot_by_id(self, bot_id: int) -> BotState | None:
        for bot in self.bots.values():
            if bot.user.id == bot_id:
                return bot
        return None

    # ----------------------------------------------------------------- users and chats
    def create_user(
        self,
        first_name: str,
        user_id: int | None = None,
        last_name: str = "",
        username: str = "",
        language_code: str = "",
        is_premium: bool = False,
    ) -> User:
        if user_id is None:
            while self.next_user_id in self.users:
                self.next_user_id += 1
            user_id = self.next_user_id
            self.next_user_id += 1
        if user_id <= 0:
            raise ValueError("user id must be positive")
        if user_id in self.users:
            raise ValueError(f"user {user_id} exists")
        user = User(
            id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.users[user_id] = user
        return user

    def create_chat(
        self, chat_type: str, title: str, owner_id: int, username: str = "", chat_id: int | None = None
    ) -> Chat:
        if chat_type not in ("channel", "supergroup"):
            raise ValueError("type must be channel or supergroup")
        if owner_id not in self.users:
            raise ValueError(f"unknown owner {owner_id}")
        if chat_id is None:
            while True:
                chat_id = -(1_000_000_000_000 + 2_000_000_000 + self.next_channel_seq)
                self.next_channel_seq += 1
                if chat_id not in self.chats:
                    break
        if chat_id >= 0 or chat_id in self.chats:
            raise ValueError(f"bad or used chat id {chat_id}")
        if username and self.chat_by_username(username) is not None:
            raise ValueError(f"username {username} is taken")
        chat = Chat(id=chat_id, type=chat_type, title=title, username=username.lstrip("@"))
        chat.members[owner_id] = Member(user_id=owner_id, status="creator")
        self.chats[chat_id] = chat
        return chat

    def chat_by_username(self, username: str) -> Chat | None:
        name = username.lstrip("@").lower()
        for chat in self.chats.values():
            if chat.username and chat.username.lower() == name:
                return chat
        return None

    def member(self, chat: Chat, user_id: int) -> Member | None:
        """The member record, with an expired ban read as ``left``."""
        member = chat.members.get(user_id)
        if member is not None and member.status == "kicked" and member.until_date:
            if member.until_date <= self.now():
                member.status = "left"
                member.until_date = 0
        return member

    def status(self, chat: Chat, user_id: int) -> str:
        member = self.member(chat, user_id)
        return member.status if member is not None else "left"

    def is_member(self, chat: Chat, user_id: int) -> bool:
        return self.status(chat, user_id) in ("creator", "administrator", "member", "restricted")

    def has_right(self, chat: Chat, user_id: int, right: str) -> bool:
        member = self.member(chat, user_id)
        if member is None:
            return False
        if member.status == "creator":
            return True
        return member.status == "administrator" and bool(member.rights.get(right))

    def is_admin(self, chat: Chat, user_id: int) -> bool:
        return self.status(chat, user_id) in ("creator", "administrator")

    def bot_knows_user(self, bot: BotState, user_id: int) -> bool:
        if user_id in bot.known_users or user_id in bot.privates:
            return True
        for chat in self.chats.values():
            if bot.user.id in chat.members and (user_id in chat.members or user_id in chat.requests):
                return True
        return False

    def find_message(self, bot: BotState, chat_id: int, message_id: int) -> Message | None:
        if chat_id > 0:
            private = bot.privates.get(chat_id)
            return private.messages.get(message_id) if private else None
        chat = self.chats.get(chat_id)
        return chat.messages.get(message_id) if chat else None

    def new_message(
        self,
        bot: BotState,
        chat_id: int,
        text: str,
        entities: list[JSON] | None = None,
        from_id: int | None = None,
        sender_chat_id: int | None = None,
        outgoing: bool = False,
        reply_markup: JSON | None = None,
        reply_to: int | None = None,
        protect_content: bool = False,
        service: JSON | None = None,
    ) -> Message:
        if chat_id > 0:
            store: PrivateChat | Chat = bot.private(chat_id)
        else:
            store = self.chats[chat_id]
        msg = Message(
            message_id=store.next_message_id,
            chat_id=chat_id,
            date=self.now(),
            text=text,
            entities=list(entities or []),
            reply_markup=reply_markup,
            from_id=from_id,
            sender_chat_id=sender_chat_id,
            outgoing=outgoing,
            bot_id=bot.user.id,
            reply_to=reply_to,
            protect_content=protect_content,
            service=dict(service or {}),
        )
        store.next_message_id += 1
        store.messages[msg.message_id] = msg
        return msg

    # ----------------------------------------------------------------- updates
    def emit(self, bot: BotState, kind: str, obj: JSON, queue: str, ttl: float = 86400.0) -> int | None:
        """Queues an update for a bot, unless its allowed_updates leave the type out."""
        for key in ("from",):
            sender = obj.get(key)
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                bot.known_users.add(sender["id"])
        if not bot.allows(kind):
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        body = {"update_id": update_id, kind: obj}
        bot.pending.add(
            PendingUpdate(
                update_id=update_id,
                kind=kind,
                body=body,
                queue=queue,
                expires_at=time.monotonic() + ttl,
            )
        )
        bot.notify()
        return update_id

    def admin_bots(self, chat: Chat, right: str | None = None) -> list[BotState]:
        out = []
        for bot in self.bots.values():
            if not self.is_admin(chat, bot.user.id):
                continue
            if right is not None and not self.has_right(chat, bot.user.id, right):
                continue
            out.append(bot)
        return out

    def change_member(
        self,
        chat: Chat,
        user_id: int,
        new: Member,
        actor_id: int,
        invite_link: InviteLink | None = None,
        via_join_request: bool = False,
    ) -> None:
        """Sets a member's status and sends chat_member / my_chat_member updates for the change."""
        old_json = views.member_json(self, chat, user_id)
        old = chat.members.get(user_id)
        if old is not None and old.joined_via and new.status in ("left", "kicked"):
            link = chat.links.get(old.joined_via)
            if link is not None:
                link.joined.discard(user_id)
        if new.status != "left":
            # A pending join request ends when its user joins otherwise or is banned.
            chat.requests.pop(user_id, None)
        if new.status in ("creator", "administrator", "member", "restricted") and old is not None:
            if not new.joined_via and old.status in ("creator", "administrator", "member", "restricted"):
                new.joined_via = old.joined_via
        chat.members[user_id] = new
        new_json = views.member_json(self, chat, user_id)
        if old_json == new_json:
            return
        date = self.now()
        for bot in self.bots.values():
            is_self = bot.user.id == user_id
            if is_self:
                kind = "my_chat_member"
                queue = f"my_chat_member:{chat.id}"
            else:
                if not self.is_admin(chat, bot.user.id):
                    continue
                kind = "chat_member"
                queue = f"member:{user_id}"
            obj: JSON = {
                "chat": views.chat_json(self, chat.id),
                "from": views.user_json(self, actor_id),
                "date": date,
                "old_chat_member": old_json,
                "new_chat_member": new_json,
            }
            if invite_link is not None and not is_self:
                obj["invite_link"] = views.link_json(self, invite_link, bot)
            if via_join_request:
                obj["via_join_request"] = True
            self.emit(bot, kind, obj, queue)

    def set_blocked(self, bot: BotState, user_id: int, blocked: bool) -> None:
        """The user blocks or unblocks the bot; a change sends ``my_chat_member`` (kicked / member)."""
        private = bot.private(user_id)
        if private.blocked != blocked:
            private.blocked = blocked
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self.private_member_change(bot, user_id, old, new)

    def private_member_change(self, bot: BotState, user_id: int, old_status: str, new_status: str) -> None:
        """my_chat_member in a private chat: the user blocked (kicked) or restarted (member) the bot."""
        date = self.now()
        bot_json = views.user_api(bot.user)
        old: JSON = {"user": bot_json, "status": old_status}
        new: JSON = {"user": bot_json, "status": new_status}
        if old_status == "kicked":
            old["until_date"] = 0
        if new_status == "kicked":
            new["until_date"] = 0
        obj = {
            "chat": views.chat_json(self, user_id),
            "from": views.user_json(self, user_id),
            "date": date,
            "old_chat_member": old,
            "new_chat_member": new,
        }
        self.emit(bot, "my_chat_member", obj, f"my_chat_member:{user_id}")

    # ----------------------------------------------------------------- user actions
    def user_sends(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        bot: BotState,
        entities: list[JSON] | None = None,
        photo: bool = False,
        reply_to: int | None = None,
    ) -> tuple[Message, list[int]]:
        """A user sends a text message: to the bot's private chat, or into a chat where they may.
        `entities`: the formatting the user chose (added to those Telegram finds itself); `photo`:
        a photo with `text` as its caption (private chats only); `reply_to` (private chats) is a
        message of that chat it replies to, which Telegram's update carries as `reply_to_message`."""
        from .formatting import incoming_entities

        found = incoming_entities(text)
        entities = sorted([*found, *(entities or [])], key=lambda e: (e["offset"], -e["length"]))
        update_ids: list[int] = []
        if photo and chat_id != user_id:
            raise ValueError("a photo can only be sent to the bot in the user's private chat")
        if chat_id > 0:
            if chat_id != user_id:
                raise ValueError("a user can only write to the bot in their own private chat")
            replied = self.find_message(bot, user_id, reply_to) if reply_to is not None else None
            if reply_to is not None and (replied is None or replied.deleted):
                raise ValueError(f"message {reply_to} is not in this chat")
            self.set_blocked(bot, user_id, False)
            bot.private(user_id).started = True
            service = self._user_photo(text, entities) if photo else None
            msg = self.new_message(
                bot, user_id, text, entities, from_id=user_id, service=service, reply_to=reply_to
            )
            uid = self.emit(bot, "message", views.message_json(self, msg, bot), f"chat:{user_id}")
            if uid is not None:
                update_ids.append(uid)
            return msg, update_ids
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}")
        if chat.type == "channel":
            if not self.has_right(chat, user_id, "can_post_messages"):
                raise ValueError("only the owner and admins with can_post_messages post in a channel")
            msg = self.new_message(bot, chat_id, text, entities, sender_chat_id=chat_id)
            for other in self.bots.values():
                if self.is_admin(chat, other.user.id):
                    uid = self.emit(
                        other, "channel_post", views.message_json(self, msg, other), f"chat:{chat_id}"
                    )
                    if uid is not None:
                        update_ids.append(uid)
            return msg, update_ids
        if not self.is_member(chat, user_id):
            raise ValueError("the user is not a member of the supergroup")
        msg = self.new_message(bot, chat_id, text, entities, from_id=user_id)
        for other in self.bots.values():
            if self.is_member(chat, other.user.id):
                uid = self.emit(other, "message", views.message_json(self, msg, other), f"chat:{chat_id}")
                if uid is not None:
                    update_ids.append(uid)
        return msg, update_ids

    def _user_photo(self, caption: str, entities: list[JSON]) -> JSON:
        """A photo a user sends: its sizes (the largest last), kept so a bot may send it again by file_id."""
        import secrets

        sizes = []
        for width in (90, 320, 1280):
            file_id = f"AgACAgI{secrets.token_urlsafe(18)}"
            unique = f"AQAD{secrets.token_hex(6)}"
            self.files[file_id] = {
                "file_id": file_id,
                "file_unique_id": unique,
                "photo": True,
                "content": b"",
            }
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "width": width,
                    "height": width,
                    "file_size": width * 40,
                }
            )
        service: JSON = {"photo": sizes}
        if caption:
            service["caption"] = caption
            if entities:
                service["caption_entities"] = entities
        return service

    def press_button(
        self, user_id: int, chat_id: int, message_id: int, callback_data: str, bot: BotState
    ) -> tuple[CallbackQuery, int | None]:
        msg: Message | None = None
        owner = bot
        if chat_id > 0:
            if chat_id != user_id:
                raise ValueError("a user only sees their own private chat with the bot")
            msg = self.find_message(bot, chat_id, message_id)
        else:
            chat = self.chats.get(chat_id)
            if chat is None:
                raise ValueError(f"unknown chat {chat_id}")
            if not chat.username and not self.is_member(chat, user_id):
                raise ValueError("the user cannot see this chat")
            msg = chat.messages.get(message_id)
            if msg is not None and msg.bot_id is not None:
                found = self.bot_by_id(msg.bot_id)
                if found is not None:
                    owner = found
        if msg is None or msg.deleted:
            raise ValueError("no such message")
        markup = msg.reply_markup or {}
        datas = [
            button.get("callback_data")
            for row in markup.get("inline_keyboard", [])
            for button in row
            if "callback_data" in button
        ]
        if callback_data not in datas:
            raise ValueError(
                f"the message has no button with callback_data {callback_data!r}; it has {datas}"
            )
        query_id = str(secrets.randbelow(2**62) + 2**62)
        query = CallbackQuery(
            id=query_id,
            user_id=user_id,
            chat_id=chat_id,
            message_id=message_id,
            data=callback_data,
            chat_instance=_chat_instance(owner.user.id, chat_id),
            created=time.monotonic(),
        )
        owner.callback_queries[query_id] = query
        obj = {
            "id": query_id,
            "from": views.user_json(self, user_id),
            "message": views.message_json(self, msg, owner),
            "chat_instance": query.chat_instance,
            "data": callback_data,
        }
        update_id = self.emit(owner, "callback_query", obj, f"callback:{user_id}", ttl=150.0)
        return query, update_id

    def find_link(self, url: str) -> InviteLink | None:
        for chat in self.chats.values():
            link = chat.links.get(url)
            if link is not None:
                return link
        return None

    def join_by_link(self, user_id: int, url: str) -> JSON:
        """A user opens an invite link and asks to join; answers what the user's app would show."""
        link = self.find_link(url)
        if link is None:
            return {"result": "refused", "reason": "unknown_link", "telegram_error": "INVITE_HASH_INVALID"}
        chat = self.chats[link.chat_id]
        base: JSON = {"chat_id": chat.id}
        if self.is_member(chat, user_id):
            return {
                **base,
                "result": "refused",
                "reason": "already_member",
                "telegram_error": "USER_ALREADY_PARTICIPANT",
            }
        if link.is_revoked:
            return {**base, "result": "refused", "reason": "revoked", "telegram_error": "INVITE_HASH_EXPIRED"}
        if link.expire_date and link.expire_date <= self.now():
            return {**base, "result": "refused", "reason": "expired", "telegram_error": "INVITE_HASH_EXPIRED"}
        if link.member_limit and len(link.joined) >= link.member_limit:
            return {
                **base,
                "result": "refused",
                "reason": "limit_reached",
                "telegram_error": "INVITE_HASH_EXPIRED",
            }
        if self.status(chat, user_id) == "kicked":
            return {**base, "result": "refused", "reason": "banned", "telegram_error": "CHANNEL_PRIVATE"}
        if link.creates_join_request:
            if user_id in chat.requests:
                return {
                    **base,
                    "result": "refused",
                    "reason": "already_requested",
                    "telegram_error": "INVITE_REQUEST_SENT",
                }
            request = JoinRequest(user_id=user_id, chat_id=chat.id, date=self.now(), invite_link=url)
            chat.requests[user_id] = request
            update_ids = []
            for bot in self.admin_bots(chat, "can_invite_users"):
                obj = {
                    "chat": views.chat_json(self, chat.id),
                    "from": views.user_json(self, user_id),
                    "user_chat_id": user_id,
                    "date": request.date,
                    "invite_link": views.link_json(self, link, bot),
                }
                uid = self.emit(bot, "chat_join_request", obj, f"member:{user_id}")
                if uid is not None:
                    update_ids.append(uid)
            return {**base, "result": "requested", "update_ids": update_ids}
        link.joined.add(user_id)
        self.change_member(
            chat, user_id, Member(user_id=user_id, status="member", joined_via=url), user_id, link
        )
        return {**base, "result": "joined"}

    def leave_chat(self, chat: Chat, user_id: int) -> None:
        self.change_member(chat, user_id, Member(user_id=user_id, status="left"), user_id)

    # ----------------------------------------------------------------- Telegram Stars
    def user_stars(self, user_id: int) -> int:
        return self.star_balances.get(user_id, self.config.default_star_balance)

    def find_invoice_link(self, url: str) -> tuple[BotState, StarInvoice] | None:
        for bot in self.bots.values():
            invoice = bot.invoice_links.get(url)
            if invoice is not None:
                return bot, invoice
        return None

    def open_pre_checkout(self, bot: BotState, user_id: int, invoice: StarInvoice) -> PreCheckoutQuery:
        """The user pressed Pay: the bot gets a ``pre_checkout_query`` (queued per user, as the
        server queues them) and must answer it within the pre-checkout timeout."""
        query = PreCheckoutQuery(
            id=str(secrets.randbelow(2**62) + 2**62),
            user_id=user_id,
            invoice=invoice,
            created=time.monotonic(),
        )
        bot.pre_checkout_queries[query.id] = query
        obj: JSON = {
            "id": query.id,
            "from": views.user_json(self, user_id),
            "currency": "XTR",
            "total_amount": invoice.amount,
            "invoice_payload": invoice.payload,
        }
        self.emit(bot, "pre_checkout_query", obj, f"pre_checkout:{user_id}", ttl=150.0)
        return query

    def _move_stars(self, bot: BotState, user_id: int, amount: int) -> None:
        """Stars from the user to the bot (a negative amount moves them back)."""
        self.star_balances[user_id] = self.user_stars(user_id) - amount
        bot.star_balance += amount

    def _payment_message(
        self, bot: BotState, user_id: int, date: int, service: JSON, deliver: bool
    ) -> list[int]:
        """A service message from the user in their private chat with the bot, and its update."""
        private = bot.private(user_id)
        private.started = True  # the payment opened the chat (a guess for invoice links; see README)
        msg = self.new_message(bot, user_id, "", from_id=user_id, service=service)
        msg.date = date
        if not deliver:
            return []
        uid = self.emit(bot, "message", views.message_json(self, msg, bot), f"chat:{user_id}")
        return [uid] if uid is not None else []

    def _charge(
        self,
        bot: BotState,
        user_id: int,
        amount: int,
        payload: str,
        date: int,
        period: int = 0,
        subscription_id: str = "",
        expiration_date: int = 0,
        deliver: bool = True,
    ) -> tuple[StarCharge, list[int]]:
        charge = StarCharge(
            charge_id=new_charge_id(),
            user_id=user_id,
            bot_id=bot.user.id,
            amount=amount,
            payload=payload,
            date=date,
            subscription_id=subscription_id,
            subscription_period=period,
            expiration_date=expiration_date,
            delivered=deliver,
        )
        if period and not subscription_id:
            charge.subscription_id = charge.charge_id
            charge.is_first_recurring = True
        bot.charges[charge.charge_id] = charge
        self._move_stars(bot, user_id, amount)
        bot.star_transactions.append(
            StarTransaction(
                id=charge.charge_id,
                user_id=user_id,
                amount=amount,
                date=date,
                incoming=True,
                payload=payload,
                subscription_period=period,
            )
        )
        service = {"successful_payment": views.successful_payment_json(charge)}
        return charge, self._payment_message(bot, user_id, date, service, deliver)

    def pay_invoice(
        self, bot: BotState, user_id: int, invoice: StarInvoice, lose_update: bool = False
    ) -> tuple[StarCharge, list[int]]:
        """The payment goes through (the bot said yes): the money moves, the transaction is kept,
        a subscription starts for a subscription invoice, and the bot gets ``successful_payment``
        (unless ``lose_update``: then the update is never delivered)."""
        date = self.now()
        period = invoice.subscription_period
        charge, update_ids = self._charge(
            bot,
            user_id,
            invoice.amount,
            invoice.payload,
            date,
            period=period,
            expiration_date=date + period if period else 0,
            deliver=not lose_update,
        )
        if invoice.message_id:
            invoice.paid_charge_id = charge.charge_id
        if period:
            bot.subscriptions[charge.charge_id] = StarSubscription(
                id=charge.charge_id,
                user_id=user_id,
                bot_id=bot.user.id,
                amount=invoice.amount,
                payload=invoice.payload,
                period=period,
                until=date + period,
                charges=[charge.charge_id],
            )
        return charge, update_ids

    def refund(self, bot: BotState, charge: StarCharge) -> list[int]:
        """The Stars go back to the user; the bot gets ``refunded_payment`` from the user. A refunded
        subscription payment leaves the subscription's renewal as it was (see README)."""
        date = self.now()
        charge.refunded = True
        charge.refund_date = date
        self._move_stars(bot, charge.user_id, -charge.amount)
        bot.star_transactions.append(
            StarTransaction(
                id=charge.charge_id,
                user_id=charge.user_id,
                amount=charge.amount,
                date=date,
                incoming=False,
                payload=charge.payload,
                subscription_period=charge.subscription_period,
            )
        )
        service = {"refunded_payment": views.refunded_payment_json(charge)}
        return self._payment_message(bot, charge.user_id, date, service, True)

    def _take_renewal_failure(self, sub: StarSubscription) -> bool:
        for failure in self.renewal_failures:
            if failure["user_id"] != sub.user_id:
                continue
            if failure.get("charge_id") and failure["charge_id"] not in sub.charges:
                continue
            failure["count"] -= 1
            if failure["count"] <= 0:
                self.renewal_failures.remove(failure)
            return True
        return False

    def _renew(self, bot: BotState, sub: StarSubscription) -> JSON:
        due = sub.until
        out: JSON = {"user_id": sub.user_id, "subscription_id": sub.id, "date": due}
        reason = ""
        if sub.canceled:
            reason = "canceled"
        elif self._take_renewal_failure(sub):
            reason = "failure"
        elif self.user_stars(sub.user_id) < sub.amount:
            reason = "balance_too_low"
        if reason:
            sub.ended = True
            sub.end_reason = reason
            return {**out, "result": "ended", "reason": reason}
        until = due + sub.period
        charge, update_ids = self._charge(
            bot,
            sub.user_id,
            sub.amount,
            sub.payload,
            due,
            period=sub.period,
            subscription_id=sub.id,
            expiration_date=until,
        )
        sub.until = until
        sub.charges.append(charge.charge_id)
        return {
            **out,
            "result": "renewed",
            "charge_id": charge.charge_id,
            "subscription_expiration_date": until,
            "update_ids": update_ids,
        }

    def run_due_renewals(self) -> list[JSON]:
        """Every subscription whose period ended by now is renewed (or ends), oldest due first, so
        that a clock moved 90 days renews a 30-day subscription three times."""
        made: list[JSON] = []
        now = self.now()
        while True:
            due = [
                (sub.until, sub.id, bot, sub)
                for bot in self.bots.values()
                for sub in bot.subscriptions.values()
                if not sub.ended and sub.until <= now
            ]
            if not due:
                return made
            _, _, bot, sub = min(due, key=lambda item: (item[0], item[1]))
            made.append(self._renew(bot, sub))


def new_charge_id() -> str:
    """A Telegram payment charge id; Stars charges read like ``stxAbC...`` (the form is a guess)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "stx" + "".join(secrets.choice(alphabet) for _ in range(48))
