"""Failed Cloud Tasks (`failed_tasks`): replaying one queues its body again as a new task, on the
queue whose target recorded it, to the same function (its `/task` path for a scheduled function),
then drops the record; if it fails again, the function records it again."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from operator_cli.context import Operator
from operator_cli.output import Failed
from shared_schemas.documents import FailedTaskDoc
from shared_schemas.names import QUEUES, QueueSpec, function_spec
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
    name = task_name_part(f"replay-{doc.task_name}-{int(op.clock.now().timestamp() * 1000)}")
    queue_to_target(op, spec, payload, name)
    op.store.failed_tasks.delete(stored.id)
    return {"id": stored.id, "queue": spec.name.value, "task_name": name}


def queue_to_target(op: Operator, spec: QueueSpec, payload: BaseModel, name: str) -> bool:
    """A named task on `spec`'s queue to its target, as the functions queue them: the target's URL
    (`<FUNCTION>_URL`, or the stack's endpoints), its `/task` path for a scheduled function.
    False when that name was used recently."""
    url = op.setting(f"{spec.target.value.upper()}_URL", f"functions.{spec.target.value}")
    if function_spec(spec.target).trigger == "scheduler":  # it takes its tasks on /task
        return enqueue_to_self(op.tasks, spec.name, url, payload, name)
    return enqueue_once(op.tasks, spec.name, url, payload, name)
