"""Tests of the Telegram Bot API stand-in (local/telegram_standin), driven as production drives
Telegram: with python-telegram-bot 22 pointed at it, and with raw HTTP for the exact wire shapes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dtm
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from local.background_server import BackgroundServer
from local.telegram_standin import create_app
from local.telegram_standin.methods import documents

TOKEN = "123456789:AAHstandin-test-token-abcdefghijklmnop"
BOT_ID = 123456789
BOT_USERNAME = "telepay_test_bot"
REPO = Path(__file__).resolve().parents[2]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# ------------------------------------------------------------------------------------ harness
@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    app = create_app(TOKEN, BOT_USERNAME, rate_limits=False, webhook_retry_base=0.2, webhook_retry_max=0.8)
    server = BackgroundServer(app).start()
    url = server.url
    yield url
    server.stop()


class Harness:
    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http

    # control API
    def ctl(
        self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 200
    ) -> dict[str, Any]:
        response = self.http.request(method, f"/_control{path}", json=body)
        assert response.status_code == expect, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def user(self, first_name: str = "Alice", **fields: Any) -> int:
        return int(self.ctl("POST", "/users", {"first_name": first_name, **fields})["user"]["id"])

    def started_user(self, first_name: str = "Alice", **fields: Any) -> int:
        user_id = self.user(first_name, **fields)
        self.ctl("POST", f"/users/{user_id}/start")
        return user_id

    def channel(
        self,
        owner: int | None = None,
        rights: list[str] | None = None,
        bot_admin: bool = True,
        chat_type: str = "channel",
        username: str = "",
    ) -> int:
        owner = owner if owner is not None else self.user("Owner")
        chat = self.ctl(
            "POST", "/chats", {"type": chat_type, "title": "Premium", "owner_id": owner, "username": username}
        )
        chat_id = int(chat["chat"]["id"])
        if bot_admin:
            body: dict[str, Any] = {"user_id": BOT_ID}
            if rights is not None:
                body["rights"] = rights
            self.ctl("POST", f"/chats/{chat_id}/admins", body)
        return chat_id

    def config(self, **fields: Any) -> dict[str, Any]:
        return self.ctl("POST", "/config", fields)

    def transcript(self, chat_id: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.ctl("GET", f"/chats/{chat_id}/transcript")["messages"]
        return messages

    # Bot API over raw HTTP
    def api(self, method: str, token: str = TOKEN, **params: Any) -> httpx.Response:
        data = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
        return self.http.post(f"/bot{token}/{method}", data=data)

    def drain(self, **params: Any) -> None:
        """Reads and confirms every queued update (and sets allowed_updates, when given)."""
        updates = self.updates(**params)
        if updates:
            self.updates(offset=updates[-1]["update_id"] + 1)

    def updates(self, **params: Any) -> list[dict[str, Any]]:
        response = self.api("getUpdates", **params)
        assert response.status_code == 200, response.text
        updates: list[dict[str, Any]] = response.json()["result"]
        return updates


@pytest.fixture
def tg(server_url: str) -> Iterator[Harness]:
    with httpx.Client(base_url=server_url, timeout=10, trust_env=False) as http:
        harness = Harness(server_url, http)
        harness.ctl("POST", "/reset")
        yield harness


def run(factory: Callable[[Bot], Coroutine[Any, Any, Any]], url: str) -> Any:
    """Runs ``factory(bot)`` with a python-telegram-bot Bot pointed at the stand-in."""

    async def main() -> Any:
        async with Bot(TOKEN, base_url=f"{url}/bot") as bot:
            return await factory(bot)

    return asyncio.run(main())


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class WebhookReceiver:
    """A loopback HTTP server standing in for the bot's webhook endpoint."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.policy: Callable[[dict[str, Any]], int] = lambda update: 200
        self.answer_after = 0.0  # seconds between recording an update and answering it
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                status = receiver.policy(body)
                with receiver.lock:
                    receiver.received.append(
                        {
                            "update": body,
                            "headers": dict(self.headers),
                            "status": status,
                            "time": time.monotonic(),
                        }
                    )
                time.sleep(receiver.answer_after)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["update"] for r in self.received if 200 <= r["status"] < 300]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out; received {self.received}"
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    hook.thread.start()
    yield hook
    hook.httpd.shutdown()
    hook.httpd.server_close()
    hook.thread.join(timeout=5)


def text_of(update: dict[str, Any]) -> str:
    return str(update.get("message", {}).get("text", ""))


# ------------------------------------------------------------------------------------ basics
def test_healthz_get_me_and_bad_tokens(tg: Harness) -> None:
    assert tg.http.get("/healthz").json() == {"ok": True}

    me = run(lambda bot: bot.get_me(), tg.url)
    assert (me.id, me.is_bot, me.username) == (BOT_ID, True, BOT_USERNAME)

    response = tg.api("getMe", token="987654:not-a-real-token")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    response = tg.api("noSuchMethod")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    # A real Bot API method that the stand-in lacks says so, rather than passing for an unknown one.
    response = tg.api("sendPoll", chat_id=1, question="q")
    assert response.status_code == 501 and "sendPoll" in response.json()["description"]
    # Method names are case-insensitive, as Telegram's are.
    assert tg.http.get(f"/bot{TOKEN}/GETME").json()["result"]["id"] == BOT_ID

    async def wrong_token() -> None:
        async with Bot("987654:not-a-real-token", base_url=f"{tg.url}/bot"):
            pass

    with pytest.raises(InvalidToken):
        asyncio.run(wrong_token())


