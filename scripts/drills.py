"""Failure drills (`make drills`): a private local stack runs a bounded stream of purchases,
renewals, donations (keypad presses), join requests, expiries (the stack's clock moved a month
on per drill) and a broadcast while one fault is injected; then, checked from the outside
(the stand-ins' records and Firestore), everything must have happened exactly once.

    python -m scripts.drills [--only NAME ...] [--port-base 29000] [--buyers 6]

Each drill prints a row: events sent, confirmed, duplicates, lost, and the time from the fault
healed to the last check passing. The exit status is 1 when a drill does not converge.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, firestore, wait_for
from local.config import StackConfig
from local.dead_letters import dead_letters, summary
from local.demo import answer_all
from local.fixtures import CLOSED_RIGHTS, instant_payouts, setup_channel, tron_address
from local.processes import signal_group
from local.stack import Stack
from shared_schemas.ids import subscription_id
from telepay.owners import texts as owner_texts
from telepay.subscriptions.texts import INVOICE_FAILED
from telepay.subscriptions.texts import STARS_UNAVAILABLE as STARS_FAILED

DRILL_PORT_BASE = 29000
MONTH = (
    32 * 86400
)  # a drill starts a month (and a bit) after the last: last drill's buyers are due for removal
STEP_TIMEOUT = 120.0  # one user-visible step under a fault (Telegram re-delivers, Cloud Tasks retries)
CONVERGE_TIMEOUT = 240.0
IPN_RESEND_EVERY = 3.0  # NowPayments sends an IPN again until it is answered 200
USER_TRIES = 3
EVENT_REDELIVERY_AFTER_SECONDS = 45
PAY_CURRENCY = "usdttrc20"  # settles in the payout currency
HOLD_NOTICE = "🔒 The payout wallet of"
FAILED_WITHDRAWALS = ("FAILED", "REJECTED")


def say(message: str) -> None:
    print(f"[drills] {message}", flush=True)


@dataclass
class Buyer:
    user: int
    orders: list[tuple[str, int]] = field(default_factory=list)  # (order id, drill)
    joined_in: int | None = None  # the drill in which the Join link was opened


@dataclass
class StarPurchase:
    """A Telegram Stars purchase: paid through the Telegram stand-in, settled by the bot."""

    user: int
    order: str
    charge: str
    drill: int


@dataclass
class Donation:
    digits: str
    order: str
    drill: int


@dataclass
class Refund:
    """A settled payment NowPayments refunded: what the subscription was before, and the days it paid."""

    user: int
    order: str
    payment: int
    drill: int
    expires_before: datetime
    days: int


@dataclass
class WalletChange:
    """The owner's new payout wallet, set through `/edit` while the stream ran, and what was seen
    while its hold ran (before the stack's clock moved past it); `third`: a further change the owner
    then cancelled with the notice's button."""

    drill: int
    old: str
    new: str
    third: str
    changed_at: datetime | None = None  # the stack's time of the change (the hold's, when it set one)
    until: datetime | None = None  # the hold's end (None: the change set no hold)
    during_hold: dict[str, str] = field(default_factory=dict)  # entries booked since: their state then
    waiting: set[str] = field(default_factory=set)  # the channel's available entries as the hold ended
    early: list[str] = field(default_factory=list)  # payouts to the new wallet seen before its end
    cancelled: bool = False  # the cancel button answered that payouts go to the new wallet again
    later: list[str] = field(default_factory=list)  # orders paid after the cancel
    problems: list[str] = field(default_factory=list)  # owner steps that never completed


@dataclass
class Row:
    drill: str
    sent: int
    confirmed: int
    duplicates: int
    lost: int
    recover_seconds: float | None
    note: str = ""


@dataclass
class Outcome:
    """What the checks found for one drill (events sent during it) and overall (duplicates)."""

    sent: int = 0
    confirmed: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def count(self, ok: bool, what: str, n: int = 1) -> None:
        self.sent += n
        self.confirmed += n if ok else 0
        if not ok:
            self.missing.append(what)


class World:
    """The running stack as seen from outside, and what the stream did to it."""

    def __init__(self, stack: Stack, buyers_per_drill: int) -> None:
        self.stack = stack
        self.endpoints = stack.config.endpoints()
        self.tg = TelegramControl(self.endpoints)
        self.np = NowPaymentsControl(self.endpoints)
        self.db = firestore(self.endpoints)
        self.token = "Drill" + uuid.uuid4().hex[:8]
        # Instant payouts to the owner's wallet, in USDT on Tron (NowPayments' code of that pair is
        # the currency buyers pay in, so no conversion).
        self.wallet = tron_address(self.token)
        self.wallets = [self.wallet]  # every wallet the owner has had (a drill changes it)
        ids = setup_channel(self.endpoints, self.tg, self.token, **instant_payouts(self.wallet))
        self.owner, self.open, self.closed = ids["owner"], ids["open"], ids["closed"]
        self.buyers_per_drill = buyers_per_drill
        self.buyers: dict[int, Buyer] = {}
        self.donations: dict[int, Donation] = {}
        self.star_purchases: list[StarPurchase] = []
        self.refunds: list[Refund] = []
        self.wallet_changes: list[WalletChange] = []
        self.streamed = threading.Event()  # this drill's stream is over (set by run_drill)
        self.removals: dict[int, list[str]] = {}  # drill → subscriptions due for removal at its start
        self.drill = 0
        self.told_failed = 0  # users told "couldn't create your invoice" (who then tried again)
        self.offset = 0.0
        self.lock = threading.Lock()
        self.runs = itertools.count(1)
        self.converge_timeout = CONVERGE_TIMEOUT

    # -- the stack's clock ------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.stack.config.clock_offset_file.write_text(str(self.offset))

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def next_drill(self) -> None:
        """A month later: the members whose access has ended must be removed during this drill."""
        self.drill += 1
        self.advance(MONTH)
        now = self.now()
        self.removals[self.drill] = [
            d.id
            for d in self.db.collection("subscriptions").stream()
            if (d.to_dict() or {}).get("in_channel") and d.to_dict()["expires_at"] < now
        ]

    # -- scheduled entry points, fired by hand (each run its own scheduled time) ----------------
    def scheduled(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        function, _, suffix = path.partition("/")
        stamp = f"{self.now():%Y-%m-%dT%H:%M:%S}.{next(self.runs):06d}Z"
        try:
            response = httpx.post(
                self.endpoints["functions"][function] + ("/" + suffix if suffix else ""),
                headers={"X-CloudScheduler-ScheduleTime": stamp},
                json=body or {},
                timeout=120,
            )
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def run_job(self, job: str) -> None:
        """A job of the local scheduler, now (as its minute would)."""
        scheduler = f"http://127.0.0.1:{self.stack.config.port_base + 30}"
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{scheduler}/run/{job}", timeout=120)

    # -- the stream ---------------------------------------------------------------------------------
    def messages(self, chat: int, after: int = 0) -> list[dict[str, Any]]:
        return [m for m in self.tg.transcript(chat) if m["message_id"] > after]

    def wait_text(self, chat: int, *containing: str, after: int = 0) -> dict[str, Any]:
        """The first message after `after` containing one of the texts."""

        def probe() -> dict[str, Any] | None:
            return next(
                (
                    m
                    for m in self.messages(chat, after)
                    if any(t in (m.get("text") or "") for t in containing)
                ),
                None,
            )

        return wait_for(f"{containing!r} in chat {chat}", probe, timeout=STEP_TIMEOUT, every=0.3)

    def pay(self, pay_message: dict[str, Any]) -> str:
        """Pay the invoice behind the Pay button; IPNs re-sent until answered 200. The order id."""
        invoice = self.np.invoice_by_url(buttons(pay_message)[0]["url"])
        payment = self.np.pay(invoice["id"], pay_currency=PAY_CURRENCY)
        for status in ("waiting", "finished"):
            self.ipn(payment, status)
        return str(invoice["order_id"])

    def ipn(self, payment: int, status: str) -> None:
        """The payment moves to `status` at NowPayments; its IPN is sent again until answered 200."""
        [ipn] = self.np.steps(payment, [{"status": status}])
        deadline = time.monotonic() + STEP_TIMEOUT
        while ipn["response_status"] != 200 and time.monotonic() < deadline:
            time.sleep(IPN_RESEND_EVERY)
            [ipn] = self.np.replay(ipn["ipn_id"])

    def _try(self, attempt: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """A user who is told the invoice could not be created tries again a little later."""
        for _ in range(USER_TRIES):
            pay_message = attempt()
            if pay_message is not None:
                return pay_message
            with self.lock:
                self.told_failed += 1
            time.sleep(5)
        raise TimeoutError(f"no invoice after {USER_TRIES} tries")

    def buy(self, user: int, tier: int = 0) -> None:
        def attempt() -> dict[str, Any] | None:
            last = max((m["message_id"] for m in self.tg.transcript(user)), default=0)
            self.tg.say(user, f"/start {self.token}")
            offer = self.wait_text(user, "Choose how long", after=last)
            self.tg.press(user, offer["message_id"], buttons(offer)[tier]["callback_data"])
            choice = self.tg.choose_payment(user, after=offer["message_id"], timeout=STEP_TIMEOUT)  # crypto
            answer = self.wait_text(user, "Your invoice is ready", INVOICE_FAILED, after=choice["message_id"])
            return None if INVOICE_FAILED in answer["text"] else answer

        order = self.pay(self._try(attempt))
        with self.lock:
            self.buyers.setdefault(user, Buyer(user)).orders.append((order, self.drill))

    def buy_stars(self, user: int) -> None:
        """The monthly tier as a Star subscription: the bot's invoice link, paid in Telegram (the
        stand-in asks the bot's pre-checkout answer first; a payment the bot did not answer in 10 s
        is not made, and the buyer taps Pay again)."""

        def attempt() -> dict[str, Any] | None:
            last = max((m["message_id"] for m in self.tg.transcript(user)), default=0)
            self.tg.say(user, f"/start {self.token}")
            offer = self.wait_text(user, "Choose how long", after=last)
            self.tg.press(user, offer["message_id"], buttons(offer)[0]["callback_data"])
            choice = self.tg.choose_payment(user, after=offer["message_id"], stars=True, timeout=STEP_TIMEOUT)
            answer = self.wait_text(
                user, "Star subscription is ready", STARS_FAILED, after=choice["message_id"]
            )
            return None if STARS_FAILED in answer["text"] else answer

        link = buttons(self._try(attempt))[0]["url"]
        for _ in range(USER_TRIES):
            paid = self.tg.pay_stars(user, invoice_link=link)
            if paid["result"] == "paid":
                break
            time.sleep(2)
        else:
            raise TimeoutError(f"Stars payment of {user} never went through")
        charge = str(paid["charge_id"])

        def recorded() -> str | None:
            doc = self.db.collection("star_payments").document(charge).get().to_dict()
            return str(doc["order_id"]) if doc else None

        order = wait_for(f"the charge {charge} applied", recorded, timeout=3 * STEP_TIMEOUT, every=0.5)
        with self.lock:
            self.star_purchases.append(StarPurchase(user, order, charge, self.drill))

    def _check_stars(
        self, out: Outcome, orders: dict[str, Any], ledger: dict[str, dict[str, Any]], owner: list[Any]
    ) -> None:
        """Each Stars purchase of this drill settled and booked once (held until Telegram releases
        the Stars: never in a payout before), the buyer's receipt and the owner's notice once."""
        payouts = [doc.to_dict() for doc in self.db.collection("payouts").stream()]
        covered = {e for p in payouts if p.get("state") != "failed" for e in p.get("entry_ids", [])}
        notices = _mentions(owner, "New payment")
        now = self.now()
        for purchase in self.star_purchases:
            # As for crypto: "Payment received" acknowledges (the receipt, or "access delayed" while
            # the bot cannot make join links); the receipt itself ("Receipt:") never comes twice.
            transcript = self.tg.transcript(purchase.user)
            acknowledged, receipts = _count(transcript, "Payment received"), _count(transcript, "Receipt: ")
            if receipts > 1 or notices[purchase.user] > 1:
                out.duplicates.append(
                    f"Stars {purchase.order}: {receipts} receipts, {notices[purchase.user]} owner notices"
                )
            if purchase.drill != self.drill:
                continue
            entry = ledger.get(purchase.order) or {}
            settled = (orders.get(purchase.order) or {}).get("status") == "settled"
            out.count(
                settled and entry.get("gross_currency") == "xtr",
                f"Stars {purchase.order}: settled and booked",
            )
            held = entry.get("held_until")
            out.count(
                held is not None and (purchase.order not in covered or now >= held),
                f"Stars {purchase.order}: held from payouts until Telegram releases it",
            )
            out.count(acknowledged > 0, f"Stars {purchase.order}: the buyer told")
            out.count(notices[purchase.user] > 0, f"Stars {purchase.order}: the owner's notice")

    def donate(self, user: int, digits: str) -> None:
        def attempt() -> dict[str, Any] | None:
            last = max((m["message_id"] for m in self.tg.transcript(user)), default=0)
            self.tg.say(user, f"/start {self.token}_DONATE")
            keypad = self.wait_text(user, "Amount: $0.00", after=last)
            keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
            for typed in itertools.accumulate(digits):
                self.tg.press(user, keypad["message_id"], keys[typed[-1]])
                wait_for(
                    "the keypad edited",
                    lambda t=typed: any(  # type: ignore[misc]
                        m["message_id"] == keypad["message_id"] and f"Amount: ${t}\n" in m["text"]
                        for m in self.tg.transcript(user)
                    ),
                    timeout=STEP_TIMEOUT,
                    every=0.3,
                )
            self.tg.press(user, keypad["message_id"], keys["✅ Confirm"])
            self.tg.choose_payment(user, message_id=keypad["message_id"], timeout=STEP_TIMEOUT)  # crypto

            def outcome() -> dict[str, Any] | None:
                for m in self.messages(user, last):
                    if m["message_id"] == keypad["message_id"] and "invoice is ready" in m["text"]:
                        return m
                    if INVOICE_FAILED in (m.get("text") or ""):
                        return {"failed": True}
                return None

            answer = wait_for(
                "the Pay button in place of the keypad", outcome, timeout=STEP_TIMEOUT, every=0.3
            )
            return None if answer.get("failed") else answer

        order = self.pay(self._try(attempt))
        with self.lock:
            self.donations[user] = Donation(digits, order, self.drill)

    def broadcast(self) -> None:
        wait_for(
            "the broadcast run",
            lambda: self.scheduled("daily_broadcast", {"channel_token": self.token}),
            timeout=STEP_TIMEOUT,
            every=2,
        )

    def stream(self) -> list[str]:
        """The drill's traffic; returns the steps that never completed (the checks count them)."""
        fresh = [self.tg.user(f"Buyer{i}") for i in range(self.buyers_per_drill)]
        donor = self.tg.user("Donor")
        errors: list[str] = []
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(self.buy, user) for user in fresh]
            futures += [pool.submit(self.donate, donor, "12"), pool.submit(self.broadcast)]
            futures += [pool.submit(self.buy_stars, self.tg.user("StarBuyer"))]
            futures += [pool.submit(self._renew_after_first, user) for user in fresh[:2]]
            for future in futures:
                _collect(future, errors)
        return errors

    def _renew_after_first(self, user: int) -> None:
        wait_for(
            "the first purchase",
            lambda: user in self.buyers and self.buyers[user].orders,
            timeout=3 * STEP_TIMEOUT,
            every=0.3,
        )
        self.buy(user)

    def settled_renewal(self, paid_out: bool = False) -> tuple[int, str] | None:
        """A buyer of this drill whose renewal has settled and extended the subscription, and not
        been refunded; `paid_out`: one whose payout NowPayments has taken."""
        refunded = {r.order for r in self.refunds}
        withdrawn = {
            w.get("unique_external_id") for w in self.np.withdrawals() if w["address"] in self.wallets
        }
        for buyer in list(self.buyers.values()):
            if len(buyer.orders) < 2 or buyer.orders[1][1] != self.drill or buyer.orders[1][0] in refunded:
                continue
            order = buyer.orders[1][0]
            doc = self.db.collection("orders").document(order).get().to_dict() or {}
            sub = self.db.collection("subscriptions").document(self.subscription(buyer.user)).get()
            entry = self.db.collection("ledger").document(order).get().to_dict()
            if (
                doc.get("status") == "settled"
                and entry is not None
                and (sub.to_dict() or {}).get("last_order_id") == order
                and (not paid_out or entry.get("payout_id") in withdrawn)
            ):
                return buyer.user, order
        return None

    def subscription(self, user: int) -> str:
        return subscription_id(self.token, user)

    def refund(self, user: int, order: str) -> Refund:
        """NowPayments refunds the order's payment: its `refunded` IPN, sent until answered."""
        doc = self.db.collection("orders").document(order).get().to_dict() or {}
        sub = self.db.collection("subscriptions").document(self.subscription(user)).get().to_dict() or {}
        refund = Refund(user, order, int(doc["payment_id"]), self.drill, sub["expires_at"], int(doc["days"]))
        self.ipn(refund.payment, "refunded")
        with self.lock:
            self.refunds.append(refund)
        return refund

    def orders_of_drill(self) -> list[str]:
        """This drill's orders so far (purchases and the donation)."""
        with self.lock:
            orders = [o for b in self.buyers.values() for o, drill in b.orders if drill == self.drill]
            return orders + [d.order for d in self.donations.values() if d.drill == self.drill]

    def paying_out(self) -> bool:
        """An entry booked in this drill is in a payout (reserved for the wallet of the day)."""
        ledger = self.db.collection("ledger")
        return any(
            (ledger.document(order).get().to_dict() or {}).get("payout_id")
            for order in self.orders_of_drill()
        )

    def change_wallet(
        self, address: str, before_confirming: Callable[[], object] = lambda: None
    ) -> tuple[BotChat, dict[str, Any] | None]:
        """The owner sets a new payout wallet as owners do: `/edit`, the channel, "Payout wallet",
        USDT on Tron, the address, then (after `before_confirming`) "Use this wallet". The chat, and
        the hold notice if one came."""
        chat = BotChat(self.tg, self.owner)
        answer_all(
            chat,
            (
                ("send", "/edit", owner_texts.ASK_CHANNEL_TO_EDIT),
                ("tap", "Night Owls Club", owner_texts.ASK_GROUP),
                ("tap", "Payout wallet", owner_texts.ASK_CURRENCY),
                ("tap", "USDT", owner_texts.ASK_NETWORK),
                ("tap", "Tron (TRC-20)", "wallet address"),
                ("send", address, "Send future payouts"),
            ),
        )
        before_confirming()
        chat.tap(owner_texts.USE_WALLET, f"Your payout wallet is now {address}")
        try:
            return chat, chat.next(f"{HOLD_NOTICE} Night Owls Club changed to {address}.", timeout=30)
        except TimeoutError:
            return chat, None

    def entries(self) -> dict[str, dict[str, Any]]:
        """The channel's ledger entries by id."""
        docs = self.db.collection("ledger").stream()
        return {d.id: e for d in docs if (e := d.to_dict() or {}).get("channel_token") == self.token}

    def hold(self) -> dict[str, Any] | None:
        channel = self.db.collection("channels").document(self.token).get().to_dict() or {}
        hold: dict[str, Any] | None = channel.get("wallet_hold")
        return hold

    # -- the checks (outside view) -------------------------------------------------------------
    def join_who_can(self) -> None:
        """Buyers with a receipt open its Join link (once): the join request must be approved."""
        for buyer in list(self.buyers.values()):
            if buyer.joined_in is not None:
                continue
            receipts = [
                m for m in self.tg.transcript(buyer.user) if "Payment received" in (m.get("text") or "")
            ]
            links = [b["url"] for m in receipts for b in buttons(m) if b.get("url")]
            if links:
                self.tg.join(buyer.user, links[0])
                buyer.joined_in = self.drill

    def _check_payouts(self, out: Outcome, ledger: dict[str, dict[str, Any]]) -> None:
        """Every entry booked in this drill is paid out in exactly one payout, withdrawn once (a
        refunded payment's: see `_check_refunds`)."""
        payouts = [doc.to_dict() for doc in self.db.collection("payouts").stream()]
        live = [p for p in payouts if p.get("state") != "failed"]
        covering = Counter(entry for p in live for entry in p.get("entry_ids", []))
        withdrawals = [w for w in self.np.withdrawals() if w["address"] in self.wallets]
        external = Counter(w.get("unique_external_id") for w in withdrawals)
        out.duplicates += [f"entry {e}: in {n} payouts" for e, n in covering.items() if n > 1]
        out.duplicates += [f"payout {x}: withdrawn {n} times" for x, n in external.items() if n > 1]
        withdrawn = {p["payout_id"] for p in live if p["payout_id"] in external}
        mine = [o for b in self.buyers.values() for o, drill in b.orders if drill == self.drill]
        mine += [d.order for d in self.donations.values() if d.drill == self.drill]
        refunded = {r.order for r in self.refunds}
        for order in mine:
            if order in ledger and order not in refunded:
                paid = any(order in p.get("entry_ids", []) and p["payout_id"] in withdrawn for p in live)
                out.count(paid, f"entry {order}: paid out")
        paid_entries = {e for p in live if p["payout_id"] in withdrawn for e in p.get("entry_ids", [])}
        self._check_refunds(out, ledger, paid_entries, withdrawals)

    def _check_refunds(
        self,
        out: Outcome,
        ledger: dict[str, dict[str, Any]],
        paid_entries: set[str],
        withdrawals: list[dict[str, Any]],
    ) -> None:
        """A refunded payment's money never reaches the owner: its entry is reversed before a payout
        covers it, or offset by a negative entry (`<entry>.refund`) that a later payout nets; so what
        NowPayments paid out to the owner's wallet is what the payments not refunded owe."""
        if not any(r.drill == self.drill for r in self.refunds):
            return
        for r in self.refunds:
            if r.drill != self.drill:
                continue
            entry, offset = ledger.get(r.order) or {}, ledger.get(f"{r.order}.refund")
            if entry.get("state") == "reversed":
                taken_back = r.order not in paid_entries
            else:
                taken_back = (
                    offset is not None
                    and Decimal(offset["settled_net"]) == -Decimal(entry.get("settled_net", "0"))
                    and offset["entry_id"] in paid_entries
                )
            out.count(taken_back, f"refund {r.order}: its entry reversed, or offset and netted in a payout")
        paid_out, owed = _withdrawn(withdrawals), self._owed(ledger)
        out.count(
            paid_out == owed,
            f"refund: paid out {paid_out}, what the payments not refunded owe is {owed}",
        )

    def _owed(self, ledger: dict[str, dict[str, Any]]) -> Decimal:
        """What the channel's payments owe its owner: every entry's net, but a refunded payment's."""
        refunded = {r.order for r in self.refunds}
        return sum(
            (
                Decimal(e["settled_net"])
                for entry_id, e in ledger.items()
                if e.get("channel_token") == self.token
                and e.get("state") != "reversed"
                and e.get("reverses") is None
                and entry_id not in refunded
            ),
            Decimal(0),
        )

    def _check_wallet_change(self, out: Outcome, ledger: dict[str, dict[str, Any]], owner: list[Any]) -> None:
        """A wallet changed through `/edit`: the owner was told, with the cancel button; nothing went
        to the new wallet before the hold ended and the sales meanwhile waited; then the new wallet
        got exactly what waited (and what came after), and the two wallets together exactly what the
        payments owe. A change the owner cancelled: the wallet from before, and nothing to that one."""
        for change in self.wallet_changes:
            notices = [m for m in owner if HOLD_NOTICE in (m.get("text") or "")]
            for address in (change.new, change.third):
                told = [m for m in notices if f"changed to {address}." in m["text"]]
                if len(told) > 1:
                    out.duplicates.append(f"wallet change to {address}: the owner told {len(told)} times")
            if change.drill != self.drill:
                continue
            for problem in change.problems:
                out.count(False, f"wallet change: {problem}")
            told = [m for m in notices if f"changed to {change.new}." in m["text"]]
            cancel = any(owner_texts.CANCEL_WALLET_CHANGE in [b["text"] for b in buttons(m)] for m in told)
            out.count(cancel, "wallet change: the owner's notice of the hold, with its cancel button")
            payouts = [doc.to_dict() or {} for doc in self.db.collection("payouts").stream()]
            live = [p for p in payouts if p.get("state") != "failed"]
            early = list(change.early)
            if change.until is not None:
                early += [
                    f"payout {p['payout_id']} reserved {p['created_at']:%Y-%m-%d %H:%M:%S}, before the hold's end"
                    for p in live
                    if p.get("address") == change.new and p["created_at"] < change.until
                ]
            out.count(
                not early, "wallet change: nothing to the new wallet during the hold: " + "; ".join(early)
            )
            out.count(bool(change.during_hold), "wallet change: sales booked during the hold")
            for entry_id, state in change.during_hold.items():
                out.count(state == "available", f"entry {entry_id}: waited during the hold (it was {state})")
            to_new = [p for p in live if p.get("address") == change.new]
            covered = {e for p in to_new for e in p.get("entry_ids", [])}
            expected = change.waiting | set(change.later)
            out.count(
                covered == expected,
                f"wallet change: the new wallet's payouts cover {sorted(covered)}, "
                f"what waited and came after is {sorted(expected)}",
            )
            withdrawals = self.np.withdrawals()
            new = _withdrawn([w for w in withdrawals if w["address"] == change.new])
            waited = sum((Decimal(ledger[e]["settled_net"]) for e in expected if e in ledger), Decimal(0))
            out.count(new == waited, f"wallet change: {new} withdrawn to the new wallet, {waited} owed there")
            both = _withdrawn([w for w in withdrawals if w["address"] in (change.old, change.new)])
            owed = self._owed(ledger)
            out.count(
                both == owed, f"wallet change: {both} withdrawn to the two wallets, the payments owe {owed}"
            )
            third = [w for w in withdrawals if w["address"] == change.third]
            out.count(not third, f"cancel: {len(third)} withdrawal(s) to the cancelled wallet")
            out.count(change.cancelled, "cancel: the button put the new wallet back")
            channel = self.db.collection("channels").document(self.token).get().to_dict() or {}
            restored = channel.get("payout_wallet") == change.new and not channel.get("wallet_hold")
            out.count(restored, "cancel: the channel pays to the new wallet, with no hold")

    def check(self) -> Outcome:
        """This drill's events confirmed or missing, and every duplicate so far."""
        out = Outcome()
        d = self.drill
        orders = {doc.id: doc.to_dict() for doc in self.db.collection("orders").stream()}
        ledger = {doc.id: doc.to_dict() or {} for doc in self.db.collection("ledger").stream()}
        subs = {doc.id: doc.to_dict() for doc in self.db.collection("subscriptions").stream()}
        now = self.now()
        owner = self.tg.transcript(self.owner)
        sale_notices = _mentions(owner, "New payment")
        refunded = {r.order for r in self.refunds}
        for buyer in self.buyers.values():
            # Each payment is acknowledged ("Payment received": the receipt, or "access delayed" while
            # the bot cannot create join links); the receipt itself ("Receipt:") never comes twice for
            # one order (reconciliation sends one for the subscription's latest order).
            transcript = self.tg.transcript(buyer.user)
            acknowledged, receipts = _count(transcript, "Payment received"), _count(transcript, "Receipt: ")
            notices = sale_notices[buyer.user]
            for what, n in (("receipts", receipts), ("owner notices", notices)):
                if n > len(buyer.orders):
                    out.duplicates.append(f"buyer {buyer.user}: {n} {what} for {len(buyer.orders)} orders")
            for index, (order, drill) in enumerate(buyer.orders):
                if drill == d:
                    status = "refunded" if order in refunded else "settled"
                    settled = (orders.get(order) or {}).get("status") == status and order in ledger
                    out.count(settled, f"order {order}: {status} and booked once")
                    out.count(acknowledged > index, f"order {order}: the buyer told")
                    out.count(notices > index, f"order {order}: the owner's notice")
            if buyer.orders and buyer.orders[-1][1] == d:
                out.count(receipts > 0, f"buyer {buyer.user}: the receipt with the access")
                if receipts and buyer.joined_in is None:  # the link came after this round's joins
                    out.missing.append(f"buyer {buyer.user}: join request not sent yet")
            if buyer.joined_in == d:
                member = self.tg.member_status(self.closed, buyer.user) == "member"
                out.count(member, f"buyer {buyer.user}: join request approved")
        for sub_id in self.removals.get(d, []):
            sub = subs.get(sub_id) or {}
            user = int(sub_id.rsplit("-", 1)[1])
            removed = sub.get("status") == "expired" and self.tg.member_status(self.closed, user) != "member"
            out.count(removed or sub.get("expires_at", now) > now, f"{sub_id}: due removal")
        donation_notices = _mentions(owner, "New donation")
        for donor, donation in self.donations.items():
            doc = orders.get(donation.order) or {}
            thanks = _count(self.tg.transcript(donor), "Thank you for your donation")
            if thanks > 1 or donation_notices[donor] > 1:
                out.duplicates.append(
                    f"donor {donor}: {thanks} thanks, {donation_notices[donor]} owner notices"
                )
            if donation.drill == d:
                out.count(
                    doc.get("status") == "settled" and donation.order in ledger, "donation settled and booked"
                )
                out.count(thanks > 0, "donation: the donor's thanks")
                out.count(donation_notices[donor] > 0, "donation: the owner's notice")
                amount_ok = str(doc.get("price_amount")) in (donation.digits, f"{donation.digits}.00")
                out.count(
                    amount_ok,
                    f"keypad: {doc.get('price_amount')} for {donation.digits}",
                    len(donation.digits) + 1,
                )
        refund_notices = _mentions(owner, "Payment refunded")
        for r in self.refunds:
            told = _count(self.tg.transcript(r.user), "was refunded")
            if told > 1 or refund_notices[r.user] > 1:
                out.duplicates.append(
                    f"refund {r.order}: buyer told {told} times, owner {refund_notices[r.user]}"
                )
            if r.drill == d:
                expires = (subs.get(self.subscription(r.user)) or {}).get("expires_at")
                out.count(
                    expires == r.expires_before - timedelta(days=r.days),
                    f"refund {r.order}: the subscription lost its {r.days} days",
                )
                out.count(told > 0, f"refund {r.order}: the buyer told")
                out.count(refund_notices[r.user] > 0, f"refund {r.order}: the owner told")
        self._check_payouts(out, ledger)
        self._check_stars(out, orders, ledger, owner)
        self._check_wallet_change(out, ledger, owner)
        channel = self.db.collection("channels").document(self.token).get().to_dict() or {}
        posted = (channel.get("broadcast") or {}).get("last_posted_day") == f"{now:%Y-%m-%d}"
        out.count(posted, "today's broadcast")
        return out


def _mentions(messages: list[dict[str, Any]], containing: str) -> Counter[int]:
    """Owner notices containing the text, by the user id they name ("… (id 123) …")."""
    found: Counter[int] = Counter()
    for message in messages:
        text = message.get("text") or ""
        if containing in text and (match := re.search(r"\(id (\d+)\)", text)):
            found[int(match.group(1))] += 1
    return found


def _withdrawn(withdrawals: list[dict[str, Any]]) -> Decimal:
    """What these withdrawals paid (or are paying): all but the failed and rejected ones."""
    return sum(
        (Decimal(str(w["amount"])) for w in withdrawals if w["status"] not in FAILED_WITHDRAWALS),
        Decimal(0),
    )


def _count(messages: list[dict[str, Any]], containing: str) -> int:
    return sum(containing in (m.get("text") or "") for m in messages)


def _collect(future: Future[Any], errors: list[str]) -> None:
    try:
        future.result()
    except Exception as error:  # a step that never completed: counted by the checks as lost
        errors.append(f"{type(error).__name__}: {error}")


# -- the faults -----------------------------------------------------------------------------------
# Each runs beside the stream and returns once the fault is healed.


def no_fault(world: World) -> str:
    return "no fault (the stream alone)"


def pubsub_down(world: World) -> str:
    # Stopped as the stream starts: the emulator keeps nothing across a restart (production Pub/Sub
    # never loses a message it accepted), so it is stopped while it holds no undelivered message.
    world.stack.stop_service("pubsub-emulator")
    time.sleep(15)
    world.stack.start_service("pubsub-emulator")
    time.sleep(4)
    emulator = world.stack.service("pubsub-emulator").pid
    signal_group(emulator, signal.SIGSTOP)  # then unreachable mid-flow, keeping what it holds
    time.sleep(10)
    signal_group(emulator, signal.SIGCONT)
    return "Pub/Sub emulator stopped 15 s and started again (topics re-created), then frozen 10 s mid-flow"


def firestore_down(world: World) -> str:
    emulator = world.stack.service("firestore-emulator").pid
    time.sleep(3)
    signal_group(emulator, signal.SIGSTOP)  # unreachable mid-flow: every call hangs
    time.sleep(12)
    signal_group(emulator, signal.SIGCONT)
    time.sleep(5)
    export = world.stack.config.state_dir / "firestore-export"
    shutil.rmtree(export, ignore_errors=True)
    export.mkdir(parents=True)
    project = world.endpoints["project"]
    httpx.post(
        f"http://{world.endpoints['firestore_emulator_host']}/emulator/v1/projects/{project}:export",
        json={"database": f"projects/{project}/databases/(default)", "export_directory": str(export)},
        timeout=60,
    ).raise_for_status()
    world.stack.stop_service("firestore-emulator", crash=True)
    [metadata] = export.glob("*/*.overall_export_metadata")
    world.stack.start_service("firestore-emulator", (f"--import-data={metadata}",))
    return "Firestore emulator frozen 12 s (SIGSTOP), then exported, killed and restarted on its data"


def nowpayments_faults(world: World) -> str:
    phases: tuple[dict[str, Any], ...] = (
        {"mode": "error", "status": 500, "count": 1000},
        {"mode": "slow", "seconds": 4, "count": 1000},  # past the functions' 2 s timeout
        {"mode": "error", "status": 429, "count": 1000},
    )
    time.sleep(2)
    for rule in phases:
        world.np.fail(**rule)
        time.sleep(6)
        world.np.http.delete("/failures")
    return "NowPayments answered 500s, then timed out, then 429s (6 s each), then recovered"


def telegram_faults(world: World) -> str:
    time.sleep(2)
    world.tg._post("/failures", {"method": "*", "status": 502, "count": 40})
    time.sleep(6)
    world.tg.http.delete("/failures")
    world.tg._post("/failures", {"method": "*", "status": 429, "retry_after": 2, "count": 40})
    time.sleep(6)
    world.tg.http.delete("/failures")
    bot = int(world.endpoints["telegram_bot_token"].split(":")[0])
    world.tg.http.delete(f"/chats/{world.closed}/admins/{bot}").raise_for_status()
    time.sleep(15)
    world.tg.make_bot_admin(world.closed, CLOSED_RIGHTS)
    return "Telegram 502 storm, 429 storm, the bot's rights in the closed channel lost 15 s"


def kill_functions(world: World) -> str:
    killed = []
    # NowPayments slow (1.5 s, within the timeout): an IPN is inside ipn_handler when it is killed.
    world.np.fail(mode="slow", seconds=1.5, count=1000, path="/v1/payment/")
    for name in ("ipn_handler", "telegram_webhook", "notify", "create_invoice"):
        time.sleep(3)
        world.stack.stop_service(name, crash=True)
        killed.append(name)
        time.sleep(1)
        world.stack.start_service(name)
    world.np.http.delete("/failures")
    return "SIGKILL mid-request, then restarted: " + ", ".join(killed)


def tasks_restart(world: World) -> str:
    stats_url = f"{world.endpoints['tasks_emulator']}/_control/stats"

    def busy() -> int:
        queues = httpx.get(stats_url, timeout=10).json()["queues"].values()
        return sum(q["pending"] + q["in_flight"] for q in queues)

    time.sleep(2)
    waiting = wait_for("tasks pending or in flight", busy, timeout=60, every=0.05)
    world.stack.stop_service("tasks-standin", crash=True)
    time.sleep(3)
    world.stack.start_service("tasks-standin")
    return f"Cloud Tasks stand-in killed with {waiting} task(s) pending or in flight, restarted"


def refund_after_settlement(world: World) -> str:
    """NowPayments refunds settled renewals (each its `refunded` IPN): one as soon as it settled, one
    once NowPayments has paid it out to the owner. After each, a buyer buys the quarterly tier: while
    an owner owes a refund back nothing is paid out until the sales after it cover it, so its payout
    nets the refund."""
    taken_back = []
    for paid_out in (False, True)[: min(world.buyers_per_drill, 2)]:  # two of the buyers renew
        user, order = wait_for(
            "a renewal paid out" if paid_out else "a settled renewal",
            lambda p=paid_out: world.settled_renewal(p),  # type: ignore[misc]
            timeout=3 * STEP_TIMEOUT,
            every=0.5,
        )
        world.refund(user, order)
        ledger = world.db.collection("ledger")
        entry = ledger.document(order).get().to_dict() or {}
        paid = "after its payout" if entry.get("payout_id") else "before any payout"
        how = (
            "reversed"
            if entry.get("state") == "reversed"
            else "offset by a negative entry"
            if ledger.document(f"{order}.refund").get().exists
            else "not taken back"
        )
        taken_back.append(f"one {paid} (its ledger entry {how})")
        world.buy(world.tg.user("Quarterly"), tier=1)
    return f"settled renewals refunded at NowPayments, {' and '.join(taken_back)}, each followed by a quarterly purchase"


def wallet_change(world: World) -> str:
    """As the stream starts the owner goes through `/edit` to a new payout wallet, and confirms it
    once the drill's payouts flow (two buyers buy after it): the hold notice comes with its cancel
    button; once the stream is over and booked, and the every-minute run has had its go, nothing has
    gone to the new wallet and the sales since the change wait. Then the stack's clock moves past the
    hold (and today's broadcast runs on the new day): the balance goes to the new wallet. Last, the
    owner changes to a third wallet and cancels that with the notice's button, and a buyer buys:
    paid to the new wallet at once."""
    change = WalletChange(
        world.drill,
        old=world.wallet,
        new=tron_address(f"{world.token} second wallet"),
        third=tron_address(f"{world.token} third wallet"),
    )
    world.wallets.append(change.new)
    world.wallet_changes.append(change)

    def once_paying_out() -> None:  # the owner confirms the new wallet as payouts of the drill go
        wait_for("a payout of this drill", world.paying_out, timeout=3 * STEP_TIMEOUT, every=0.3)

    try:
        _, notice = world.change_wallet(change.new, once_paying_out)
    except (TimeoutError, AssertionError) as error:
        change.problems.append(f"the owner's /edit: {error}")
        return "the owner's /edit of the payout wallet did not complete"
    world.wallet = change.new
    hold = world.hold()
    change.changed_at = hold["changed_at"] if hold else world.now()
    change.until = hold["until"] if hold else None
    if notice is None:
        change.problems.append("no hold notice")
    for tier in (0, 1):  # sales during the hold, whether or not the stream is still selling
        world.buy(world.tg.user("DuringHold"), tier=tier)
    _while_held(world, change)
    if change.until is not None:
        world.advance((change.until - world.now()).total_seconds() + 60)
    world.broadcast()  # the stack's day moved on: its broadcast, as the scheduler would post it
    _cancel_a_change(world, change)
    waited = sum(state == "available" for state in change.during_hold.values())
    return (
        f"the owner changed the payout wallet with /edit mid-stream; {waited} of the "
        f"{len(change.during_hold)} sales since the change waited ({len(change.waiting)} entries in all)"
        + (", then the clock moved past the hold" if change.until else ", but no hold was set")
        + "; a change to a third wallet "
        + ("cancelled with the notice's button" if change.cancelled else "NOT cancelled")
    )


def _while_held(world: World, change: WalletChange) -> None:
    """The stream over and booked, the every-minute run and the settled events' planners done: what
    the hold has kept (the sales since the change, their state; the available balance; anything
    withdrawn to the new wallet already)."""
    world.streamed.wait(3 * STEP_TIMEOUT)
    wait_for(
        "this drill's orders booked",
        lambda: all(world.db.collection("ledger").document(o).get().exists for o in world.orders_of_drill()),
        timeout=STEP_TIMEOUT,
        every=0.5,
    )
    world.run_job("payouts-every-minute")
    time.sleep(5)
    entries = world.entries()
    assert change.changed_at is not None
    change.during_hold = {i: e["state"] for i, e in entries.items() if e["booked_at"] >= change.changed_at}
    change.waiting = {i for i, e in entries.items() if e["state"] == "available"}
    change.early = [
        f"withdrawal {w['id']} of {w['amount']}" for w in world.np.withdrawals() if w["address"] == change.new
    ]


def _cancel_a_change(world: World, change: WalletChange) -> None:
    """Once what waited is reserved for the new wallet, the owner changes to a third wallet and taps
    the notice's cancel button; then a buyer buys."""

    def reserved() -> bool:
        world.run_job("payouts-every-minute")
        entries = world.entries()
        return all(entries.get(e, {}).get("state") != "available" for e in change.waiting)

    with contextlib.suppress(TimeoutError):  # the checks say what did not go
        wait_for("the balance that waited reserved", reserved, timeout=STEP_TIMEOUT, every=2)
    try:
        chat, notice = world.change_wallet(change.third)
        if notice is None:
            change.problems.append("no hold notice for the third wallet (nothing to cancel)")
        else:
            chat.tap(owner_texts.CANCEL_WALLET_CHANGE, f"go to {change.new} again")
            change.cancelled = True
    except (TimeoutError, AssertionError) as error:
        change.problems.append(f"the owner's change to a third wallet and its cancel: {error}")
    buyer = world.tg.user("AfterCancel")
    world.buy(buyer)
    change.later = [world.buyers[buyer].orders[-1][0]]


DRILLS: dict[str, Callable[[World], str]] = {
    "baseline": no_fault,
    "pubsub-restart": pubsub_down,
    "firestore-outage": firestore_down,
    "nowpayments-faults": nowpayments_faults,
    "telegram-faults": telegram_faults,
    "function-kill": kill_functions,
    "tasks-restart": tasks_restart,
    "refund-after-settlement": refund_after_settlement,
    "wallet-change": wallet_change,
}


def run_drill(world: World, name: str, fault: Callable[[World], str]) -> Row:
    world.next_drill()
    duplicates_before = set(world.check().duplicates)
    told_before = world.told_failed
    world.streamed.clear()
    with ThreadPoolExecutor(1) as pool:
        healing = pool.submit(fault, world)
        healed_at: list[float] = []
        healing.add_done_callback(lambda _: healed_at.append(time.monotonic()))
        try:
            errors = world.stream()
        finally:
            world.streamed.set()
        note = healing.result()
    healed = healed_at[0]
    # Converge: joins for the receipts that came, the sweep and reconciliation fired by hand
    # (the local scheduler fires them too, on its own minute).
    deadline = healed + world.converge_timeout
    problems: list[str] = ["not checked"]
    places: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline:
        world.join_who_can()
        world.scheduled("expire_subscriptions")
        world.run_job("payouts-every-minute")
        reconciled = world.scheduled("expire_subscriptions/reconcile")
        outcome = world.check()
        places = dead_letters(world.endpoints)
        problems = list(outcome.missing)
        late = (reconciled or {}).get("counts", {}).get("paid_but_not_granted_over_10_min")
        if late is None:
            problems.append("reconciliation did not run")
        elif late:
            problems.append(f"reconciliation: {late} paid but not granted")
        if any(places.values()):
            problems.append("dead letters: " + summary(places))
        if not problems:
            break
        time.sleep(3)
    recover = time.monotonic() - healed if not problems else None
    outcome = world.check()
    duplicates = [line for line in outcome.duplicates if line not in duplicates_before]
    told = world.told_failed - told_before
    if told:
        note += f"; {told} time(s) a user was told the invoice could not be created, and tried again"
    sent = outcome.sent + len(errors)
    row = Row(name, sent, outcome.confirmed, len(duplicates), sent - outcome.confirmed, recover, note)
    for line in errors + problems + duplicates:
        say(f"  {name}: {line}")
    return row


def table(rows: list[Row]) -> str:
    width = max(len(name) for name in DRILLS)
    header = (
        f"{'drill':<{width}} {'sent':>5} {'confirmed':>9} {'duplicates':>10} {'lost':>5} {'recovered in':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        recovered = f"{r.recover_seconds:.1f} s" if r.recover_seconds is not None else "NOT"
        lines.append(
            f"{r.drill:<{width}} {r.sent:>5} {r.confirmed:>9} {r.duplicates:>10} {r.lost:>5} {recovered:>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.drills", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=list(DRILLS), help="run only these drills")
    parser.add_argument("--port-base", type=int, default=DRILL_PORT_BASE)
    parser.add_argument("--buyers", type=int, default=6, help="new buyers per drill (two of them renew)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's state folder (logs)")
    parser.add_argument("--converge-timeout", type=float, default=CONVERGE_TIMEOUT, help="seconds per drill")
    args = parser.parse_args(argv)
    started = time.monotonic()
    state = Path(tempfile.mkdtemp(prefix="telepay-drills-"))
    # Reconciliation publishes again an event notify has not handled after 45 s (15 minutes in
    # production), so that a drill converges within its budget.
    config = StackConfig(
        port_base=args.port_base,
        state_dir=state,
        telegram_rate_limits=True,
        extra_env={"EVENT_REDELIVERY_AFTER_SECONDS": str(EVENT_REDELIVERY_AFTER_SECONDS)},
    )
    stack = Stack(config)
    rows: list[Row] = []
    try:
        stack.up()
        world = World(stack, args.buyers)
        world.converge_timeout = args.converge_timeout
        for name in args.only or list(DRILLS):
            say(f"{name}: running")
            row = run_drill(world, name, DRILLS[name])
            say(
                f"{name}: {row.note}; recovered in "
                + (f"{row.recover_seconds:.1f} s" if row.recover_seconds is not None else "NOT")
            )
            rows.append(row)
    finally:
        stack.down()
        if args.keep:
            say(f"state and logs kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print(table(rows))
    total = time.monotonic() - started
    failed = [r.drill for r in rows if r.recover_seconds is None or r.duplicates or r.lost]
    say(
        f"{len(rows)} drills in {total:.0f} s; "
        + (f"FAILED: {', '.join(failed)}" if failed else "all passed")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
