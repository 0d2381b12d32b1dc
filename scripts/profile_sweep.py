"""Where the CPU of the expiry sweep goes: N subscriptions due at once (default 5,000), the sweep and
then its page tasks run in this process under cProfile against a private stack (its scheduler
stopped, its queues paused so nothing is dispatched meanwhile), each phase's CPU counted per due
action: this process by library, and the Firestore emulator and the Cloud Tasks stand-in beside it.

    python -m scripts.profile_sweep [--subscriptions 5000] [--pages 10] [--port-base 29700] [--top 0]

The sweep's and pages' thread pools are run inline while profiled (cProfile sees one thread), so
the figures are CPU, not wall time. Prints, per phase, milliseconds of CPU per action by library
and what that makes for 100,000 actions against the CPU a 2-core machine has in a minute.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from local.clients import TelegramControl, firestore
from local.fixtures import setup_channel
from scripts.bench_expiry import TOKEN, due_subscriptions, seed_members, write_subscriptions
from scripts.benchlib import load_function, private_stack, wait_for_seeding_handled
from shared_schemas.names import Function, Queue

PORT_BASE = 29700
TICKS = os.sysconf("SC_CLK_TCK")

# Where a frame's file lies → the library it is counted under (first match wins).
LIBRARIES = (
    ("/google/cloud/firestore", "google-cloud-firestore"),
    ("/google/cloud/tasks", "google-cloud-tasks"),
    ("/google/api_core/", "google-api-core"),
    ("/grpc/", "grpc"),
    ("/proto/", "proto-plus"),
    ("/google/protobuf/", "protobuf"),
    ("/google/auth/", "google-auth"),
    ("/requests/", "requests + urllib3 (REST transport)"),
    ("/urllib3/", "requests + urllib3 (REST transport)"),
    ("/pydantic", "pydantic"),
    ("/telepay/", "TelePay"),
    ("/shared_schemas/", "TelePay"),
    ("/json/", "json"),
    ("/http/client", "http.client + socket + ssl"),
    ("/socket.py", "http.client + socket + ssl"),
    ("/ssl.py", "http.client + socket + ssl"),
)


class InlineExecutor:
    """A ThreadPoolExecutor's `submit`/`map` run in the calling thread, so cProfile sees the work."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def submit(self, call: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(call(*args))
        except BaseException as error:
            future.set_exception(error)
        return future

    def map(self, call: Callable[..., Any], items: Iterable[Any]) -> Iterator[Any]:
        return iter([call(item) for item in items])


def group_cpu(profile: cProfile.Profile) -> dict[str, float]:
    """Seconds of own time (tottime) per library."""
    stats = pstats.Stats(profile)
    out: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        library = "Python's standard library and the rest"
        if filename.startswith("~") or filename == "<built-in>":
            library = "built-ins (C: encoding, sockets, locks)"
        for marker, name in LIBRARIES:
            if marker in filename:
                library = name
                break
        out[library] += tottime
    return out


def group_ticks(pgid: int) -> int:
    """CPU ticks (user + system) of every process in the process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, …
            total += int(fields[11]) + int(fields[12])
    return total


def queue_call(endpoints: dict[str, Any], queue: Queue, verb: str) -> None:
    name = f"projects/{endpoints['project']}/locations/{endpoints['tasks_location']}/queues/{queue.value}"
    httpx.post(f"{endpoints['tasks_emulator']}/v2/{name}:{verb}", timeout=30).raise_for_status()


def page_bodies(endpoints: dict[str, Any], limit: int) -> list[bytes]:
    """The bodies of the first `limit` page tasks waiting on the paused fan-out queue."""
    name = f"projects/{endpoints['project']}/locations/{endpoints['tasks_location']}/queues/{Queue.FAN_OUT.value}"
    answer = httpx.get(
        f"{endpoints['tasks_emulator']}/v2/{name}/tasks",
        params={"responseView": "FULL", "pageSize": limit},
        timeout=60,
    )
    answer.raise_for_status()
    import base64

    return [base64.b64decode(t["httpRequest"]["body"]) for t in answer.json().get("tasks", [])][:limit]


def report(what: str, actions: int, plain: Measured, profiled: Measured) -> float:
    """CPU per action: measured without the profiler (this process, then the emulator and the
    stand-in), split by library as the profiled run of the same work shares it out."""
    per = 1000 / max(1, actions)
    print(
        f"\n{what}: {actions} actions in {plain.wall:.1f} s; this process {plain.cpu * per:.2f} ms CPU per action:"
    )
    shares = group_cpu(profiled.profile)
    profiled_total = sum(shares.values()) or 1.0
    for library, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        share = seconds / profiled_total
        if share >= 0.005:
            print(f"  {library:<44} {share * plain.cpu * per:6.2f} ms  ({share:.0%})")
    total = plain.cpu
    for name, seconds in plain.others.items():
        print(f"  + {name:<42} {seconds * per:6.2f} ms")
        total += seconds
    print(f"  = all of it                                  {total * per:6.2f} ms CPU per action")
    return total * per


# The sweep's steps, by the functions they run in (cumulative CPU, profiled).
STEPS = (
    ("stream the due ids (one query, one field each)", "firestore_store.py", "keys"),
    ("read the first page's subscriptions (one call)", "firestore_store.py", "get_many"),
    ("decide each subscription's next step", "expiry_rules.py", "next_action"),
    ("build the leases' and reschedules' writes", "firestore_store.py", "update"),
    ("commit them (a batch per page of 200)", "firestore_v1/batch.py", "commit"),
    ("queue the first page's actions (CreateTask each)", "expiry.py", "_enqueue"),
    ("hand out the rest (a CreateTask per page of 200)", "expiry.py", "_lease_and_hand_out"),
)


def steps(profile: cProfile.Profile, actions: int, cpu: float) -> None:
    """The sweep's CPU per action by step, from the profile's cumulative times, scaled to the
    unprofiled CPU."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tottime for (_, _, tottime, _, _) in stats.values()) or 1.0
    print("  by step (cumulative):")
    for label, filename, function in STEPS:
        seconds = sum(
            cumtime
            for (path, _, name), (_, _, _, cumtime, _) in stats.items()
            if path.endswith(filename) and name == function
        )
        print(f"    {label:<52} {seconds / total * cpu * 1000 / max(1, actions):6.2f} ms")


