"""The whole local stack (emulators, stand-ins, every function, the scheduler), started once for
the end-to-end tests on its own ports and state folder, and stopped after them.

By design the end-to-end modules share this one stack (starting it takes seconds, and several
minutes for all of them): each test works in its own channel (`token`) with its own users, so they
pass in any order, but not in isolation from the stack's state. That is why the per-module check
(`make test-modules`) runs the unit and integration modules only. Each test's changes to the
process environment (the local clients point it at the stack's emulators) are undone after it."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore as firestore_api

from local.clients import NowPaymentsControl, TelegramControl, firestore
from local.config import StackConfig
from local.stack import Stack
from tests.conftest import E2E_PORT_BASE


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    state = Path(tempfile.mkdtemp(prefix="telepay-e2e-"))
    # Telegram's rate limits stay on, as in production: the flows must cope with 429s.
    config = StackConfig(port_base=E2E_PORT_BASE, state_dir=state, telegram_rate_limits=True)
    running = Stack(config)
    try:
        running.up()
        yield running
    finally:
        running.down()
        if not os.environ.get("TELEPAY_KEEP_E2E_LOGS"):
            shutil.rmtree(state, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failing end-to-end test's report shows what the Telegram stand-in did meanwhile: its
    webhook deliveries (when each began and ended, the answer) and the updates still pending."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    endpoints = getattr(item, "funcargs", {}).get("endpoints")
    if endpoints is None:
        return
    try:
        seen = TelegramControl(endpoints).updates()
    except Exception as error:  # the stand-in itself may be what failed
        report.sections.append(("Telegram stand-in", f"not reachable: {error!r}"))
        return
    report.sections.append(("Telegram stand-in", telegram_activity(seen, since=call.start - 5)))


def telegram_activity(seen: dict[str, Any], since: float) -> str:
    def at(seconds: float | None) -> str:
        return "-" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S.%f")[:-3]

    lines = ["webhook deliveries (began, ended, update, type, attempt, answer):"]
    for d in seen.get("deliveries", []):
        if d.get("time", 0) >= since:
            answer = d.get("error") or d.get("status")
            lines.append(
                f"  {at(d.get('started'))} {at(d.get('time'))} {d['update_id']} {d['type']} "
                f"#{d['attempt']} {answer}"
            )
    lines.append("pending updates (update, type, queue, attempts):")
    for u in seen.get("pending", []):
        lines.append(f"  {u['update_id']} {u['type']} {u['queue']} {u['attempts']}")
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _environment_restored(env_guard: None) -> None:
    """`local.clients.firestore` points FIRESTORE_EMULATOR_HOST at the stack: not past the test."""


@pytest.fixture(scope="session")
def endpoints(stack: Stack) -> dict[str, Any]:
    return stack.config.endpoints()


@pytest.fixture
def tg(endpoints: dict[str, Any]) -> TelegramControl:
    return TelegramControl(endpoints)


@pytest.fixture
def np(endpoints: dict[str, Any]) -> NowPaymentsControl:
    return NowPaymentsControl(endpoints)


@pytest.fixture
def db(endpoints: dict[str, Any]) -> firestore_api.Client:
    client: firestore_api.Client = firestore(endpoints)
    return client


@pytest.fixture
def token() -> str:
    """A fresh channel token per test, so tests share the stack without sharing state."""
    return "E2e" + uuid.uuid4().hex[:9]


class StackClock:
    """Moves the whole stack's clock forward (the functions read the offset file)."""

    def __init__(self, stack: Stack) -> None:
        self.offset_file = stack.config.clock_offset_file

    def set(self, seconds: float) -> None:
        self.offset_file.write_text(str(seconds))


@pytest.fixture
def clock(stack: Stack) -> Iterator[StackClock]:
    """The stack's clock, set back to the real time after the test."""
    stack_clock = StackClock(stack)
    yield stack_clock
    stack_clock.set(0)
