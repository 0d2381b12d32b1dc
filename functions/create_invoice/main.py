"""create_invoice: Cloud Task target (OIDC-authenticated by IAM) that makes an order's invoice."""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request

from shared_schemas.config import CreateInvoiceSettings
from shared_schemas.names import Function
from shared_schemas.tasks import CreateInvoiceTask
from telepay.core.logs import get_logger
from telepay.entry.task_target import handle_task
from telepay.payments.invoices import create_invoice as make_invoice
from telepay.runtime import start

RT = start(CreateInvoiceSettings, "create_invoice")
log = get_logger("create_invoice")


@functions_framework.http
def create_invoice(request: Request) -> tuple[Any, int]:
    return handle_task(
        request,
        CreateInvoiceTask,
        lambda task, attempt: make_invoice(task, attempt, RT),
        log,
        RT,
        Function.CREATE_INVOICE,
    )