@dataclass
class Measured:
    result: Any
    wall: float
    cpu: float
    others: dict[str, float]
    profile: cProfile.Profile


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=5_000)
    parser.add_argument("--pages", type=int, default=10, help="page tasks run in process after each sweep")
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own CPU")
    args = parser.parse_args()
    n = args.subscriptions
    with private_stack(rate_limits=False, port_base=args.port_base) as stack:
        stack.stop_service("scheduler")  # this script runs the sweep itself
        endpoints = stack.config.endpoints()
        for queue in (Queue.TELEGRAM_ACTIONS, Queue.FAN_OUT):
            queue_call(endpoints, queue, "pause")
        tg = TelegramControl(endpoints)
        ids = setup_channel(endpoints, tg, TOKEN)
        db = firestore(endpoints)
        module = load_function(
            stack.config.function_env(Function.EXPIRE_SUBSCRIPTIONS), "expire_subscriptions"
        )
        from shared_schemas.tasks import ExpiryPageTask
        from telepay.subscriptions import expiry

        expiry.ThreadPoolExecutor = InlineExecutor  # type: ignore[attr-defined,assignment]
        groups = {
            "Firestore emulator": os.getpgid(stack.service("firestore-emulator").pid),
            "Cloud Tasks stand-in": os.getpgid(stack.service("tasks-standin").pid),
        }

        def phase(call: Callable[[], Any], profiled: bool) -> Measured:
            before = {name: group_ticks(pgid) for name, pgid in groups.items()}
            profile = cProfile.Profile(time.thread_time)  # CPU of this thread, not wall time
            started, cpu = time.perf_counter(), time.process_time()
            if profiled:
                profile.enable()
            result = call()
            if profiled:
                profile.disable()
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            others = {name: (group_ticks(pgid) - before[name]) / TICKS for name, pgid in groups.items()}
            return Measured(result, wall, used, others, profile)

        runs: list[tuple[Measured, Measured, int]] = []
        seen_pages: set[bytes] = set()
        for round_ in ("measured", "profiled"):  # the same work twice: once plain, once profiled
            users = seed_members(tg, n, ids["closed"])
            wait_for_seeding_handled(tg, n * (len(runs) + 1))
            write_subscriptions(db, due_subscriptions(users, ids["closed"], datetime.now(UTC)))
            print(f"{n} subscriptions due; the {round_} sweep runs in this process…", flush=True)
            sweep = phase(lambda: expiry.sweep(module.RT, f"profile-{time.time()}"), round_ == "profiled")
            print(f"  sweep: {sweep.result}", flush=True)
            bodies = [b for b in page_bodies(endpoints, 1000) if b not in seen_pages]
            seen_pages.update(bodies)
            pages = [ExpiryPageTask.model_validate(json.loads(body)) for body in bodies[: args.pages]]

            def run_pages(pages: list[ExpiryPageTask] = pages) -> list[str]:
                return [expiry.run_page(p, module.RT) for p in pages]

            page = phase(run_pages, round_ == "profiled")
            runs.append((sweep, page, sum(len(p.actions) for p in pages)))
        (sweep_plain, page_plain, page_actions), (sweep_profiled, page_profiled, _) = runs
        counts = sweep_plain.result
        actions = counts["queued"] + counts["handed_out"]
        sweep_ms = report(
            "the sweep (read, decide, lease, queue its first 200, hand out the rest in pages)",
            actions,
            sweep_plain,
            sweep_profiled,
        )
        page_ms = report(
            f"{args.pages} page tasks (one CreateTask on telegram-actions per action)",
            page_actions,
            page_plain,
            page_profiled,
        )
        steps(sweep_profiled.profile, actions, sweep_plain.cpu)
        if args.top:
            pstats.Stats(sweep_profiled.profile).sort_stats("tottime").print_stats(args.top)
            pstats.Stats(page_profiled.profile).sort_stats("tottime").print_stats(args.top)
        cores = os.cpu_count() or 1
        print(
            f"\n100,000 due at once: about {(sweep_ms + page_ms) * 100:.0f} CPU-seconds to hand out and "
            f"queue ({sweep_ms * 100:.0f} s in the sweep, one request; {page_ms * 100:.0f} s in page tasks), "
            f"against {cores} cores × 60 s = {60 * cores} CPU-seconds in a minute on this machine"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
