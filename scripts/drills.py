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
import itertools
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from local.clients import NowPaymentsControl, TelegramControl, buttons, firestore, wait_for
from local.config import StackConfig
from local.dead_letters import dead_letters, summary
from local.demo import CLOSED_RIGHTS, setup_channel
from local.processes import signal_group
from local.stack import Stack

DRILL_PORT_BASE = 29000
MONTH = (
    32 * 86400
)  # a drill starts a month (and a bit) after the last: last drill's buyers are due for removal
STEP_TIMEOUT = 120.0  # one user-visible step under a fault (Telegram re-delivers, Cloud Tasks retries)
CONVERGE_TIMEOUT = 240.0
IPN_RESEND_EVERY = 3.0  # NowPayments sends an IPN again until it is answered 200


def say(message: str) -> None:
    print(f"[drills] {message}", flush=True)


@dataclass
class Buyer:
    user: int
    orders: list[str] = field(default_factory=list)
    joined: bool = False


@dataclass
class Row:
    drill: str
    sent: int
    confirmed: int
    duplicates: int
    lost: int
    recover_seconds: float | None
    note: str = ""


class World:
    """The running stack as seen from outside, and what the stream did to it."""

    def __init__(self, stack: Stack, buyers_per_drill: int) -> None:
        self.stack = stack
        self.endpoints = stack.config.endpoints()
        self.tg = TelegramControl(self.endpoints)
        self.np = NowPaymentsControl(self.endpoints)
        self.db = firestore(self.endpoints)
        self.token = "Drill" + uuid.uuid4().hex[:8]
        ids = setup_channel(self.endpoints, self.tg, self.token)
        self.owner, self.open, self.closed = ids["owner"], ids["open"], ids["closed"]
        self.buyers_per_drill = buyers_per_drill
        self.buyers: dict[int, Buyer] = {}
        self.donations: dict[int, tuple[str, str]] = {}  # donor → (digits typed, order id)
        self.offset = 0.0
        self.lock = threading.Lock()
        self.runs = itertools.count(1)

    # -- the stack's clock ------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.stack.config.clock_offset_file.write_text(str(self.offset))

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

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

    # -- the stream ---------------------------------------------------------------------------------
    def wait_text(self, chat: int, containing: str, after: int = 0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            for message in self.tg.transcript(chat):
                if message["message_id"] > after and containing in (message.get("text") or ""):
                    return message
            return None

        return wait_for(f"{containing!r} in chat {chat}", probe, timeout=STEP_TIMEOUT, every=0.3)

    def pay(self, pay_message: dict[str, Any]) -> str:
        """Pay the invoice behind the Pay button; IPNs re-sent until answered 200. The order id."""
        invoice = self.np.invoice_by_url(buttons(pay_message)[0]["url"])
        payment = self.np.pay(invoice["id"])
        for status in ("waiting", "finished"):
            [ipn] = self.np.steps(payment, [{"status": status}])
            deadline = time.monotonic() + STEP_TIMEOUT
            while ipn["response_status"] != 200 and time.monotonic() < deadline:
                time.sleep(IPN_RESEND_EVERY)
                [ipn] = self.np.replay(ipn["id"])
        return str(invoice["order_id"])

    def buy(self, user: int) -> None:
        last = max((m["message_id"] for m in self.tg.transcript(user)), default=0)
        self.tg.say(user, f"/start {self.token}")
        offer = self.wait_text(user, "Choose how long", after=last)
        self.tg.press(user, offer["message_id"], buttons(offer)[0]["callback_data"])
        order = self.pay(self.wait_text(user, "Your invoice is ready", after=offer["message_id"]))
        with self.lock:
            self.buyers.setdefault(user, Buyer(user)).orders.append(order)

    def donate(self, user: int, digits: str) -> None:
        self.tg.say(user, f"/start {self.token}_DONATE")
        keypad = self.wait_text(user, "Amount: $0.00 USD")
        keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
        for typed in itertools.accumulate(digits):
            self.tg.press(user, keypad["message_id"], keys[typed[-1]])
            wait_for(
                "the keypad edited",
                lambda t=typed: any(  # type: ignore[misc]
                    m["message_id"] == keypad["message_id"] and f"Amount: ${t} USD" in m["text"]
                    for m in self.tg.transcript(user)
                ),
                timeout=STEP_TIMEOUT,
                every=0.3,
            )
        self.tg.press(user, keypad["message_id"], keys["✅ Confirm"])
        pay_button = wait_for(
            "the Pay button in place of the keypad",
            lambda: next(
                (
                    m
                    for m in self.tg.transcript(user)
                    if m["message_id"] == keypad["message_id"] and "invoice is ready" in m["text"]
                ),
                None,
            ),
            timeout=STEP_TIMEOUT,
            every=0.3,
        )
        order = self.pay(pay_button)
        with self.lock:
            self.donations[user] = (digits, order)

    def broadcast(self) -> None:
        wait_for(
            "the broadcast run", lambda: self.scheduled("daily_broadcast", {"channel_token": self.token})
        )

    def stream(self) -> tuple[int, list[str]]:
        """The drill's traffic; returns the number of events sent and the steps that failed."""
        fresh = [self.tg.user(f"Buyer{i}") for i in range(self.buyers_per_drill)]
        donor = self.tg.user("Donor")
        renewals = fresh[:2]
        errors: list[str] = []
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(self.buy, user) for user in fresh]
            futures += [pool.submit(self.donate, donor, "12"), pool.submit(self.broadcast)]
            futures += [pool.submit(self._renew_after_first, user) for user in renewals]
            for future in futures:
                _collect(future, errors)
        # events: each purchase and renewal (its `finished` IPN), the donation's 3 presses and its IPN,
        # the broadcast; the join requests and removals are counted by the checks.
        return len(fresh) + len(renewals) + 4 + 1, errors

    def _renew_after_first(self, user: int) -> None:
        wait_for(
            "the first purchase",
            lambda: user in self.buyers and self.buyers[user].orders,
            timeout=3 * STEP_TIMEOUT,
            every=0.3,
        )
        self.buy(user)

    # -- the checks (outside view) -------------------------------------------------------------
    def join_who_can(self) -> None:
        """Buyers with a receipt open its Join link (once): the join request must be approved."""
        for buyer in list(self.buyers.values()):
            if buyer.joined:
                continue
            receipts = [
                m for m in self.tg.transcript(buyer.user) if "Payment received" in (m.get("text") or "")
            ]
            links = [b["url"] for m in receipts for b in buttons(m) if b.get("url")]
            if links:
                self.tg.join(buyer.user, links[0])
                buyer.joined = True

    def check(self) -> tuple[int, int, list[str]]:
        """(confirmed, duplicates, what is still missing) over everything the drills did so far."""
        confirmed = duplicates = 0
        missing: list[str] = []
        orders = {d.id: d.to_dict() for d in self.db.collection("orders").stream()}
        ledger = {d.id for d in self.db.collection("ledger").stream()}
        subs = {d.id: d.to_dict() for d in self.db.collection("subscriptions").stream()}
        now = self.now()
        for buyer in self.buyers.values():
            settled = [o for o in buyer.orders if (orders.get(o) or {}).get("status") == "settled"]
            booked = [o for o in settled if o in ledger]
            receipts = _count(self.tg.transcript(buyer.user), "Payment received")
            confirmed += min(len(booked), receipts)
            duplicates += max(0, receipts - len(buyer.orders))
            if len(booked) < len(buyer.orders) or receipts < len(buyer.orders):
                missing.append(f"buyer {buyer.user}: {len(booked)} booked, {receipts} receipts")
            sub = subs.get(f"{self.token}-{buyer.user}") or {}
            member = self.tg.member_status(self.closed, buyer.user) == "member"
            active = sub.get("status") == "active" and sub["expires_at"] > now
            if active and buyer.joined:
                confirmed += member
                if not member:
                    missing.append(f"buyer {buyer.user}: not approved")
            if sub and not active and sub["expires_at"] < now:
                confirmed += not member
                if member or sub.get("status") != "expired":
                    missing.append(f"buyer {buyer.user}: due removal not done")
        owner = self.tg.transcript(self.owner)
        sub_orders = sum(len(b.orders) for b in self.buyers.values())
        for text, expected in (("New payment", sub_orders), ("New donation", len(self.donations))):
            notices = _count(owner, text)
            duplicates += max(0, notices - expected)
            if notices < expected:
                missing.append(f"owner: {notices} of {expected} {text!r} notices")
        for donor, (digits, order) in self.donations.items():
            doc = orders.get(order) or {}
            thanks = _count(self.tg.transcript(donor), "Thank you for your donation")
            duplicates += max(0, thanks - 1)
            if doc.get("status") == "settled" and order in ledger and thanks:
                confirmed += 1
            else:
                missing.append(f"donation {order}: {doc.get('status')}, thanks {thanks}")
            if str(doc.get("price_amount")) in (digits, f"{digits}.00", f"{digits}.0"):
                confirmed += len(digits) + 1  # every press counted, and the confirmation
            else:
                missing.append(f"donation {order}: amount {doc.get('price_amount')} for {digits}")
        channel = self.db.collection("channels").document(self.token).get().to_dict() or {}
        if (channel.get("broadcast") or {}).get("last_posted_day") == f"{now:%Y-%m-%d}":
            confirmed += 1
        else:
            missing.append("today's broadcast not posted")
        return confirmed, duplicates, missing


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
    time.sleep(3)
    world.stack.stop_service("pubsub-emulator")
    time.sleep(15)
    world.stack.start_service("pubsub-emulator")
    return "Pub/Sub emulator stopped 15 s, started again (topics re-created)"


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


