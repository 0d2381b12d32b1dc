"""Cold-start cost: import time of each function's entry module, from its deploy bundle, in a
fresh interpreter (median of several runs), beside the import of the libraries the function truly
needs when it loads (its floor: a function cannot start faster than its libraries import).

    python -m scripts.measure_imports [--runs 5]
"""

from __future__ import annotations

import argparse
import os
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"import time of each entry module, fresh interpreter, {args.runs} runs")
    print(f"{'function':<22} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, times in measure(args.runs).items():
        ms = [t * 1000 for t in times]
        print(f"{name:<22} {statistics.median(ms):>10.0f} {min(ms):>8.0f} {max(ms):>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
