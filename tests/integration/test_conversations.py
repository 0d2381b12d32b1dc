"""Owners' conversations on the Firestore emulator: two answers moving the same conversation at
once never both apply (the unit test shows the same on the in-memory store)."""

from __future__ import annotations

from typing import Any

import pytest

from shared_schemas.documents import ConversationDoc
from telepay.core.clock import FrozenClock
from telepay.owners.conversations import Move
from tests.harness import NOW
from tests.integration.helpers import store_of
from tests.unit.owners.test_commands import OWNER, two_answers_at_once

pytestmark = pytest.mark.integration


def test_two_answers_at_once_never_both_apply_on_firestore(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    results, final = two_answers_at_once(store, FrozenClock(NOW))
    assert sorted(results) == [Move.APPLIED, Move.CONFLICT]
    assert isinstance(final, ConversationDoc) and final.user_id == OWNER and final.version == 2
