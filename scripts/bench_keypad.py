"""Donation keypad: time from a button press (the user's tap at Telegram) to the keypad message
being edited, p50/p99, on the local stack (Telegram limits off).

    python -m scripts.bench_keypad [--presses 200]
"""

from __future__ import annotations

import argparse
import functools
import time

from local.clients import TelegramControl, buttons, wait_for
from local.fixtures import setup_channel
from scripts.benchlib import private_stack, summary

TOKEN = "BenchKeypad1"
KEYS = ["1", "2", "⌫", "⌫"]  # the amount goes 1, 12, 1, "": every press changes the message


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    with private_stack(rate_limits=False) as stack:
        endpoints = stack.config.endpoints()
        tg = TelegramControl(endpoints)
        setup_channel(endpoints, tg, TOKEN)
        bench_keypad(tg, args.presses)
    return 0


def bench_keypad(tg: TelegramControl, presses: int, token: str = TOKEN) -> list[float]:
    """Keypad press → message edited, in ms (the channel `token` must exist)."""
    latencies: list[float] = []
    donors = [tg.user(f"Donor{i}") for i in range(max(1, presses // 50))]
    per_donor = presses // len(donors)
    for donor in donors:
        tg.say(donor, f"/start {token}_DONATE")
        keypad = tg.wait_message(donor, "Amount: $0.00")
        keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
        for i in range(per_donor):
            before = _edits(tg, donor, keypad["message_id"])
            started = time.perf_counter()
            tg.press(donor, keypad["message_id"], keys[KEYS[i % len(KEYS)]])
            wait_for(
                "the edit",
                functools.partial(_edited, tg, donor, keypad["message_id"], before),
                every=0.005,
            )
            latencies.append((time.perf_counter() - started) * 1000)
    print(summary("keypad press -> message edited", latencies))
    return latencies


def _edited(tg: TelegramControl, chat: int, message_id: int, before: int) -> bool:
    return _edits(tg, chat, message_id) > before


def _edits(tg: TelegramControl, chat: int, message_id: int) -> int:
    for message in tg.transcript(chat):
        if message["message_id"] == message_id:
            return len(message.get("history") or [])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
