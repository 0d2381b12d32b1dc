"""Shared test helpers. Integration fixtures start the real emulators once per session; the end to
end fixtures start the whole local stack (see tests/integration/conftest.py, tests/e2e/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import firestore

from shared_schemas.documents import ChannelDoc, Tier
from telepay.channels.settings import validate_channel

# Ports for the test session's own emulators and stack (away from `make up`'s defaults).
INTEGRATION_PORT_BASE = int(os.environ.get("TELEPAY_TEST_PORT_BASE", "18700"))
E2E_PORT_BASE = INTEGRATION_PORT_BASE + 100


def demo_channel(token: str = "DemoChannel01", owner: int = 5001, **changes: object) -> ChannelDoc:
    """The unit and integration tests' channel (not stored), `changes` made to it, as the channel
    rules take it; a ValueError naming each problem when they would refuse it."""
    fields: dict[str, object] = {
        "token": token,
        "owner_user_id": owner,
        "title": "Night Owls Club",
        "description": "Late-night market notes, every day.",
        "open_channel_id": -1001000000001,
        "closed_channel_id": -1001000000002,
        "tiers": [
            Tier(tier_id="t1", price=Decimal("5.00"), days=30, label="Monthly"),
            Tier(tier_id="t2", price=Decimal("12.50"), days=90, label="Quarterly"),
        ],
        "created_at": datetime(2026, 11, 1, tzinfo=UTC),
    }
    fields.update(changes)
    # Through the rules the bot and `telepay channels register` apply: a test never starts from a
    # channel the product itself would refuse (tests/repo/test_fixture_channels.py keeps it so).
    checked = validate_channel(ChannelDoc.model_validate(fields).model_dump())
    if isinstance(checked, list):
        raise ValueError("demo_channel breaks the channel rules: " + "; ".join(str(e) for e in checked))
    return checked


def stored(db: firestore.Client, collection: str, document_id: str) -> dict[str, Any]:
    """A document that must exist."""
    data = db.collection(collection).document(document_id).get().to_dict()
    assert data is not None, f"{collection}/{document_id} does not exist"
    return data


@pytest.fixture
def env_guard() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