def test_parameters_from_every_transport(tg: Harness) -> None:
    user = tg.started_user()
    keyboard = {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy:1"}]]}
    url = f"/bot{TOKEN}/sendMessage"
    form = tg.http.post(
        url, data={"chat_id": str(user), "text": "form", "reply_markup": json.dumps(keyboard)}
    )
    as_json = tg.http.post(url, json={"chat_id": user, "text": "json", "reply_markup": keyboard})
    query = tg.http.get(url, params={"chat_id": str(user), "text": "query"})
    multipart = tg.http.post(
        url, data={"chat_id": str(user), "text": "multipart"}, files={"doc": ("a.txt", b"x")}
    )
    results = [r.json()["result"] for r in (form, as_json, query, multipart)]
    assert [r["text"] for r in results] == ["form", "json", "query", "multipart"]
    assert [r["message_id"] for r in results] == [1, 2, 3, 4]
    assert results[0]["reply_markup"] == keyboard
    assert results[1]["reply_markup"] == keyboard
    assert "reply_markup" not in results[2]


# ------------------------------------------------------------------------------------ messages
def test_send_message_shapes_and_transcript(tg: Harness) -> None:
    alice = tg.started_user("Alice", username="alice")
    bob = tg.started_user("Bob")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Pay 10 USDT", callback_data="pay:10")]])

    async def scenario(bot: Bot) -> Any:
        first = await bot.send_message(
            alice, "<b>Welcome</b> to <i>Premium</i>", parse_mode=ParseMode.HTML, reply_markup=markup
        )
        second = await bot.send_message(alice, "Second")
        other = await bot.send_message(bob, "Hi Bob")
        return first, second, other

    first, second, other = run(scenario, tg.url)
    assert first.text == "Welcome to Premium"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("bold", 0, 7), ("italic", 11, 7)]
    assert first.reply_markup == markup
    assert first.from_user.id == BOT_ID and first.from_user.is_bot
    assert first.chat.id == alice and first.chat.type == "private" and first.chat.username == "alice"
    assert abs(first.date.timestamp() - time.time()) < 5
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)

    messages = tg.transcript(alice)
    assert [m["text"] for m in messages] == ["Welcome to Premium", "Second"]
    assert messages[0]["reply_markup"] == markup.to_dict()
    assert all(m["outgoing"] for m in messages)


