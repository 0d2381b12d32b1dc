"""`telepay trials list TOKEN`: the channel's trial length, its figures as /stats counts them, and
each trial, after a newcomer started one through the bot's "🎁 Try 7 days free"."""

from __future__ import annotations

import json

from telepay.channels.lookup import forget_cached_channels, save_channel
from tests.conftest import demo_channel
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.subscriptions.test_trial_flow import BUYER, TOKEN, _start_trial


def test_trials_list_shows_the_setting_the_figures_and_each_trial() -> None:
    forget_cached_channels()
    store = MemoryStore()
    save_channel(store, demo_channel(trial_days=7))
    assert _start_trial(store)[0] == "trial started"

    shown = ok(run(store, "trials", "list", TOKEN)).output
    head, table = shown.split("\n\n", 1)
    assert "trial_days" in head and " 7" in head.splitlines()[0]
    assert [line.split()[-1] for line in head.splitlines()[1:3]] == ["1", "1"]  # running, started 7d
    header, row = table.strip().splitlines()
    assert header.split()[:3] == ["USER", "CHANNEL", "DAYS"]
    assert row.split()[:3] == [str(BUYER), TOKEN, "7"]
    listed = json.loads(ok(run(store, "--json", "trials", "list", TOKEN)).output)
    assert (listed["trial_days"], listed["running"], listed["started_30d"], listed["converted_30d"]) == (
        7,
        1,
        1,
        0,
    )
    assert [t["user_id"] for t in listed["trials"]] == [BUYER]
    missing = run(store, "trials", "list", "NoSuchChan01")
    assert missing.exit_code == 1 and "no channel NoSuchChan01" in missing.output


def test_a_channel_without_a_trial_says_off() -> None:
    forget_cached_channels()
    store = MemoryStore()
    save_channel(store, demo_channel())
    shown = ok(run(store, "trials", "list", TOKEN)).output
    assert shown.splitlines()[0].split()[-1] == "off"
    assert shown.rstrip().endswith("(none)")
