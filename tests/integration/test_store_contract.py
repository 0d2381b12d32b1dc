"""The storage port's contract, run against both implementations: the Firestore store on the
emulator and the in-memory store the unit tests use. Whatever a handler relies on is pinned here,
so a unit test on the memory store means what it says."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared_schemas.documents import (
    ChannelStatus,
    KeypadSessionDoc,
    KeypadStatus,
    OrderDoc,
    OrderStatus,
    SubscriptionDoc,
    SubscriptionStatus,
)
from shared_schemas.ids import OrderKind
from shared_schemas.names import ClaimPurpose
from shared_schemas.queries import (
    ACTIVE_CHANNELS,
    CHANNEL_BY_CLOSED_CHAT,
    FOLDABLE_DAYS,
    SUBSCRIPTIONS_DUE,
    SUBSCRIPTIONS_OF_CHANNEL,
)
from telepay.channels import day_counts
from telepay.core.claims import Claims
from telepay.core.clock import FrozenClock
from telepay.core.store import NotFound, Store, Tx, VersionConflict, array_union, increment
from tests.conftest import demo_channel
from tests.harness import NOW
from tests.integration.helpers import store_of
from tests.memory_store import MemoryStore

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "firestore"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        yield store_of(request.getfixturevalue("firestore_db"))


def _order(order_id: str = "tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa", **changes: Any) -> OrderDoc:
    fields: dict[str, Any] = {
        "order_id": order_id,
        "kind": OrderKind.SUBSCRIPTION,
        "user_id": 7,
        "chat_id": 7,
        "channel_token": "DemoChannel01",
        "tier_id": "t1",
        "days": 30,
        "price_amount": Decimal("5.00"),
        "price_currency": "USD",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return OrderDoc.model_validate(fields | changes)


def _sub(user: int, next_action_in: timedelta | None, **changes: Any) -> SubscriptionDoc:
    fields: dict[str, Any] = {
        "channel_token": "DemoChannel01",
        "user_id": user,
        "closed_channel_id": -1001000000002,
        "expires_at": NOW + timedelta(days=30),
        "started_at": NOW,
        "last_order_id": "o",
        "next_action_at": None if next_action_in is None else NOW + next_action_in,
        "updated_at": NOW,
    }
    return SubscriptionDoc.model_validate(fields | changes)


def test_documents_read_back_as_written_with_exact_money_and_enums(store: Store) -> None:
    order = _order(actually_paid=Decimal("0.00012345"), status=OrderStatus.INVOICED)
    store.orders.set(order.order_id, order)
    assert store.orders.get(order.order_id) == order
    assert store.orders.get("tp1-sub-DemoChannel01-7-t1-bbbbbbbbbb") is None


def test_create_only_if_absent(store: Store) -> None:
    order = _order()
    assert store.orders.create(order.order_id, order) is True
    assert store.orders.create(order.order_id, _order(user_id=8)) is False
    got = store.orders.get(order.order_id)
    assert got is not None and got.user_id == 7


def test_concurrent_creates_have_one_winner(store: Store) -> None:
    order = _order()
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda: wins.append(store.orders.create(order.order_id, order)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_update_changes_named_and_nested_fields_and_refuses_a_missing_document(store: Store) -> None:
    channel = demo_channel()
    store.channels.set(channel.token, channel)
    store.channels.update(
        channel.token,
        {"status": ChannelStatus.PAUSED, "broadcast.last_message_id": 77, "donation_min": Decimal("1.50")},
    )
    got = store.channels.get(channel.token)
    assert got is not None
    assert (got.status, got.broadcast.last_message_id, got.donation_min) == (
        ChannelStatus.PAUSED,
        77,
        Decimal("1.50"),
    )
    assert got.broadcast.last_posted_day is None and got.title == channel.title  # the rest untouched
    with pytest.raises(NotFound):
        store.channels.update("NoSuchChannel1", {"title": "x"})


def test_array_union_adds_each_item_once(store: Store) -> None:
    store.subscriptions.set("s-1", _sub(1, None, reminders_sent=["a"]))
    store.subscriptions.update("s-1", {"reminders_sent": array_union("b", "a")})
    store.subscriptions.update("s-1", {"reminders_sent": array_union("b")})
    got = store.subscriptions.get("s-1")
    assert got is not None and got.reminders_sent == ["a", "b"]


def test_merge_creates_or_adds_fields(store: Store) -> None:
    store.users.merge("42", {"user_id": 42, "blocked_bot": True})
    store.users.merge("42", {"blocked_at": NOW})
    got = store.users.get("42")
    assert got is not None and (got.blocked_bot, got.blocked_at) == (True, NOW)


def test_merge_in_a_transaction_adds_increments_into_nested_maps(store: Store) -> None:
    """The dashboard's day counts: written without a read, twice, then once more with a new tier."""
    fields = {
        "channel_token": "C",
        "day": "2026-11-26",
        "new": increment(1),
        "tiers": {"t1": {"sales": increment(1)}},
    }
    for _ in range(2):
        store.transaction(lambda tx: tx.merge(store.channel_days, "C-2026-11-26", fields))
    store.transaction(
        lambda tx: tx.merge(store.channel_days, "C-2026-11-26", {"tiers": {"t2": {"cents": increment(-500)}}})
    )
    got = store.channel_days.get("C-2026-11-26")
    assert got is not None and got.new == 2 and got.renewed == 0
    assert (got.tiers["t1"].sales, got.tiers["t2"].cents, got.tiers["t2"].sales) == (2, -500, 0)


