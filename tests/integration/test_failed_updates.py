"""An update that fails permanently is kept in `failed_updates` on Firestore itself, whatever it
carries: found by the Telegram drill, where a button press (its message's inline keyboard is an
array of arrays, which Firestore cannot store) could not be recorded, so the update failed with a
500 and came back again and again instead of reaching the operator."""

from __future__ import annotations

from typing import Any

import pytest

from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from tests import updates
from tests.conftest import demo_channel
from tests.harness import fakes
from tests.integration.helpers import runtime

pytestmark = pytest.mark.integration


def test_a_button_press_that_fails_permanently_is_recorded_with_its_keyboard(firestore_db: Any) -> None:
    rt = runtime(firestore_db, "webhook")
    save_channel(rt.store, demo_channel())
    telegram, _, _ = fakes(rt)
    telegram.fail_method["answer_callback_query"] = [TelegramBadRequest("Bad Request: chat not found")]
    update = updates.press(77, "buy:DemoChannel01:t1", 4242)
    keyboard = [
        [{"text": "Monthly", "callback_data": "buy:DemoChannel01:t1"}],
        [{"text": "Donate", "url": "x"}],
    ]
    update["callback_query"]["message"]["reply_markup"] = {"inline_keyboard": keyboard}

    assert handle_update(update, rt) == "failed permanently"

    recorded = firestore_db.collection("failed_updates").document("77").get().to_dict()
    assert "chat not found" in recorded["reason"]
    assert "Monthly" in str(recorded["update"])
