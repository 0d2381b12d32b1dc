"""On the Firestore emulator: twelve orders of a 10-use promo code, all made before it ran out,
settle concurrently (four IPNs at a time): every one is honoured and counted once (uses == 12), and
a thirteenth order made after the code ran out is refused at invoice time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.helpers import runtime, store_of
from tests.unit.payments.test_promo_uses import settle_twelve_at_once

pytestmark = pytest.mark.integration


def test_twelve_concurrent_settlements_of_a_ten_use_code(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    # Four at a time: with twelve at once the emulator stalled (ten commits on the one code
    # document blocked for minutes, faulthandler showed); four still contend on every commit.
    settle_twelve_at_once(store, lambda: runtime(firestore_db, "ipn"), workers=4)
