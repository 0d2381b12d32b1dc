"""Runtimes on the Firestore emulator: the real store adapter, fakes for Telegram and NowPayments."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from telepay.adapters.firestore_store import FirestoreStore
from telepay.adapters.pubsub_publisher import Publisher
from telepay.runtime import Runtime
from tests.harness import IPN_SECRET, KINDS, NOW, WEBHOOK_SECRET
from tests.harness import runtime as harness_runtime

__all__ = ["IPN_SECRET", "NOW", "WEBHOOK_SECRET", "runtime", "store_of"]


def store_of(db: firestore.Client) -> FirestoreStore:
    return FirestoreStore(db)


def runtime(db: firestore.Client, kind: str = "ipn", **settings: Any) -> Runtime[Any]:
    """The real store and Pub/Sub publisher (on the emulators); fakes for Telegram, NowPayments and
    Cloud Tasks (which has no official emulator)."""
    rt = harness_runtime(KINDS[kind], store_of(db), google_cloud_project=db.project, **settings)
    rt.replace(publisher=Publisher(db.project))
    return rt