def test_send_message_refusals(tg: Harness) -> None:
    owner = tg.user("Owner")
    channel = tg.channel(owner)
    known = tg.user("Known")  # in a chat with the bot, never started it
    tg.ctl("POST", f"/chats/{channel}/members", {"user_id": known})
    stranger = tg.user("Stranger")
    blocked = tg.started_user("Blocked")
    tg.ctl("POST", f"/users/{blocked}/block")
    fine = tg.started_user("Fine")

    cases: list[tuple[int, dict[str, Any], int, str]] = [
        (known, {"text": "hi"}, 403, "Forbidden: bot can't initiate conversation with a user"),
        (stranger, {"text": "hi"}, 400, "Bad Request: chat not found"),
        (blocked, {"text": "hi"}, 403, "Forbidden: bot was blocked by the user"),
        (-100999, {"text": "hi"}, 400, "Bad Request: chat not found"),
        (fine, {"text": ""}, 400, "Bad Request: message text is empty"),
        (
            fine,
            {"text": "a <x> b", "parse_mode": "HTML"},
            400,
            'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 2',
        ),
        (
            fine,
            {"text": "Price: 10.5", "parse_mode": "MarkdownV2"},
            400,
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'",
        ),
        (
            fine,
            {"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "B", "callback_data": "d" * 65}]]}},
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            fine,
            {"text": "x", "reply_markup": {"inline_keyboard": [[{"text": "B"}]]}},
            400,
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
    ]
    for chat_id, params, status, description in cases:
        response = tg.api("sendMessage", chat_id=chat_id, **params)
        assert response.status_code == status, (params, response.text)
        assert response.json() == {"ok": False, "error_code": status, "description": description}

    # 64 bytes of callback data are fine.
    ok = tg.api(
        "sendMessage",
        chat_id=fine,
        text="x",
        reply_markup={"inline_keyboard": [[{"text": "B", "callback_data": "d" * 64}]]},
    )
    assert ok.status_code == 200

    async def scenario(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(blocked, "hi")
        with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
            await bot.send_message(known, "hi")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(stranger, "hi")

    run(scenario, tg.url)
    assert tg.transcript(blocked) == []
    # The user unblocks by writing to the bot again; sending works again.
    tg.ctl("POST", f"/users/{blocked}/messages", {"text": "/start"})
    assert tg.api("sendMessage", chat_id=blocked, text="welcome back").status_code == 200


def test_a_message_over_4096_utf16_units_is_refused(tg: Harness) -> None:
    """Telegram counts a text after entity parsing (markup does not count), without the
    whitespace it trims, in UTF-16 code units (an emoji outside the BMP counts two), and refuses
    past 4,096: "Bad Request: message is too long", on sending and on editing."""
    user = tg.started_user()
    too_long = {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
    fits = ["a" * 4096, "🦉" * 2048, "<b>" + "a" * 4096 + "</b>", "  \n" + "a" * 4096 + "\n  "]
    for text in fits:
        mode = "HTML" if text.startswith("<b>") else ""
        response = tg.api("sendMessage", chat_id=user, text=text, parse_mode=mode)
        assert response.status_code == 200, (text[:10], response.text)
    for text in ("a" * 4097, "🦉" * 2049):  # 2,049 characters of Python, 4,098 units of Telegram
        response = tg.api("sendMessage", chat_id=user, text=text)
        assert (response.status_code, response.json()) == (400, too_long)
    mid = tg.api("sendMessage", chat_id=user, text="short").json()["result"]["message_id"]
    edit = tg.api("editMessageText", chat_id=user, message_id=mid, text="é" * 4097)
    assert (edit.status_code, edit.json()) == (400, too_long)
    assert tg.transcript(user)[-1]["text"] == "short"

    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"^Message is too long$"):
            await bot.send_message(user, "🦉" * 2049)

    run(scenario, tg.url)
    assert len(tg.transcript(user)) == len(fits) + 1


def test_channel_posting_needs_admin_rights(tg: Harness) -> None:
    owner = tg.user("Owner")
    private_channel = tg.channel(owner, bot_admin=False)
    response = tg.api("sendMessage", chat_id=private_channel, text="hi")
    assert response.json()["description"] == "Bad Request: chat not found"

    no_post = tg.channel(owner, rights=["can_invite_users"])
    response = tg.api("sendMessage", chat_id=no_post, text="hi")
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: need administrator rights in the channel chat",
    }

    channel = tg.channel(owner, rights=["can_post_messages", "can_invite_users"])
    message = run(lambda bot: bot.send_message(channel, "New post"), tg.url)
    assert message.chat.type == "channel" and message.chat.id == channel
    assert message.sender_chat.id == channel and message.from_user is None

    # Removed from the channel, the bot is no longer a member.
    tg.ctl("DELETE", f"/chats/{channel}/admins/{BOT_ID}", {"status": "left"})
    response = tg.api("sendMessage", chat_id=channel, text="hi")
    assert response.status_code == 403
    assert response.json()["description"] == "Forbidden: bot is not a member of the channel chat"


def test_edit_and_delete(tg: Harness) -> None:
    user = tg.started_user()
    keyboard = {"inline_keyboard": [[{"text": "Renew", "callback_data": "renew"}]]}
    sent = tg.api("sendMessage", chat_id=user, text="Your plan", reply_markup=keyboard).json()["result"]
    mid = sent["message_id"]

    same = tg.api("editMessageText", chat_id=user, message_id=mid, text="Your plan", reply_markup=keyboard)
    assert same.status_code == 400
    assert same.json() == {"ok": False, "error_code": 400, "description": NOT_MODIFIED}

    # Same text without the keyboard is a change: the keyboard is dropped.
    edited = tg.api("editMessageText", chat_id=user, message_id=mid, text="Your plan").json()["result"]
    assert "reply_markup" not in edited and edited["edit_date"] >= sent["date"]

    missing = tg.api("editMessageText", chat_id=user, message_id=999, text="x")
    assert missing.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message to edit not found",
    }

    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Your plan", chat_id=user, message_id=mid)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=user, message_id=999)
        message = await bot.edit_message_reply_markup(
            chat_id=user,
            message_id=mid,
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Open", url="https://example.com/pay")]]
            ),
        )
        assert isinstance(message, Message) and message.reply_markup is not None
        assert message.reply_markup.inline_keyboard[0][0].url == "https://example.com/pay"
        assert await bot.delete_message(user, mid) is True
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(user, mid)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("gone", chat_id=user, message_id=mid)

    run(scenario, tg.url)
    [record] = tg.transcript(user)
    assert record["deleted"] is True
    assert [h["text"] for h in record["history"]] == ["Your plan", "Your plan"]
    assert record["history"][0]["reply_markup"] == keyboard
    assert record["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.com/pay"
    response = tg.api("deleteMessage", chat_id=user, message_id=mid)
    assert response.json()["description"] == "Bad Request: message to delete not found"


# ------------------------------------------------------------------------------------ updates
def test_user_messages_and_callback_queries(tg: Harness) -> None:
    user = tg.user("Carol", username="carol", language_code="en")
    tg.ctl("POST", f"/users/{user}/messages", {"text": "/start plan_monthly"})
    [update] = tg.updates()
    message = update["message"]
    assert message["text"] == "/start plan_monthly"
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert message["from"] == {
        "id": user,
        "is_bot": False,
        "first_name": "Carol",
        "username": "carol",
        "language_code": "en",
    }
    assert message["chat"]["type"] == "private" and message["message_id"] == 1

    keyboard = {
        "inline_keyboard": [
            [{"text": "Monthly", "callback_data": "plan:m"}, {"text": "Yearly", "callback_data": "plan:y"}]
        ]
    }
    sent = tg.api("sendMessage", chat_id=user, text="Pick", reply_markup=keyboard).json()["result"]
    assert sent["message_id"] == 2

    bad = tg.ctl("POST", f"/users/{user}/press", {"message_id": 2, "callback_data": "plan:x"}, expect=400)
    assert "plan:m" in bad["error"]
    pressed = tg.ctl("POST", f"/users/{user}/press", {"message_id": 2, "callback_data": "plan:y"})
    updates = tg.updates(offset=update["update_id"] + 1)
    [cb_update] = updates
    assert cb_update["update_id"] > update["update_id"]
    query = cb_update["callback_query"]
    assert query["id"] == pressed["callback_query_id"]
    assert query["data"] == "plan:y" and query["from"]["id"] == user
    assert query["message"]["message_id"] == 2 and query["message"]["reply_markup"] == keyboard
    assert query["chat_instance"]

    async def scenario(bot: Bot) -> None:
        assert await bot.answer_callback_query(query["id"], text="Yearly chosen", show_alert=True)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query["id"])
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("1234567")

    run(scenario, tg.url)
    answer = tg.ctl("GET", f"/callback_queries/{query['id']}")
    assert answer["answered"] is True
    assert answer["answer"]["text"] == "Yearly chosen" and answer["answer"]["show_alert"] is True
    again = tg.api("answerCallbackQuery", callback_query_id=query["id"])
    assert again.json() == {"ok": False, "error_code": 400, "description": QUERY_TOO_OLD}


def test_callback_query_answer_timeout(tg: Harness) -> None:
    tg.config(callback_answer_timeout=0.2)
    user = tg.started_user()
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    mid = tg.api("sendMessage", chat_id=user, text="x", reply_markup=keyboard).json()["result"]["message_id"]
    query_id = tg.ctl("POST", f"/users/{user}/press", {"message_id": mid, "callback_data": "go"})[
        "callback_query_id"
    ]
    time.sleep(0.3)
    assert tg.api("answerCallbackQuery", callback_query_id=query_id).json()["description"] == QUERY_TOO_OLD


def test_get_updates_long_polling_offsets_and_allowed_updates(tg: Harness) -> None:
    user = tg.user()

    def later() -> None:
        time.sleep(0.3)
        with httpx.Client(base_url=tg.url, trust_env=False) as http:
            http.post(f"/_control/users/{user}/messages", json={"text": "hello"})

    writer = threading.Thread(target=later)
    started = time.monotonic()
    writer.start()
    updates = tg.updates(timeout=5)
    writer.join()
    elapsed = time.monotonic() - started
    assert [text_of(u) for u in updates] == ["hello"]
    assert 0.25 <= elapsed < 3

    # Unconfirmed updates come again; an offset confirms them.
    assert [u["update_id"] for u in tg.updates()] == [updates[0]["update_id"]]
    assert tg.updates(offset=updates[0]["update_id"] + 1) == []

    # Empty long poll waits the timeout.
    started = time.monotonic()
    assert tg.updates(timeout=1) == []
    assert time.monotonic() - started >= 0.9

    # allowed_updates filters, and is remembered by later calls that do not give it.
    tg.updates(allowed_updates=["callback_query"])
    tg.ctl("POST", f"/users/{user}/messages", {"text": "filtered out"})
    assert tg.updates() == []

    async def scenario(bot: Bot) -> list[Any]:
        await bot.get_updates(allowed_updates=[])
        tg.ctl("POST", f"/users/{user}/messages", {"text": "seen by PTB"})
        return list(await bot.get_updates(timeout=2))

    got = run(scenario, tg.url)
    assert [u.message.text for u in got] == ["seen by PTB"]


