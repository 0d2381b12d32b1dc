"""`telepay dead-letters replay` of failed tasks: every kind of task TelePay queues, when its function
records it in `failed_tasks`, is queued again on the queue, to the path and with the body it came
with, and the function takes the replayed task.

The tasks are the product's own: an owner's announcement made in the bot (its fan-out, pages,
sends and tally) and the expiry sweep (its page and the removals) queue them, and expire_subscriptions
(its `main.py`, as deployed) runs them as Cloud Tasks dispatches them. Then the function's work refuses
one task of each kind for good, so the function records it as every task target does."""

from __future__ import annotations

import importlib.util
import json
import logging
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from pydantic import BaseModel

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.names import Function
from shared_schemas.queries import FAILED_TASKS_BY_TIME
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
from telepay.entry.task_target import failed_task_id, handle_task
from telepay.owners import announcements
from telepay.runtime import Runtime
from telepay.subscriptions import expiry
from tests.fakes import RecordingTasks
from tests.harness import NOW, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ROOT, ok, run
from tests.unit.owners import test_announcements as bot

Queued = tuple[str, str, Any, str]  # (queue, url, payload, name), as RecordingTasks keeps them


def _expire_subscriptions(
    monkeypatch: pytest.MonkeyPatch, rt: Runtime[ExpireSubscriptionsSettings]
) -> ModuleType:
    """functions/expire_subscriptions/main.py, its runtime the test's (store, Telegram, queues)."""
    monkeypatch.setattr("telepay.runtime.start", lambda _cls, _name: rt)
    spec = importlib.util.spec_from_file_location(
        "expire_subscriptions_main", ROOT / "functions" / "expire_subscriptions" / "main.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dispatch(function: ModuleType, task: Queued, name: str | None = None) -> tuple[Any, int]:
    """What Cloud Tasks sends: a POST to the task's URL with its body and its X-CloudTasks headers."""
    queue, url, payload, queued_as = task
    headers = {"X-CloudTasks-QueueName": queue, "X-CloudTasks-TaskName": task_id(name or queued_as)}
    body = json.dumps(payload.model_dump(mode="json"))
    with Flask(__name__).test_request_context(urlsplit(url).path, method="POST", data=body, headers=headers):
        from flask import request

        answer: tuple[Any, int] = function.expire_subscriptions(request)
        return answer


def _run_all(function: ModuleType, tasks: RecordingTasks, done: list[Queued]) -> None:
    """Every task queued and not run yet, in order, until none is left."""
    while pending := [task for task in tasks.created if task not in done]:
        done.append(pending[0])
        assert _dispatch(function, pending[0])[1] == 200


def _kind(task: Queued) -> tuple[str, str, str]:
    queue, url, payload, _ = task
    step = getattr(payload, "step", None)
    return queue, urlsplit(url).path, f"{type(payload).__name__}{f' {step.value}' if step else ''}"


def _as_compared(tasks: list[Queued]) -> list[tuple[str, str, str]]:
    return sorted((queue, url, payload.model_dump_json()) for queue, url, payload, _ in tasks)


def test_every_kind_of_task_the_function_records_is_replayed_to_the_queue_and_path_it_came_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = bot.bot_runtime()
    store, tasks = rt.store, bot.tasks(rt)
    assert isinstance(store, MemoryStore) and isinstance(rt.clock, FrozenClock)
    worker = bot.worker(rt)
    function = _expire_subscriptions(monkeypatch, worker)

    # The owner announces to all active members; the queue runs the announcement's tasks.
    bot.members(rt)
    for said in ("/announce", "Hello"):
        bot.said(rt, said)
    for label in ("All active subscribers", "No button", "📣 Send"):
        bot.pressed(rt, label)
    done: list[Queued] = []
    _run_all(function, tasks, done)
    assert [m.chat_id for m in bot.tg(rt).sent if m.text == "Hello" and m.chat_id != bot.OWNER] == list(
        bot.MEMBERS[1:]
    )
    # Days later the every-minute sweep queues what is due (the first action itself, the rest handed
    # out in a page: one action to a page here, 200 in production).
    rt.clock.advance(days=4)
    monkeypatch.setattr(expiry, "SWEEP_PAGE_ACTIONS", 1)
    with Flask(__name__).test_request_context("/", method="POST"):
        from flask import request

        assert function.expire_subscriptions(request)[1] == 200
    _run_all(function, tasks, done)

    one_of_each = list({_kind(task): task for task in reversed(done)}.values())
    assert sorted(map(_kind, one_of_each)) == [
        ("fan-out", "/expire_subscriptions/task/announcement", "AnnouncementTask page"),
        ("fan-out", "/expire_subscriptions/task/page", "ExpiryPageTask"),
        ("telegram-actions", "/expire_subscriptions/task", "ExpiryTask"),
        ("telegram-actions", "/expire_subscriptions/task/announcement", "AnnouncementTask fan_out"),
        ("telegram-actions", "/expire_subscriptions/task/announcement", "AnnouncementTask send"),
        ("telegram-actions", "/expire_subscriptions/task/announcement", "AnnouncementTask tally"),
    ]

    # Each of them comes again (a new task of the same kind) and the work refuses it for good.
    def refuse(*_args: Any) -> str:
        raise Permanent("refused")

    with monkeypatch.context() as patched:
        for owner, work in ((announcements, "run_task"), (function, "run_page"), (function, "run_task")):
            patched.setattr(owner, work, refuse)
        answers = [_dispatch(function, task, name=f"again-{task[3]}") for task in one_of_each]
    assert all(answer == ({"error": "cannot succeed", "recorded": True}, 200) for answer in answers)
    recorded = [
        failed_task_id(Function.EXPIRE_SUBSCRIPTIONS, task_id(f"again-{task[3]}")) for task in one_of_each
    ]
    kept = {
        stored.id: stored.doc for page in store.failed_tasks.pages(FAILED_TASKS_BY_TIME) for stored in page
    }
    assert sorted(kept) == sorted(recorded)
    assert [(kept[doc_id].queue, kept[doc_id].path) for doc_id in recorded] == [
        (queue, urlsplit(url).path) for queue, url, _, _ in one_of_each
    ]

    env = {"EXPIRE_SUBSCRIPTIONS_URL": worker.settings.expire_subscriptions_url}
    replays = RecordingTasks()
    result = ok(run(store, "--json", "dead-letters", "replay", *recorded, env=env, tasks_=replays))
    assert _as_compared(replays.created) == _as_compared(one_of_each)
    assert [(r["queue"], r["path"]) for r in json.loads(result.output)["replayed"]] == [
        (queue, urlsplit(url).path.removeprefix("/expire_subscriptions")) for queue, url, _, _ in one_of_each
    ]
    assert store.failed_tasks.get(recorded[0]) is None

    # The function takes every replayed task as the kind of task it is (none is recorded again).
    for replayed in replays.created:
        assert _dispatch(function, replayed)[0].get("recorded") is None
    assert not [stored for page in store.failed_tasks.pages(FAILED_TASKS_BY_TIME) for stored in page]


def test_a_replayed_announcement_send_stays_on_the_paced_queue() -> None:
    """A record names its queue: a recipient's send (telegram-actions) and a page of recipients
    (fan-out) come on the same path and are each replayed where they came from."""
    store = MemoryStore()
    tasks = RecordingTasks()
    url = "https://expire.test"
    send = AnnouncementTask(step=AnnouncementStep.SEND, announcement_id="a-1", user_id=7)
    page = AnnouncementTask(step=AnnouncementStep.PAGE, announcement_id="a-1", user_ids=[7])
    ids = []
    for queue, payload, name in (("telegram-actions", send, "s1"), ("fan-out", page, "p1")):
        ids.append(_recorded(store, "/task/announcement", queue, payload, name))
    ok(run(store, "dead-letters", "replay", *ids, env={"EXPIRE_SUBSCRIPTIONS_URL": url}, tasks_=tasks))
    assert [(queue, target, payload) for queue, target, payload, _ in tasks.created] == [
        ("telegram-actions", f"{url}/task/announcement", send),
        ("fan-out", f"{url}/task/announcement", page),
    ]


def test_a_record_from_a_queue_its_path_takes_nothing_from_is_not_replayed() -> None:
    store = MemoryStore()
    tasks = RecordingTasks()
    expiry = ExpiryTask(action=ExpiryAction.REMOVE, subscription_id="DemoChannel01-1", expires_at=NOW)
    wrong = _recorded(store, "/task", "fan-out", expiry, "w1")
    page = _recorded(
        store,
        "/task/page",
        "keypad",
        ExpiryPageTask(actions=[NamedExpiryTask(name="remove-1", task=expiry)], swept_at=NOW),
        "w2",
    )
    for doc_id, path, queue in ((wrong, "/task", "fan-out"), (page, "/task/page", "keypad")):
        refused = run(
            store,
            "dead-letters",
            "replay",
            doc_id,
            env={"EXPIRE_SUBSCRIPTIONS_URL": "https://e.test"},
            tasks_=tasks,
        )
        assert refused.exit_code == 1 and f"takes no tasks from {queue} on {path}" in refused.stderr
        assert store.failed_tasks.get(doc_id) is not None
    assert tasks.created == []


def _recorded(store: MemoryStore, path: str, queue: str, payload: BaseModel, name: str) -> str:
    """The record expire_subscriptions keeps of a task it refused for good on `path` from `queue`."""
    model = type(payload)
    rt = runtime(ExpireSubscriptionsSettings, store)
    headers = {"X-CloudTasks-TaskName": name, "X-CloudTasks-QueueName": queue}
    body = payload.model_dump_json()
    with Flask(__name__).test_request_context(path, method="POST", data=body, headers=headers):
        from flask import request

        def refuse(_task: Any, _attempt: int) -> str:
            raise Permanent("refused")

        assert (
            handle_task(request, model, refuse, logging.getLogger("t"), rt, Function.EXPIRE_SUBSCRIPTIONS)[1]
            == 200
        )
    return failed_task_id(Function.EXPIRE_SUBSCRIPTIONS, name)
