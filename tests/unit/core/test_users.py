"""What the bot remembers of a user, per store: a store made after another one was dropped never
inherits what was remembered of the first (Python reuses a dropped object's id)."""

from __future__ import annotations

import gc

from shared_schemas.telegram import TgUser
from telepay.core.users import remember_language, remember_username, user_by_username
from tests.memory_store import MemoryStore


def test_each_new_store_gets_the_username_written_even_when_it_reuses_an_old_ones_id() -> None:
    alice = TgUser(id=4242, first_name="Alice", username="Alice_W", language_code="es")
    for _ in range(20):
        store = MemoryStore()
        assert remember_language(store, alice) == "es"
        remember_username(store, alice)
        assert user_by_username(store, "@alice_w") == alice.id
        stored = store.users.get(str(alice.id))
        assert stored is not None and stored.language_code == "es"
        del store
        gc.collect()
