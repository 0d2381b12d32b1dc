"""The subscriptions' handler tests start from the demo channel on an empty in-memory store."""

from __future__ import annotations

import pytest

from telepay.channels.lookup import forget_cached_channels, save_channel
from tests.conftest import demo_channel
from tests.memory_store import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    forget_cached_channels()
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store