def test_webhook_delivery_with_secret_and_conflict(tg: Harness, receiver: WebhookReceiver) -> None:
    user = tg.user()

    async def set_hook(bot: Bot) -> Any:
        assert await bot.set_webhook(receiver.url, secret_token="s3cr3t_Token-1", allowed_updates=["message"])
        return await bot.get_webhook_info()

    info = run(set_hook, tg.url)
    assert info.url == receiver.url and info.pending_update_count == 0
    assert info.allowed_updates == ("message",)

    tg.ctl("POST", f"/users/{user}/messages", {"text": "via webhook"})
    receiver.wait_for(lambda: len(receiver.accepted()) == 1)
    first = receiver.received[0]
    assert first["headers"]["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t_Token-1"
    assert first["headers"]["Content-Type"] == "application/json"
    assert text_of(first["update"]) == "via webhook"

    response = tg.api("getUpdates")
    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first",
    }
    with pytest.raises(Conflict):
        run(lambda bot: bot.get_updates(), tg.url)
    bad = tg.api("setWebhook", url=receiver.url, secret_token="not allowed!")
    assert bad.json()["description"] == "Bad Request: secret token contains unallowed characters"

    assert tg.api("deleteWebhook").json() == {
        "ok": True,
        "result": True,
        "description": "Webhook was deleted",
    }
    tg.ctl("POST", f"/users/{user}/messages", {"text": "queued for polling"})
    assert [text_of(u) for u in tg.updates()] == ["queued for polling"]


def test_webhook_retries_hold_back_only_that_chat(tg: Harness, receiver: WebhookReceiver) -> None:
    alice = tg.user("Alice")
    bob = tg.user("Bob")
    failing = threading.Event()
    failing.set()

    def policy(update: dict[str, Any]) -> int:
        if update.get("message", {}).get("chat", {}).get("id") == alice and failing.is_set():
            return 500
        return 200

    def attempts(text: str) -> list[dict[str, Any]]:
        with receiver.lock:
            return [r for r in receiver.received if text_of(r["update"]) == text]

    def webhook_info() -> dict[str, Any]:
        info: dict[str, Any] = tg.api("getWebhookInfo").json()["result"]
        return info

    receiver.policy = policy
    receiver.answer_after = 0.2  # the stand-in learns of each answer a moment after it is recorded
    assert tg.api("setWebhook", url=receiver.url).json()["description"] == "Webhook was set"
    for user, text in ((alice, "a1"), (alice, "a2"), (bob, "b1"), (bob, "b2")):
        tg.ctl("POST", f"/users/{user}/messages", {"text": text})

    # Bob's chat flows while Alice's first update keeps failing and holds back her second.
    receiver.wait_for(lambda: len(receiver.accepted()) == 2 and len(attempts("a1")) >= 2)
    assert [text_of(u) for u in receiver.accepted()] == ["b1", "b2"]
    assert attempts("a2") == []
    receiver.wait_for(lambda: webhook_info()["pending_update_count"] == 2)  # once b2's answer is in
    info = webhook_info()
    assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
    assert abs(info["last_error_date"] - time.time()) < 5
    first_two = attempts("a1")[:2]
    assert first_two[1]["time"] - first_two[0]["time"] >= 0.15  # retried with backoff, not at once

    failing.clear()
    receiver.wait_for(lambda: len(receiver.accepted()) == 4)
    assert [text_of(u) for u in receiver.accepted()] == ["b1", "b2", "a1", "a2"]
    statuses = [r["status"] for r in attempts("a1")]
    assert statuses[-1] == 200 and set(statuses[:-1]) == {500}
    assert [r["status"] for r in attempts("a2")] == [200]
    receiver.wait_for(lambda: webhook_info()["pending_update_count"] == 0)
    tg.api("deleteWebhook")