def test_pages_after_an_id_follow_one_another_to_the_end(store: Store) -> None:
    for user in range(7):
        store.subscriptions.set(f"s-{user}", _sub(user, None))
    store.subscriptions.set("s-9", _sub(9, None, status=SubscriptionStatus.EXPIRED))
    active = {"channel_token": "DemoChannel01", "status": SubscriptionStatus.ACTIVE}
    seen, after, pages = [], None, 0
    while True:
        page, after = store.subscriptions.page_after(SUBSCRIPTIONS_OF_CHANNEL, limit=3, after=after, **active)
        seen += [stored.id for stored in page]
        pages += 1
        if after is None:
            break
    assert (seen, pages) == ([f"s-{user}" for user in range(7)], 3)
    page, after = store.subscriptions.page_after(SUBSCRIPTIONS_OF_CHANNEL, limit=7, **active)
    assert (len(page), after) == (7, None)  # exactly one page: no next page to ask for


def test_count_is_the_number_of_matches(store: Store) -> None:
    for user in range(5):
        store.subscriptions.set(
            f"s-{user}",
            _sub(user, None, status=SubscriptionStatus.EXPIRED if user > 2 else SubscriptionStatus.ACTIVE),
        )
    active = {"channel_token": "DemoChannel01", "status": SubscriptionStatus.ACTIVE}
    assert store.subscriptions.count(SUBSCRIPTIONS_OF_CHANNEL, **active) == 3
    assert (
        store.subscriptions.count(
            SUBSCRIPTIONS_OF_CHANNEL, channel_token="Nobody", status=SubscriptionStatus.ACTIVE
        )
        == 0
    )


def test_conditional_update_loses_to_a_write_in_between(store: Store) -> None:
    session = KeypadSessionDoc(
        session_id="s1", user_id=1, chat_id=1, channel_token="DemoChannel01", updated_at=NOW, expire_at=NOW
    )
    store.keypad_sessions.set("s1", session)
    first = store.keypad_sessions.get_stored("s1")
    assert first is not None
    store.keypad_sessions.update("s1", {"amount_text": "5"})
    with pytest.raises(VersionConflict):
        store.keypad_sessions.update("s1", {"amount_text": "9"}, if_version=first.version)
    second = store.keypad_sessions.get_stored("s1")
    assert second is not None
    store.keypad_sessions.update("s1", {"status": KeypadStatus.CONFIRMED}, if_version=second.version)
    got = store.keypad_sessions.get("s1")
    assert got is not None and (got.amount_text, got.status) == ("5", KeypadStatus.CONFIRMED)


def test_delete(store: Store) -> None:
    store.orders.set("tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa", _order())
    store.orders.delete("tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa")
    store.orders.delete("tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa")  # deleting nothing is fine
    assert store.orders.get("tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa") is None


