"""Floors: the bare calls a path cannot do without, measured on the same emulators and stand-ins
in the same run, so each path's figure can be read as a multiple of what the infrastructure costs.

* settle: a claim create, then a transaction that reads the order and writes the order and its
  outbox event (what an IPN must do at least);
* webhook: a Firestore create (the update's dedupe claim) and one Cloud Tasks enqueue;
* primitives for the end-to-end paths: a Firestore read, a read-and-write transaction, a Pub/Sub
  publish, one Bot API call.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from local.clients import firestore
from scripts.benchlib import percentile

FLOOR_QUEUE = "bench-floor"
FLOOR_TOPIC = "bench-floor"


@dataclass
class Timing:
    ms: list[float]
    per_second: float

    @property
    def p50(self) -> float:
        return percentile(self.ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.ms, 99)


def timed(call: Callable[[int], Any], n: int, threads: int = 1) -> Timing:
    """Run `call(i)` n times over `threads` threads: each call's latency and the calls per second."""

    def one(i: int) -> float:
        started = time.perf_counter()
        call(i)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    if threads == 1:
        ms = [one(i) for i in range(n)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            ms = list(pool.map(one, range(n)))
    return Timing(ms, n / (time.perf_counter() - started))


class Floors:
    def __init__(self, endpoints: dict[str, Any]) -> None:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import pubsub_v1, tasks_v2

        self.endpoints = endpoints
        self.db = firestore(endpoints)
        self.run = uuid.uuid4().hex[:8]
        self.tasks = tasks_v2.CloudTasksClient(
            transport="rest",
            client_options=ClientOptions(api_endpoint=endpoints["tasks_emulator"]),
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
        parent = f"projects/{endpoints['project']}/locations/{endpoints['tasks_location']}"
        self.queue = f"{parent}/queues/{FLOOR_QUEUE}"
        self.tasks.create_queue(parent=parent, queue=tasks_v2.Queue(name=self.queue))
        self.tasks.pause_queue(name=self.queue)  # enqueued, never dispatched
        os.environ["PUBSUB_EMULATOR_HOST"] = endpoints["pubsub_emulator_host"]
        self.publisher = pubsub_v1.PublisherClient(
            batch_settings=pubsub_v1.types.BatchSettings(max_messages=1)
        )
        self.topic = self.publisher.topic_path(endpoints["project"], FLOOR_TOPIC)
        self.publisher.create_topic(name=self.topic)
        self.bot = httpx.Client(
            base_url=f"{endpoints['telegram_api']}/bot{endpoints['telegram_bot_token']}", timeout=10
        )
        self.ids = itertools.count()

    def _doc(self, collection: str, i: int) -> Any:
        return self.db.collection(collection).document(f"floor-{self.run}-{next(self.ids)}-{i}")

    def settle(self, n: int, threads: int = 1) -> Timing:
        from google.cloud import firestore as fs

        orders = [self._doc("bench_orders", i) for i in range(n)]
        for start in range(0, n, 500):
            batch = self.db.batch()
            for ref in orders[start : start + 500]:
                batch.set(ref, {"status": "invoiced", "payment_status": "waiting"})
            batch.commit()

        def one(i: int) -> None:
            self._doc("bench_claims", i).create({"status": "held"})

            @fs.transactional
            def settle(tx: Any) -> None:
                tx.get(orders[i])
                tx.update(orders[i], {"status": "settled", "payment_status": "finished"})
                tx.set(self._doc("bench_outbox", i), {"order": orders[i].id, "published": False})

            settle(self.db.transaction())

        return timed(one, n, threads)

    def claim(self, n: int, threads: int = 1) -> Timing:
        return timed(lambda i: self._doc("bench_claims", i).create({"status": "held"}), n, threads)

    def webhook(self, n: int) -> Timing:
        from google.cloud import tasks_v2

        def one(i: int) -> None:
            self._doc("bench_claims", i).create({"status": "held"})
            self.tasks.create_task(
                parent=self.queue,
                task=tasks_v2.Task(http_request={"url": "http://127.0.0.1:9/floor", "body": b"{}"}),
            )

        return timed(one, n)

    def read(self, n: int) -> Timing:
        ref = self._doc("bench_orders", 0)
        ref.set({"status": "invoiced"})
        return timed(lambda i: ref.get(), n)

    def read_write(self, n: int) -> Timing:
        from google.cloud import firestore as fs

        refs = [self._doc("bench_orders", i) for i in range(n)]

        def one(i: int) -> None:
            @fs.transactional
            def step(tx: Any) -> None:
                tx.get(refs[i])
                tx.set(refs[i], {"amount": i})

            step(self.db.transaction())

        return timed(one, n)

    def publish(self, n: int) -> Timing:
        return timed(lambda i: self.publisher.publish(self.topic, b"{}").result(timeout=10), n)

    def bot_call(self, n: int, chat: int) -> Timing:
        return timed(lambda i: self.bot.post("/sendMessage", json={"chat_id": chat, "text": f"floor {i}"}), n)
