"""Stopping a local service: `stop_group` returns only once the service's port is free.

The Firestore emulator is a JVM. When its main thread is done first, Linux shows the process as a
zombie while its other threads still hold the listening socket and tear down the heap. A stop
that took the zombie main thread for "gone" returned early, and the next stage of `make bench`
found the port still taken ("ports already in use: firestore-emulator").
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from local.processes import Service, kill_group, port_in_use, spawn, stop_group
from tests.conftest import INTEGRATION_PORT_BASE

PORT = INTEGRATION_PORT_BASE + 90  # below the ephemeral range, away from the test emulators

# A listener whose main thread exits first (pthread_exit), leaving a thread that holds the socket
# and keeps running until SIGKILL: a Python signal handler only runs on the main thread, so
# SIGTERM is never acted on, as with a JVM still busy shutting down.
LEADER_EXITS_FIRST = textwrap.dedent(
    """
    import ctypes, signal, socket, sys, threading, time
    signal.signal(signal.SIGTERM, lambda *_: None)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen()
    def serve():
        while True:
            connection, _ = listener.accept()
            connection.close()
    threading.Thread(target=serve).start()
    ctypes.CDLL(None).pthread_exit(None)
    """
)


def test_a_service_whose_main_thread_ends_first_is_stopped_before_stop_returns(tmp_path: Path) -> None:
    service = Service("leader-exits-first", [sys.executable, "-c", LEADER_EXITS_FIRST, str(PORT)], PORT)
    running = spawn(service, tmp_path)
    try:
        deadline = time.monotonic() + 10
        while not port_in_use(PORT):
            assert time.monotonic() < deadline, "the listener never came up"
            time.sleep(0.05)

        stop_group(running.pid, grace=0.5)

        assert not port_in_use(PORT), "stop_group returned while the service still held its port"
        assert running.process.poll() is not None
    finally:
        kill_group(running.pid)