def test_transaction_writes_together_what_it_decided_from_its_reads(store: Store) -> None:
    order = _order()
    store.orders.set(order.order_id, order)

    def settle(tx: Tx) -> str:
        current = tx.get(store.orders, order.order_id)
        assert current is not None
        if current.status is OrderStatus.SETTLED:
            return "already"
        tx.update(store.orders, order.order_id, {"status": OrderStatus.SETTLED})
        tx.set(store.subscriptions, "DemoChannel01-7", _sub(7, None))
        return "settled"

    assert store.transaction(settle) == "settled"
    assert store.transaction(settle) == "already"
    got = store.orders.get(order.order_id)
    assert got is not None and got.status is OrderStatus.SETTLED
    assert store.subscriptions.get("DemoChannel01-7") is not None


def test_a_failing_transaction_writes_nothing(store: Store) -> None:
    order = _order()
    store.orders.set(order.order_id, order)

    def fail(tx: Tx) -> None:
        tx.get(store.orders, order.order_id)
        tx.update(store.orders, order.order_id, {"status": OrderStatus.SETTLED})
        raise RuntimeError("decided to stop")

    with pytest.raises(RuntimeError):
        store.transaction(fail)
    got = store.orders.get(order.order_id)
    assert got is not None and got.status is OrderStatus.CREATING


def test_concurrent_transactions_on_one_document_lose_no_update(store: Store) -> None:
    channel = demo_channel()
    store.channels.set(channel.token, channel)
    errors: list[BaseException] = []

    def bump(tx: Tx) -> None:
        current = tx.get(store.channels, channel.token)
        assert current is not None
        tx.update(
            store.channels,
            channel.token,
            {"broadcast.consecutive_failures": current.broadcast.consecutive_failures + 1},
        )

    def worker() -> None:
        try:
            for _ in range(5):
                store.transaction(bump)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = store.channels.get(channel.token)
    assert got is not None and got.broadcast.consecutive_failures == 15