def test_webhook_connection_errors_are_retried(tg: Harness) -> None:
    user = tg.user()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    assert tg.api("setWebhook", url=f"http://127.0.0.1:{dead_port}/hook").status_code == 200
    tg.ctl("POST", f"/users/{user}/messages", {"text": "lost?"})
    deadline = time.monotonic() + 5
    while True:
        info = tg.api("getWebhookInfo").json()["result"]
        if info.get("last_error_message"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert info["last_error_message"] == "Connection refused"
    assert info["pending_update_count"] == 1
    # Deleting the webhook keeps the update for getUpdates.
    tg.api("deleteWebhook")
    assert [text_of(u) for u in tg.updates()] == ["lost?"]


# ------------------------------------------------------------------------------------ members and links
def chat_member_updates(tg: Harness, offset: int = 0) -> list[dict[str, Any]]:
    return [u for u in tg.updates(offset=offset) if "chat_member" in u]


def test_admin_changes_and_blocking_send_my_chat_member(tg: Harness) -> None:
    owner = tg.user("Owner")
    channel = tg.channel(owner, rights=["can_post_messages"])
    [update] = tg.updates()
    change = update["my_chat_member"]
    assert change["chat"] == {"id": channel, "title": "Premium", "type": "channel"}
    assert change["from"]["id"] == owner
    assert change["old_chat_member"]["status"] == "left"
    assert change["new_chat_member"]["status"] == "administrator"
    assert change["new_chat_member"]["can_post_messages"] is True
    assert change["new_chat_member"]["can_invite_users"] is False

    user = tg.started_user()
    tg.ctl("POST", f"/users/{user}/block")
    updates = tg.updates(offset=update["update_id"] + 1)
    [blocked] = [u["my_chat_member"] for u in updates]
    assert blocked["chat"]["type"] == "private" and blocked["from"]["id"] == user
    assert (blocked["old_chat_member"]["status"], blocked["new_chat_member"]["status"]) == (
        "member",
        "kicked",
    )

    member = run(lambda bot: bot.get_chat_member(channel, BOT_ID), tg.url)
    assert member.status == "administrator" and member.can_post_messages and not member.can_restrict_members
    chat = run(lambda bot: bot.get_chat(channel), tg.url)
    assert chat.type == "channel" and chat.title == "Premium"


def test_invite_link_join_produces_chat_member(tg: Harness) -> None:
    owner = tg.user("Owner")
    channel = tg.channel(owner)
    tg.updates(allowed_updates=["chat_member", "chat_join_request", "my_chat_member", "message"])
    user = tg.user("Dave")
    expire = int(time.time()) + 3600

    link = run(
        lambda bot: bot.create_chat_invite_link(channel, name="order-42", expire_date=expire, member_limit=1),
        tg.url,
    )
    assert (
        link.invite_link.startswith("https://t.me/+") and len(link.invite_link) == len("https://t.me/+") + 16
    )
    assert (link.name, link.member_limit, link.creates_join_request) == ("order-42", 1, False)
    assert int(link.expire_date.timestamp()) == expire
    assert link.creator.id == BOT_ID and not link.is_primary and not link.is_revoked

    joined = tg.ctl("POST", f"/users/{user}/join", {"invite_link": link.invite_link})
    assert joined["result"] == "joined" and joined["chat_id"] == channel
    [update] = chat_member_updates(tg)
    change = update["chat_member"]
    assert change["from"]["id"] == user
    assert change["old_chat_member"] == {"user": change["new_chat_member"]["user"], "status": "left"}
    assert change["new_chat_member"]["status"] == "member"
    assert change["invite_link"]["invite_link"] == link.invite_link
    assert change["invite_link"]["name"] == "order-42"

    member = run(lambda bot: bot.get_chat_member(channel, user), tg.url)
    assert member.status == "member" and member.user.first_name == "Dave"

    # The link admitted one member: it is used up for the next user.
    second = tg.user("Eve")
    refused = tg.ctl("POST", f"/users/{second}/join", {"invite_link": link.invite_link})
    assert (refused["result"], refused["reason"]) == ("refused", "limit_reached")
    again = tg.ctl("POST", f"/users/{user}/join", {"invite_link": link.invite_link})
    assert again["reason"] == "already_member"


def test_chat_member_updates_need_allowed_updates(tg: Harness) -> None:
    channel = tg.channel()
    link = tg.api("createChatInviteLink", chat_id=channel).json()["result"]["invite_link"]
    tg.updates(offset=-1)  # default allowed_updates
    user = tg.user()
    assert tg.ctl("POST", f"/users/{user}/join", {"invite_link": link})["result"] == "joined"
    assert [u for u in tg.updates() if "chat_member" in u] == []


def test_join_request_approve_and_decline(tg: Harness) -> None:
    channel = tg.channel()
    tg.drain(allowed_updates=["chat_member", "chat_join_request"])
    link = tg.api("createChatInviteLink", chat_id=channel, creates_join_request="true", name="paid").json()[
        "result"
    ]
    assert link["creates_join_request"] is True and "member_limit" not in link
    frank = tg.user("Frank")
    grace = tg.user("Grace")

    assert (
        tg.ctl("POST", f"/users/{frank}/join", {"invite_link": link["invite_link"]})["result"] == "requested"
    )
    assert (
        tg.ctl("POST", f"/users/{grace}/join", {"invite_link": link["invite_link"]})["result"] == "requested"
    )
    updates = tg.updates()
    requests = [u["chat_join_request"] for u in updates]
    assert [r["from"]["id"] for r in requests] == [frank, grace]
    assert requests[0]["user_chat_id"] == frank and requests[0]["chat"]["id"] == channel
    assert requests[0]["invite_link"]["invite_link"] == link["invite_link"]
    assert requests[1]["invite_link"]["pending_join_request_count"] == 2
    pending = tg.ctl("GET", f"/chats/{channel}/members")["join_requests"]
    assert [p["user"]["id"] for p in pending] == [frank, grace]

    # The bot may write to a requester before deciding, though they never started it.
    assert tg.api("sendMessage", chat_id=frank, text="Pay to be approved").status_code == 200

    async def scenario(bot: Bot) -> None:
        assert await bot.approve_chat_join_request(channel, frank)
        with pytest.raises(BadRequest, match="User_already_participant"):
            await bot.approve_chat_join_request(channel, frank)
        assert await bot.decline_chat_join_request(channel, grace)
        with pytest.raises(BadRequest, match="Hide_requester_missing"):
            await bot.decline_chat_join_request(channel, grace)

    run(scenario, tg.url)
    response = tg.api("approveChatJoinRequest", chat_id=channel, user_id=grace)
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: HIDE_REQUESTER_MISSING",
    }

    [approved] = chat_member_updates(tg, offset=updates[-1]["update_id"] + 1)
    change = approved["chat_member"]
    assert change["from"]["id"] == BOT_ID
    assert (
        change["new_chat_member"]["user"]["id"] == frank and change["new_chat_member"]["status"] == "member"
    )
    assert change["invite_link"]["invite_link"] == link["invite_link"]
    members = {m["user"]["id"]: m["status"] for m in tg.ctl("GET", f"/chats/{channel}/members")["members"]}
    assert members[frank] == "member" and grace not in members
    # Declined, the user may ask again; after the request ends, the bot may not write first.
    assert (
        tg.ctl("POST", f"/users/{grace}/join", {"invite_link": link["invite_link"]})["result"] == "requested"
    )
    tg.api("declineChatJoinRequest", chat_id=channel, user_id=grace)
    assert tg.api("sendMessage", chat_id=grace, text="hi").status_code == 403


