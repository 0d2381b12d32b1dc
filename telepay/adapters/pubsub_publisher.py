"""Pub/Sub publishing: one message, one unary Publish call (lazy client; PUBSUB_EMULATOR_HOST
selects the emulator).

TelePay publishes one event at a time and waits until Pub/Sub has it (the outbox marks it published
after). The library's batching `publish` is built for the opposite: it queues each message in a
batch and commits the batch from a thread of its own, which for one message a batch costs a thread
start and a future per event (seen in the IPN profile). The client is a subclass of Google's
generated publisher client, whose own `publish` makes the same Publish call directly: that is the
one called here, retrying transient errors for at most `timeout` in all (the generated default
retries for a minute, and the IPN that waits on the publish must answer within 3 s; a publish that
fails leaves the event in the outbox, and its IPN is answered 503).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from shared_schemas.names import Topic

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import PublisherClient


class Publisher:
    def __init__(self, project: str, timeout: float = 5.0) -> None:
        self._project = project
        self._timeout = timeout
        self._client: PublisherClient | None = None
        self._lock = threading.Lock()  # the process's request threads share one client

    def _get_client(self) -> PublisherClient:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1

                self._client = pubsub_v1.PublisherClient()  # reads PUBSUB_EMULATOR_HOST itself
            return self._client

    def publish(self, topic: Topic, data: bytes, **attributes: str) -> str:
        from google.api_core import exceptions
        from google.api_core.retry import Retry, if_exception_type
        from google.pubsub_v1 import PubsubMessage
        from google.pubsub_v1.services.publisher import PublisherClient as GeneratedPublisher

        client = self._get_client()
        transient = if_exception_type(
            exceptions.Aborted,
            exceptions.Cancelled,
            exceptions.DeadlineExceeded,
            exceptions.InternalServerError,
            exceptions.ResourceExhausted,
            exceptions.ServiceUnavailable,
            exceptions.Unknown,
        )
        answer = GeneratedPublisher.publish(
            client,
            topic=client.topic_path(self._project, topic.value),
            messages=[PubsubMessage(data=data, attributes=attributes)],
            retry=Retry(predicate=transient, initial=0.1, maximum=1.0, timeout=self._timeout),
            timeout=self._timeout,
        )
        return str(answer.message_ids[0])
