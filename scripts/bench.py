"""Every benchmark in one run (`make bench`), each path beside its floor measured in the same run on
the same emulators and stand-ins, and their ratio, as one table.

    python -m scripts.bench [--quick] [--port-base 29100] [--only paths|burst|scale|imports|start]

`--quick` runs smaller sizes (1,000 items at scale instead of 100,000 expiring subscriptions,
10,000 channels and 100,000 recipients, a burst of 200 IPNs instead of 1,000; fewer samples) so the
whole run takes minutes, not the three hours of a full run at Telegram's 30/s. Private stacks on
ports 29100+ (`--port-base` moves them; stopped after each stage); `--only burst` (repeatable) runs
some stages; the scale benchmarks print progress as they go.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from local.clients import NowPaymentsControl, TelegramControl, firestore, wait_for
from local.fixtures import setup_channel
from local.processes import Service, firestore_argv, pubsub_argv, spawn, stop_group, wait_healthy
from local.stack import Stack
from scripts import bench_payments
from scripts.bench_announce import bench_announce
from scripts.bench_broadcast import bench_broadcast
from scripts.bench_burst import bench_burst
from scripts.bench_expiry import bench_expiry
from scripts.bench_floors import Floors, Timing
from scripts.bench_keypad import bench_keypad
from scripts.benchlib import percentile, private_stack
from scripts.measure_imports import measure_floors, measure_imports
from shared_schemas.documents import SubscriptionDoc
from shared_schemas.ids import subscription_id
from shared_schemas.names import REQUEST_CONCURRENCY

PORT_BASE = 29100
TOKEN = bench_payments.TOKEN


@dataclass
class Row:
    path: str
    figure: str
    floor: str
    ratio: float | None
    target: str = ""
    met: bool | None = None


def ms(values: list[float]) -> str:
    return f"{percentile(values, 50):.0f} / {percentile(values, 99):.0f} ms"


def latency_row(path: str, figure: list[float], floor: Timing, target: float | None = None) -> Row:
    ratio = percentile(figure, 99) / floor.p99
    return Row(
        path,
        ms(figure),
        ms(floor.ms),
        ratio,
        f"p99 ≤ {target:g}×" if target else "",
        ratio <= target if target else None,
    )


def end_to_end_row(path: str, figure: list[float], floor_ms: float, parts: str) -> Row:
    """An end-to-end path: its p50 against the sum of its bare calls' p50 (`parts`)."""
    return Row(path, ms(figure), f"{floor_ms:.0f} ms p50 ({parts})", percentile(figure, 50) / floor_ms)


