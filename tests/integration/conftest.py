"""The real Firestore and Pub/Sub emulators, started once per test session; Firestore is emptied
before every test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.processes import Running, Service, firestore_argv, pubsub_argv, spawn, stop_group, wait_healthy
from tests.conftest import INTEGRATION_PORT_BASE

PROJECT = "telepay-test"
FIRESTORE_PORT = INTEGRATION_PORT_BASE + 10
PUBSUB_PORT = INTEGRATION_PORT_BASE + 11


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, str]]:
    log_dir = Path(tempfile.mkdtemp(prefix="telepay-emulators-"))
    services = [
        Service("firestore-emulator", firestore_argv(FIRESTORE_PORT), FIRESTORE_PORT),
        Service("pubsub-emulator", pubsub_argv(PUBSUB_PORT), PUBSUB_PORT),
    ]
    running: list[Running] = [spawn(s, log_dir) for s in services]
    env = {
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{FIRESTORE_PORT}",
        "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{PUBSUB_PORT}",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
    }
    saved = {k: os.environ.get(k) for k in env}
    try:
        wait_healthy(running, timeout=90, log_dir=log_dir)
        os.environ.update(env)
        yield env
    finally:
        for item in running:
            stop_group(item.pid)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture
def firestore_db(emulators: dict[str, str]):  # type: ignore[no-untyped-def]
    """A Firestore client on an emptied emulator database."""
    from google.cloud import firestore

    reset = f"http://127.0.0.1:{FIRESTORE_PORT}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    httpx.delete(reset, timeout=10).raise_for_status()
    return firestore.Client(project=PROJECT)