def test_refused_links_and_link_errors(tg: Harness) -> None:
    owner = tg.user("Owner")
    channel = tg.channel(owner)
    user = tg.user()
    create = "createChatInviteLink"

    both = tg.api(create, chat_id=channel, member_limit=5, creates_join_request="true")
    assert both.json()["description"] == (
        "Bad Request: member limit can't be specified for links requiring administrator approval"
    )
    past = tg.api(create, chat_id=channel, expire_date=int(time.time()) - 10)
    assert past.json()["description"] == "Bad Request: EXPIRE_DATE_INVALID"
    no_rights = tg.channel(owner, rights=["can_post_messages"])
    response = tg.api(create, chat_id=no_rights)
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: not enough rights to manage chat invite link",
    }
    assert tg.api(create, chat_id=user).json()["description"] == "Bad Request: chat not found"

    expiring = tg.api(create, chat_id=channel, expire_date=int(time.time()) + 60).json()["result"]
    tg.ctl("POST", "/clock", {"advance": 61})
    refused = tg.ctl("POST", f"/users/{user}/join", {"invite_link": expiring["invite_link"]})
    assert (refused["result"], refused["reason"]) == ("refused", "expired")

    revocable = tg.api(create, chat_id=channel).json()["result"]["invite_link"]
    revoked = run(lambda bot: bot.revoke_chat_invite_link(channel, revocable), tg.url)
    assert revoked.is_revoked and revoked.invite_link == revocable
    assert tg.ctl("POST", f"/users/{user}/join", {"invite_link": revocable})["reason"] == "revoked"
    assert (
        tg.ctl("POST", f"/users/{user}/join", {"invite_link": "https://t.me/+nope"})["reason"]
        == "unknown_link"
    )

    open_link = tg.api(create, chat_id=channel).json()["result"]["invite_link"]
    assert tg.api("banChatMember", chat_id=channel, user_id=user).json()["result"] is True
    assert tg.ctl("POST", f"/users/{user}/join", {"invite_link": open_link})["reason"] == "banned"
    members = {m["user"]["id"]: m["status"] for m in tg.ctl("GET", f"/chats/{channel}/members")["members"]}
    assert members[user] == "kicked"


def test_ban_and_unban_semantics(tg: Harness) -> None:
    owner = tg.user("Owner")
    channel = tg.channel(owner)
    tg.updates(allowed_updates=["chat_member"])
    link = tg.api("createChatInviteLink", chat_id=channel).json()["result"]["invite_link"]
    subscriber = tg.user("Sub")
    other = tg.user("Other")
    for uid in (subscriber, other):
        assert tg.ctl("POST", f"/users/{uid}/join", {"invite_link": link})["result"] == "joined"
    offset = tg.updates()[-1]["update_id"] + 1
    until = int(time.time()) + 3600

    async def expel(bot: Bot) -> tuple[Any, Any]:
        # The removal TelePay does when a subscription ends: ban, then lift the ban at once.
        assert await bot.ban_chat_member(channel, subscriber, until_date=until)
        banned = await bot.get_chat_member(channel, subscriber)
        assert await bot.unban_chat_member(channel, subscriber, only_if_banned=True)
        after = await bot.get_chat_member(channel, subscriber)
        return banned, after

    banned, after = run(expel, tg.url)
    assert banned.status == "kicked" and int(banned.until_date.timestamp()) == until
    assert after.status == "left"
    changes = [u["chat_member"] for u in chat_member_updates(tg, offset)]
    assert [(c["old_chat_member"]["status"], c["new_chat_member"]["status"]) for c in changes] == [
        ("member", "kicked"),
        ("kicked", "left"),
    ]
    assert changes[0]["new_chat_member"]["until_date"] == until
    assert tg.ctl("POST", f"/users/{subscriber}/join", {"invite_link": link})["result"] == "joined"

    # only_if_banned leaves a current member alone; a bare unban removes them.
    assert tg.api("unbanChatMember", chat_id=channel, user_id=other, only_if_banned="true").json()["result"]
    assert run(lambda bot: bot.get_chat_member(channel, other), tg.url).status == "member"
    assert tg.api("unbanChatMember", chat_id=channel, user_id=other).json()["result"] is True
    assert run(lambda bot: bot.get_chat_member(channel, other), tg.url).status == "left"
    assert tg.ctl("POST", f"/users/{other}/join", {"invite_link": link})["result"] == "joined"

    # A ban of less than 30 seconds is forever.
    tg.api("banChatMember", chat_id=channel, user_id=other, until_date=int(time.time()) + 5)
    member = tg.api("getChatMember", chat_id=channel, user_id=other).json()["result"]
    assert member == {"user": member["user"], "status": "kicked", "until_date": 0}

    owner_ban = tg.api("banChatMember", chat_id=channel, user_id=owner)
    assert owner_ban.json()["description"] == "Bad Request: can't remove chat owner"
    weak = tg.channel(owner, rights=["can_post_messages"])
    response = tg.api("banChatMember", chat_id=weak, user_id=other)
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: not enough rights to restrict/unrestrict chat member",
    }
    with pytest.raises(BadRequest, match="Not enough rights to restrict/unrestrict chat member"):
        run(lambda bot: bot.ban_chat_member(weak, other), tg.url)
    # only_if_banned on a non-banned user answers True before any rights check, as Telegram does.
    assert tg.api("unbanChatMember", chat_id=weak, user_id=other, only_if_banned="true").json()["result"]


def test_timed_ban_ends_by_itself(tg: Harness) -> None:
    channel = tg.channel()
    link = tg.api("createChatInviteLink", chat_id=channel).json()["result"]["invite_link"]
    user = tg.user()
    tg.api("banChatMember", chat_id=channel, user_id=user, until_date=int(time.time()) + 120)
    assert tg.ctl("POST", f"/users/{user}/join", {"invite_link": link})["reason"] == "banned"
    tg.ctl("POST", "/clock", {"advance": 121})
    assert tg.ctl("POST", f"/users/{user}/join", {"invite_link": link})["result"] == "joined"


