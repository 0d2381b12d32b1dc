"""The dashboard's running totals (`channel_counts`, each day's `ending`) kept in the transactions
that change a member, walked the way people change them: purchases and renewals, a free trial, an
owner's grant and revoke, a refund, the sweep's removals. After each step the overview says what the
subscriptions say (members active now, those ending today or in the 6 days after), and so does
`telepay counts check`; a channel from before the totals were kept is put right by `telepay counts
rebuild`, which writes nothing the second time."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.documents import SubscriptionStatus
from shared_schemas.queries import COUNTS_OF_CHANNEL, DAYS_OF_CHANNEL, SUBSCRIPTIONS_OF_CHANNEL
from telepay.bot.webhook import handle_update
from telepay.channels import count_rebuild
from telepay.channels.lookup import save_channel
from telepay.owners.app import handle
from telepay.owners.init_data import for_user
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, fakes, runtime
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.sales import owner_overview, refund, sell, sweep_at

TOKEN = "DemoChannel01"
OWNER = 5001
DAY = timedelta(days=1)


def grant(store: MemoryStore, at: datetime, member: int, days: int | None, take: bool = False) -> None:
    rt = runtime(OwnerAppSettings, store, now=at)
    channel = demo_channel()
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        fakes(rt)[0].members[(chat, OWNER)] = ("creator", ())  # the owner created both chats
    auth = "tma " + for_user({"id": OWNER, "first_name": "Olivia"}, "1:test", int(at.timestamp()) - 60)
    body = {"user_id": member, "days": days, "take": take, "reason": "support case"}
    reply = handle(rt, "POST", f"/api/channels/{TOKEN}/grants", auth, body)
    assert reply.status == 200, reply.body


def truth(store: MemoryStore, at: datetime) -> tuple[int, int]:
    """What the subscriptions say: members active, and those ending today or in the 6 days after."""
    active = store.subscriptions.find(
        SUBSCRIPTIONS_OF_CHANNEL, channel_token=TOKEN, status=SubscriptionStatus.ACTIVE
    )
    soon = [s for s in active if at.date() <= s.expires_at.date() <= (at + 6 * DAY).date()]
    return len(active), len(soon)


def agrees(store: MemoryStore, at: datetime) -> tuple[int, int]:
    body = owner_overview(store, at)
    assert (body["active"], body["expiring_7d"]) == truth(store, at)
    assert count_rebuild.measure(store, TOKEN).fine
    return body["active"], body["expiring_7d"]


def test_every_change_of_a_member_moves_the_totals_in_its_own_transaction() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel(trial_days=3))
    start = NOW - 40 * DAY
    steps: list[tuple[str, datetime, Callable[[], object]]] = [
        ("a monthly purchase", start, lambda: sell(store, 9001, start)),
        ("a quarterly purchase", start + DAY, lambda: sell(store, 9002, start + DAY, tier="t2")),
        ("a renewal before the end", start + 20 * DAY, lambda: sell(store, 9001, start + 20 * DAY)),
        ("a free trial", start + 21 * DAY, lambda: _trial(store, 9003, start + 21 * DAY)),
        ("an owner's grant to a stranger", start + 22 * DAY, lambda: grant(store, start + 22 * DAY, 9004, 10)),
        ("the same member granted more", start + 23 * DAY, lambda: grant(store, start + 23 * DAY, 9004, 30)),
        ("a sale", start + 24 * DAY, lambda: sell(store, 9005, start + 24 * DAY)),
        ("the trial's end swept", start + 25 * DAY, lambda: sweep_at(store, start + 25 * DAY)),
        ("a revoke of every day", start + 26 * DAY, lambda: grant(store, start + 26 * DAY, 9004, None, True)),
        ("the revoked member swept", start + 26 * DAY + timedelta(hours=1), lambda: sweep_at(store, start + 26 * DAY + timedelta(hours=1))),
        ("a late renewal after removal", start + 61 * DAY, lambda: _lapsed_then_back(store, start + 61 * DAY)),
    ]  # fmt: skip
    seen = []
    for what, at, step in steps:
        step()
        seen.append((what, agrees(store, at)))
    assert seen[0] == ("a monthly purchase", (1, 0))
    assert seen[4][1] == (4, 1)  # two buyers, a grant, a trial ending in 2 days
    assert seen[7][1][0] == 4  # the trial ended and was removed; the sale came
    assert seen[9][1][0] == 3
    assert seen[10][1][0] == 2


def _trial(store: MemoryStore, user: int, at: datetime) -> None:
    rt = runtime(TelegramWebhookSettings, store, now=at)
    assert handle_update(updates.press(at.microsecond + user, f"try:{TOKEN}", user), rt) == "trial started"


def _lapsed_then_back(store: MemoryStore, at: datetime) -> None:
    """Everyone's days ran out; swept; then one of them buys again."""
    sweep_at(store, at)
    assert truth(store, at)[0] == 1  # only the quarterly member's days are left
    sell(store, 9005, at + timedelta(minutes=5))


def test_a_refund_takes_its_member_off_when_the_sweep_ends_the_access() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    order = sell(store, 9001, NOW - 2 * DAY)
    sell(store, 9002, NOW - 25 * DAY)  # ends in 5 days: ending soon
    assert agrees(store, NOW - DAY) == (2, 1)
    assert "refunded" in refund(store, order, NOW - DAY)
    agrees(store, NOW - DAY)
    sweep_at(store, NOW - DAY + timedelta(minutes=1))
    assert agrees(store, NOW) == (1, 1)


def test_a_channel_from_before_the_totals_is_rebuilt_once() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    for buyer in range(9001, 9011):
        sell(store, buyer, NOW - (buyer - 9000) * 3 * DAY)  # ends spread over the next month
    expected = truth(store, NOW)
    # Data of a release that kept no totals: the channel's shards and day ends are not there.
    for shards in store.channel_counts.pages(COUNTS_OF_CHANNEL, channel_token=TOKEN):
        for shard in shards:
            store.channel_counts.delete(shard.id)
    for days in store.channel_days.pages(DAYS_OF_CHANNEL, channel_token=TOKEN, above="2000-01-01"):
        for day in days:
            store.channel_days.update(day.id, {"ending": 0})
    assert (owner_overview(store, NOW)["active"], owner_overview(store, NOW)["expiring_7d"]) == (0, 0)

    checked = run(store, "--json", "counts", "check", TOKEN)
    assert checked.exit_code == 1 and "telepay counts rebuild" in checked.output
    [row] = json.loads(_json_head(checked.output))
    assert (row["active_kept"], row["active_counted"], row["state"]) == (0, 10, "wrong")

    [row] = json.loads(ok(run(store, "--json", "counts", "rebuild")).output)
    assert (row["channel"], row["active_counted"], row["state"]) == (TOKEN, 10, "rebuilt")
    assert (owner_overview(store, NOW)["active"], owner_overview(store, NOW)["expiring_7d"]) == expected
    [again] = json.loads(ok(run(store, "--json", "counts", "rebuild", TOKEN)).output)
    assert again["state"] == "right"
    assert ok(run(store, "counts", "check")).output.count("right") == 1
    assert run(store, "counts", "check", "NoSuchChannel").exit_code == 1


def _json_head(output: str) -> str:
    """The JSON a failed `--json` command printed before its error line."""
    return output[: output.rindex("]") + 1]
