"""A launch-day burst of payments, and what a sale costs, on a private stack whose functions run as
Cloud Run runs them (functions-framework's gunicorn, one process per instance, REQUEST_CONCURRENCY
threads) and are metered (local.metered_function):

1. N buyers each buy the channel's first tier as a buyer does: `/start <token>`, the tier, "Pay
   with crypto", the Pay button's invoice, NowPayments' `waiting` and `confirming` IPNs;
2. the burst: NowPayments' API says `finished` for every payment, then the N signed `finished` IPNs
   are sent at once by REQUEST_CONCURRENCY senders (what one instance serves at once) to one
   ipn_handler instance, a tenth of them twice at once (as NowPayments may), each answer timed as
   NowPayments would time it; a 503 is sent again, as NowPayments does. The bench sends them
   itself, signed as NowPayments signs them, so the stand-in's own delivery loop is not measured;
   ipn_handler still re-reads each payment from the stand-in's API;
3. every buyer's receipt and Join link, and the join request approved;
4. the checks: every order settled once (one ledger entry, one settled event, one receipt), none
   lost; the floor (a claim create and a settling transaction, at REQUEST_CONCURRENCY threads)
   measured in the same run; and per function, from the meter, requests, instance-seconds (the
   time an instance had a request, what Cloud Run bills) and Firestore documents read, written and
   deleted, per 1,000 sales.

    python -m scripts.bench_burst [--sales 1000] [--port-base 29100]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from local.clients import NowPaymentsControl, TelegramControl, buttons, firestore, wait_for
from local.config import StackConfig
from local.fixtures import setup_channel
from scripts.bench_floors import Floors, Timing
from scripts.benchlib import percentile, private_stack
from shared_schemas.names import FUNCTIONS, REQUEST_CONCURRENCY, Function
from telepay.payments import signature as ipn_signature

TOKEN = "BenchBurst01"
SENDERS = REQUEST_CONCURRENCY
DUPLICATE_EVERY = 10  # every tenth finished IPN arrives twice at once


def buy(tg: TelegramControl, np: NowPaymentsControl, n: int) -> tuple[int, int]:
    """A buyer's way to the Pay button, then NowPayments' first two IPNs; (buyer, payment id)."""
    user = tg.user(f"Launch{n}")
    tg.say(user, f"/start {TOKEN}")
    offer = tg.wait_message(user, "Choose how long", timeout=120)
    tg.press(user, offer["message_id"], buttons(offer)[0]["callback_data"])
    tg.choose_payment(user, after=offer["message_id"], timeout=120)
    pay = tg.wait_message(user, "Access is granted as soon as the payment is confirmed", timeout=120)
    payment = np.pay(np.invoice_by_url(buttons(pay)[0]["url"])["id"])
    np.steps(payment, [{"status": "waiting"}, {"status": "confirming"}])
    return user, payment


def finished_ipn(np: NowPaymentsControl, payment: int, secret: str) -> tuple[bytes, str]:
    """The API moves to finished (no IPN yet); the IPN NowPayments would send for it, signed."""
    np.steps(payment, [{"status": "finished", "send_ipn": False}])
    body = json.dumps({**np.payment(payment), "payment_status": "finished"}).encode()
    return body, ipn_signature.sign(body, secret)


def send_finished(http: httpx.Client, url: str, n: int, ipn: tuple[bytes, str]) -> list[float]:
    """The finished IPN (twice at once for every tenth), sent again on a 503; acknowledgement ms."""
    body, signature = ipn

    def post() -> tuple[int, float]:
        started = time.perf_counter()
        response = http.post(url, content=body, headers={"x-nowpayments-sig": signature})
        return response.status_code, (time.perf_counter() - started) * 1000

    answered: list[float] = []
    for _ in range(5):
        if n % DUPLICATE_EVERY == 0:
            with ThreadPoolExecutor(2) as twice:
                results = list(twice.map(lambda _: post(), range(2)))
            n += 1  # a resend goes once
        else:
            results = [post()]
        answered += [ms for _, ms in results]
        if all(status == 200 for status, _ in results):
            return answered
    raise AssertionError("a finished IPN refused five times")


def join(tg: TelegramControl, user: int, closed: int) -> None:
    receipt = tg.wait_message(user, "Payment received", timeout=180)
    tg.join(user, next(b["url"] for b in buttons(receipt) if b.get("url")))
    wait_for("the join approved", lambda: tg.member_status(closed, user) == "member", timeout=120, every=0.2)


def cpu_seconds(pids: set[int]) -> float:
    """User and system CPU time the processes used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def meter_lines(config: StackConfig) -> dict[Function, list[dict[str, Any]]]:
    lines: dict[Function, list[dict[str, Any]]] = {}
    for spec in FUNCTIONS:
        path = Path(config.meter_file(spec.name))
        text = path.read_text() if path.exists() else ""
        lines[spec.name] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return lines


