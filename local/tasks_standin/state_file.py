"""The stand-in's queues and tasks on disk, so a restart keeps them, as Cloud Tasks does.

An append-only journal of JSON lines, one per change (a queue written or deleted, a task written,
a task gone with the end of its name's tombstone, a reset), flushed to the operating system on every
change: a stand-in killed with SIGKILL loses nothing it acknowledged. On start the journal is read
back and rewritten as a snapshot (one line per live queue, task and tombstone); it is compacted
again whenever it grows past four times what it holds.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

COMPACT_MIN_LINES = 20_000


@dataclass
class SavedTask:
    pb: bytes
    due: float
    first_dispatch: float | None
    execution_count: int
    last_http_status: int | None


@dataclass
class SavedState:
    queues: dict[str, bytes] = field(default_factory=dict)
    tasks: dict[str, dict[str, SavedTask]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, float]] = field(default_factory=dict)

    def apply(self, entry: dict[str, Any]) -> None:
        kind = entry["k"]
        if kind == "reset":
            self.queues.clear()
            self.tasks.clear()
            self.tombstones.clear()
        elif kind == "queue":
            self.queues[entry["q"]] = base64.b64decode(entry["pb"])
        elif kind == "queue-deleted":
            self.queues.pop(entry["q"], None)
            self.tasks.pop(entry["q"], None)
            self.tombstones.pop(entry["q"], None)
        elif kind == "task":
            self.tasks.setdefault(entry["q"], {})[entry["id"]] = SavedTask(
                base64.b64decode(entry["pb"]),
                float(entry["due"]),
                entry.get("first"),
                int(entry.get("exec", 0)),
                entry.get("status"),
            )
            self.tombstones.get(entry["q"], {}).pop(entry["id"], None)
        elif kind == "gone":
            self.tasks.get(entry["q"], {}).pop(entry["id"], None)
            self.tombstones.setdefault(entry["q"], {})[entry["id"]] = float(entry["until"])

    def entries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [queue_entry(name, pb) for name, pb in self.queues.items()]
        for queue, tasks in self.tasks.items():
            out += [task_entry(queue, task_id, saved) for task_id, saved in tasks.items()]
        for queue, stones in self.tombstones.items():
            out += [gone_entry(queue, task_id, until) for task_id, until in stones.items()]
        return out


def queue_entry(name: str, pb: bytes) -> dict[str, Any]:
    return {"k": "queue", "q": name, "pb": base64.b64encode(pb).decode()}


def task_entry(queue: str, task_id: str, saved: SavedTask) -> dict[str, Any]:
    return {
        "k": "task",
        "q": queue,
        "id": task_id,
        "pb": base64.b64encode(saved.pb).decode(),
        "due": saved.due,
        "first": saved.first_dispatch,
        "exec": saved.execution_count,
        "status": saved.last_http_status,
    }


def gone_entry(queue: str, task_id: str, until: float) -> dict[str, Any]:
    return {"k": "gone", "q": queue, "id": task_id, "until": until}


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._lines = 0
        self._live = 0

    def load(self) -> SavedState:
        """Read the journal back (a torn last line from a kill is skipped) and compact it."""
        state = SavedState()
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    state.apply(json.loads(line))
                except (ValueError, KeyError):
                    continue
        self.rewrite(state.entries())
        return state

    def rewrite(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._file is not None:
            self._file.close()
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w") as out:
            out.writelines(json.dumps(entry) + "\n" for entry in entries)
        os.replace(temporary, self.path)
        self._file = self.path.open("a")
        self._lines = self._live = len(entries)

    def append(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        self._lines += 1

    def needs_compaction(self, live: int) -> bool:
        return self._lines > max(COMPACT_MIN_LINES, 4 * live)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
