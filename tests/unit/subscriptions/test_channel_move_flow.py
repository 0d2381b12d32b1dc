"""An owner moves a channel's closed chat with /edit: every active subscription moves with it, each
member gets a Join button for the new chat (sent by the sweep's paced tasks), a join request to
the new chat is approved and one to the old chat is not, and the removal at expiry acts on the
chats the member is actually in: the new one and the old one they never left."""

from __future__ import annotations

from datetime import timedelta

from shared_schemas.config import ExpireSubscriptionsSettings
from shared_schemas.ids import subscription_id
from telepay.bot.webhook import handle_update
from telepay.runtime import Runtime
from telepay.subscriptions.expiry import run_task, sweep
from tests import updates
from tests.harness import NOW, active_subscription, fakes, present, runtime
from tests.memory_store import MemoryStore
from tests.unit.owners.test_commands import (
    BOT,
    CLOSED,
    CLOSED_RIGHTS,
    OPEN,
    OTHER,
    OWNER,
    UPDATE_IDS,
    _live,
    owner_on,
)

BUYER = 6060


def _sweep_and_run(
    store: MemoryStore, at: timedelta
) -> tuple[list[str], Runtime[ExpireSubscriptionsSettings]]:
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + at)
    sweep(rt, f"sweep-{at}")
    _, _, tasks = fakes(rt)
    outcomes = []
    while tasks.created:
        _, _, payload, _ = tasks.created.pop(0)
        outcomes.append(run_task(payload, rt))
    return outcomes, rt


def test_moving_the_closed_chat_moves_its_members_and_removal_follows_them() -> None:
    store = MemoryStore()
    owner = owner_on(store)
    token = _live(owner)
    sub_id = subscription_id(token, BUYER)
    # A buyer's 30 days (as settlement writes them), and their join request to the closed chat.
    store.subscriptions.set(
        sub_id,
        active_subscription(BUYER, 30, token=token).model_copy(
            update={"closed_channel_id": CLOSED, "in_channel": False}
        ),
    )
    assert handle_update(updates.join_request(next(UPDATE_IDS), CLOSED, BUYER), owner.rt) == "join approved"

    # The owner makes the bot an admin of a new private channel and moves the offer's closed chat there.
    owner.telegram.members[(OTHER, BOT)] = ("administrator", CLOSED_RIGHTS)
    handle_update(
        updates.my_chat_member(next(UPDATE_IDS), OTHER, OWNER, "administrator", CLOSED_RIGHTS, "Owls Vault"),
        owner.rt,
    )
    owner.say("/edit")
    owner.press(token)
    assert owner.press("channels") == "asked open"
    owner.press("Night Owls")
    assert owner.press("Owls Vault") == "channel saved, 1 members moved"
    assert "1 subscriber of Night Owls Club moved with it" in owner.last().text
    assert present(store.subscriptions.get(sub_id)).closed_channel_id == OTHER

    # Within a minute the sweep tells the member, with a Join button; tapping it makes a link to the new chat.
    outcomes, rt = _sweep_and_run(store, timedelta(minutes=1))
    assert outcomes == ["invited"]
    [told] = fakes(rt)[0].to(BUYER)
    assert "has moved to a new private channel" in told.text
    [[join]] = told.keyboard or [[]]
    assert join.callback_data == f"join:{token}"
    assert (
        handle_update(updates.press(next(UPDATE_IDS), join.callback_data, BUYER), owner.rt)
        == "join link sent"
    )
    assert ("create_join_request_link", (OTHER, f"again {BUYER}")) in owner.telegram.calls
    # Told once: a later sweep does not tell again.
    assert _sweep_and_run(store, timedelta(minutes=20))[0] == []
    assert handle_update(updates.join_request(next(UPDATE_IDS), CLOSED, BUYER), owner.rt) == "join declined"
    assert handle_update(updates.join_request(next(UPDATE_IDS), OTHER, BUYER), owner.rt) == "join approved"

    # The access ends: the member is removed from the new chat and from the old one.
    outcomes, rt = _sweep_and_run(store, timedelta(days=30, minutes=61))
    assert "removed" in outcomes
    removals = [args for name, args in fakes(rt)[0].calls if name == "remove_member"]
    assert sorted(removals) == sorted([(OTHER, BUYER), (CLOSED, BUYER)])
    assert OPEN not in [chat for chat, _ in removals]