def instance_seconds(lines: list[dict[str, Any]]) -> float:
    """The time each process had at least one request, summed over processes."""
    total = 0.0
    by_process: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for line in lines:
        by_process[line["pid"]].append((line["end"] - line["seconds"], line["end"]))
    for spans in by_process.values():
        spans.sort()
        start, end = spans[0]
        for begin, finish in spans[1:]:
            if begin > end:
                total += end - start
                start, end = begin, finish
            else:
                end = max(end, finish)
        total += end - start
    return total


def firestore_ops(before: list[dict[str, Any]], lines: list[dict[str, Any]]) -> dict[str, int]:
    """Documents read, written and deleted by each process during the window (its counters are
    cumulative), summed."""
    last_before: dict[int, dict[str, int]] = {}
    for line in before:
        last_before[line["pid"]] = line["firestore"]
    last: dict[int, dict[str, int]] = {}
    for line in lines:
        last[line["pid"]] = line["firestore"]
    totals = {"reads": 0, "writes": 0, "deletes": 0}
    for pid, counts in last.items():
        start = last_before.get(pid, {})
        for kind in totals:
            totals[kind] += counts[kind] - start.get(kind, 0)
    return totals


def cost_rows(config: StackConfig, since: float, until: float, sales: int) -> list[dict[str, Any]]:
    rows = []
    for function, lines in meter_lines(config).items():
        before = [line for line in lines if line["end"] < since]
        during = [line for line in lines if since <= line["end"] <= until]
        ops = firestore_ops(before, during)
        scale = 1000 / sales
        rows.append(
            {
                "function": function.value,
                "requests": round(len(during) * scale),
                "instance_seconds": instance_seconds(during) * scale,
                **{kind: round(count * scale) for kind, count in ops.items()},
            }
        )
    return rows


def count_docs(db: Any, collection: str, **equals: Any) -> int:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query: Any = db.collection(collection)
    for field, value in equals.items():
        query = query.where(filter=FieldFilter(field, "==", value))
    return int(query.count().get()[0][0].value)


