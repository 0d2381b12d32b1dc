"""Free trials in the operator's command: a channel file's `trial_days` checked by the bot's rule,
and `users show` listing a user's trials."""

from __future__ import annotations

import json
from pathlib import Path

from shared_schemas.config import TelegramWebhookSettings
from telepay.bot.webhook import handle_update
from tests import updates
from tests.harness import NOW, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import channel_file, ok, run

BUYER = 424242
TOKEN = "NightOwls2026"


def test_a_channel_file_sets_the_trial_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    store = MemoryStore()
    for bad in (0, 31, "abc"):
        result = run(store, "channels", "register", str(channel_file(tmp_path, trial_days=bad)))
        assert result.exit_code == 1 and "trial_days: " in result.stderr
        assert store.channels.get(TOKEN) is None  # nothing saved
    ok(run(store, "channels", "register", str(channel_file(tmp_path))))  # the example: 7 days
    assert store.channels.get(TOKEN).trial_days == 7  # type: ignore[union-attr]
    off = tmp_path / "off.json"
    off.write_text(json.dumps({"trial_days": "off"}))
    ok(run(store, "channels", "update", TOKEN, str(off)))
    assert store.channels.get(TOKEN).trial_days is None  # type: ignore[union-attr]


def test_users_show_lists_the_users_trials(tmp_path: Path) -> None:
    store = MemoryStore()
    ok(run(store, "channels", "register", str(channel_file(tmp_path))))
    webhook = runtime(TelegramWebhookSettings, store)
    assert handle_update(updates.press(1, f"try:{TOKEN}", BUYER), webhook) == "trial started"
    text = ok(run(store, "users", "show", str(BUYER))).output
    assert "Free trials" in text and TOKEN in text and "2026-12-03" in text
    [trial] = json.loads(ok(run(store, "--json", "users", "show", str(BUYER))).output)["trials"]
    assert trial["days"] == 7 and trial["started_at"].startswith(NOW.date().isoformat())
    assert trial["converted_order_id"] is None
