"""keypad: Cloud Task target (OIDC-authenticated) for the donation keypad. Not built yet: answers
501 so its tasks fail visibly (and are retried) instead of being dropped."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import KeypadSettings
from telepay.logs import get_logger
from telepay.runtime import start

RT = start(KeypadSettings, "keypad")
log = get_logger("keypad")


@functions_framework.http
def keypad(request: Request) -> tuple[Any, int]:
    log.error("donation keypad is not built yet")
    return {"error": "donation keypad is not built yet"}, 501
