"""``python -m local.tasks_standin --host 127.0.0.1 --port PORT [--queue NAME ...]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from local.background_server import serve
from local.tasks_standin.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.tasks_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="projects/P/locations/L/queues/Q",
        help="create this queue (default settings) at startup and on reset; repeatable",
    )
    parser.add_argument(
        "--tombstone-seconds",
        type=float,
        default=3600.0,
        help="how long a completed or deleted task's name stays taken (default 3600)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep queues, tasks and tombstones in this file and read them back on start",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    app = create_app(tombstone_seconds=args.tombstone_seconds, queues=args.queue, state_file=args.state_file)
    serve(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
