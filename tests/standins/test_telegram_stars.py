"""Telegram Stars in the Telegram stand-in: invoices, the pre-checkout answer, payments, refunds,
subscriptions and their renewals as the world's clock moves, driven as TelePay drives Telegram
(python-telegram-bot 22 and raw HTTP) while the control API plays the paying users.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice
from telegram.error import BadRequest

from local.background_server import BackgroundServer
from local.telegram_standin import create_app

TOKEN = "123456789:AAHstars-test-token-abcdefghijklmnopq"
BOT_ID = 123456789
THIRTY_DAYS = 2_592_000
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
STAR_PRICE = json.dumps([{"label": "Access", "amount": 250}])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    app = create_app(TOKEN, "telepay_stars_bot", rate_limits=False)
    server = BackgroundServer(app).start()
    yield server.url
    server.stop()


class Stars:
    def __init__(self, url: str, http: httpx.Client) -> None:
        self.url = url
        self.http = http
        self.pool = ThreadPoolExecutor(max_workers=2)

    def ctl(
        self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 200
    ) -> dict[str, Any]:
        response = self.http.request(method, f"/_control{path}", json=body)
        assert response.status_code == expect, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def user(self, first_name: str = "Alice", start: bool = True) -> int:
        user_id = int(self.ctl("POST", "/users", {"first_name": first_name})["user"]["id"])
        if start:
            self.ctl("POST", f"/users/{user_id}/start")
        return user_id

    def api(self, method: str, **params: Any) -> httpx.Response:
        data = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in params.items()}
        return self.http.post(f"/bot{TOKEN}/{method}", data=data)

    def ok(self, method: str, **params: Any) -> Any:
        response = self.api(method, **params)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def refused(self, method: str, expected: str, code: int = 400, /, **params: Any) -> None:
        response = self.api(method, **params)
        assert response.status_code == code, response.text
        assert response.json() == {"ok": False, "error_code": code, "description": expected}

    def updates(self, timeout: int = 0) -> list[dict[str, Any]]:
        """Reads and confirms every queued update."""
        result: list[dict[str, Any]] = self.ok("getUpdates", timeout=timeout)
        if result:
            self.ok("getUpdates", offset=result[-1]["update_id"] + 1)
        return result

    def invoice(self, user_id: int, amount: int = 250, payload: str = "order-1") -> dict[str, Any]:
        prices = [{"label": "Access", "amount": amount}]
        msg: dict[str, Any] = self.ok(
            "sendInvoice",
            chat_id=user_id,
            title="Premium",
            description="30 days of Premium",
            payload=payload,
            currency="XTR",
            prices=prices,
        )
        return msg

    def link(self, amount: int = 250, payload: str = "sub-1", period: int = THIRTY_DAYS) -> str:
        params: dict[str, Any] = {
            "title": "Premium",
            "description": "Premium, renewed monthly",
            "payload": payload,
            "currency": "XTR",
            "prices": [{"label": "Month", "amount": amount}],
        }
        if period:
            params["subscription_period"] = period
        url: str = self.ok("createInvoiceLink", **params)
        return url

    def start_paying(self, user_id: int, body: dict[str, Any]) -> Future[httpx.Response]:
        """The user presses Pay; the control call waits for the bot's answer, so it runs aside."""

        def call() -> httpx.Response:
            with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as http:
                return http.post(f"/_control/users/{user_id}/pay", json=body)

        return self.pool.submit(call)

    def pre_checkout(self) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for update in self.updates(timeout=2):
                if "pre_checkout_query" in update:
                    query: dict[str, Any] = update["pre_checkout_query"]
                    return query
        raise AssertionError("no pre_checkout_query reached the bot")

    def pay(self, user_id: int, body: dict[str, Any], ok: bool = True, error: str = "") -> dict[str, Any]:
        """A payment with the bot answering its pre-checkout query."""
        future = self.start_paying(user_id, body)
        query = self.pre_checkout()
        params: dict[str, Any] = {"pre_checkout_query_id": query["id"], "ok": ok}
        if error:
            params["error_message"] = error
        assert self.ok("answerPreCheckoutQuery", **params) is True
        response = future.result(timeout=15)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def payment_messages(self) -> list[dict[str, Any]]:
        return [u["message"] for u in self.updates() if "message" in u]

    def balance(self, user_id: int) -> int:
        return int(self.ctl("GET", f"/users/{user_id}/stars")["balance"])


