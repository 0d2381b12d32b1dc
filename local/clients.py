"""Small clients for the running local stack (`.local/endpoints.json`): the stand-ins' control
APIs and the emulators. Used by the demo, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

T = TypeVar("T")


if TYPE_CHECKING:
    from telepay.adapters.firestore_store import FirestoreStore


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20.0, every: float = 0.1) -> T:
    """Poll until `probe` returns something truthy; fail with `what` if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class TelegramControl:
    def __init__(self, endpoints: dict[str, Any]) -> None:
        self.base = endpoints["telegram_api"].rstrip("/")
        self.token = endpoints["telegram_bot_token"]
        self.http = httpx.Client(base_url=f"{self.base}/_control", timeout=30)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(path, json=body or {})
        data: dict[str, Any] = response.json()
        if response.status_code >= 300 or not data.get("ok", True):
            raise RuntimeError(f"Telegram stand-in {path}: {response.status_code} {data}")
        return data

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        self._post("/reset")

    def user(self, first_name: str, **fields: Any) -> int:
        return int(self._post("/users", {"first_name": first_name, **fields})["user"]["id"])

    def channel(self, title: str, owner_id: int, **fields: Any) -> int:
        return int(
            self._post("/chats", {"type": "channel", "title": title, "owner_id": owner_id, **fields})["chat"][
                "id"
            ]
        )

    def make_bot_admin(self, chat_id: int, rights: list[str]) -> None:
        self._post(f"/chats/{chat_id}/admins", {"bot": True, "rights": rights})

    def say(self, user_id: int, text: str, reply_to: int | None = None, **options: Any) -> dict[str, Any]:
        """A user's message to the bot; `reply_to`: as a reply to that message of their chat;
        `entities` (the formatting they chose), `photo=True` (a photo, `text` its caption)."""
        body: dict[str, Any] = {"text": text, **options}
        if reply_to is not None:
            body["reply_to_message_id"] = reply_to
        return self._post(f"/users/{user_id}/messages", body)

    def press(self, user_id: int, message_id: int, callback_data: str, chat_id: int | None = None) -> str:
        body: dict[str, Any] = {"message_id": message_id, "callback_data": callback_data}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return str(self._post(f"/users/{user_id}/press", body)["callback_query_id"])

    def join(self, user_id: int, invite_link: str) -> dict[str, Any]:
        return self._post(f"/users/{user_id}/join", {"invite_link": invite_link})

    def leave(self, user_id: int, chat_id: int) -> None:
        self._post(f"/users/{user_id}/leave", {"chat_id": chat_id})

    def block(self, user_id: int) -> None:
        self._post(f"/users/{user_id}/block")

    def transcript(self, chat_id: int) -> list[dict[str, Any]]:
        data = self._get(f"/chats/{chat_id}/transcript", outgoing_only=1)
        return [m for m in data.get("messages", []) if not m.get("deleted")]

    def members(self, chat_id: int) -> dict[str, Any]:
        return self._get(f"/chats/{chat_id}/members")

    def member_status(self, chat_id: int, user_id: int) -> str | None:
        for member in self.members(chat_id)["members"]:
            if member["user"]["id"] == user_id:
                return str(member["status"])
        return None

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = self._get(f"/callback_queries/{query_id}").get("answer")
        return answer

    def bot(self) -> dict[str, Any]:
        """The (first) bot as the stand-in sees it: webhook, commands per scope, ..."""
        bot: dict[str, Any] = self._get("/bots")["bots"][0]
        return bot

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._get("/stats")["stats"]
        return stats

    def updates(self) -> dict[str, Any]:
        """The bot's pending updates and every webhook delivery attempt so far."""
        return self._get("/updates")

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        params = {"method": method} if method else {}
        calls: list[dict[str, Any]] = self._get("/calls", **params)["calls"]
        return calls

    def wait_message(
        self, chat_id: int, containing: str, timeout: float = 20.0, after: int = 0
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for message in self.transcript(chat_id):
                if message["message_id"] > after and containing in (message.get("text") or ""):
                    return message
            return None

        return wait_for(f"a message containing {containing!r} in chat {chat_id}", probe, timeout)

    # -- documents (sendDocument) -----------------------------------------------------------------
    def wait_document(
        self, chat_id: int, caption: str = "", timeout: float = 20.0, after: int = 0
    ) -> dict[str, Any]:
        """The next document the bot sent to the chat (after message `after`) whose caption contains
        `caption`: its transcript record (`message.document` has the file id)."""

        def probe() -> dict[str, Any] | None:
            for message in self.transcript(chat_id):
                document = (message.get("message") or {}).get("document")
                if message["message_id"] > after and document and caption in (message.get("text") or ""):
                    return message
            return None

        return wait_for(f"a document captioned {caption!r} in chat {chat_id}", probe, timeout)

    def document_bytes(self, file_id: str) -> bytes:
        """The bytes of a document a bot sent (kept by the stand-in)."""
        return base64.b64decode(self._get(f"/files/{file_id}")["content_base64"])

    # -- paying --------------------------------------------------------------------------------
    def choose_payment(
        self,
        user_id: int,
        after: int = 0,
        stars: bool = False,
        message_id: int | None = None,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """The buyer's "Stars or crypto?" (after a tier, or in place of a confirmed keypad,
        `message_id`): taps one; returns the message tapped."""

        def probe() -> dict[str, Any] | None:
            for message in self.transcript(user_id):
                markup = message.get("reply_markup") or {}
                rows = markup.get("inline_keyboard") or []
                datas = [b.get("callback_data") or "" for row in rows for b in row]
                if message_id is not None and message["message_id"] != message_id:
                    continue
                if message["message_id"] > after and any(d.startswith(("pay:", "dpy:")) for d in datas):
                    return message
            return None

        choice = wait_for(f"the payment choice in chat {user_id}", probe, timeout)
        code = ":s" if stars else ":c"
        rows = choice["reply_markup"]["inline_keyboard"]
        data = next(
            b["callback_data"] for row in rows for b in row if (b.get("callback_data") or "").endswith(code)
        )
        self.press(user_id, choice["message_id"], data)
        return choice

    def pay_stars(self, user_id: int, **body: Any) -> dict[str, Any]:
        """The user pays an invoice message (`message_id`) or link (`invoice_link`) in Stars."""
        return self._post(f"/users/{user_id}/pay", body)

    def stars(self, user_id: int) -> dict[str, Any]:
        return self._get(f"/users/{user_id}/stars")

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._post("/clock", {"advance": seconds})


class BotChat:
    """One user's private chat with the bot, an exchange at a time: what the user sends or taps,
    and the bot's next message (containing `expect`). For owners' conversations."""

    def __init__(self, tg: TelegramControl, user_id: int) -> None:
        self.tg = tg
        self.user_id = user_id
        self.seen = max((m["message_id"] for m in tg.transcript(user_id)), default=0)
        self.question: dict[str, Any] | None = None  # the bot's last message with buttons

    def next(self, expect: str = "", timeout: float = 30.0) -> dict[str, Any]:
        message = self.tg.wait_message(self.user_id, expect, timeout=timeout, after=self.seen)
        self.seen = message["message_id"]
        if buttons(message):
            self.question = message
        return message

    def wait_all(self, *expects: str) -> None:
        """Wait for messages containing each of `expects`, in any order (updates of different
        chats are delivered independently), and move past them."""
        found = [self.tg.wait_message(self.user_id, expect, after=self.seen) for expect in expects]
        self.seen = max(message["message_id"] for message in found)

    def send(self, text: str, expect: str = "") -> dict[str, Any]:
        self.tg.say(self.user_id, text)
        return self.next(expect)

    def tap(self, label: str, expect: str = "") -> dict[str, Any]:
        """Tap the button of the bot's last question whose text contains `label`."""
        assert self.question is not None, "no question with buttons yet"
        offered = buttons(self.question)
        choices = [b for b in offered if b["text"] == label] or [b for b in offered if label in b["text"]]
        if not choices:
            raise AssertionError(f"no button {label!r} in {[b['text'] for b in buttons(self.question)]}")
        self.tg.press(self.user_id, self.question["message_id"], choices[0]["callback_data"])
        return self.next(expect)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


class NowPaymentsControl:
    def __init__(self, endpoints: dict[str, Any]) -> None:
        self.base = endpoints["nowpayments_api"].rstrip("/")
        self.http = httpx.Client(base_url=f"{self.base}/_control", timeout=60)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(path, json=body or {})
        if response.status_code >= 300:
            raise RuntimeError(f"NowPayments stand-in {path}: {response.status_code} {response.text[:300]}")
        data: dict[str, Any] = response.json()
        return data

    def reset(self) -> None:
        self._post("/reset")

    def invoice_by_url(self, invoice_url: str) -> dict[str, Any]:
        invoice_id = invoice_url.rsplit("iid=", 1)[1]
        invoice: dict[str, Any] = self.http.get(f"/invoices/{invoice_id}").json()["invoice"]
        return invoice

    def pay(self, invoice_id: str, **fields: Any) -> int:
        body = {"pay_currency": "btc", **fields}
        return int(self._post(f"/invoices/{invoice_id}/payments", body)["payment_id"])

    def steps(self, payment_id: int, steps: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        ipns: list[dict[str, Any]] = self._post(f"/payments/{payment_id}/steps", {"steps": steps, **options})[
            "ipns"
        ]
        return ipns

    def fail(self, mode: str = "error", count: int = 1, **rule: Any) -> dict[str, Any]:
        """Make the next matching /v1 calls fail (`status`, `path` prefix, `method`: see the README)."""
        return self._post("/failures", {"mode": mode, "count": count, **rule})

    def replay(self, ipn_id: int, copies: int = 1) -> list[dict[str, Any]]:
        ipns: list[dict[str, Any]] = self._post(f"/ipns/{ipn_id}/replay", {"copies": copies})["ipns"]
        return ipns

    def payment(self, payment_id: int) -> dict[str, Any]:
        """What `GET /v1/payment/{id}` answers now (amounts as JSON numbers)."""
        api: dict[str, Any] = self.http.get(f"/payments/{payment_id}").json()["api"]
        return api

    def withdrawals(self) -> list[dict[str, Any]]:
        """Every payout withdrawal the stand-in holds (address, currency, amount, status, ...)."""
        batches = self.http.get("/payouts").json()["payouts"]
        return [withdrawal for batch in batches for withdrawal in batch["withdrawals"]]

    def set_payout_status(self, withdrawal_id: str, status: str, **options: Any) -> list[dict[str, Any]]:
        """Move a withdrawal to `status`; by default its payout IPN is sent to its callback URL."""
        ipns: list[dict[str, Any]] = self._post(
            f"/payouts/{withdrawal_id}/status", {"status": status, **options}
        )["ipns"]
        return ipns


def firestore(endpoints: dict[str, Any]) -> Any:
    from google.cloud import firestore as fs

    os.environ["FIRESTORE_EMULATOR_HOST"] = endpoints["firestore_emulator_host"]
    return fs.Client(project=endpoints["project"])


def store(endpoints: dict[str, Any]) -> FirestoreStore:
    """TelePay's store on the stack's Firestore emulator."""
    from telepay.adapters.firestore_store import FirestoreStore

    return FirestoreStore(firestore(endpoints))