DRILLS: dict[str, Callable[[World], str]] = {
    "baseline": no_fault,
    "pubsub-restart": pubsub_down,
    "firestore-outage": firestore_down,
    "nowpayments-faults": nowpayments_faults,
    "telegram-faults": telegram_faults,
    "function-kill": kill_functions,
    "tasks-restart": tasks_restart,
}


def run_drill(world: World, name: str, fault: Callable[[World], str]) -> Row:
    world.advance(MONTH)
    removals_due = _removals_due(world)
    joined_before = sum(b.joined for b in world.buyers.values())
    confirmed_before, duplicates_before, _ = world.check()
    with ThreadPoolExecutor(1) as pool:
        healing = pool.submit(fault, world)
        sent, errors = world.stream()
        note = healing.result()
    healed = time.monotonic()
    # Converge: joins for the receipts that came, the sweep and reconciliation fired by hand
    # (the local scheduler fires them too, on its own minute).
    deadline = healed + CONVERGE_TIMEOUT
    missing: list[str] = ["not checked"]
    places: dict[str, list[dict[str, Any]]] = {}
    reconciled: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        world.join_who_can()
        world.scheduled("expire_subscriptions")
        reconciled = world.scheduled("expire_subscriptions/reconcile")
        confirmed, duplicates, missing = world.check()
        places = dead_letters(world.endpoints)
        late = (reconciled or {}).get("counts", {}).get("paid_but_not_granted_over_10_min")
        if late is None:
            missing.append("reconciliation did not run")
        elif late:
            missing.append(f"reconciliation: {late} paid but not granted")
        if any(places.values()):
            missing.append("dead letters: " + summary(places))
        if not missing:
            break
        time.sleep(3)
    recover = time.monotonic() - healed if not missing else None
    confirmed, duplicates, _ = world.check()
    events = sent + removals_due + sum(b.joined for b in world.buyers.values()) - joined_before
    new_confirmed = confirmed - confirmed_before
    row = Row(
        name, events, new_confirmed, duplicates - duplicates_before, events - new_confirmed, recover, note
    )
    for line in errors + missing:
        say(f"  {name}: {line}")
    if places and any(places.values()):
        say(f"  {name}: dead letters: {summary(places)}")
    return row


