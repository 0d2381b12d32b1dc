"""The stand-ins keep an idle connection open longer than their clients keep one for reuse.

httpx keeps an idle connection for 5 s before it opens a new one, and uvicorn closed an idle one
after 5 s too. A request sent at the moment the stand-in closed its end met a reset socket: one
run of the drills ended on "Connection reset by peer" while it read the NowPayments stand-in's
payouts. With the stand-ins holding idle connections well past the clients' expiry, a connection a
client reuses is always still open.
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

import httpx
import pytest

from local.background_server import KEEP_ALIVE_SECONDS
from local.processes import Service, kill_group, port_in_use, spawn
from tests.conftest import INTEGRATION_PORT_BASE

CLIENT_KEEPALIVE_EXPIRY = 5.0  # httpx's default (httpx.Limits().keepalive_expiry)
PORT = INTEGRATION_PORT_BASE + 91

STANDINS = {
    "telegram": ["--bot-token", "7000000009:keep-alive-test", "--bot-username", "KeepAliveBot"],
    "nowpayments": [
        "--api-key",
        "k",
        "--ipn-secret",
        "s",
        "--totp-secret",
        "KEEPALIVETESTSECRET234567ABCDEF",
    ],
    "tasks": [],
}


def test_clients_give_up_an_idle_connection_before_the_standins_close_it() -> None:
    assert httpx.Limits().keepalive_expiry == CLIENT_KEEPALIVE_EXPIRY
    assert KEEP_ALIVE_SECONDS > 2 * CLIENT_KEEPALIVE_EXPIRY


@pytest.mark.parametrize("standin", sorted(STANDINS))
def test_a_standin_keeps_an_idle_connection_past_the_clients_expiry(standin: str, tmp_path: Path) -> None:
    port = PORT + sorted(STANDINS).index(standin)
    argv = [sys.executable, "-m", f"local.{standin}_standin", "--port", str(port), "--log-level", "warning"]
    running = spawn(Service(f"{standin}-standin", [*argv, *STANDINS[standin]], port), tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not port_in_use(port):
            assert running.process.poll() is None, (tmp_path / f"{standin}-standin.log").read_text()
            assert time.monotonic() < deadline, "the stand-in never came up"
            time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() and connection.sock is not None
            time.sleep(CLIENT_KEEPALIVE_EXPIRY + 1)
            # Reused after the client's expiry: still open (a closed one raises RemoteDisconnected).
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    finally:
        kill_group(running.pid)
