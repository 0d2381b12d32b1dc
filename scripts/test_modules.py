"""Run each test module alone (all but the end-to-end and stand-in ones), so a module that depends on
another fails loudly.

python -m scripts.test_modules            # every module of the folders in FOLDERS
python -m scripts.test_modules PATH ...   # only these modules

Each module runs in its own pytest process (in random order, like `make test`; the seed is printed
with any failure). The end-to-end modules share one stack by design and are not run here
(see tests/e2e/conftest.py); the stand-ins' own tests are not either.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
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


def run(module: str) -> tuple[bool, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0, time.monotonic() - started, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="test modules (default: every module of FOLDERS)")
    args = parser.parse_args(argv)
    failed: list[str] = []
    started = time.monotonic()
    for module in args.modules or modules():
        ok, seconds, output = run(module)
        print(f"{'ok  ' if ok else 'FAIL'} {seconds:5.1f} s  {module}", flush=True)
        if not ok:
            failed.append(module)
            print(output, flush=True)
    total = time.monotonic() - started
    if failed:
        print(f"{len(failed)} module(s) fail when run alone ({total:.0f} s): {' '.join(failed)}")
        return 1
    print(f"every module passes alone ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
