"""Starting and stopping local processes by process group, and waiting for them to be healthy."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SDK_HINT = "Install the Google Cloud CLI with its Firestore and Pub/Sub emulator components."


class StackError(RuntimeError):
    pass


def gcloud_sdk_root() -> Path:
    env = os.environ.get("CLOUDSDK_ROOT_DIR")
    if env:
        return Path(env)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise StackError(f"gcloud not found on PATH. {SDK_HINT}")
    # .../google-cloud-sdk/bin/gcloud (possibly through a symlink)
    return Path(gcloud).resolve().parent.parent


def emulator_binary(name: str) -> Path:
    relative = {
        "firestore": "platform/cloud-firestore-emulator/cloud_firestore_emulator",
        "pubsub": "platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    }[name]
    path = gcloud_sdk_root() / relative
    if not path.exists():
        raise StackError(f"The {name} emulator binary is missing: expected {path}. {SDK_HINT}")
    if shutil.which("java") is None:
        raise StackError("java not found on PATH: the Firestore and Pub/Sub emulators need Java 17.")
    return path


def firestore_argv(port: int) -> list[str]:
    return [str(emulator_binary("firestore")), "start", "--host=127.0.0.1", f"--port={port}"]


def pubsub_argv(port: int) -> list[str]:
    return [str(emulator_binary("pubsub")), "--host=127.0.0.1", f"--port={port}"]


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    health_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    any_answer_is_healthy: bool = False
    cwd: str | None = None


@dataclass
class Running:
    service: Service
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


def spawn(service: Service, log_dir: Path) -> Running:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{service.name}.log", "ab")  # noqa: SIM115 - owned by the child
    env = {**os.environ, **service.env}
    process = subprocess.Popen(
        service.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=service.cwd,
        start_new_session=True,  # its own process group: stopping it stops its children (the JVM)
    )
    log.close()
    return Running(service, process)


def is_healthy(service: Service) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{service.port}{service.health_path}", timeout=1.0)
    except httpx.HTTPError:
        return False
    return service.any_answer_is_healthy or response.status_code == 200


def wait_healthy(
    running: list[Running],
    timeout: float,
    log_dir: Path,
    on_ready: Callable[[Running], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    pending = list(running)
    while pending:
        for item in list(pending):
            if item.process.poll() is not None:
                tail = _tail(log_dir / f"{item.service.name}.log")
                raise StackError(f"{item.service.name} exited with {item.process.returncode}:\n{tail}")
            if is_healthy(item.service):
                pending.remove(item)
                if on_ready:
                    on_ready(item)
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(i.service.name for i in pending)
            raise StackError(f"not healthy after {timeout:.0f} s: {names} (logs in {log_dir})")
        time.sleep(0.1)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def busy_ports(ports: list[int], wait: float = 0.0) -> list[int]:
    """The ports something still listens on, after waiting up to `wait` seconds for them to free
    (a stack stopped just before may still be letting go of them)."""
    deadline = time.monotonic() + wait
    while True:
        busy = [port for port in ports if port_in_use(port)]
        if not busy or time.monotonic() >= deadline:
            return busy
        time.sleep(0.1)


def stop_group(pid: int, grace: float = 5.0) -> None:
    """Stop a process group (the process and everything it spawned), politely then firmly."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pgid):
                _reap(pid)
                return
            time.sleep(0.05)


def kill_group(pid: int, timeout: float = 5.0) -> None:
    """SIGKILL a process group at once (a crash: no shutdown hook runs) and wait until it is gone."""
    try:
        pgid = os.getpgid(pid)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _reap(pid)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send one signal to a process group (SIGSTOP / SIGCONT freeze and thaw it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still "exists": check for live members through /proc. A member whose main
    # thread is a zombie may still be running other threads (a JVM shutting down, its sockets still
    # open), so a zombie counts as gone only once every thread of it is.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        state = _state(entry)
        if state is None or state[1] != pgid:
            continue
        if state[0] != "Z" or _any_thread_running(entry):
            return True
    return False


def _state(proc: Path) -> tuple[str, int] | None:
    """(state letter, process group) from /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat."""
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def _any_thread_running(proc: Path) -> bool:
    try:
        threads = list((proc / "task").iterdir())
    except OSError:
        return False
    return any((state := _state(thread)) is not None and state[0] != "Z" for thread in threads)
