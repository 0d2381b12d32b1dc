"""Cold-start cost: import time of each function's entry module, from its deploy bundle, in a
fresh interpreter (median of several runs), beside the import of the libraries the function truly
needs when it loads (its floor: a function cannot start faster than its libraries import).

    python -m scripts.measure_imports [--runs 5]
    python -m scripts.measure_imports --instructions   # instructions counted by valgrind (callgrind)

Wall-clock figures on a shared machine move by 10 % from run to run; `--instructions` counts the
instructions of one `import main` per function under callgrind (with a fixed hash seed), which
repeat to within a few thousandths of a percent, so two checkouts can be compared for a change of
a fraction of a percent. It also prints how many of TelePay's modules the import loads.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

from scripts.build_bundles import BUNDLE_CHECK_ENV, OUT, build
from shared_schemas.names import FUNCTIONS

ENV = BUNDLE_CHECK_ENV
CODE = "import time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"

# What each function needs loaded to serve (clients such as Firestore's are imported on first use
# by every function alike, so they are in neither side): the framework and settings for all; the
# Telegram library where the function talks to Telegram; httpx where it calls NowPayments; pyotp
# where it verifies payouts.
BASE_LIBRARIES = ("functions_framework", "pydantic_settings")
NEEDS: dict[str, tuple[str, ...]] = {
    "telegram_webhook": ("telegram",),
    "create_invoice": ("telegram", "httpx"),
    "ipn_handler": ("httpx",),
    "notify": ("telegram",),
    "keypad": ("telegram",),
    "expire_subscriptions": ("telegram", "httpx"),
    "daily_broadcast": ("telegram",),
    "payout": ("telegram", "httpx", "pyotp"),
    "owner_app": ("telegram",),  # asks Telegram whether the owner is still an admin
}


def _time_imports(modules: str, folder: str, runs: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CODE.format(modules=modules)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def measure(runs: int) -> dict[str, list[float]]:
    """Each function's `import main` from its bundle, seconds per run."""
    build()
    return {spec.name.value: _time_imports("main", str(OUT / spec.name.value), runs) for spec in FUNCTIONS}


measure_imports = measure


def measure_floors(runs: int) -> dict[str, tuple[tuple[str, ...], list[float]]]:
    """Each function's floor: the libraries it needs, imported alone, seconds per run."""
    floors = {}
    for spec in FUNCTIONS:
        libraries = BASE_LIBRARIES + NEEDS.get(spec.name.value, ())
        floors[spec.name.value] = (
            libraries,
            _time_imports(", ".join(libraries), str(OUT / spec.name.value), runs),
        )
    return floors


INSTRUMENTED = (
    "import sys, main; "
    "print(sum(m.split('.')[0] in ('telepay', 'shared_schemas') for m in sys.modules), len(sys.modules))"
)


def count_instructions() -> dict[str, tuple[int, int, int]]:
    """Each function's `import main` under callgrind: (instructions, TelePay's modules, all modules)."""
    build()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV | {"PYTHONHASHSEED": "0"}
    counted = {}
    for spec in FUNCTIONS:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                "-c",
                INSTRUMENTED,
            ],
            cwd=OUT / spec.name.value,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if collected is None:
            raise RuntimeError(f"callgrind printed no count for {spec.name.value}: {done.stderr[-500:]}")
        ours, everything = (int(n) for n in done.stdout.split())
        counted[spec.name.value] = (int(collected.group(1)), ours, everything)
    return counted


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind")
    args = parser.parse_args()
    if args.instructions:
        print("instructions of each entry module's import, callgrind, PYTHONHASHSEED=0")
        print(f"{'function':<22} {'instructions':>14} {'TelePay modules':>16} {'all modules':>12}")
        for name, (instructions, ours, everything) in count_instructions().items():
            print(f"{name:<22} {instructions:>14,} {ours:>16} {everything:>12}")
        return 0
    print(f"import time of each entry module, fresh interpreter, {args.runs} runs")
    print(f"{'function':<22} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, times in measure(args.runs).items():
        ms = [t * 1000 for t in times]
        print(f"{name:<22} {statistics.median(ms):>10.0f} {min(ms):>8.0f} {max(ms):>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
