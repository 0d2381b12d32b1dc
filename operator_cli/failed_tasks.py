"""Failed Cloud Tasks (`failed_tasks`): replaying one queues its body again as a new task, on the
queue whose target recorded it, to the same function (its `/task` path for a scheduled function),
then drops the record; if it fails again, the function records it again."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from operator_cli.context import Operator
from operator_cli.output import Failed
from shared_schemas.documents import FailedTaskDoc
from shared_schemas.names import QUEUES, function_spec
from shared_schemas.tasks import TASK_PAYLOADS
from telepay.adapters.tasks_queue import enqueue_once, enqueue_to_self, task_name_part
from telepay.core.store import Stored


def replay(op: Operator, stored: Stored[FailedTaskDoc]) -> dict[str, Any]:
    doc = stored.doc
    spec = next(q for q in QUEUES if q.target is doc.function)
    model = TASK_PAYLOADS[spec.name]
    try:
        payload = model.model_validate_json(doc.body)
    except ValidationError as error:
        raise Failed(
            f"{stored.id}: its body is no {model.__name__} ({error.error_count()} problems); not replayed"
        ) from None
    url = op.setting(f"{doc.function.value.upper()}_URL", f"functions.{doc.function.value}")
    name = task_name_part(f"replay-{doc.task_name}-{int(op.clock.now().timestamp() * 1000)}")
    if function_spec(doc.function).trigger == "scheduler":  # it takes its tasks on /task
        enqueue_to_self(op.tasks, spec.name, url, payload, name)
    else:
        enqueue_once(op.tasks, spec.name, url, payload, name)
    op.store.failed_tasks.delete(stored.id)
    return {"id": stored.id, "queue": spec.name.value, "task_name": name}
