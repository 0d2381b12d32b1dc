"""Each function's deploy bundle imports its entry point on its own (no repository on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.build_bundles import OUT, build
from shared_schemas.names import FUNCTIONS

ENV = {
    "GOOGLE_CLOUD_PROJECT": "bundle-check",
    "TELEGRAM_BOT_TOKEN": "1:bundle",
    "TELEGRAM_BOT_USERNAME": "bundlebot",
    "TELEGRAM_WEBHOOK_SECRET": "bundle-secret",
    "NOWPAYMENTS_API_KEY": "bundle-key",
    "NOWPAYMENTS_IPN_SECRET": "bundle-ipn",
    "IPN_CALLBACK_URL": "https://example.invalid/ipn",
    "CREATE_INVOICE_URL": "https://example.invalid/ci",
    "KEYPAD_URL": "https://example.invalid/kp",
    "EXPIRE_SUBSCRIPTIONS_URL": "https://example.invalid/ex",
    "DAILY_BROADCAST_URL": "https://example.invalid/db",
    "TASKS_INVOKER_SERVICE_ACCOUNT": "tasks-invoker@example.iam.gserviceaccount.com",
}


@pytest.fixture(scope="module")
def bundles() -> Path:
    build()
    return OUT


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[s.name.value for s in FUNCTIONS])
def test_entry_point_imports_from_its_bundle_alone(bundles: Path, spec) -> None:  # type: ignore[no-untyped-def]
    folder = bundles / spec.name.value
    assert (folder / "requirements.txt").read_text().count("==") > 10
    code = (
        "import sys, main, telepay, shared_schemas;"
        f"assert callable(main.{spec.entry_point});"
        "assert telepay.__file__.startswith(sys.argv[1]), telepay.__file__;"
        "assert shared_schemas.__file__.startswith(sys.argv[1]), shared_schemas.__file__"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ENV
    result = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
