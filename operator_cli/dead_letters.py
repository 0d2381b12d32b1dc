"""Dead letters on Pub/Sub: the hold subscriptions of the dead-letter topics
(`shared_schemas.names.DEAD_LETTER_SUBSCRIPTIONS`). Listing pulls without acknowledging (the
messages stay); replaying publishes a message again to the topic it was dead-lettered from, then
acknowledges it. PUBSUB_EMULATOR_HOST points the clients at the emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared_schemas.names import DEAD_LETTER_SUBSCRIPTIONS, SUBSCRIPTIONS, Topic

PULL_TIMEOUT = 30.0


@dataclass(frozen=True)
class DeadLetter:
    hold: str  # the hold subscription it waits in
    source_topic: Topic  # where it is replayed to
    message_id: str
    ack_id: str
    published_at: datetime | None
    delivery_attempt: int | None
    attributes: dict[str, str]
    data: bytes

    def summary(self) -> dict[str, Any]:
        try:
            body = json.loads(self.data)
        except ValueError:
            body = None
        event = body if isinstance(body, dict) else {}
        inner = event.get("data") if isinstance(event.get("data"), dict) else {}
        return {
            "hold": self.hold,
            "topic": self.source_topic.value,
            "message_id": self.message_id,
            "published_at": self.published_at,
            "event_id": event.get("event_id"),
            "type": event.get("type"),
            "order_id": inner.get("order_id") if inner else None,
            "attributes": self.attributes,
            "data": self.data.decode("utf-8", "replace"),
        }


def source_topic(dead_letter_topic: Topic) -> Topic:
    """The topic whose subscriptions dead-letter into this one."""
    return next(s.topic for s in SUBSCRIPTIONS if s.dead_letter_topic is dead_letter_topic)


class DeadLetters:
    def __init__(self, project: str) -> None:
        from google.cloud import pubsub_v1

        self.project = project
        self.subscriber = pubsub_v1.SubscriberClient()
        self.publisher = pubsub_v1.PublisherClient()

    def pull(self, max_messages: int) -> list[DeadLetter]:
        """Up to `max_messages` from each hold subscription; they stay leased until `release`."""
        found: list[DeadLetter] = []
        for topic, hold in DEAD_LETTER_SUBSCRIPTIONS.items():
            path = self.subscriber.subscription_path(self.project, hold)
            answer = self.subscriber.pull(
                request={"subscription": path, "max_messages": max_messages, "return_immediately": True},
                timeout=PULL_TIMEOUT,
            )
            for received in answer.received_messages:
                message = received.message
                published = message.publish_time
                found.append(
                    DeadLetter(
                        hold=hold,
                        source_topic=source_topic(topic),
                        message_id=message.message_id,
                        ack_id=received.ack_id,
                        published_at=published if isinstance(published, datetime) else None,
                        delivery_attempt=received.delivery_attempt or None,
                        attributes=dict(message.attributes),
                        data=bytes(message.data),
                    )
                )
        return found

    def release(self, letters: list[DeadLetter]) -> None:
        """Give them back at once (not acknowledged): they wait in the hold subscription."""
        for hold in {letter.hold for letter in letters}:
            ack_ids = [letter.ack_id for letter in letters if letter.hold == hold]
            self.subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscriber.subscription_path(self.project, hold),
                    "ack_ids": ack_ids,
                    "ack_deadline_seconds": 0,
                }
            )

    def replay(self, letter: DeadLetter) -> str:
        """Publish it again to its source topic, then acknowledge it; the new message id."""
        attributes = {k: v for k, v in letter.attributes.items() if not k.startswith("CloudPubSubDeadLetter")}
        topic = self.publisher.topic_path(self.project, letter.source_topic.value)
        new_id = str(self.publisher.publish(topic, letter.data, **attributes).result(timeout=PULL_TIMEOUT))
        self.subscriber.acknowledge(
            request={
                "subscription": self.subscriber.subscription_path(self.project, letter.hold),
                "ack_ids": [letter.ack_id],
            }
        )
        return new_id
