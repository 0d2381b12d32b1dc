"""The keypad function has no update of the donor's: it speaks their remembered language, and the
amount line a Confirm carries back is still found in that language (so a Confirm of an amount the
keypad no longer holds is refused, and a current one confirmed). Fake catalogs prefix each text
with its language."""

from __future__ import annotations

import pytest

from shared_schemas.config import KeypadSettings, TelegramWebhookSettings
from shared_schemas.documents import KeypadStatus
from shared_schemas.tasks import KeypadTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.donations.keypad import open_keypad, press
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram, RecordingTasks
from tests.harness import runtime
from tests.memory_store import MemoryStore

DONOR = 3131
pytestmark = pytest.mark.usefixtures("catalogs")


def test_the_keypad_speaks_the_donors_language_and_confirm_finds_its_amount_line() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    telegram, tasks = FakeTelegram(), RecordingTasks()  # one chat, one queue, for every function
    webhook, keypad = runtime(TelegramWebhookSettings, store), runtime(KeypadSettings, store)
    webhook.replace(telegram=telegram, tasks=tasks)
    keypad.replace(telegram=telegram, tasks=tasks)

    def tap(update_id: int, data: str, shown: str | None = None) -> KeypadTask:
        update = updates.press(update_id, data, DONOR, message_id=message_id, text=shown)
        update["callback_query"]["from"]["language_code"] = "ru"
        handle_update(update, webhook)
        _, _, task, _ = tasks.created.pop()
        assert isinstance(task, KeypadTask)
        return task

    message_id = 9
    assert open_keypad(tap(1, "don:DemoChannel01"), keypad) == "opened"
    [shown] = telegram.to(DONOR)
    message_id = shown.message_id
    assert shown.text.startswith("[ru] 💝 Donate to Night Owls Club") and "[ru] Amount: 0,00" in shown.text
    assert [b.text for b in shown.buttons()][-3:] == ["[ru] Clear", "[ru] ✖ Cancel", "[ru] ✅ Confirm"]
    session_id = shown.callbacks()[0].split(":")[1]
    key = f"kp:{session_id}"

    press(tap(2, f"{key}:2"), keypad)
    seen_two = telegram.to(DONOR)[0].text
    press(tap(3, f"{key}:5"), keypad)
    assert "[ru] Amount: 25" in telegram.to(DONOR)[0].text

    stale = press(tap(4, f"{key}:ok", seen_two), keypad)  # confirmed what the keypad showed before
    assert (
        stale.outcome == "refused"
        and stale.answer == "[ru] The amount changed while you typed: check it and tap Confirm again."
    )
    done = press(tap(5, f"{key}:ok", telegram.to(DONOR)[0].text), keypad)
    assert done.outcome == "confirmed" and done.answer == "[ru] Preparing your invoice…"
    session = store.keypad_sessions.get(session_id)
    assert session is not None and session.status is KeypadStatus.CONFIRMED and session.amount_text == "25"
    assert telegram.to(DONOR)[0].text.startswith("[ru] 💝 Donation to Night Owls Club: 25,00")  # Stars or crypto?