@pytest.fixture
def tg(server_url: str) -> Iterator[Stars]:
    with httpx.Client(base_url=server_url, timeout=30, trust_env=False) as http:
        stars = Stars(server_url, http)
        stars.ctl("POST", "/reset")
        yield stars
        stars.pool.shutdown(wait=True)


def run_bot(url: str, body: Any) -> Any:
    async def main() -> Any:
        async with Bot(TOKEN, base_url=f"{url}/bot") as bot:
            return await body(bot)

    return asyncio.run(main())


# ------------------------------------------------------------------------------------ invoices
def test_an_invoice_message_carries_the_invoice_and_a_pay_button(tg: Stars) -> None:
    alice = tg.user()
    msg = tg.invoice(alice, amount=250)
    assert msg["from"]["id"] == BOT_ID
    assert msg["chat"] == {"id": alice, "first_name": "Alice", "type": "private"}
    assert msg["invoice"] == {
        "title": "Premium",
        "description": "30 days of Premium",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 250,
    }
    assert msg["reply_markup"] == {"inline_keyboard": [[{"text": "Pay ⭐️250", "pay": True}]]}
    assert "text" not in msg
    transcript = tg.ctl("GET", f"/chats/{alice}/transcript")["messages"]
    assert [m["message"]["invoice"]["total_amount"] for m in transcript] == [250]

    # A keyboard of the bot's own is kept when its first button pays.
    keyboard = {
        "inline_keyboard": [
            [{"text": "Pay 250 Stars", "pay": True}],
            [{"text": "Help", "url": "https://t.me/x"}],
        ]
    }
    custom = tg.ok(
        "sendInvoice", chat_id=alice, title="T", description="D", payload="p", currency="XTR",
        prices=[{"label": "A", "amount": 5}], reply_markup=keyboard,
    )  # fmt: skip
    assert custom["reply_markup"] == keyboard