def _removals_due(world: World) -> int:
    now = world.now()
    return sum(
        1
        for d in world.db.collection("subscriptions").stream()
        if (d.to_dict() or {}).get("in_channel") and d.to_dict()["expires_at"] < now
    )


def table(rows: list[Row]) -> str:
    header = f"{'drill':<20} {'sent':>5} {'confirmed':>9} {'duplicates':>10} {'lost':>5} {'recovered in':>12}"
    lines = [header, "-" * len(header)]
    for r in rows:
        recovered = f"{r.recover_seconds:.1f} s" if r.recover_seconds is not None else "NOT"
        lines.append(
            f"{r.drill:<20} {r.sent:>5} {r.confirmed:>9} {r.duplicates:>10} {r.lost:>5} {recovered:>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.drills", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=list(DRILLS), help="run only these drills")
    parser.add_argument("--port-base", type=int, default=DRILL_PORT_BASE)
    parser.add_argument("--buyers", type=int, default=6, help="new buyers per drill (two of them renew)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's state folder (logs)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    state = Path(tempfile.mkdtemp(prefix="telepay-drills-"))
    stack = Stack(StackConfig(port_base=args.port_base, state_dir=state, telegram_rate_limits=True))
    rows: list[Row] = []
    try:
        stack.up()
        world = World(stack, args.buyers)
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
