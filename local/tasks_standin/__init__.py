"""Local stand-in for Google Cloud Tasks v2 (REST), with real dispatch semantics and a control API.

There is no official Cloud Tasks emulator. This one serves the REST surface the real
``google.cloud.tasks_v2.CloudTasksClient(transport="rest")`` uses and dispatches HTTP tasks with
Cloud Tasks' headers, name de-duplication, schedule times, rate limits and retries. Run it::

    python -m local.tasks_standin --host 127.0.0.1 --port 8123

See ``README.md`` next to this file for the client construction, semantics and the ``/_control`` API.
"""

from local.tasks_standin.app import create_app
from local.tasks_standin.engine import ApiError, DispatchResult, TasksEngine, backoff_seconds

__all__ = ["ApiError", "DispatchResult", "TasksEngine", "backoff_seconds", "create_app"]
