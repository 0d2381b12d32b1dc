"""notify: Pub/Sub push target (OIDC-authenticated) for payment events."""

from __future__ import annotations

import base64

import functions_framework
from cloudevents.http import CloudEvent

from shared_schemas.config import NotifySettings
from shared_schemas.messages import Envelope, PaymentEvent
from telepay.core.logs import get_logger
from telepay.payments.notify import handle_event
from telepay.runtime import start

RT = start(NotifySettings, "notify")
log = get_logger("notify")


@functions_framework.cloud_event
def notify(cloud_event: CloudEvent) -> None:
    message = (cloud_event.data or {}).get("message", {})
    raw = base64.b64decode(message.get("data", ""))
    # A malformed message raises: Pub/Sub retries it and then keeps it in the dead-letter topic.
    envelope = Envelope[PaymentEvent].model_validate_json(raw)
    outcomes = handle_event(envelope, RT)
    log.info("event handled: %s", "; ".join(outcomes), extra={"event_id": envelope.event_id})
