"""Firestore client (lazy). With FIRESTORE_EMULATOR_HOST set the library talks to the emulator."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud.firestore import Client


@lru_cache(maxsize=4)
def firestore_client(project: str) -> Client:
    from google.cloud import firestore

    return firestore.Client(project=project)
