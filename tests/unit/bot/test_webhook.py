"""The webhook's outcomes for one update: handled once, a re-delivery changes nothing, and an update
that fails for any reason but a passing one (a defect included) is kept in `failed_updates` and
answered, never re-delivered by Telegram for a day while it holds back the chat."""

from __future__ import annotations

import pytest

from shared_schemas.config import TelegramWebhookSettings
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core.errors import RetryLater
from telepay.runtime import Runtime
from telepay.subscriptions import router as subscriptions_router
from tests import updates
from tests.conftest import demo_channel
from tests.harness import runtime
from tests.memory_store import MemoryStore

BUYER = 4242


@pytest.fixture
def rt() -> Runtime[TelegramWebhookSettings]:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return runtime(TelegramWebhookSettings, store)


def test_an_update_is_handled_once(rt: Runtime[TelegramWebhookSettings]) -> None:
    update = updates.start(9001, "/start DemoChannel01", BUYER)
    assert handle_update(update, rt) == "offer shown"
    assert handle_update(update, rt) == "duplicate (done)"


def test_a_defect_is_recorded_and_answered_not_redelivered_for_ever(
    rt: Runtime[TelegramWebhookSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> str:
        raise ValueError("a bug")

    monkeypatch.setattr(subscriptions_router, "on_start", broken)
    update = updates.start(9002, "/start DemoChannel01", BUYER)
    assert handle_update(update, rt) == "failed permanently"
    failed = rt.store.failed_updates.get("9002")
    assert failed is not None and failed.reason == "unexpected ValueError: a bug"
    assert handle_update(update, rt) == "duplicate (done)"  # Telegram's re-delivery is answered too


def test_a_passing_trouble_is_left_to_telegram_to_deliver_again(
    rt: Runtime[TelegramWebhookSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*args: object) -> str:
        raise RetryLater("Firestore is busy")

    monkeypatch.setattr(subscriptions_router, "on_start", busy)
    update = updates.start(9003, "/start DemoChannel01", BUYER)
    with pytest.raises(RetryLater):
        handle_update(update, rt)
    assert rt.store.failed_updates.get("9003") is None
    monkeypatch.undo()
    assert handle_update(update, rt) == "offer shown"  # delivered again, handled