def bench_burst(sales: int, port_base: int) -> dict[str, Any]:
    with private_stack(rate_limits=False, port_base=port_base, metered=True) as stack:
        endpoints = stack.config.endpoints()
        tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        db = firestore(endpoints)
        print(f"burst: {sales} buyers buy through the bot, then {sales} finished IPNs at once", flush=True)
        since = time.time()
        started = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            bought = list(pool.map(lambda n: buy(tg, np, n), range(sales)))
        users, payments = [user for user, _ in bought], [payment for _, payment in bought]
        print(f"  {sales} orders invoiced and paid in {time.perf_counter() - started:.0f} s", flush=True)

        secret = endpoints["nowpayments_ipn_secret"]
        with ThreadPoolExecutor(SENDERS) as pool:
            ipns = list(pool.map(lambda p: finished_ipn(np, p, secret), payments))
        url = endpoints["functions"]["ipn_handler"]
        http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=2 * SENDERS))

        # The burst.
        ipn_pids = {line["pid"] for line in meter_lines(stack.config)[Function.IPN_HANDLER]}
        cpu_before = cpu_seconds(ipn_pids)
        burst_wall, burst_started = time.time(), time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = list(pool.map(lambda p: send_finished(http, url, *p), enumerate(ipns)))
        acks = [ms for answered in answers for ms in answered]
        burst_seconds = time.perf_counter() - burst_started
        cpu_ms = (cpu_seconds(ipn_pids) - cpu_before) * 1000 / len(acks)
        inside = [
            line["seconds"] * 1000
            for line in meter_lines(stack.config)[Function.IPN_HANDLER]
            if burst_wall <= line["end"] <= burst_wall + burst_seconds
        ]
        print(
            f"  {len(acks)} finished IPNs answered in {burst_seconds:.1f} s: "
            f"{sales / burst_seconds:.1f} settled/s, ack p50 {percentile(acks, 50):.0f} ms, "
            f"p99 {percentile(acks, 99):.0f} ms",
            flush=True,
        )
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(lambda user: join(tg, user, ids["closed"]), users))
        until = time.time()
        print(
            f"  every buyer's receipt and join approved after {time.perf_counter() - started:.0f} s",
            flush=True,
        )

        settled = count_docs(db, "orders", status="settled")
        entries = count_docs(db, "ledger")
        events = count_docs(db, "outbox", **{"envelope.type": "payment.settled"})
        receipts = sum(
            sum("Payment received" in (m.get("text") or "") for m in tg.transcript(user)) for user in users
        )
        floors = Floors(endpoints)
        floor = floors.settle(min(sales, 500), threads=REQUEST_CONCURRENCY)
        rows = cost_rows(stack.config, since, until, sales)
    result = {
        "sales": sales,
        "seconds": burst_seconds,
        "per_second": sales / burst_seconds,
        "acks": acks,
        "settled": settled,
        "entries": entries,
        "events": events,
        "receipts": receipts,
        "lost": sales - settled,
        "cpu_ms": cpu_ms,
        "inside": inside,
        "floor": floor,
        "cost": rows,
    }
    print_result(result)
    return result


def print_result(result: dict[str, Any]) -> None:
    floor: Timing = result["floor"]
    acks = result["acks"]
    print(
        f"burst of {result['sales']} finished IPNs: {result['seconds']:.1f} s, "
        f"{result['per_second']:.1f} IPNs/s on one instance ({REQUEST_CONCURRENCY} threads), "
        f"ack p50 {percentile(acks, 50):.0f} ms p99 {percentile(acks, 99):.0f} ms; "
        f"floor {floor.per_second:.0f} settles/s at {REQUEST_CONCURRENCY} threads "
        f"(p99 {floor.p99:.0f} ms)"
    )
    inside = result["inside"]
    print(
        f"ipn_handler's own time per IPN p50 {percentile(inside, 50):.0f} ms p99 {percentile(inside, 99):.0f} ms; "
        f"its CPU {result['cpu_ms']:.1f} ms per IPN (one CPU: at most {1000 / result['cpu_ms']:.0f} IPNs/s)"
    )
    print(
        f"settled {result['settled']}, ledger entries {result['entries']}, settled events "
        f"{result['events']}, receipts {result['receipts']}, lost {result['lost']}"
    )
    print(f"{'per 1,000 sales':<22} {'requests':>9} {'inst-s':>8} {'reads':>8} {'writes':>8} {'deletes':>8}")
    for row in result["cost"]:
        print(
            f"{row['function']:<22} {row['requests']:>9} {row['instance_seconds']:>8.1f} "
            f"{row['reads']:>8} {row['writes']:>8} {row['deletes']:>8}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench_burst", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--port-base", type=int, default=29100)
    args = parser.parse_args()
    print(f"burst on the local stack ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    bench_burst(args.sales, args.port_base)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
