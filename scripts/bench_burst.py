"""A launch-day burst of payments, and what a sale costs, on a private stack whose functions run as
Cloud Run runs them (functions-framework's gunicorn, one process per instance, REQUEST_CONCURRENCY
threads) and are metered (local.metered_function):

1. N buyers each buy the channel's first tier as a buyer does: `/start <token>`, the tier, "Pay
   with crypto", the Pay button's invoice, NowPayments' `waiting` and `confirming` IPNs;
2. the burst: the N `finished` IPNs sent at once by twice REQUEST_CONCURRENCY senders against one
   ipn_handler instance (a tenth sent twice at once, as NowPayments may), each answer's time as
   NowPayments sees it; a 503 is sent again, as NowPayments does;
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
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.clients import NowPaymentsControl, TelegramControl, buttons, firestore, wait_for
from local.config import StackConfig
from local.fixtures import setup_channel
from scripts.bench_floors import Floors, Timing
from scripts.benchlib import percentile, private_stack
from shared_schemas.names import FUNCTIONS, REQUEST_CONCURRENCY, Function

TOKEN = "BenchBurst01"
SENDERS = 2 * REQUEST_CONCURRENCY
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


def send_finished(np: NowPaymentsControl, n: int, payment: int) -> list[float]:
    """The finished IPN (twice at once for every tenth), sent again on a 503; acknowledgement ms."""
    step: dict[str, Any] = {"status": "finished"}
    if n % DUPLICATE_EVERY == 0:
        step |= {"duplicates": 2, "concurrent": True}
    answered: list[float] = []
    for attempt in range(5):
        ipns = np.steps(payment, [step] if attempt == 0 else [{"status": "finished"}])
        answered += [float(ipn["elapsed_ms"]) for ipn in ipns]
        if all(ipn["response_status"] == 200 for ipn in ipns):
            return answered
    raise AssertionError(f"payment {payment}: finished IPN refused five times")


def join(tg: TelegramControl, user: int, closed: int) -> None:
    receipt = tg.wait_message(user, "Payment received", timeout=180)
    tg.join(user, next(b["url"] for b in buttons(receipt) if b.get("url")))
    wait_for("the join approved", lambda: tg.member_status(closed, user) == "member", timeout=120, every=0.2)


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

        # The burst.
        burst_started = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = list(pool.map(lambda p: send_finished(np, *p), enumerate(payments)))
        acks = [ms for answered in answers for ms in answered]
        burst_seconds = time.perf_counter() - burst_started
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
