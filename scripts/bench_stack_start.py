"""Time from `up` to every endpoint healthy, for a first and a second start (the second finds the
interpreters' bytecode and the emulators' files warm), on a private port range.

    python -m scripts.bench_stack_start [--starts 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from local.config import StackConfig
from local.stack import Stack
from scripts.benchlib import BENCH_PORT_BASE


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    times = []
    for attempt in range(args.starts):
        state = Path(tempfile.mkdtemp(prefix="telepay-start-"))
        stack = Stack(StackConfig(port_base=BENCH_PORT_BASE, state_dir=state))
        started = time.perf_counter()
        try:
            stack.up()
            times.append(time.perf_counter() - started)
        finally:
            stack.down()
            shutil.rmtree(state, ignore_errors=True)
        print(f"start {attempt + 1}: all endpoints healthy after {times[-1]:.1f} s", flush=True)
    print(f"first start {times[0]:.1f} s; later starts {', '.join(f'{t:.1f}' for t in times[1:])} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
