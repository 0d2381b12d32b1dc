"""The expiry sweep and its tasks against the Firestore emulator, with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import subscription_id
from shared_schemas.tasks import SWEEP_PAGE_ACTIONS, ExpiryPageTask, ExpiryTask
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramRetryAfter
from telepay.channels.lookup import save_channel
from telepay.subscriptions.expiry import run_page, run_task, sweep
from tests.conftest import demo_channel
from tests.harness import active_subscription
from tests.integration.helpers import NOW, runtime, store_of

pytestmark = pytest.mark.integration
USER = 8080
SUB_ID = subscription_id("DemoChannel01", USER)


def _rt(db: Any) -> Any:
    return runtime(db, "expiry")


def _subscribe(db: Any, days: int = 30, user: int = USER) -> SubscriptionDoc:
    sub = active_subscription(user, days)
    store_of(db).subscriptions.set(subscription_id("DemoChannel01", user), sub)
    return sub


def _stored(db: Any, sub_id: str = SUB_ID) -> SubscriptionDoc:
    return SubscriptionDoc.model_validate(db.collection("subscriptions").document(sub_id).get().to_dict())


def _run_queued(rt: Any) -> list[str]:
    outcomes = []
    while rt.tasks.created:
        _, _, payload, _ = rt.tasks.created.pop(0)
        outcomes.append(run_task(payload, rt))
    return outcomes


def test_reminders_once_each_then_removal(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    _subscribe(firestore_db)

    assert sweep(rt, "t0")["queued"] == 0  # nothing due yet: next look is set to the 3-day point
    assert _stored(firestore_db).next_action_at == NOW + timedelta(days=27)

    rt.clock.advance(days=27, seconds=30)
    assert sweep(rt, "t1")["queued"] == 1
    assert sweep(rt, "t1") == {"duplicate": 1}  # the same scheduled run again
    assert _run_queued(rt) == ["reminded"]
    [reminder] = rt.telegram.to(USER)
    assert "ends on Saturday, 26 December 2026, 12:00 UTC" in reminder.text
    assert reminder.callbacks() == ["ren:DemoChannel01:t1", "sup:DemoChannel01"]  # Renew, and 💬 Help

    sweep(rt, "t2")  # the next look moves to the 1-day point; no second 3-day reminder
    assert rt.tasks.created == []
    rt.clock.advance(days=2)
    sweep(rt, "t3")
    assert _run_queued(rt) == ["reminded"]
    rt.clock.advance(days=1)
    sweep(rt, "t4")
    assert _run_queued(rt) == ["removed"]

    stored = _stored(firestore_db)
    assert stored.status is SubscriptionStatus.EXPIRED and stored.in_channel is False
    assert ("remove_member", (-1001000000002, USER)) in rt.telegram.calls
    assert len(rt.telegram.to(USER)) == 3
    assert "ended on Saturday, 26 December 2026" in rt.telegram.to(USER)[-1].text


def test_duplicated_tasks_act_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    sub = _subscribe(firestore_db, days=1)
    rt.clock.advance(days=1, seconds=1)
    removal = ExpiryTask(action="remove", subscription_id=SUB_ID, expires_at=sub.expires_at)
    reminder = ExpiryTask(
        action="remind", subscription_id=SUB_ID, expires_at=sub.expires_at, offset_seconds=3600
    )

    assert [run_task(removal, rt), run_task(removal, rt)] == ["removed", "already removed"]
    assert run_task(reminder, rt) == "stale: renewed or ended"
    assert rt.telegram.names().count("remove_member") == 1
    assert len(rt.telegram.to(USER)) == 1


def test_renewed_a_second_before_removal_is_not_removed(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    sub = _subscribe(firestore_db, days=1)
    rt.clock.advance(days=1, seconds=5)
    sweep(rt, "t")
    # A payment settles a second before the queued removal runs.
    firestore_db.collection("subscriptions").document(SUB_ID).update(
        {"expires_at": sub.expires_at + timedelta(days=30)}
    )
    assert _run_queued(rt) == ["renewed: not removed"]
    assert "remove_member" not in rt.telegram.names()
    assert _stored(firestore_db).status is SubscriptionStatus.ACTIVE


def test_too_many_requests_reschedules_without_failing(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    sub = _subscribe(firestore_db, days=1)
    rt.clock.advance(days=1, seconds=1)
    rt.telegram.fail_next = [TelegramRetryAfter(7)]
    removal = ExpiryTask(action="remove", subscription_id=SUB_ID, expires_at=sub.expires_at)

    assert run_task(removal, rt) == "rescheduled after 7 s"
    [(_, _, again, name)] = rt.tasks.created
    assert again.reschedules == 1 and name.endswith("-r1")
    assert rt.tasks.scheduled[name] == rt.clock.now() + timedelta(seconds=7)
    assert _run_queued(rt) == ["removed"]


def test_lost_rights_are_recorded_and_the_owner_told_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    subs = [_subscribe(firestore_db, days=1, user=u) for u in (1, 2)]
    rt.clock.advance(days=1, seconds=1)
    rt.telegram.fail_method["remove_member"] = [
        TelegramBadRequest("Bad Request: not enough rights to restrict/unrestrict chat member")
    ] * 2
    for sub in subs:
        task = ExpiryTask(
            action="remove",
            subscription_id=subscription_id("DemoChannel01", sub.user_id),
            expires_at=sub.expires_at,
        )
        assert run_task(task, rt) == "bot lacks rights: retried, owner told"
    [notice] = rt.telegram.to(5001)
    assert "couldn't remove an expired subscriber from Night Owls Club" in notice.text
    channel = firestore_db.collection("channels").document("DemoChannel01").get().to_dict()
    assert "not enough rights" in channel["bot_rights_problem"]


def test_a_rate_limited_goodbye_is_still_sent_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    sub = _subscribe(firestore_db, days=1)
    rt.clock.advance(days=1, seconds=1)
    rt.telegram.fail_method["send_message"] = [TelegramRetryAfter(3)]
    removal = ExpiryTask(action="remove", subscription_id=SUB_ID, expires_at=sub.expires_at)

    assert run_task(removal, rt) == "rescheduled after 3 s"  # removed, but the message hit a 429
    assert _run_queued(rt) == ["already removed"]
    assert run_task(removal, rt) == "already removed"
    assert len(rt.telegram.to(USER)) == 1 and "ended on" in rt.telegram.to(USER)[0].text
    assert rt.telegram.names().count("remove_member") == 1


def test_a_sweep_past_one_page_hands_out_named_pages_that_remove_everyone_once(firestore_db: Any) -> None:
    save_channel(store_of(firestore_db), demo_channel())
    rt = _rt(firestore_db)
    members = [USER + 1 + n for n in range(SWEEP_PAGE_ACTIONS + 60)]
    store = store_of(firestore_db)
    with store.batch() as batch:
        for user in members:
            batch.set(
                store.subscriptions, subscription_id("DemoChannel01", user), active_subscription(user, 1)
            )
    rt.clock.advance(days=1, minutes=1)
    counts = sweep(rt, "t1")
    assert (counts["queued"], counts["handed_out"], counts["page_tasks"]) == (SWEEP_PAGE_ACTIONS, 60, 1)
    rt.clock.advance(minutes=1)
    assert sweep(rt, "t2")["handed_out"] == 0  # leased: the next minute's sweep sees none of them
    pages = [payload for _, _, payload, _ in rt.tasks.created if isinstance(payload, ExpiryPageTask)]
    assert [run_page(page, rt) for page in pages] == ["page of 60: 60 queued, 0 queued before"]
    assert [run_page(page, rt) for page in pages] == ["page of 60: 0 queued, 60 queued before"]  # retried
    removals = [payload for _, _, payload, _ in rt.tasks.created if isinstance(payload, ExpiryTask)]
    assert len({task.subscription_id for task in removals}) == len(removals) == len(members)
    assert [run_task(task, rt) for task in removals].count("removed") == len(members)
    assert all(not _stored(firestore_db, subscription_id("DemoChannel01", u)).in_channel for u in members)
    assert {m.chat_id for m in rt.telegram.sent} >= set(members)  # each told once their access ended