def test_what_telegram_refuses_in_an_invoice_is_refused(tg: Stars) -> None:
    alice = tg.user()
    good: dict[str, Any] = {
        "chat_id": alice,
        "title": "Premium",
        "description": "Premium access",
        "payload": "order-1",
        "currency": "XTR",
        "prices": [{"label": "Access", "amount": 250}],
    }

    def refused(expected: str, code: int = 400, /, **changes: Any) -> None:
        params = {k: v for k, v in {**good, **changes}.items() if v is not None}
        tg.refused("sendInvoice", expected, code, **params)

    refused('Bad Request: parameter "title" is required', title=None)
    refused('Bad Request: parameter "payload" is required', payload="")
    refused('Bad Request: parameter "prices" is required', prices=None)
    refused("Bad Request: can't parse prices JSON object", prices="[{")
    refused("Bad Request: expected an Array of labeled prices", prices={"label": "A", "amount": 1})
    refused("Bad Request: there must be at least one price", prices=[])
    refused("Bad Request: can't parse labeled price: LabeledPrice must be an Object", prices=[5])
    refused("Bad Request: can't parse labeled price: Can't find field \"label\"", prices=[{"amount": 5}])
    refused(
        "Bad Request: can't parse labeled price: LabeledPrice label must be non-empty",
        prices=[{"label": "", "amount": 5}],
    )
    refused(
        'Bad Request: can\'t parse labeled price: Field "amount" must be a valid Number',
        prices=[{"label": "A", "amount": 2.5}],
    )
    refused("Bad Request: total price must be positive", prices=[{"label": "A", "amount": 0}])
    refused("Bad Request: PAYMENT_PROVIDER_INVALID", currency="USD")
    refused("Bad Request: STARS_INVOICE_INVALID", provider_token="284685063:TEST:abc")
    refused(
        "Bad Request: STARS_INVOICE_INVALID",
        prices=[{"label": "A", "amount": 5}, {"label": "B", "amount": 5}],
    )
    refused("Bad Request: TITLE_INVALID", title="x" * 33)
    refused("Bad Request: DESCRIPTION_INVALID", description="x" * 256)
    refused("Bad Request: INVOICE_PAYLOAD_INVALID", payload="é" * 65)  # 130 bytes in 65 characters
    refused("Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID", prices=[{"label": "A", "amount": 100_001}])
    refused(
        "Bad Request: REPLY_MARKUP_BUY_EMPTY",
        reply_markup={"inline_keyboard": [[{"text": "Go", "url": "https://t.me/x"}]]},
    )
    # The usual chat checks.
    stranger = tg.user("Bob", start=False)
    refused("Bad Request: chat not found", chat_id=stranger)
    tg.ctl("POST", f"/users/{alice}/block")
    refused("Forbidden: bot was blocked by the user", 403)
    # At the limits it goes through.
    tg.ctl("POST", f"/users/{alice}/unblock")
    at_limits = {
        "title": "x" * 32,
        "description": "y" * 255,
        "payload": "é" * 64,
        "prices": [{"label": "A", "amount": 100_000}],
    }
    sent = tg.ok("sendInvoice", **{**good, **at_limits})
    assert (sent["invoice"]["title"], sent["invoice"]["total_amount"]) == ("x" * 32, 100_000)
    transcript = tg.ctl("GET", f"/chats/{alice}/transcript")["messages"]
    assert [m["message"]["invoice"]["total_amount"] for m in transcript] == [
        100_000
    ]  # nothing refused was sent


def test_invoice_links_and_their_subscription_rules(tg: Stars) -> None:
    url = tg.link(period=THIRTY_DAYS)
    assert re.fullmatch(r"https://t\.me/\$[A-Za-z0-9_-]{16,}", url)
    assert tg.link(period=0) != url
    tg.link(amount=10_001, period=0)  # a one-off may cost more than a subscription
    base: dict[str, Any] = {
        "title": "Premium",
        "description": "Monthly",
        "payload": "sub",
        "currency": "XTR",
        "prices": [{"label": "Month", "amount": 100}],
    }
    tg.refused(
        "createInvoiceLink", "Bad Request: SUBSCRIPTION_PERIOD_INVALID", **base, subscription_period=86_400
    )
    tg.refused(
        "createInvoiceLink",
        "Bad Request: SUBSCRIPTION_AMOUNT_INVALID",
        **{**base, "prices": [{"label": "Month", "amount": 10_001}]},
        subscription_period=THIRTY_DAYS,
    )
    tg.refused("createInvoiceLink", "Bad Request: PAYMENT_PROVIDER_INVALID", **{**base, "currency": "EUR"})
    links = tg.ctl("GET", "/stars")["invoice_links"]
    assert [(link["link"], link["subscription_period"]) for link in links] == [
        (url, THIRTY_DAYS),
        (links[1]["link"], 0),
        (links[2]["link"], 0),
    ]


