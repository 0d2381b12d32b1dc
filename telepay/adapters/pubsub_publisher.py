"""Pub/Sub publishing (lazy client; PUBSUB_EMULATOR_HOST selects the emulator)."""

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

                # One message per batch: sent at once instead of waiting up to 10 ms for more (the
                # default), which every IPN answer would wait for.
                self._client = pubsub_v1.PublisherClient(
                    batch_settings=pubsub_v1.types.BatchSettings(max_messages=1)
                )
            return self._client

    def publish(self, topic: Topic, data: bytes, **attributes: str) -> str:
        client = self._get_client()
        future = client.publish(client.topic_path(self._project, topic.value), data, **attributes)
        return str(future.result(timeout=self._timeout))
