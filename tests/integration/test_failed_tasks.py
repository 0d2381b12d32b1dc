"""Failed tasks on the Firestore emulator: expire_subscriptions (its `main.py`) records a task it
refuses for good with the queue and path Cloud Tasks brought it on, the record reads back, and
`telepay dead-letters replay` queues it there again; a record an earlier release kept (no queue, no
path) is replayed as that release did."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from google.cloud import firestore

from operator_cli.context import Operator
from operator_cli.main import cli
from shared_schemas.documents import FAILED_TASK_LIFETIME, FailedTaskDoc
from shared_schemas.names import Collection, Function
from shared_schemas.tasks import (
    AnnouncementStep,
    AnnouncementTask,
    ExpiryAction,
    ExpiryPageTask,
    ExpiryTask,
    NamedExpiryTask,
)
from telepay.adapters.tasks_queue import task_id
from telepay.core.clock import FrozenClock
from telepay.core.errors import Permanent
from telepay.entry.task_target import failed_task_id
from telepay.owners import announcements
from tests.fakes import RecordingTasks
from tests.integration.helpers import NOW, runtime, store_of
from tests.operator_cli.test_failed_tasks import _dispatch, _expire_subscriptions

pytestmark = pytest.mark.integration
URL = "http://127.0.0.1:1/expire_subscriptions"


def test_recorded_with_queue_and_path_on_firestore_and_replayed_there(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(firestore_db, "expiry", expire_subscriptions_url=URL)
    function = _expire_subscriptions(monkeypatch, rt)
    removal = ExpiryTask(action=ExpiryAction.REMOVE, subscription_id="DemoChannel01-7001", expires_at=NOW)
    page = ExpiryPageTask(actions=[NamedExpiryTask(name="remove-7001", task=removal)], swept_at=NOW)
    send = AnnouncementTask(
        step=AnnouncementStep.SEND, announcement_id="DemoChannel01-20261126-1", user_id=7001
    )
    brought = [
        ("fan-out", f"{URL}/task/page", page, "sweep-page-1"),
        ("telegram-actions", f"{URL}/task/announcement", send, "ann-1-7001"),
    ]

    def refuse(*_args: Any) -> str:
        raise Permanent("refused")

    with monkeypatch.context() as patched:
        patched.setattr(function, "run_page", refuse)
        patched.setattr(announcements, "run_task", refuse)
        for task in brought:
            assert _dispatch(function, task)[0] == {"error": "cannot succeed", "recorded": True}
    recorded = [failed_task_id(Function.EXPIRE_SUBSCRIPTIONS, task_id(task[3])) for task in brought]
    kept = [rt.store.failed_tasks.get(doc_id) for doc_id in recorded]
    assert [(doc.queue, doc.path) for doc in kept if doc] == [
        ("fan-out", "/expire_subscriptions/task/page"),
        ("telegram-actions", "/expire_subscriptions/task/announcement"),
    ]

    # A removal recorded by a release that kept neither queue nor path.
    earlier = FailedTaskDoc(
        function=Function.EXPIRE_SUBSCRIPTIONS,
        task_name="remove-earlier",
        reason="Permanent: refused",
        body=removal.model_dump_json(),
        attempt=1,
        recorded_at=NOW,
        expire_at=NOW + FAILED_TASK_LIFETIME,
    ).to_firestore()
    old_id = "expire_subscriptions-remove-earlier"
    firestore_db.collection(Collection.FAILED_TASKS.value).document(old_id).set(
        {k: v for k, v in earlier.items() if k not in ("queue", "path")}
    )

    replays = RecordingTasks()
    fakes: dict[str, Any] = {"tasks_": replays}  # Cloud Tasks has no official emulator
    operator = Operator(
        store_=store_of(firestore_db),
        clock=FrozenClock(NOW),
        operator="ops@example.test",
        env={"EXPIRE_SUBSCRIPTIONS_URL": URL},
        **fakes,
    )
    result = CliRunner().invoke(cli, ["--json", "dead-letters", "replay", *recorded, old_id], obj=operator)
    assert result.exit_code == 0, (result.output, result.exception)
    assert [(queue, url, payload) for queue, url, payload, _ in replays.created] == [
        ("fan-out", f"{URL}/task/page", page),
        ("telegram-actions", f"{URL}/task/announcement", send),
        ("telegram-actions", f"{URL}/task", removal),
    ]
    assert [r["path"] for r in json.loads(result.output)["replayed"]] == [
        "/task/page",
        "/task/announcement",
        "/task",
    ]
    assert all(rt.store.failed_tasks.get(doc_id) is None for doc_id in [*recorded, old_id])