# ------------------------------------------------------------------------------------ paying
def test_a_payment_end_to_end_through_python_telegram_bot(tg: Stars) -> None:
    alice = tg.user()

    async def send(bot: Bot) -> Any:
        return await bot.send_invoice(
            alice, "Premium", "30 days", "order-7", "XTR", [LabeledPrice("Access", 250)]
        )

    invoice_msg = run_bot(tg.url, send)
    assert invoice_msg.invoice.total_amount == 250 and invoice_msg.invoice.currency == "XTR"
    assert invoice_msg.reply_markup.inline_keyboard[0][0].pay is True

    future = tg.start_paying(alice, {"message_id": invoice_msg.message_id})

    async def checkout(bot: Bot) -> Any:
        deadline = time.monotonic() + 10
        offset = 0
        while time.monotonic() < deadline:
            for update in await bot.get_updates(offset=offset, timeout=2):
                offset = update.update_id + 1
                if update.pre_checkout_query is not None:
                    query = update.pre_checkout_query
                    assert await bot.answer_pre_checkout_query(query.id, ok=True) is True
                    await bot.get_updates(offset=offset)
                    return query
        raise AssertionError("no pre_checkout_query")

    query = run_bot(tg.url, checkout)
    assert (query.from_user.id, query.currency, query.total_amount, query.invoice_payload) == (
        alice,
        "XTR",
        250,
        "order-7",
    )
    paid = future.result(timeout=15).json()
    assert paid["ok"] is True and paid["result"] == "paid" and len(paid["update_ids"]) == 1
    assert "subscription_expiration_date" not in paid
    charge_id = paid["charge_id"]

    async def after_payment(bot: Bot) -> Any:
        updates = await bot.get_updates()
        await bot.get_updates(offset=updates[-1].update_id + 1)
        balance = await bot.get_my_star_balance()
        transactions = await bot.get_star_transactions()
        return updates, balance, transactions

    updates, balance, transactions = run_bot(tg.url, after_payment)
    [update] = updates
    assert update.update_id == paid["update_ids"][0]
    payment = update.message.successful_payment
    assert update.message.from_user.id == alice and update.message.chat.id == alice
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == ("XTR", 250, "order-7")
    assert payment.telegram_payment_charge_id == charge_id and payment.provider_payment_charge_id == ""
    assert not payment.is_recurring and payment.subscription_expiration_date is None
    assert balance.amount == 250
    [tx] = transactions.transactions
    assert tx.id == charge_id and tx.amount == 250 and tx.receiver is None
    assert tx.source.type == "user" and tx.source.user.id == alice
    assert tx.source.transaction_type == "invoice_payment" and tx.source.invoice_payload == "order-7"
    assert tg.balance(alice) == 100_000 - 250

    # The same invoice message cannot be paid twice.
    response = tg.http.post(f"/_control/users/{alice}/pay", json={"message_id": invoice_msg.message_id})
    assert response.status_code == 400 and "already paid" in response.json()["error"]

    async def refund(bot: Bot) -> Any:
        assert await bot.refund_star_payment(alice, charge_id) is True
        with pytest.raises(BadRequest, match="Charge_already_refunded"):  # as ptb words it
            await bot.refund_star_payment(alice, charge_id)
        updates = await bot.get_updates()
        await bot.get_updates(offset=updates[-1].update_id + 1)
        return updates, await bot.get_my_star_balance(), await bot.get_star_transactions()

    updates, balance, transactions = run_bot(tg.url, refund)
    refunded = updates[-1].message.refunded_payment
    assert updates[-1].message.from_user.id == alice
    assert (refunded.currency, refunded.total_amount, refunded.invoice_payload) == ("XTR", 250, "order-7")
    assert refunded.telegram_payment_charge_id == charge_id
    assert balance.amount == 0
    assert [(t.id, t.amount, t.source is None) for t in transactions.transactions] == [
        (charge_id, 250, False),
        (charge_id, 250, True),
    ]
    assert transactions.transactions[1].receiver.user.id == alice
    assert tg.balance(alice) == 100_000


