"""payout: private HTTP function (OIDC-authenticated by IAM) with two callers:
- the `payout-payment-events` push subscription (a Pub/Sub push body): after a settled payment,
  plan the channel's payouts and drive the new ones;
- Cloud Scheduler every minute: the threshold check, resuming and polling open payouts, notices."""

from __future__ import annotations

import base64
from typing import Any

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared_schemas.config import PayoutSettings
from shared_schemas.messages import Envelope, PaymentEvent
from telepay.core.errors import Transient
from telepay.core.logs import get_logger
from telepay.payouts.flow import handle_event, run_scheduled
from telepay.runtime import start

RT = start(PayoutSettings, "payout")
log = get_logger("payout")


@functions_framework.http
def payout(request: Request) -> tuple[Any, int]:
    if request.method != "POST":
        return {"error": "POST only"}, 405
    body = request.get_json(silent=True) or {}
    if isinstance(body, dict) and isinstance(body.get("message"), dict):
        return _event(body["message"])
    scheduled = request.headers.get("X-CloudScheduler-ScheduleTime", "")
    try:
        counts = run_scheduled(RT)
    except Transient as error:  # the next run (a minute later) catches up
        log.warning("payout run %s not finished: %s", scheduled, error)
        return {"error": "try again"}, 503
    log.info("payout run %s: %s", scheduled, counts)
    return {"counts": counts}, 200


def _event(message: dict[str, Any]) -> tuple[Any, int]:
    """Any non-2xx answer makes Pub/Sub redeliver (with backoff) and finally dead-letter it."""
    try:
        envelope = Envelope[PaymentEvent].model_validate_json(base64.b64decode(message.get("data", "")))
    except (ValidationError, ValueError) as error:
        log.error("malformed payment event, left to dead-lettering: %s", error)
        return {"error": "malformed event"}, 400
    try:
        outcomes = handle_event(envelope, RT)
    except Transient as error:
        log.warning("payment event not handled yet: %s", error, extra={"event_id": envelope.event_id})
        return {"error": "try again"}, 503
    log.info("event handled: %s", "; ".join(outcomes), extra={"event_id": envelope.event_id})
    return {"outcomes": outcomes}, 200