# ------------------------------------------------------------------------------------ limits and failures
def test_private_chat_rate_limit(tg: Harness) -> None:
    tg.config(rate_limits=True)
    user = tg.started_user()
    statuses = [tg.api("sendMessage", chat_id=user, text=f"m{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 200]  # a short burst passes
    limited = tg.api("sendMessage", chat_id=user, text="too fast")
    assert limited.status_code == 429
    body = limited.json()
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {body['parameters']['retry_after']}",
        "parameters": {"retry_after": body["parameters"]["retry_after"]},
    }
    assert body["parameters"]["retry_after"] >= 1

    with pytest.raises(RetryAfter) as caught:
        run(lambda bot: bot.send_message(user, "still too fast"), tg.url)
    assert seconds(caught.value.retry_after) >= 1
    # Edits of that chat are held to the same limit.
    assert tg.api("editMessageText", chat_id=user, message_id=1, text="edited").status_code == 429

    time.sleep(1.05)
    assert tg.api("sendMessage", chat_id=user, text="after waiting").status_code == 200
    stats = tg.ctl("GET", "/stats")["stats"]
    assert stats["sends"] == 4
    assert stats["rate_limited"] == 3 and stats["too_many_requests"] == 3
    assert stats["methods"]["sendMessage"] == 6


def test_channel_and_global_rate_limits(tg: Harness) -> None:
    channel = tg.channel()
    users = [tg.started_user(f"U{i}") for i in range(31)]
    tg.config(rate_limits=True)
    for i in range(20):
        assert tg.api("sendMessage", chat_id=channel, text=f"post {i}").status_code == 200
    limited = tg.api("sendMessage", chat_id=channel, text="post 21")
    assert limited.status_code == 429
    assert 50 <= limited.json()["parameters"]["retry_after"] <= 60

    tg.config(reset_rate_counters=True)

    async def broadcast() -> list[int]:
        # At once, as a broadcast would: 31 chats within one second exceed 30 messages per second.
        async with httpx.AsyncClient(base_url=tg.url, trust_env=False, timeout=10) as http:
            responses = await asyncio.gather(
                *(
                    http.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": str(u), "text": "news"})
                    for u in users
                )
            )
        return [r.status_code for r in responses]

    codes = asyncio.run(broadcast())
    assert sorted(codes) == [200] * 30 + [429]

    tg.config(rate_limits=False)
    assert tg.api("sendMessage", chat_id=channel, text="limits off").status_code == 200


def test_injected_failures(tg: Harness) -> None:
    user = tg.started_user()
    tg.ctl("POST", "/failures", {"method": "sendMessage", "count": 2, "status": 500})
    tg.ctl("POST", "/failures", {"method": "sendMessage", "status": 429, "retry_after": 7})

    first = tg.api("sendMessage", chat_id=user, text="x")
    assert first.status_code == 500
    assert first.json() == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    with pytest.raises(NetworkError):
        run(lambda bot: bot.send_message(user, "x"), tg.url)
    with pytest.raises(RetryAfter) as caught:
        run(lambda bot: bot.send_message(user, "x"), tg.url)
    assert seconds(caught.value.retry_after) == 7
    assert run(lambda bot: bot.send_message(user, "finally"), tg.url).message_id == 1
    # Other methods were never affected.
    assert tg.api("getMe").status_code == 200
    assert tg.ctl("GET", "/stats")["stats"]["injected_failures"] == 3


def test_call_log_filters_by_method(tg: Harness) -> None:
    user = tg.started_user()
    tg.api("getMe")
    tg.api("sendMessage", chat_id=user, text="logged", parse_mode="HTML")
    tg.api("sendMessage", chat_id=user, text="")
    calls = tg.ctl("GET", "/calls?method=sendmessage")["calls"]
    assert [c["status"] for c in calls] == [200, 400]
    assert calls[0]["method"] == "sendMessage"
    assert calls[0]["params"] == {"chat_id": str(user), "text": "logged", "parse_mode": "HTML"}
    assert calls[0]["response"]["result"]["text"] == "logged"
    assert calls[1]["response"]["description"] == "Bad Request: message text is empty"
    assert abs(calls[0]["time"] - time.time()) < 5
    assert len(tg.ctl("GET", "/calls")["calls"]) == 3


def test_webhook_reply_with_method_is_executed(tg: Harness) -> None:
    """A webhook may answer an update with a method call, which Telegram then carries out."""
    user = tg.started_user()

    class ReplyHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            update = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = json.dumps(
                {"method": "sendMessage", "chat_id": update["message"]["chat"]["id"], "text": "pong"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ReplyHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        tg.api("setWebhook", url=f"http://127.0.0.1:{httpd.server_address[1]}/")
        tg.ctl("POST", f"/users/{user}/messages", {"text": "ping"})
        deadline = time.monotonic() + 5
        while not any(m["outgoing"] for m in tg.transcript(user)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [m["text"] for m in tg.transcript(user)] == ["ping", "pong"]
    finally:
        tg.api("deleteWebhook")
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_command_line_entrypoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.telegram_standin",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--bot-token",
            "42:cli-token",
            "--bot-username",
            "cli_bot",
            "--no-rate-limits",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        with httpx.Client(base_url=url, trust_env=False, timeout=2) as http:
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
            me = http.get("/bot42:cli-token/getMe").json()["result"]
            assert (me["id"], me["username"], me["is_bot"]) == (42, "cli_bot", True)
            assert http.get("/_control/config").json()["config"]["rate_limits"]["enabled"] is False
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_commands_are_kept_per_scope(tg: Harness) -> None:
    from telegram import BotCommand, BotCommandScopeChat

    everyone = [BotCommand("start", "Open an offer")]
    owner = [BotCommand("start", "Open an offer"), BotCommand("stats", "Your numbers")]

    async def scenario(bot: Bot) -> tuple[Any, ...]:
        await bot.set_my_commands(everyone)
        await bot.set_my_commands(owner, scope=BotCommandScopeChat(77))
        default = await bot.get_my_commands()
        chat = await bot.get_my_commands(scope=BotCommandScopeChat(77))
        other = await bot.get_my_commands(scope=BotCommandScopeChat(78))
        await bot.delete_my_commands(scope=BotCommandScopeChat(77))
        return default, chat, other, await bot.get_my_commands(scope=BotCommandScopeChat(77))

    default, chat, other, deleted = run(scenario, tg.url)
    assert [c.command for c in default] == ["start"]
    assert [c.command for c in chat] == ["start", "stats"]
    assert list(other) == [] and list(deleted) == []
    [bot] = tg.ctl("GET", "/bots")["bots"]
    assert [c["command"] for c in bot["commands"]] == ["start"]
    assert bot["scoped_commands"] == {}
    assert tg.api("setMyCommands", commands=[], scope={"type": "nonsense"}).status_code == 400


def test_commands_are_kept_per_language_and_what_telegram_refuses_is_refused(tg: Harness) -> None:
    from telegram import BotCommand, BotCommandScopeChat

    english = [BotCommand("start", "Open an offer")]
    russian = [BotCommand("start", "Открыть предложение")]

    async def scenario(bot: Bot) -> tuple[Any, ...]:
        await bot.set_my_commands(english)
        await bot.set_my_commands(russian, language_code="ru")
        await bot.set_my_commands(russian, scope=BotCommandScopeChat(77), language_code="ru")
        return (
            await bot.get_my_commands(),
            await bot.get_my_commands(language_code="ru"),
            await bot.get_my_commands(language_code="uk"),  # none of its own: exactly that, empty
            await bot.get_my_commands(scope=BotCommandScopeChat(77)),
            await bot.get_my_commands(scope=BotCommandScopeChat(77), language_code="ru"),
        )

    default, ru, uk, chat, chat_ru = run(scenario, tg.url)
    assert [c.description for c in default] == ["Open an offer"]
    assert [c.description for c in ru] == [c.description for c in chat_ru] == ["Открыть предложение"]
    assert list(uk) == [] and list(chat) == []
    [bot] = tg.ctl("GET", "/bots")["bots"]
    assert bot["language_commands"]["ru"]["chat:77"][0]["command"] == "start"
    assert bot["scoped_commands"] == {}
    command = [{"command": "start", "description": "Open an offer"}]
    # TDLib: a language code is empty or two lowercase letters; a description 1 to 256 characters.
    for code in ("pt_BR", "pt-br", "RU", "eng", "r"):
        refused = tg.api("setMyCommands", commands=command, language_code=code)
        assert refused.status_code == 400
        assert refused.json()["description"] == "Bad Request: Invalid language code specified"
    assert tg.api("getMyCommands", language_code="pt_BR").status_code == 400
    for description, reason in (("  ", "must be non-empty"), ("x" * 257, "must not exceed 256")):
        refused = tg.api("setMyCommands", commands=[{"command": "start", "description": description}])
        assert refused.status_code == 400 and reason in refused.json()["description"]
    assert (
        tg.api("setMyCommands", commands=[{"command": "start", "description": "x" * 256}]).status_code == 200
    )


def test_the_menu_button_of_a_private_chat_opens_a_web_app(tg: Harness) -> None:
    from telegram import MenuButtonWebApp, WebAppInfo

    async def scenario(bot: Bot) -> tuple[Any, ...]:
        await bot.set_chat_menu_button(
            chat_id=77, menu_button=MenuButtonWebApp("Open", WebAppInfo("https://app.test/"))
        )
        return await bot.get_chat_menu_button(chat_id=77), await bot.get_chat_menu_button(chat_id=78)

    mine, other = run(scenario, tg.url)
    assert isinstance(mine, MenuButtonWebApp) and mine.web_app.url == "https://app.test/"
    assert other.type == "commands"
    assert tg.api("setChatMenuButton", chat_id=77, menu_button={"type": "web_app"}).status_code == 400


# ------------------------------------------------------------------------------------ documents
def test_send_document_is_kept_with_its_bytes_and_caption(tg: Harness) -> None:
    owner = tg.started_user("Owner")
    data = "\ufefforder_id,gross\r\ntp1-sub-a,5.00\r\n".encode()

    async def scenario(bot: Bot) -> Any:
        return await bot.send_document(owner, data, filename="sales.csv", caption="Sales: 1 row")

    sent: Message = run(scenario, tg.url)
    assert sent.document is not None and sent.caption == "Sales: 1 row"
    assert (sent.document.file_name, sent.document.mime_type, sent.document.file_size) == (
        "sales.csv",
        "text/csv",
        len(data),
    )
    record = tg.transcript(owner)[-1]
    assert (
        record["text"] == "Sales: 1 row" and record["message"]["document"]["file_id"] == sent.document.file_id
    )
    kept = tg.ctl("GET", f"/files/{sent.document.file_id}")
    assert base64.b64decode(kept["content_base64"]) == data
    assert kept["file"]["chat_id"] == owner and kept["file"]["file_unique_id"] == sent.document.file_unique_id
    tg.ctl("GET", "/files/BQACnothing", expect=404)


def test_send_document_refusals(tg: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    fine = tg.started_user("Fine")
    blocked = tg.started_user("Blocked")
    tg.ctl("POST", f"/users/{blocked}/block")
    stranger = tg.user("Stranger")
    monkeypatch.setattr(documents, "DOCUMENT_MAX_BYTES", 100)

    def send(chat_id: int, content: bytes | None, **fields: str) -> httpx.Response:
        files = {"document": ("books.csv", content, "text/csv")} if content is not None else None
        return tg.http.post(
            f"/bot{TOKEN}/sendDocument", data={"chat_id": str(chat_id), **fields}, files=files
        )

    cases: list[tuple[httpx.Response, int, str]] = [
        (send(fine, b""), 400, "Bad Request: file must be non-empty"),
        (send(fine, b"x" * 101), 413, "Request Entity Too Large"),
        (send(fine, None), 400, "Bad Request: there is no document in the request"),
        (send(fine, b"a", caption="c" * 1025), 400, "Bad Request: message caption is too long"),
        (send(blocked, b"a"), 403, "Forbidden: bot was blocked by the user"),
        (send(stranger, b"a"), 400, "Bad Request: chat not found"),
    ]
    for response, status, description in cases:
        assert (response.status_code, response.json()["description"]) == (status, description)
    assert tg.transcript(fine) == []
    ok = send(fine, b"x" * 100, caption="c" * 1024)
    assert ok.status_code == 200 and ok.json()["result"]["caption"] == "c" * 1024