def test_the_bot_declines_or_answers_too_late(tg: Stars) -> None:
    alice = tg.user()
    msg = tg.invoice(alice)
    declined = tg.pay(alice, {"message_id": msg["message_id"]}, ok=False, error="Sold out, sorry")
    assert declined["result"] == "declined" and declined["error_message"] == "Sold out, sorry"
    assert tg.balance(alice) == 100_000 and tg.ctl("GET", "/stars")["balance"] == 0
    assert tg.payment_messages() == []

    # The answer must come within the pre-checkout timeout (10 s on Telegram; shortened here).
    tg.ctl("POST", "/config", {"pre_checkout_timeout": 0.5})
    timed_out = tg.start_paying(alice, {"message_id": msg["message_id"]})
    query = tg.pre_checkout()
    assert timed_out.result(timeout=10).json() == {
        "ok": True,
        "result": "timeout",
        "pre_checkout_query_id": query["id"],
    }
    tg.refused("answerPreCheckoutQuery", QUERY_TOO_OLD, pre_checkout_query_id=query["id"], ok=True)
    tg.refused("answerPreCheckoutQuery", QUERY_TOO_OLD, pre_checkout_query_id="12345", ok=True)
    tg.refused(
        "answerPreCheckoutQuery",
        'Bad Request: parameter "error_message" is required',
        pre_checkout_query_id=query["id"],
        ok=False,
    )
    assert tg.balance(alice) == 100_000

    # A second answer to the same query is refused too.
    tg.ctl("POST", "/config", {"pre_checkout_timeout": 10})
    future = tg.start_paying(alice, {"message_id": msg["message_id"]})
    query = tg.pre_checkout()
    tg.ok("answerPreCheckoutQuery", pre_checkout_query_id=query["id"], ok=True)
    tg.refused("answerPreCheckoutQuery", QUERY_TOO_OLD, pre_checkout_query_id=query["id"], ok=True)
    assert future.result(timeout=10).json()["result"] == "paid"


def test_a_bot_without_pre_checkout_updates_lets_payments_time_out(tg: Stars) -> None:
    alice = tg.user()
    msg = tg.invoice(alice)
    tg.ok("getUpdates", allowed_updates=["message"])
    tg.ctl("POST", "/config", {"pre_checkout_timeout": 0.3})
    answer = tg.ctl("POST", f"/users/{alice}/pay", {"message_id": msg["message_id"]})
    assert answer["result"] == "timeout"
    assert tg.updates() == []


def test_not_enough_stars_and_unknown_invoices(tg: Stars) -> None:
    alice = tg.user()
    msg = tg.invoice(alice, amount=250)
    assert tg.ctl("POST", f"/users/{alice}/stars", {"balance": 249}) == {
        "ok": True,
        "user_id": alice,
        "balance": 249,
    }
    refused = tg.ctl("POST", f"/users/{alice}/pay", {"message_id": msg["message_id"]}, expect=400)
    assert "not enough Stars" in refused["error"]
    assert tg.updates() == []  # no pre-checkout query for a payment the app would not start
    tg.ctl("POST", f"/users/{alice}/pay", {"message_id": 999}, expect=400)
    tg.ctl("POST", f"/users/{alice}/pay", {"invoice_link": "https://t.me/$nope"}, expect=400)


def test_a_lost_successful_payment_update_still_moves_the_money(tg: Stars) -> None:
    alice = tg.user()
    url = tg.link(period=0, payload="order-9")
    paid = tg.pay(alice, {"invoice_link": url, "lose_update": True})
    assert paid["result"] == "paid" and paid["update_ids"] == []
    assert tg.payment_messages() == []
    assert tg.balance(alice) == 100_000 - 250
    [tx] = tg.ok("getStarTransactions")["transactions"]
    assert tx["id"] == paid["charge_id"] and tx["source"]["invoice_payload"] == "order-9"
    [charge] = tg.ctl("GET", f"/users/{alice}/stars")["charges"]
    assert charge["update_delivered"] is False
    # A link can be paid again, by anyone.
    bob = tg.user("Bob", start=False)
    again = tg.pay(bob, {"invoice_link": url})
    assert again["result"] == "paid" and again["charge_id"] != paid["charge_id"]
    [message] = tg.payment_messages()
    assert message["from"]["id"] == bob and message["successful_payment"]["invoice_payload"] == "order-9"
    assert tg.ok("getMyStarBalance") == {"amount": 500}


