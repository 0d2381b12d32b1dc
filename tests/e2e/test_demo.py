"""The scripted demo `make run` plays for a newcomer works from start to end."""

from __future__ import annotations

from typing import Any

import pytest

from local.demo import play
from tests.e2e.conftest import StackClock

pytestmark = pytest.mark.e2e


def test_the_demo_plays_through(endpoints: dict[str, Any], clock: StackClock) -> None:
    """`clock`: the demo moves the stack's clock forward; it is set back after the test."""
    said: list[str] = []
    play(endpoints, said.append)
    assert said[-1].startswith("demo: done")
    assert any("approves Sam's join request" in line for line in said)
    assert any("Max tries Sam's forwarded link → declined" in line for line in said)
    assert any("Dee pays and is thanked" in line for line in said)
    assert any("her trial starts: 🎁 Your 7-day free trial of Night Owls Club" in line for line in said)
    assert any("the invoice is priced by the code: 4 usd" in line.lower() for line in said), said
    assert any("day 5: Sam buys the monthly tier (a renewal)" in line for line in said), said
    assert any("Tara's free trial has ended" in line for line in said), said


def test_the_demo_plays_once_in_russian(endpoints: dict[str, Any], clock: StackClock) -> None:
    """Everyone's Telegram app in Russian: every message the demo waits for, and every button it
    taps, is the Russian catalog's (local.demo.Speech)."""
    said: list[str] = []
    play(endpoints, said.append, language="ru")
    assert said[-1].startswith("demo: done")
    assert any("Dee pays and is thanked" in line for line in said)
