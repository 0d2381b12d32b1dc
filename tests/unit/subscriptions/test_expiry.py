"""Expiry handler by handler, on the in-memory store and fakes: the sweep queues what is due,
reminders and the removal each happen once, Telegram's 429 reschedules, lost rights are recorded
and the owner told once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.documents import SubscriptionDoc, SubscriptionStatus
from shared_schemas.ids import subscription_id
from shared_schemas.names import Queue
from shared_schemas.tasks import SWEEP_PAGE_ACTIONS, ExpiryPageTask, ExpiryTask
from telepay.adapters.tasks_queue import TasksUnavailable
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramRetryAfter
from telepay.channels.lookup import forget_cached_channels
from telepay.runtime import Runtime
from telepay.subscriptions import expiry
from telepay.subscriptions.expiry import run_page, run_task, sweep
from telepay.subscriptions.expiry_rules import QUEUED_LEASE, queued_lease
from tests.harness import NOW, active_subscription, fakes, runtime
from tests.memory_store import MemoryStore

USER = 8080
OWNER = 5001
SUB_ID = subscription_id("DemoChannel01", USER)


def _subscribe(store: MemoryStore, days: float) -> None:
    store.subscriptions.set(SUB_ID, active_subscription(USER, days))


def _run_queued(rt: Runtime[Any]) -> list[str]:
    _, _, tasks = fakes(rt)
    outcomes = []
    while tasks.created:
        _, _, payload, _ = tasks.created.pop(0)
        outcomes.append(run_task(payload, rt))
    return outcomes


def _expiry_rt(store: MemoryStore, at: timedelta) -> Runtime[ExpireSubscriptionsSettings]:
    return runtime(ExpireSubscriptionsSettings, store, now=NOW + at)


def _subs(store: MemoryStore, users: list[int]) -> list[SubscriptionDoc]:
    found = [store.subscriptions.get(subscription_id("DemoChannel01", user)) for user in users]
    return [sub for sub in found if sub is not None]


def test_two_reminders_then_one_removal_and_a_goodbye(store: MemoryStore) -> None:
    _subscribe(store, days=30)
    told: list[str] = []
    for at in (timedelta(days=27), timedelta(days=29), timedelta(days=30, minutes=1)):
        rt = _expiry_rt(store, at)
        assert sweep(rt, f"run-{at}")["queued"] == 1
        assert sweep(rt, f"run-{at}") == {"duplicate": 1}  # the scheduler fired twice
        told += _run_queued(rt)
        telegram, _, _ = fakes(rt)
        told += [m.text.split("\n")[0] for m in telegram.to(USER)]
    assert told[0] == "reminded" and told[2] == "reminded" and told[4] == "removed"
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and sub.status is SubscriptionStatus.EXPIRED and not sub.in_channel
    assert sub.removed_at == NOW + timedelta(days=30, minutes=1) and sub.next_action_at is None


def test_a_renewal_that_lands_first_keeps_the_member(store: MemoryStore) -> None:
    _subscribe(store, days=1)
    rt = _expiry_rt(store, timedelta(days=1, minutes=1))
    sweep(rt, "a")
    store.subscriptions.update(SUB_ID, {"expires_at": NOW + timedelta(days=31)})  # renewed meanwhile
    assert _run_queued(rt) == ["renewed: not removed"]
    telegram, _, _ = fakes(rt)
    assert "remove_member" not in telegram.names()


def test_a_rate_limited_removal_is_rescheduled_and_finished_once(store: MemoryStore) -> None:
    _subscribe(store, days=1)
    rt = _expiry_rt(store, timedelta(days=1, minutes=1))
    telegram, _, tasks = fakes(rt)
    telegram.fail_method["send_message"] = [TelegramRetryAfter(7)]  # the goodbye after the removal
    sweep(rt, "a")
    _, _, payload, _ = tasks.created.pop(0)
    assert run_task(payload, rt) == "rescheduled after 7 s"
    [(_, _, again, name)] = tasks.created
    assert isinstance(again, ExpiryTask) and again.reschedules == 1 and name.endswith("-r1")
    assert tasks.scheduled[name] == rt.clock.now() + timedelta(seconds=7)
    assert _run_queued(rt) == ["already removed"]
    assert len(telegram.to(USER)) == 1 and telegram.names().count("remove_member") == 1


def test_a_removal_refused_for_lost_rights_stays_due_until_the_rights_come_back(store: MemoryStore) -> None:
    members = [USER + n for n in range(3)]
    for user in members:
        store.subscriptions.set(subscription_id("DemoChannel01", user), active_subscription(user, days=1))
    refused = TelegramBadRequest("Not enough rights to restrict/unrestrict chat member")
    start = timedelta(days=1, minutes=1)
    rt = _expiry_rt(store, start)
    telegram, _, _ = fakes(rt)
    telegram.fail_method["remove_member"] = [refused] * 3
    sweep(rt, "first")
    assert _run_queued(rt) == ["bot lacks rights: retried, owner told"] * 3
    assert len(telegram.to(OWNER)) == 1
    channel = store.channels.get("DemoChannel01")
    assert channel is not None and channel.bot_rights_problem is not None

    # Still no rights a minute later: one probe for the channel, the others wait.
    forget_cached_channels()
    later = _expiry_rt(store, start + timedelta(minutes=1))
    fakes(later)[0].fail_method["remove_member"] = [refused]
    assert sweep(later, "second")["held"] == 2
    assert _run_queued(later) == ["bot lacks rights: retried, owner told"]
    assert all(s.status is SubscriptionStatus.EXPIRED and s.removed_at is None for s in _subs(store, members))

    # The owner restores the rights: within two sweeps every member is removed and told.
    outcomes: list[str] = []
    for minute in (2, 3):
        forget_cached_channels()
        again = _expiry_rt(store, start + timedelta(minutes=minute))
        sweep(again, f"sweep-{minute}")
        outcomes += _run_queued(again)
    assert outcomes.count("removed") == 3
    assert all(s.removed_at is not None and not s.in_channel for s in _subs(store, members))
    restored = store.channels.get("DemoChannel01")
    assert restored is not None and restored.bot_rights_problem is None


def test_a_member_telegram_will_not_remove_is_retried_and_the_owner_told_once(store: MemoryStore) -> None:
    _subscribe(store, days=1)
    refused = TelegramBadRequest(
        "Bad Request: can't remove chat owner or administrator: user is an administrator"
    )
    told = 0
    for minute in (1, 5, 30):
        rt = _expiry_rt(store, timedelta(days=1, minutes=minute))
        telegram, _, _ = fakes(rt)
        telegram.fail_method["remove_member"] = [refused]
        sweep(rt, f"s{minute}")
        assert _run_queued(rt) in (["removal refused: retried, owner told"], [])
        told += len(telegram.to(OWNER))
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and sub.removed_at is None and sub.next_action_at is not None
    assert sub.removal_attempts >= 2 and "administrator" in (sub.removal_problem or "")
    assert told == 1


# -- the fan-out: past its first page of actions the sweep hands them out in named page tasks ----------
def _due_members(store: MemoryStore, count: int) -> list[int]:
    members = [USER + 1000 + n for n in range(count)]
    for user in members:
        store.subscriptions.set(subscription_id("DemoChannel01", user), active_subscription(user, days=1))
    return members


def _queued_actions(tasks: Any) -> list[str]:
    return [name for queue, _, payload, name in tasks.created if isinstance(payload, ExpiryTask)]


def _run_pages(rt: Runtime[Any]) -> list[str]:
    _, _, tasks = fakes(rt)
    pages = [payload for _, _, payload, _ in tasks.created if isinstance(payload, ExpiryPageTask)]
    return [run_page(page, rt) for page in pages]


def test_a_sweep_past_one_page_hands_the_rest_out_in_pages_that_queue_each_once(store: MemoryStore) -> None:
    members = _due_members(store, SWEEP_PAGE_ACTIONS * 2 + 50)
    rt = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(rt)
    counts = sweep(rt, "big")
    assert counts["queued"] == SWEEP_PAGE_ACTIONS  # the first page of actions it queues itself
    assert counts["handed_out"] == SWEEP_PAGE_ACTIONS + 50 and counts["page_tasks"] == 2
    pages = [
        (queue, payload) for queue, _, payload, _ in tasks.created if isinstance(payload, ExpiryPageTask)
    ]
    assert [queue for queue, _ in pages] == [Queue.FAN_OUT.value] * 2
    assert sorted(len(page.due) for _, page in pages) == [50, SWEEP_PAGE_ACTIONS]
    # Every member is leased until the paced queue should have reached them (plus ten minutes).
    leases = sorted(s.next_action_at for s in _subs(store, members) if s.next_action_at is not None)
    assert len(leases) == len(members)
    assert leases[-1] - leases[0] >= timedelta(seconds=(len(members) - 1) / 30)
    assert sweep(_expiry_rt(store, timedelta(days=1, minutes=2)), "next minute")["handed_out"] == 0

    assert sorted(_run_pages(rt)) == [
        f"page of {SWEEP_PAGE_ACTIONS}: {SWEEP_PAGE_ACTIONS} queued, 0 queued before",
        "page of 50: 50 queued, 0 queued before",
    ]
    names = _queued_actions(tasks)
    assert len(names) == len(set(names)) == len(members)
    assert [queue for queue, _, payload, _ in tasks.created if isinstance(payload, ExpiryTask)] == [
        Queue.TELEGRAM_ACTIONS.value
    ] * len(members)


def test_an_overlapping_sweep_that_reads_the_same_members_queues_none_twice(store: MemoryStore) -> None:
    members = _due_members(store, SWEEP_PAGE_ACTIONS + 120)
    first = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(first)
    sweep(first, "12:01")
    # The next minute's sweep read them before the first one's leases were written.
    for user in members:
        store.subscriptions.update(subscription_id("DemoChannel01", user), {"next_action_at": NOW})
    second = _expiry_rt(store, timedelta(days=1, minutes=1))
    second.replace(tasks=tasks)  # one Cloud Tasks for both
    again = sweep(second, "12:02")
    assert again["queued"] == 0 and again["already_queued"] == SWEEP_PAGE_ACTIONS
    assert again["page_tasks"] == 0  # the same page, named by what it carries: handed out once
    _run_pages(first)
    names = _queued_actions(tasks)
    assert len(names) == len(set(names)) == len(members)


def test_the_next_minutes_sweep_started_beside_a_long_one_hands_out_nothing(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100,000 due take a sweep about two minutes; the next minute's run, started beside it, read
    the same due ids before the first had leased them and handed every page out again (1,197 page
    tasks for 500 pages). One sweep runs at a time; one that found another running past its wait
    leaves it all to that one, and the minute after a finished sweep runs as usual."""
    monkeypatch.setattr(expiry, "WAIT_FOR_RUNNING", timedelta(0))  # the second runs inside the first
    members = _due_members(store, SWEEP_PAGE_ACTIONS * 3)
    first = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(first)
    beside: list[dict[str, int]] = []
    hand_out = expiry._lease_and_hand_out

    def next_minute_starts(*args: Any) -> bool:  # while the first is still handing out its pages
        if not beside:
            second = _expiry_rt(store, timedelta(days=1, minutes=2))
            second.replace(tasks=tasks)
            beside.append(sweep(second, "12:02"))
        return hand_out(*args)

    monkeypatch.setattr(expiry, "_lease_and_hand_out", next_minute_starts)
    counts = sweep(first, "12:01")
    assert beside == [{"another_running": 1}]
    assert counts["page_tasks"] == 2
    pages = [payload for _, _, payload, _ in tasks.created if isinstance(payload, ExpiryPageTask)]
    assert sorted(item.id for page in pages for item in page.due) == sorted(
        subscription_id("DemoChannel01", user) for user in members[SWEEP_PAGE_ACTIONS:]
    )
    # Done, it lets the next one run: a member due later is queued by the next minute's sweep.
    store.subscriptions.set(subscription_id("DemoChannel01", USER), active_subscription(USER, days=1))
    after = _expiry_rt(store, timedelta(days=1, minutes=3))
    after.replace(tasks=tasks)
    assert sweep(after, "12:03")["queued"] == 1


