"""One function served as Cloud Run serves it, metered: functions-framework's own gunicorn
application (one worker process per instance, `THREADS` request threads, as the `functions-framework`
command runs it), whose access hook writes one JSON line per request to `TELEPAY_METER_FILE`: the
process, when the request ended, how long it took, and the Firestore documents the process has read,
written and deleted so far (`telepay.adapters.firestore_store.METER`).

The benchmarks read those lines for each function's instance-seconds (the time an instance had at
least one request, which is what Cloud Run bills) and Firestore operations per sale
(`scripts/bench_burst.py`). The stack starts functions so when `StackConfig.metered` is set.

    python -m local.metered_function --target ipn_handler --source functions/ipn_handler/main.py --port 8080
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

METER_FILE = "TELEPAY_METER_FILE"


class MeteredLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, whose access record (called after every response) goes to the meter."""

    _write_lock = threading.Lock()

    def access(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> None:
        path = os.environ.get(METER_FILE)
        if not path:
            return
        from telepay.adapters.firestore_store import METER

        line = json.dumps(
            {
                "pid": os.getpid(),
                "end": time.time(),
                "seconds": request_time.total_seconds(),
                "path": getattr(req, "path", ""),
                "status": str(getattr(resp, "status", "")).split(" ")[0],
                "firestore": METER.counts(),
            }
        )
        with self._write_lock, open(path, "a") as meter:
            meter.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m local.metered_function")
    parser.add_argument("--target", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import functions_framework
    from functions_framework._http.gunicorn import GunicornApplication

    app = functions_framework.create_app(args.target, args.source)
    GunicornApplication(
        app, args.host, args.port, False, logger_class="local.metered_function.MeteredLogger"
    ).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