def stage_paths(sizes: dict[str, int], port_base: int = PORT_BASE) -> list[Row]:
    with private_stack(rate_limits=False, port_base=port_base) as stack:
        endpoints = stack.config.endpoints()
        tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        floors = Floors(endpoints)
        n = sizes["ipns"]
        rows: list[Row] = []

        webhook = bench_payments.bench_webhook(endpoints, tg, sizes["updates"])
        webhook_floor = floors.webhook(sizes["updates"])
        rows.append(latency_row("telegram_webhook ack p50/p99", webhook, webhook_floor, 3))

        sequential, concurrent, ipns_per_second = bench_payments.bench_ipns(endpoints, tg, np, n)
        at = REQUEST_CONCURRENCY  # the requests one instance serves at once (names.py)
        settle, settle_at = floors.settle(n // 2), floors.settle(n // 2, threads=at)
        claim, claim_at = floors.claim(n // 2), floors.claim(n // 2, threads=at)
        rows.append(latency_row("IPN ack p50/p99, sequential", sequential, settle, 4))
        rows.append(latency_row(f"IPN ack p50/p99, {at} senders", concurrent, settle_at))
        ratio = ipns_per_second / settle_at.per_second
        rows.append(
            Row(
                f"IPN throughput, {at} senders, 1 instance",
                f"{ipns_per_second:.0f} IPNs/s",
                f"{settle_at.per_second:.0f} settles/s",
                ratio,
                "≥ 0.5×",
                ratio >= 0.5,
            )
        )
        rows.append(
            Row("  floor: bare claim create", ms(claim.ms), f"{claim_at.per_second:.0f}/s at {at}", None)
        )

        read, read_write = floors.read(50), floors.read_write(50)
        publish, bot = floors.publish(50), floors.bot_call(50, ids["owner"])
        keypad = bench_keypad(tg, sizes["presses"], TOKEN)
        rows.append(
            end_to_end_row(
                "keypad press → message edited",
                keypad,
                webhook_floor.p50 + read_write.p50 + bot.p50,
                "create + enqueue, read-write txn, Bot API call",
            )
        )
        access = bench_payments.bench_access(endpoints, tg, np, sizes["access"])
        rows.append(
            end_to_end_row(
                "finished IPN → access message",
                access,
                settle.p50 + publish.p50 + 2 * bot.p50,
                "settle, publish, 2 Bot API calls",
            )
        )
        joins = bench_join(endpoints, tg, sizes["joins"], ids["closed"])
        rows.append(
            end_to_end_row(
                "join request → approval",
                joins,
                read.p50 + read_write.p50 + bot.p50,
                "read, txn, Bot API call",
            )
        )
    return rows


def bench_join(endpoints: dict[str, Any], tg: TelegramControl, n: int, closed: int) -> list[float]:
    """Subscribers (active, not yet in the channel) open a join-request link: time to approval."""
    db = firestore(endpoints)
    bot = f"{endpoints['telegram_api']}/bot{endpoints['telegram_bot_token']}"
    link = httpx.post(
        f"{bot}/createChatInviteLink", json={"chat_id": closed, "creates_join_request": True}, timeout=10
    ).json()["result"]["invite_link"]
    now = datetime.now(UTC)
    times: list[float] = []
    for i in range(n):
        user = tg.user(f"Joiner{i}")
        sub = SubscriptionDoc(
            channel_token=TOKEN,
            user_id=user,
            closed_channel_id=closed,
            expires_at=now + timedelta(days=30),
            started_at=now,
            renewed_at=now,
            tier_id="t1",
            last_order_id="bench",
            in_channel=False,
            next_action_at=now + timedelta(days=27),
            updated_at=now,
        )
        db.collection("subscriptions").document(subscription_id(TOKEN, user)).set(sub.to_firestore())
        started = time.perf_counter()
        tg.join(user, link)
        wait_for("the approval", lambda u=user: tg.member_status(closed, u) == "member", every=0.01)  # type: ignore[misc]
        times.append((time.perf_counter() - started) * 1000)
    print(f"join request -> approval: p50 {percentile(times, 50):.0f} ms, p99 {percentile(times, 99):.0f} ms")
    return times


def stage_burst(n: int, port_base: int = PORT_BASE) -> tuple[list[Row], list[dict[str, Any]]]:
    """n finished IPNs at once on one metered instance, and what a sale costs per function."""
    result = bench_burst(n, port_base)
    acks, floor = result["acks"], result["floor"]
    ratio = result["per_second"] / floor.per_second
    met = (
        result["lost"] == 0
        and result["settled"] == result["entries"] == result["events"] == result["receipts"] == n
        and percentile(acks, 99) < 1000
        and result["seconds"] <= 60
    )
    row = Row(
        f"burst of {n:,} finished IPNs, 1 instance",
        f"{result['per_second']:.0f} IPNs/s in {result['seconds']:.0f} s, ack {ms(acks)}, "
        f"{result['lost']} lost, {result['settled'] - result['entries']} twice",
        f"{floor.per_second:.0f} settles/s at {REQUEST_CONCURRENCY} threads",
        ratio,
        "all once, p99 < 1 s, ≤ 60 s",
        met,
    )
    return [row], result["cost"]


def cost_table(cost: list[dict[str, Any]]) -> str:
    lines = [
        "| per 1,000 sales | requests | instance-seconds | Firestore reads | writes | deletes |",
        "|---|---|---|---|---|---|",
    ]
    for c in cost:
        lines.append(
            f"| {c['function']} | {c['requests']:,} | {c['instance_seconds']:,.0f} | {c['reads']:,} | "
            f"{c['writes']:,} | {c['deletes']:,} |"
        )
    return "\n".join(lines)


def stage_scale(sizes: dict[str, int], port_base: int = PORT_BASE) -> list[Row]:
    """Telegram's cap used to the last message: the expiry and the announcement at 100,000 items in
    a full run (10,000 for the broadcast, one post per channel), the quick sizes in CI."""
    rows = []
    for path, run, n in (
        ("expiry", bench_expiry, sizes["expiry"]),
        ("broadcast", bench_broadcast, sizes["broadcast"]),
        ("announcement", bench_announce, sizes["announcement"]),
    ):
        result = run(n, port_base)
        share = result["rate"] / result["cap"]
        # Every scale run reports its sends and 429s (a default here once printed the broadcast's
        # 429s as none).
        sends, too_many = result["sends"], result["too_many"]
        answered_429 = too_many / max(1.0, sends + too_many)
        rows.append(
            Row(
                f"{path} at {n:,}: rate, lost, 429s",
                f"{result['rate']:.1f}/s, {result['lost']:.0f} lost, {answered_429:.1%} 429, {result['seconds']:.0f} s",
                f"Telegram cap {result['cap']:g}/s",
                share,
                "≥ 0.95×, ≤ 1 % 429, 0 lost",
                share >= 0.95 and answered_429 <= 0.01 and result["lost"] == 0,
            )
        )
        if "queued_s" in result:
            rows.append(
                Row(
                    f"  {path} at {n:,}: handed out / all queued",
                    f"{result['handed_out_s']:.0f} s / {result['queued_s']:.0f} s",
                    "60 s (the sweep's minute)",
                    result["queued_s"] / 60,
                    "all queued ≤ 60 s",
                    result["queued_s"] <= 60,
                )
            )
    return rows


def stage_start(runs: int, port_base: int = PORT_BASE) -> list[Row]:
    import sys

    from local.config import StackConfig

    rows = []
    for attempt in range(runs):
        state = Path(tempfile.mkdtemp(prefix="telepay-bench-start-"))
        config = StackConfig(port_base=port_base, state_dir=state)
        started = time.perf_counter()
        emulators = [
            spawn(
                Service("firestore-emulator", firestore_argv(config.firestore_port), config.firestore_port),
                state,
            ),
            spawn(Service("pubsub-emulator", pubsub_argv(config.pubsub_port), config.pubsub_port), state),
        ]
        wait_healthy(emulators, 90, state)
        floor = time.perf_counter() - started
        for running in emulators:
            stop_group(running.pid)
        stack = Stack(StackConfig(port_base=port_base, state_dir=state, python=sys.executable))
        started = time.perf_counter()
        try:
            stack.up()
            took = time.perf_counter() - started
        finally:
            stack.down()
            shutil.rmtree(state, ignore_errors=True)
        rows.append(
            Row(
                f"stack start ({'first' if attempt == 0 else 'again'})",
                f"{took:.1f} s",
                f"{floor:.1f} s (the two emulators)",
                took / floor,
            )
        )
    return rows


def stage_imports(runs: int) -> list[Row]:
    rows = []
    imports, floors = measure_imports(runs), measure_floors(runs)
    for name, times in imports.items():
        figure, floor = statistics.median(times) * 1000, statistics.median(floors[name][1]) * 1000
        rows.append(
            Row(
                f"cold import: {name}",
                f"{figure:.0f} ms",
                f"{floor:.0f} ms ({', '.join(floors[name][0])})",
                figure / floor,
                "≤ 1.2×",
                figure / floor <= 1.2,
            )
        )
    return rows


def table(rows: list[Row]) -> str:
    header = ("path", "figure", "floor (same run)", "ratio", "target", "")
    cells = [
        (
            r.path,
            r.figure,
            r.floor,
            f"{r.ratio:.2f}×" if r.ratio is not None else "",
            r.target,
            {True: "met", False: "NOT met", None: ""}[r.met],
        )
        for r in rows
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines)


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}){memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a couple of minutes")
    parser.add_argument("--port-base", type=int, default=PORT_BASE, help="first port of the private stacks")
    parser.add_argument(
        "--only",
        choices=("paths", "burst", "scale", "imports", "start"),
        action="append",
        help="these stages only",
    )
    args = parser.parse_args()
    if args.quick:
        sizes = {
            "ipns": 60,
            "updates": 60,
            "access": 8,
            "presses": 24,
            "joins": 8,
            "burst": 200,
            "expiry": 1000,
            "broadcast": 1000,
            "announcement": 1000,
            "runs": 3,
            "starts": 1,
        }
    else:
        sizes = {
            "ipns": 200,
            "updates": 300,
            "access": 20,
            "presses": 200,
            "joins": 20,
            "burst": 1000,
            "expiry": 100_000,
            "broadcast": 10_000,
            "announcement": 100_000,
            "runs": 5,
            "starts": 2,
        }
    started = time.perf_counter()
    stages = set(args.only or ("paths", "burst", "scale", "imports", "start"))
    port = args.port_base
    rows: list[Row] = []
    cost: list[dict[str, Any]] = []
    if "paths" in stages:
        rows += stage_paths(sizes, port)
    if "burst" in stages:
        burst_rows, cost = stage_burst(sizes["burst"], port)
        rows += burst_rows
    if "scale" in stages:
        rows += stage_scale(sizes, port)
    if "imports" in stages:
        rows += stage_imports(sizes["runs"])
    if "start" in stages:
        rows += stage_start(sizes["starts"], port)
    print()
    print(
        f"TelePay benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s"
    )
    print(f"machine: {machine()}")
    print()
    print(table(rows))
    if cost:
        print()
        print(cost_table(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
