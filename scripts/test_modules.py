"""Run each test module alone (all but the end-to-end and stand-in ones), so a module that depends on
another fails loudly.

python -m scripts.test_modules            # every module of the folders in FOLDERS
python -m scripts.test_modules PATH ...   # only these modules
python -m scripts.test_modules --jobs 1   # one at a time (default: two at once)

Each module runs in its own pytest process (in random order, like `make test`; the seed is printed
with any failure). Modules run `--jobs` at a time, each process with ports of its own
(`TELEPAY_TEST_PORT_BASE`, PORT_STRIDE apart), so two integration modules never share an emulator. The end-to-end modules share one stack by design and are not run here
(see tests/e2e/conftest.py); the stand-ins' own tests are not either.
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# tests/unit mirrors telepay/ (one folder per package); the rest are grouped by kind.
FOLDERS = (
    "tests/unit",
    "tests/operator_cli",
    "tests/local",
    "tests/infra",
    "tests/repo",
    "tests/integration",
)


def modules() -> list[str]:
    return [
        str(p.relative_to(ROOT)) for folder in FOLDERS for p in sorted((ROOT / folder).rglob("test_*.py"))
    ]


PORT_BASE = int(os.environ.get("TELEPAY_TEST_PORT_BASE", "18700"))
PORT_STRIDE = 400  # a test session's emulators and stack take fewer ports than this (tests/conftest.py)


def run(module: str, port_base: int = PORT_BASE) -> tuple[bool, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"TELEPAY_TEST_PORT_BASE": str(port_base)},
    )
    return done.returncode == 0, time.monotonic() - started, done.stdout + done.stderr


def run_all(names: list[str], jobs: int) -> list[tuple[str, bool, float, str]]:
    """Every module, `jobs` at a time; each running process holds one port base of its own."""
    bases: queue.Queue[int] = queue.Queue()
    for n in range(jobs):
        bases.put(PORT_BASE + n * PORT_STRIDE)

    def one(module: str) -> tuple[str, bool, float, str]:
        base = bases.get()
        try:
            return (module, *run(module, base))
        finally:
            bases.put(base)

    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(one, module) for module in names]):
            module, ok, seconds, output = future.result()
            print(f"{'ok  ' if ok else 'FAIL'} {seconds:5.1f} s  {module}", flush=True)
            if not ok:
                print(output, flush=True)
            results.append((module, ok, seconds, output))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="test modules (default: every module of FOLDERS)")
    parser.add_argument("--jobs", type=int, default=2, help="modules run at once (default 2)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = run_all(args.modules or modules(), max(1, args.jobs))
    failed = sorted(module for module, ok, _, _ in results if not ok)
    total = time.monotonic() - started
    if failed:
        print(f"{len(failed)} module(s) fail when run alone ({total:.0f} s): {' '.join(failed)}")
        return 1
    print(f"every module passes alone ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