# ------------------------------------------------------------------------------------ subscriptions
def _subscribe(tg: Stars, user_id: int, amount: int = 300) -> tuple[str, int]:
    paid = tg.pay(user_id, {"invoice_link": tg.link(amount=amount)})
    [message] = tg.payment_messages()
    payment = message["successful_payment"]
    assert payment["is_recurring"] is True and payment["is_first_recurring"] is True
    assert payment["subscription_expiration_date"] == paid["subscription_expiration_date"]
    assert payment["subscription_expiration_date"] == message["date"] + THIRTY_DAYS
    return str(paid["charge_id"]), int(paid["subscription_expiration_date"])


def test_ninety_days_renew_a_subscription_three_times(tg: Stars) -> None:
    alice = tg.user()
    first, until = _subscribe(tg, alice)
    clock = tg.ctl("POST", "/clock", {"advance": 90 * 86_400})
    renewals = clock["renewals"]
    assert [r["result"] for r in renewals] == ["renewed"] * 3
    assert [r["date"] for r in renewals] == [until, until + THIRTY_DAYS, until + 2 * THIRTY_DAYS]
    messages = tg.payment_messages()
    assert len(messages) == 3
    for n, message in enumerate(messages, start=1):
        payment = message["successful_payment"]
        assert payment["is_recurring"] is True and "is_first_recurring" not in payment
        assert payment["subscription_expiration_date"] == until + n * THIRTY_DAYS
        assert payment["telegram_payment_charge_id"] == renewals[n - 1]["charge_id"] != first
        assert message["date"] == until + (n - 1) * THIRTY_DAYS
    assert tg.balance(alice) == 100_000 - 4 * 300
    assert tg.ok("getMyStarBalance") == {"amount": 1200}
    transactions = tg.ok("getStarTransactions")["transactions"]
    assert [t["source"]["subscription_period"] for t in transactions] == [THIRTY_DAYS] * 4
    assert [t["id"] for t in tg.ok("getStarTransactions", offset=1, limit=2)["transactions"]] == [
        renewals[0]["charge_id"],
        renewals[1]["charge_id"],
    ]
    [sub] = tg.ctl("GET", f"/users/{alice}/stars")["subscriptions"]
    assert sub["charge_id"] == first and sub["active"] is True and sub["until"] == until + 3 * THIRTY_DAYS
    assert tg.ctl("POST", "/stars/renew")["renewals"] == []  # nothing is due yet


def test_a_canceled_subscription_runs_to_the_end_of_its_period(tg: Stars) -> None:
    alice = tg.user()
    first, until = _subscribe(tg, alice)
    answer = tg.ctl("POST", f"/users/{alice}/star_subscriptions/cancel", {"charge_id": first})
    assert answer["subscription"]["canceled"] is True and answer["subscription"]["active"] is True
    tg.ctl("POST", "/clock", {"advance": THIRTY_DAYS - 60})
    assert tg.ctl("GET", f"/users/{alice}/stars")["subscriptions"][0]["active"] is True
    renewals = tg.ctl("POST", "/clock", {"advance": 120})["renewals"]
    assert renewals == [
        {"user_id": alice, "subscription_id": first, "date": until, "result": "ended", "reason": "canceled"}
    ]
    assert tg.payment_messages() == [] and tg.balance(alice) == 100_000 - 300
    assert tg.ctl("POST", "/clock", {"advance": 90 * 86_400})["renewals"] == []  # over for good
    [sub] = tg.ctl("GET", f"/users/{alice}/stars")["subscriptions"]
    assert (sub["active"], sub["ended"], sub["end_reason"]) == (False, True, "canceled")