def test_a_sweep_beside_a_running_one_waits_for_it_then_sweeps_what_is_left(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep run by hand while the scheduler's is running does its work once that one is done,
    instead of leaving a member due meanwhile to the next minute."""
    monkeypatch.setattr(expiry, "RUNNING_POLL_SECONDS", 0.01)
    _due_members(store, 3)
    first = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(first)
    inside, go_on = threading.Event(), threading.Event()
    plan = expiry._plan_page

    def slow_plan(*args: Any) -> dict[str, int]:
        inside.set()
        assert go_on.wait(10)
        return plan(*args)

    monkeypatch.setattr(expiry, "_plan_page", slow_plan)
    running = threading.Thread(target=sweep, args=(first, "12:01"))
    running.start()
    assert inside.wait(10)
    monkeypatch.setattr(expiry, "_plan_page", plan)
    store.subscriptions.set(subscription_id("DemoChannel01", USER), active_subscription(USER, days=1))
    by_hand: list[dict[str, int]] = []
    second = _expiry_rt(store, timedelta(days=1, minutes=1, seconds=30))
    second.replace(tasks=tasks)
    waiting = threading.Thread(target=lambda: by_hand.append(sweep(second, "by hand")))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and not by_hand  # it waits while the first one runs
    go_on.set()
    running.join(10)
    waiting.join(10)
    assert by_hand[0]["queued"] == 1  # the member due meanwhile; the first sweep's three are leased
    assert len(_queued_actions(tasks)) == 4


def test_a_page_task_that_fails_part_way_is_retried_and_loses_nothing(store: MemoryStore) -> None:
    members = _due_members(store, SWEEP_PAGE_ACTIONS + 150)
    rt = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(rt)
    sweep(rt, "a")
    [page] = [payload for _, _, payload, _ in tasks.created if isinstance(payload, ExpiryPageTask)]
    tasks.unavailable_at = len(tasks.created) + 60  # Cloud Tasks stops answering part-way
    with pytest.raises(TasksUnavailable):
        run_page(page, rt)  # answered 503: the fan-out queue runs the page again
    assert 0 < len(_queued_actions(tasks)) - SWEEP_PAGE_ACTIONS < 150
    outcome = run_page(page, rt)
    assert outcome.startswith("page of 150: ") and outcome.endswith("queued before")
    names = _queued_actions(tasks)
    assert len(names) == len(set(names)) == len(members)
    assert _run_queued_actions(rt).count("removed") == len(members)


def _run_queued_actions(rt: Runtime[Any]) -> list[str]:
    _, _, tasks = fakes(rt)
    return [run_task(payload, rt) for _, _, payload, _ in tasks.created if isinstance(payload, ExpiryTask)]


def test_the_lease_grows_with_the_actions_queued_ahead_at_half_the_queue_rate() -> None:
    assert queued_lease(0, 29.5) == QUEUED_LEASE
    assert queued_lease(59_000, 29.5) == QUEUED_LEASE + timedelta(seconds=4000)  # 2,000 s at 29.5/s


def test_a_refused_removal_handed_out_past_the_first_page_is_tried_again_on_time(store: MemoryStore) -> None:
    """The sweep leases what it hands out before the page task reads it; a removal Telegram refused
    is due at the time its retry was set for, which the page must not take from the lease."""
    _subscribe(store, days=1)
    refused = TelegramBadRequest(
        "Bad Request: can't remove chat owner or administrator: user is an administrator"
    )
    first = _expiry_rt(store, timedelta(days=1, minutes=1))
    fakes(first)[0].fail_method["remove_member"] = [refused]
    sweep(first, "first")
    assert _run_queued(first) == ["removal refused: retried, owner told"]
    _due_members(store, SWEEP_PAGE_ACTIONS)  # a busy minute: a page of others due ahead of it

    rt = _expiry_rt(store, timedelta(days=1, minutes=5))
    _, _, tasks = fakes(rt)
    counts = sweep(rt, "later")
    assert (counts["queued"], counts["handed_out"]) == (SWEEP_PAGE_ACTIONS, 1)
    assert _run_pages(rt) == ["page of 1: 1 queued, 0 queued before"]
    [retry] = [payload for _, _, payload, _ in tasks.created if isinstance(payload, ExpiryTask)][-1:]
    assert retry.subscription_id == SUB_ID and run_task(retry, rt) == "removed"
    sub = store.subscriptions.get(SUB_ID)
    assert sub is not None and sub.removed_at is not None and not sub.in_channel


def test_a_later_sweep_leases_behind_the_actions_queued_before_it(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy minute leaves its actions queued at Telegram's pace; the next minute's sweep finds
    others due. Leased as if the queue were empty, those came due again before the queue reached
    them, and every later sweep handed them out again (100,000 due at once: 1,457 page tasks for
    500 pages). Leased behind what is queued ahead, they wait for the queue."""
    monkeypatch.setattr(expiry, "ACTIONS_PER_SECOND", 1.0)  # one a second: three pages queue 10 min
    _due_members(store, SWEEP_PAGE_ACTIONS * 3)
    first = _expiry_rt(store, timedelta(days=1, minutes=1))
    _, _, tasks = fakes(first)
    sweep(first, "12:01")
    later = [USER + 5000 + n for n in range(50)]  # bought and due after the first sweep
    for user in later:
        store.subscriptions.set(subscription_id("DemoChannel01", user), active_subscription(user, days=1))
    second = _expiry_rt(store, timedelta(days=1, minutes=2))
    second.replace(tasks=tasks)
    assert sweep(second, "12:02")["queued"] == len(later)
    leased = {sub.user_id: sub.next_action_at for sub in _subs(store, later)}

    # 17 minutes on: the queue, at its pace, has not reached them yet (600 ahead, one a second).
    third = _expiry_rt(store, timedelta(days=1, minutes=19))
    third.replace(tasks=tasks)
    sweep(third, "12:19")
    assert {sub.user_id: sub.next_action_at for sub in _subs(store, later)} == leased
    assert all(at is not None and at > NOW + timedelta(days=1, minutes=19) for at in leased.values())
