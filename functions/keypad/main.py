"""keypad: Cloud Task target (OIDC-authenticated) for the donation keypad: opening it and each press."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import KeypadSettings
from shared_schemas.names import Function
from shared_schemas.tasks import KeypadAction, KeypadTask
from telepay.core.logs import get_logger
from telepay.donations.keypad import open_keypad, press
from telepay.entry.task_target import handle_task
from telepay.runtime import start

RT = start(KeypadSettings, "keypad")
log = get_logger("keypad")


@functions_framework.http
def keypad(request: Request) -> tuple[Any, int]:
    return handle_task(request, KeypadTask, lambda task, _: _keypad(task), log, RT, Function.KEYPAD)


def _keypad(task: KeypadTask) -> str:
    if task.action is KeypadAction.OPEN:
        return open_keypad(task, RT)
    return press(task, RT).outcome