def test_the_bot_cancels_and_allows_the_user_to_re_enable(tg: Stars) -> None:
    alice, bob = tg.user(), tg.user("Bob")
    first, _ = _subscribe(tg, alice)
    tg.refused(
        "editUserStarSubscription",
        "Bad Request: CHARGE_ID_INVALID",
        user_id=bob,
        telegram_payment_charge_id=first,
        is_canceled=True,
    )
    tg.refused(
        "editUserStarSubscription",
        "Bad Request: CHARGE_ID_INVALID",
        user_id=alice,
        telegram_payment_charge_id="stxnope",
        is_canceled=True,
    )
    tg.refused(
        "editUserStarSubscription",
        "Bad Request: invalid user_id specified",
        user_id=0,
        telegram_payment_charge_id=first,
        is_canceled=True,
    )

    async def cancel(bot: Bot) -> Any:
        return await bot.edit_user_star_subscription(alice, first, is_canceled=True)

    assert run_bot(tg.url, cancel) is True
    sub = tg.ctl("GET", f"/users/{alice}/stars")["subscriptions"][0]
    assert (sub["canceled"], sub["bot_canceled"], sub["active"]) == (True, True, True)
    refused = tg.ctl("POST", f"/users/{alice}/star_subscriptions/reenable", {"charge_id": first}, expect=400)
    assert "bot canceled" in refused["error"]
    # "Pass False to allow the user to re-enable a subscription that was previously canceled by the bot."
    assert (
        tg.ok("editUserStarSubscription", user_id=alice, telegram_payment_charge_id=first, is_canceled=False)
        is True
    )
    sub = tg.ctl("GET", f"/users/{alice}/stars")["subscriptions"][0]
    assert (sub["canceled"], sub["bot_canceled"]) == (True, False)
    tg.ctl("POST", f"/users/{alice}/star_subscriptions/reenable", {"charge_id": first})
    [renewal] = tg.ctl("POST", "/clock", {"advance": THIRTY_DAYS})["renewals"]
    assert renewal["result"] == "renewed"
    # Only the first charge names the subscription for the bot.
    tg.refused(
        "editUserStarSubscription", "Bad Request: CHARGE_ID_INVALID",
        user_id=alice, telegram_payment_charge_id=renewal["charge_id"], is_canceled=True,
    )  # fmt: skip


def test_failed_renewals_end_the_subscription(tg: Stars) -> None:
    alice, bob = tg.user(), tg.user("Bob")
    alice_sub, _ = _subscribe(tg, alice)
    bob_sub, _ = _subscribe(tg, bob)
    tg.ctl("POST", "/stars/renewal_failures", {"user_id": alice})
    tg.ctl("POST", f"/users/{bob}/stars", {"balance": 299})
    renewals = tg.ctl("POST", "/clock", {"advance": THIRTY_DAYS + 5})["renewals"]
    assert sorted((r["subscription_id"], r["result"], r["reason"]) for r in renewals) == sorted(
        [(alice_sub, "ended", "failure"), (bob_sub, "ended", "balance_too_low")]
    )
    assert tg.payment_messages() == []
    assert tg.balance(alice) == 100_000 - 300 and tg.balance(bob) == 299
    assert tg.ctl("GET", "/stars")["renewal_failures"] == []
    tg.ctl("POST", f"/users/{bob}/stars", {"balance": 10_000})
    assert tg.ctl("POST", "/clock", {"advance": THIRTY_DAYS})["renewals"] == []


def test_a_renewal_due_now_runs_on_demand(tg: Stars) -> None:
    alice = tg.user()
    _subscribe(tg, alice)
    # /_control/clock runs what became due; /_control/stars/renew runs what is due at this moment.
    tg.ctl("POST", "/stars/renewal_failures", {"user_id": alice, "charge_id": "stxsomethingelse"})
    [renewal] = tg.ctl("POST", "/clock", {"advance": THIRTY_DAYS})["renewals"]
    assert renewal["result"] == "renewed"  # the failure named another subscription
    assert tg.ctl("POST", "/stars/renew")["renewals"] == []


