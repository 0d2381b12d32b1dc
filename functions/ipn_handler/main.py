"""ipn_handler: public HTTP entry point for NowPayments IPN callbacks."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import IpnHandlerSettings
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.entry.request_body import BodyTooLarge, read_bounded
from telepay.payments.ipn import handle_ipn
from telepay.runtime import start

RT = start(IpnHandlerSettings, "ipn_handler")
log = get_logger("ipn_handler")
MAX_BODY = 64_000


@functions_framework.http
def ipn_handler(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only"}, 405
    try:
        body = read_bounded(request, MAX_BODY)
    except BodyTooLarge:
        return {"error": "too large"}, 413
    try:
        result = handle_ipn(body, request.headers.get("x-nowpayments-sig"), RT)
    except Transient as error:
        log.warning("IPN not settled yet, asking for a retry: %s", error)
        return {"ok": False, "error": "try again"}, 503
    return {"ok": result.http_status < 300, "outcome": result.outcome}, result.http_status
