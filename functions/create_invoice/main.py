"""create_invoice: Cloud Task target (OIDC-authenticated by IAM) that makes an order's invoice."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared_schemas.config import CreateInvoiceSettings
from shared_schemas.tasks import CreateInvoiceTask
from telepay.invoices import RetryLater
from telepay.invoices import create_invoice as make_invoice
from telepay.logs import get_logger
from telepay.runtime import start

RT = start(CreateInvoiceSettings, "create_invoice")
log = get_logger("create_invoice")


@functions_framework.http
def create_invoice(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only (Cloud Tasks)"}, 405
    try:
        task = CreateInvoiceTask.model_validate_json(request.get_data())
    except ValidationError as error:
        log.error("malformed task dropped: %s", error.errors()[:3])
        return {"error": "malformed task"}, 200  # a retry cannot fix it; recorded in the log
    attempt = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0")) + 1
    try:
        outcome = make_invoice(task, attempt, RT)
    except RetryLater as error:
        log.warning("retrying: %s", error, extra={"order_id": task.order_id})
        return {"error": "retry"}, 503
    return {"outcome": outcome}, 200
