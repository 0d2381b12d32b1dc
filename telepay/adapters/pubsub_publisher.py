"""Pub/Sub publishing (lazy client; PUBSUB_EMULATOR_HOST selects the emulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared_schemas.names import Topic

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import PublisherClient


class Publisher:
    def __init__(self, project: str, timeout: float = 5.0) -> None:
        self._project = project
        self._timeout = timeout
        self._client: PublisherClient | None = None

    def publish(self, topic: Topic, data: bytes, **attributes: str) -> str:
        if self._client is None:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient()
        future = self._client.publish(self._client.topic_path(self._project, topic.value), data, **attributes)
        return str(future.result(timeout=self._timeout))