# ------------------------------------------------------------------------------------ refunds
def test_refund_refusals_and_a_refund_telegram_makes_by_itself(tg: Stars) -> None:
    alice, bob = tg.user(), tg.user("Bob")
    paid = tg.pay(alice, {"message_id": tg.invoice(alice, amount=400)["message_id"]})
    tg.payment_messages()
    charge = paid["charge_id"]
    tg.refused(
        "refundStarPayment",
        "Bad Request: CHARGE_NOT_FOUND",
        user_id=alice,
        telegram_payment_charge_id="stxunknown",
    )
    tg.refused(
        "refundStarPayment", "Bad Request: CHARGE_NOT_FOUND", user_id=bob, telegram_payment_charge_id=charge
    )
    tg.refused(
        "refundStarPayment", 'Bad Request: parameter "telegram_payment_charge_id" is required', user_id=alice
    )
    withdrawn = tg.ctl("POST", "/stars/withdraw", {"amount": 100})
    assert withdrawn["balance"] == 300
    assert withdrawn["transaction"]["receiver"] == {
        "type": "fragment",
        "withdrawal_state": {"type": "pending"},
    }
    tg.refused(
        "refundStarPayment", "Bad Request: BALANCE_TOO_LOW", user_id=alice, telegram_payment_charge_id=charge
    )

    disputed = tg.ctl("POST", "/stars/refund", {"user_id": alice, "charge_id": charge})
    [message] = tg.payment_messages()
    assert disputed["update_ids"] and message["from"]["id"] == alice
    assert message["refunded_payment"] == {
        "currency": "XTR",
        "total_amount": 400,
        "invoice_payload": "order-1",
        "telegram_payment_charge_id": charge,
    }
    assert tg.ok("getMyStarBalance") == {"amount": -100}
    assert tg.balance(alice) == 100_000
    tg.refused(
        "refundStarPayment",
        "Bad Request: CHARGE_ALREADY_REFUNDED",
        user_id=alice,
        telegram_payment_charge_id=charge,
    )
    tg.ctl("POST", "/stars/refund", {"user_id": alice, "charge_id": charge}, expect=400)
    view = tg.ctl("GET", "/stars")
    assert [("source" in t, t["amount"]) for t in view["transactions"]] == [
        (True, 400),
        (False, 100),
        (False, 400),
    ]


def test_reset_forgets_the_stars(tg: Stars) -> None:
    alice = tg.user()
    tg.pay(alice, {"invoice_link": tg.link()})
    tg.ctl("POST", "/reset")
    assert tg.ok("getMyStarBalance") == {"amount": 0}
    assert tg.ok("getStarTransactions") == {"transactions": []}
    assert tg.ctl("GET", "/stars")["invoice_links"] == []


def test_python_telegram_bot_reads_links_subscriptions_and_keyboards(tg: Stars) -> None:
    alice = tg.user()

    async def main(bot: Bot) -> Any:
        url = await bot.create_invoice_link(
            "Premium",
            "Monthly",
            "sub-9",
            "XTR",
            [LabeledPrice("Month", 99)],
            subscription_period=dtm.timedelta(days=30),
        )
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pay 99 ⭐️", pay=True)]])
        msg = await bot.send_invoice(
            alice, "Premium", "Once", "one-1", "XTR", [LabeledPrice("Once", 99)], reply_markup=keyboard
        )
        return url, msg

    url, msg = run_bot(tg.url, main)
    assert url.startswith("https://t.me/$") and msg.reply_markup.inline_keyboard[0][0].text == "Pay 99 ⭐️"
    paid = tg.pay(alice, {"invoice_link": url})

    async def read(bot: Bot) -> Any:
        message = (await bot.get_updates())[-1].message
        assert message is not None
        return message.successful_payment, await bot.get_star_transactions(offset=0, limit=1)

    payment, transactions = run_bot(tg.url, read)
    assert payment.is_recurring and payment.is_first_recurring
    assert int(payment.subscription_expiration_date.timestamp()) == paid["subscription_expiration_date"]
    period = transactions.transactions[0].source.subscription_period
    assert (period.total_seconds() if isinstance(period, dtm.timedelta) else period) == THIRTY_DAYS