@contextmanager
def busy_cores() -> Iterator[None]:
    """Every core kept busy (and one more), as a full test run on two cores keeps them."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range((os.cpu_count() or 1) + 1)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_presses_at_once_on_a_busy_machine_get_through_once(store: Store) -> None:
    """Eight transactions that read the same two documents and write them if still unwritten (a
    button pressed eight times at once), on a machine with no core to spare: one writes, the other
    seven read its write, none fails. Retried at once, as Firestore's client does, the emulator's
    contenders met again at every attempt: on a loaded machine none got through in 80 s."""
    first, second = demo_channel(token="PressedOnce01"), demo_channel(token="PressedOnce02")

    def press(tx: Tx) -> bool:
        one, two = tx.get_two((store.channels, first.token), (store.channels, second.token))
        if one is not None or two is not None:
            return False
        tx.set(store.channels, first.token, first)
        tx.set(store.channels, second.token, second)
        return True

    with busy_cores(), ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: store.transaction(press), range(8)))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert store.channels.get(first.token) == first and store.channels.get(second.token) == second


def test_batch_applies_every_write(store: Store) -> None:
    for user in (1, 2):
        store.subscriptions.set(f"s-{user}", _sub(user, timedelta(minutes=-1)))
    with store.batch() as batch:
        batch.update(store.subscriptions, "s-1", {"next_action_at": None})
        batch.update(store.subscriptions, "s-2", {"status": SubscriptionStatus.EXPIRED})
    one, two = store.subscriptions.get("s-1"), store.subscriptions.get("s-2")
    assert one is not None and one.next_action_at is None
    assert two is not None and two.status is SubscriptionStatus.EXPIRED


def test_range_queries_filter_order_and_page_without_overlap(store: Store) -> None:
    # Due: 5 active with next_action_at in the past, at different times; not due: future, none,
    # expired.
    for user, minutes in ((1, -5), (2, -1), (3, -30), (4, -10), (5, 0)):
        store.subscriptions.set(f"due-{user}", _sub(user, timedelta(minutes=minutes)))
    store.subscriptions.set("later", _sub(6, timedelta(minutes=5)))
    store.subscriptions.set("none", _sub(7, None))
    store.subscriptions.set("ended", _sub(8, timedelta(minutes=-3), status=SubscriptionStatus.EXPIRED))
    pages = [
        [stored.id for stored in page]
        for page in store.subscriptions.pages(
            SUBSCRIPTIONS_DUE, page_size=2, status=SubscriptionStatus.ACTIVE, below=NOW
        )
    ]
    assert pages == [["due-3", "due-4"], ["due-1", "due-2"], ["due-5"]]
    window = store.subscriptions.find(
        SUBSCRIPTIONS_DUE, status=SubscriptionStatus.ACTIVE, below=NOW, above=NOW - timedelta(minutes=5)
    )
    assert [sub.user_id for sub in window] == [1, 2, 5]  # both bounds included
    between = store.subscriptions.pages(
        SUBSCRIPTIONS_DUE,
        page_size=10,
        status=SubscriptionStatus.ACTIVE,
        above=NOW - timedelta(minutes=10),
        below=NOW - timedelta(minutes=1),
    )
    assert [[stored.id for stored in page] for page in between] == [["due-4", "due-1", "due-2"]]


def test_pages_may_change_what_they_have_seen(store: Store) -> None:
    for user in range(5):
        store.subscriptions.set(f"due-{user}", _sub(user, timedelta(minutes=-10 + user)))
    seen: list[str] = []
    for page in store.subscriptions.pages(
        SUBSCRIPTIONS_DUE, page_size=2, status=SubscriptionStatus.ACTIVE, below=NOW
    ):
        for stored in page:
            seen.append(stored.id)
            store.subscriptions.update(stored.id, {"next_action_at": NOW + timedelta(minutes=10)})
    assert seen == [f"due-{user}" for user in range(5)]


def test_equality_queries_and_first(store: Store) -> None:
    for index in range(3):
        channel = demo_channel(token=f"Channel0000{index}", closed_channel_id=-100 - index)
        store.channels.set(channel.token, channel)
    store.channels.set("Channel00009", demo_channel(token="Channel00009", status=ChannelStatus.PAUSED))
    active = [
        s.id
        for page in store.channels.pages(ACTIVE_CHANNELS, page_size=2, status=ChannelStatus.ACTIVE)
        for s in page
    ]
    assert active == ["Channel00000", "Channel00001", "Channel00002"]
    assert store.channels.count(ACTIVE_CHANNELS, status=ChannelStatus.ACTIVE) == 3
    assert store.channels.count(ACTIVE_CHANNELS, status=ChannelStatus.PAUSED) == 1
    found = store.channels.first(CHANNEL_BY_CLOSED_CHAT, closed_channel_id=-101)
    assert found is not None and found.token == "Channel00001"
    assert store.channels.first(CHANNEL_BY_CLOSED_CHAT, closed_channel_id=-999) is None
    with pytest.raises(ValueError, match="filters on"):
        store.channels.find(CHANNEL_BY_CLOSED_CHAT, owner_user_id=1)


def test_a_claim_marked_done_by_its_work_transaction_commits_with_it(store: Store) -> None:
    """An IPN's claim is marked done in the settling transaction: once that commits the claim is
    done even if the process dies right after; if it fails, the claim is released for the retry."""
    claims = Claims(store, FrozenClock(NOW))

    def settle(tx: Tx) -> tuple[str, int]:
        tx.set(store.orders, "o1", _order("o1", status=OrderStatus.SETTLED))
        return "payment.settled", 1

    def dies_after_the_commit() -> None:
        with claims.hold(ClaimPurpose.IPN, "p1") as claim:
            assert claims.transaction_finishing(claim, settle) == ("payment.settled", 1)
            raise RuntimeError("the instance dies after the commit")

    with pytest.raises(RuntimeError):
        dies_after_the_commit()
    with claims.hold(ClaimPurpose.IPN, "p1") as again:
        assert again.done_before and again.previous_result == "payment.settled"

    def fails(tx: Tx) -> tuple[str, int]:
        tx.set(store.orders, "o2", _order("o2"))
        raise RuntimeError("the transaction fails")

    with pytest.raises(RuntimeError), claims.hold(ClaimPurpose.IPN, "p2") as claim:
        claims.transaction_finishing(claim, fails)
    assert store.orders.get("o2") is None
    with claims.hold(ClaimPurpose.IPN, "p2") as retry:  # released: the retry does the work
        assert not retry.done_before


def test_two_reads_in_one_call_give_each_document_or_none(store: Store) -> None:
    order = _order()
    store.orders.set(order.order_id, order)

    def read(tx: Tx) -> tuple[OrderDoc | None, SubscriptionDoc | None]:
        return tx.get_two((store.orders, order.order_id), (store.subscriptions, "DemoChannel01-404"))

    got, missing = store.transaction(read)
    assert got == order and missing is None
    store.subscriptions.set("DemoChannel01-7", _sub(7, None))
    both = store.transaction(
        lambda tx: tx.get_two((store.subscriptions, "DemoChannel01-7"), (store.orders, order.order_id))
    )
    assert both == (
        store.subscriptions.get("DemoChannel01-7"),
        order,
    )  # each in its place, whatever Firestore's order


def test_many_reads_in_one_call_and_a_delete_in_a_transaction(store: Store) -> None:
    """The fold of a finished day: its shards read at once (in the order asked, a missing one as
    None), summed into the first and the others deleted, all in one transaction; a second fold
    finds nothing to do; the fold query finds the shards still to fold."""
    day = date(2026, 11, 20)
    ids = [day_counts.day_id("C", day, shard) for shard in range(4)]
    for shard, doc_id in enumerate(ids[:3]):
        store.channel_days.merge(
            doc_id,
            {
                "channel_token": "C",
                "day": day.isoformat(),
                "shard": shard,
                "fold": shard > 0,
                "new": increment(shard + 1),
            },
        )
    assert {d.shard for d in store.channel_days.find(FOLDABLE_DAYS, fold=True, below=day.isoformat())} == {
        1,
        2,
    }
    read = store.transaction(lambda tx: tx.get_many(store.channel_days, ids))
    assert [doc.new if doc else None for doc in read] == [1, 2, 3, None]

    assert day_counts.fold_day(store, "C", day.isoformat()) == 2

    first = store.channel_days.get(ids[0])
    assert first is not None and first.new == 6 and not first.fold
    assert [store.channel_days.get(doc_id) for doc_id in ids[1:]] == [None, None, None]
    assert store.channel_days.find(FOLDABLE_DAYS, fold=True, below=day.isoformat()) == []
    assert day_counts.fold_day(store, "C", day.isoformat()) == 0


def test_keys_give_each_match_once_in_order_with_its_range_value_as_the_query_began(store: Store) -> None:
    for user, minutes in ((1, -5), (2, -1), (3, -30), (4, -10)):
        store.subscriptions.set(f"due-{user}", _sub(user, timedelta(minutes=minutes)))
    store.subscriptions.set("later", _sub(6, timedelta(minutes=5)))
    store.subscriptions.set("ended", _sub(8, timedelta(minutes=-3), status=SubscriptionStatus.EXPIRED))
    seen = []
    for doc_id, due_at in store.subscriptions.keys(
        SUBSCRIPTIONS_DUE, status=SubscriptionStatus.ACTIVE, below=NOW
    ):
        seen.append((doc_id, due_at))
        store.subscriptions.update(doc_id, {"next_action_at": NOW + timedelta(hours=1)})  # leased
        store.subscriptions.set("due-9", _sub(9, timedelta(minutes=-2)))  # due after it began
    assert seen == [
        ("due-3", NOW - timedelta(minutes=30)),
        ("due-4", NOW - timedelta(minutes=10)),
        ("due-1", NOW - timedelta(minutes=5)),
        ("due-2", NOW - timedelta(minutes=1)),
    ]
    store.channels.set("Channel00001", demo_channel(token="Channel00001"))
    assert list(store.channels.keys(ACTIVE_CHANNELS, status=ChannelStatus.ACTIVE)) == [("Channel00001", None)]


def test_many_reads_outside_a_transaction_give_each_document_or_none_in_the_order_asked(store: Store) -> None:
    store.subscriptions.set("a", _sub(1, None))
    store.subscriptions.set("b", _sub(2, timedelta(minutes=1)))
    found = store.subscriptions.get_many(["b", "missing", "a"])
    assert [None if s is None else (s.id, s.doc.user_id) for s in found] == [("b", 2), None, ("a", 1)]
    assert store.subscriptions.get_many([]) == []
