"""The donation keypad against the Firestore emulator: presses, limits, dedupe, concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared_schemas.documents import KeypadSessionDoc
from shared_schemas.tasks import KeypadAction, KeypadTask
from telepay.channels.lookup import save_channel
from telepay.donations.keypad import open_keypad, press
from telepay.donations.keypad_rules import apply_key
from tests.conftest import demo_channel
from tests.integration.helpers import runtime, store_of

pytestmark = pytest.mark.integration
DONOR = 3131


def _rt(db: Any) -> Any:
    return runtime(db, "keypad", create_invoice_url="http://127.0.0.1:1/ci")


def _open(rt: Any, session: str = "sess1") -> None:
    task = KeypadTask(
        action=KeypadAction.OPEN,
        user_id=DONOR,
        chat_id=DONOR,
        channel_token="DemoChannel01",
        session_id=session,
    )
    assert open_keypad(task, rt) == "opened"


def _press(rt: Any, key: str, query: str, session: str = "sess1", user: int = DONOR) -> Any:
    task = KeypadTask(
        action=KeypadAction.PRESS,
        user_id=user,
        chat_id=user,
        channel_token="",
        session_id=session,
        key=key,
        callback_query_id=query,
    )
    return press(task, rt)


def _session(db: Any, session: str = "sess1") -> KeypadSessionDoc:
    return KeypadSessionDoc.model_validate(db.collection("keypad_sessions").document(session).get().to_dict())


def test_presses_edit_the_keypad_and_confirm_queues_a_donation(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt)
    [keypad] = rt.telegram.sent
    assert "Amount: $0.00" in keypad.text and "kp:sess1:ok" in keypad.callbacks()

    for i, key in enumerate(["1", "2", ".", "5"]):
        _press(rt, key, f"q{i}")
    _press(rt, "5", "q3")  # the same press delivered twice
    assert "Amount: $12.5" in keypad.text
    assert _press(rt, "ok", "q9").outcome == "confirmed"

    # The amount in USD and in Stars, and the donor's choice of how to pay (the webhook queues it).
    assert "$12.50 or ⭐625" in keypad.text and keypad.callbacks() == ["dpy:sess1:s", "dpy:sess1:c"]
    assert rt.tasks.created == []
    assert _session(firestore_db).status == "confirmed"
    assert all(query for query, _, _ in rt.telegram.answers)  # every press was answered


def test_confirm_outside_the_limits_is_refused_with_the_reason(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt)
    _press(rt, "3", "a")
    result = _press(rt, "ok", "b")
    assert result.outcome == "refused" and result.answer == "The minimum is $4.99"
    assert rt.tasks.created == [] and _session(firestore_db).status == "open"


def test_old_cancelled_or_foreign_keypads_change_nothing(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt)
    _press(rt, "7", "a")
    assert _press(rt, "8", "b", user=999).answer == "This keypad belongs to someone else."
    assert _press(rt, "x", "c").outcome == "cancelled"
    assert _press(rt, "9", "d").answer == "This keypad is closed. Tap Donate to start again."
    assert _press(rt, "9", "e", session="nope").outcome == "no session"
    assert _session(firestore_db).amount_text == "7"


def test_two_sessions_of_one_user_do_not_mix(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt, "one")
    _open(rt, "two")
    _press(rt, "5", "a", session="one")
    _press(rt, "9", "b", session="two")
    assert (_session(firestore_db, "one").amount_text, _session(firestore_db, "two").amount_text) == (
        "5",
        "9",
    )


def test_concurrent_workers_lose_no_press(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt)
    presses = {"w1": ["1", "2", "3"], "w2": [".", "4", "5"]}

    def worker(name: str) -> None:
        for i, key in enumerate(presses[name]):
            _press(rt, key, f"{name}-{i}")

    threads = [threading.Thread(target=worker, args=(name,)) for name in presses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    session = _session(firestore_db)
    assert sorted(session.applied_presses) == sorted(f"{n}-{i}" for n in presses for i in range(3))
    # Replaying the presses in the order they were committed gives the stored state.
    by_id = {f"{n}-{i}": k for n in presses for i, k in enumerate(presses[n])}
    text = ""
    for press_id in session.applied_presses:
        text, _ = apply_key(text, by_id[press_id])
    assert session.amount_text == text


def test_a_rate_limited_edit_does_not_lose_the_confirm(firestore_db: Any) -> None:
    from telepay.adapters.telegram_api import TelegramRetryAfter

    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _open(rt)
    for i, key in enumerate("25"):
        _press(rt, key, f"p{i}")
    rt.telegram.fail_method["edit_message_text"] = [TelegramRetryAfter(1)]
    with pytest.raises(TelegramRetryAfter):  # the task answers 503 and Cloud Tasks retries it
        _press(rt, "ok", "confirm")
    assert _session(firestore_db).status == "confirmed"  # the confirm is kept

    assert _press(rt, "ok", "confirm").outcome == "duplicate press"  # the retry
    [keypad] = rt.telegram.sent
    assert keypad.callbacks() == ["dpy:sess1:s", "dpy:sess1:c"]  # the choice is shown after all
    assert rt.tasks.created == []  # the donor's choice queues the invoice
    assert ("confirm", "Preparing your invoice…", False) in rt.telegram.answers
