"""Cold-start cost: import time of each function's entry module, from its deploy bundle, in a
fresh interpreter (median of several runs).

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
CODE = "import time; t = time.perf_counter(); import main; print(time.perf_counter() - t)"


def measure(runs: int) -> dict[str, list[float]]:
    build()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV
    results: dict[str, list[float]] = {}
    for spec in FUNCTIONS:
        folder = OUT / spec.name.value
        times = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", CODE], cwd=folder, env=env, capture_output=True, text=True, check=True
            )
            times.append(float(out.stdout.strip().splitlines()[-1]))
        results[spec.name.value] = times
    return results


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
