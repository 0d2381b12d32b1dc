"""Owners in the bot: /newchannel from the first question to the live channel, with bad answers on
the way; /cancel, expiry, stale buttons; /channels, /pause, /resume, /edit and /stats; the
conversation's version and update id under concurrency and re-delivery."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.fixtures import change_channel
from operator_cli import channel_file
from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import (
    ChannelStatus,
    ConversationDoc,
    PayoutStrategy,
)
from shared_schemas.names import ClaimPurpose
from shared_schemas.tasks import BroadcastTask, PostKind
from telepay.bot.webhook import handle_update
from telepay.core.claims import Claim
from telepay.core.clock import Clock, FrozenClock
from telepay.core.store import Store, Tx
from telepay.owners.conversations import Conversations, Move
from telepay.owners.texts import BUYER_COMMANDS, OWNER_COMMANDS
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram, Sent
from tests.harness import NOW, fakes, present, runtime
from tests.memory_store import MemoryStore
from tests.sales import sell, sweep_at

OWNER, STRANGER, BOT = 7001, 7002, updates.BOT_ID
OPEN, CLOSED, OTHER = -1002000000001, -1002000000002, -1002000000003
OPEN_RIGHTS = ("can_post_messages", "can_edit_messages", "can_delete_messages")
CLOSED_RIGHTS = ("can_invite_users", "can_restrict_members")
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


UPDATE_IDS = itertools.count(1000)  # one bot: update ids grow across users


class Owner:
    """Drives the bot as an owner would, through handle_update."""

    def __init__(self, rt: Runtime[TelegramWebhookSettings], user_id: int = OWNER) -> None:
        self.rt = rt
        self.user_id = user_id
        self.telegram, _, self.tasks = fakes(rt)
        self.ids = UPDATE_IDS

    def say(self, text: str) -> str:
        return handle_update(updates.start(next(self.ids), text, self.user_id), self.rt)

    def last(self) -> Sent:
        return self.telegram.to(self.user_id)[-1]

    def press(self, label_or_answer: str, message: Sent | None = None) -> str:
        message = message or self.last()
        for row in message.keyboard or []:
            for button in row:
                data = button.callback_data or ""
                if label_or_answer in (button.text, data.rsplit(":", 1)[-1]):
                    return handle_update(updates.press(next(self.ids), data, self.user_id), self.rt)
        raise AssertionError(f"no button {label_or_answer!r} in {message.text!r}")


def labels(message: Sent) -> list[str]:
    return [button.text for row in message.keyboard or [] for button in row]


def _world(telegram: FakeTelegram, closed_rights: tuple[str, ...] = CLOSED_RIGHTS) -> None:
    for chat in (OPEN, CLOSED, OTHER):
        telegram.members[(chat, OWNER)] = ("creator", ())
    telegram.members[(OPEN, BOT)] = ("administrator", OPEN_RIGHTS)
    telegram.members[(CLOSED, BOT)] = ("administrator", closed_rights)
    telegram.members[(OTHER, BOT)] = ("administrator", OPEN_RIGHTS)


@pytest.fixture
def owner() -> Owner:
    return owner_on(MemoryStore())


def owner_on(store: Store, **settings: Any) -> Owner:
    """An owner whose two channels have the bot as admin, before /newchannel (the bot's `settings`
    changed as given)."""
    rt = runtime(TelegramWebhookSettings, store, **settings)
    telegram, _, _ = fakes(rt)
    _world(telegram, closed_rights=("can_invite_users",))
    for update_id, (chat, title, rights) in enumerate(
        ((OPEN, "Night Owls", OPEN_RIGHTS), (CLOSED, "Night Owls Members", ("can_invite_users",))), 1
    ):
        handle_update(updates.my_chat_member(update_id, chat, OWNER, "administrator", rights, title), rt)
    return Owner(rt)


def _go_through(owner: Owner) -> None:
    """Every question of /newchannel, with some wrong answers along the way."""
    assert owner.say("/newchannel") == "asked open"
    assert "Which channel is the open one" in owner.last().text
    assert owner.press("Night Owls") == "asked closed"
    # The closed channel lacks the ban right: refused with the reason, asked again.
    assert owner.press("Night Owls Members") == "invalid closed"
    assert "I'm missing the right to ban users" in owner.last().text
    owner.telegram.members[(CLOSED, BOT)] = ("administrator", CLOSED_RIGHTS)
    assert owner.press("Night Owls Members") == "asked title"
    assert owner.say("   ") == "invalid title"
    assert "can't be empty" in owner.last().text
    assert owner.say("Night Owls Club") == "asked description"
    assert owner.press("Skip") == "asked language"
    assert owner.press("English") == "asked tier_count"
    assert owner.press("2") == "asked tier_price"
    assert owner.say("4,99") == "invalid tier_price"
    assert "Use a dot for cents, e.g. 4.99." in owner.last().text
    assert owner.say("4.99") == "asked tier_days"
    assert owner.press("30") == "asked tier_stars"
    assert "Price 1 in Telegram Stars" in owner.last().text
    # $4.99 at the default $0.02 a Star, rounded up to a whole Star.
    assert owner.press("Use ⭐250 (from the USD price)") == "asked tier_label"
    assert owner.say("Monthly") == "asked tier_price"
    assert "Price 2 of 2" in owner.last().text
    assert owner.say("40") == "asked tier_days"
    assert owner.say("4000") == "invalid tier_days"
    assert owner.say("365") == "asked tier_stars"
    assert labels(owner.last()) == ["Use ⭐2,000 (from the USD price)"]
    assert owner.say("12.5") == "invalid tier_stars"
    assert "Send the price in Stars as a whole number, e.g. 250" in owner.last().text
    assert owner.say("20000") == "invalid tier_stars"
    assert "Telegram takes from 1 to 10,000 Stars for one payment" in owner.last().text
    assert owner.say("1500") == "asked tier_label"
    assert owner.press("Skip") == "asked trial"
    assert labels(owner.last()) == ["No trial", "3 days", "7 days", "14 days"]
    assert owner.say("0") == "invalid trial"
    assert "A free trial lasts from 1 to 30 days" in owner.last().text
    assert owner.press("7 days") == "asked donation_min"
    assert owner.say("2") == "asked donation_max"
    assert owner.say("1") == "invalid donation_max"
    assert "can't be less than the minimum" in owner.last().text
    assert owner.say("500") == "asked donation_message"
    assert owner.say("Thank you for keeping the lights on!") == "asked grace"
    assert owner.press("60") == "asked payout_currency"
    assert owner.press("USDT") == "asked payout_network"
    assert [label for (label,) in [(b.text,) for row in owner.last().keyboard or [] for b in row]] == [
        "Ethereum (ERC-20)",
        "Tron (TRC-20)",
    ]
    assert owner.press("trx") == "asked payout_wallet"
    assert owner.say("0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe") == "invalid payout_wallet"
    assert "doesn't look like a Tron (TRC-20) address" in owner.last().text
    assert owner.say(TRON) == "asked payout_strategy"
    assert owner.press("threshold") == "asked payout_threshold"
    assert owner.say("0") == "invalid payout_threshold"
    assert owner.say("100") == "asked confirm"


def test_newchannel_end_to_end(owner: Owner) -> None:
    _go_through(owner)
    summary = owner.last().text
    for line in (
        "Title: Night Owls Club",
        "Tier 1 (Monthly): $4.99 or ⭐250 for 1 month",
        "Tier 2: $40.00 or ⭐1,500 for 1 year",
        "Free trial: 7 days",
        "Donations: $2.00 to $500.00",
        "Payouts: USDT on Tron (TRC-20) to " + TRON,
        "Payout strategy: threshold (from $100.00)",
    ):
        assert line in summary
    assert owner.rt.store.channels.find(_owner_query(), owner_user_id=OWNER) == []  # nothing yet
    assert owner.press("yes") == "channel live"
    [channel] = owner.rt.store.channels.find(_owner_query(), owner_user_id=OWNER)
    assert (channel.open_channel_id, channel.closed_channel_id) == (OPEN, CLOSED)
    assert [(t.tier_id, t.price, t.days, t.label, t.stars) for t in channel.tiers] == [
        ("t1", Decimal("4.99"), 30, "Monthly", None),  # derived from the USD price
        ("t2", Decimal("40.00"), 365, None, 1500),
    ]
    assert channel.payout_strategy is PayoutStrategy.THRESHOLD and channel.payout_wallet == TRON
    assert channel.donation_message == "Thank you for keeping the lights on!"
    live = owner.last().text
    assert f"https://t.me/TelePayTestBot?start={channel.token}" in live
    assert f"https://t.me/TelePayTestBot?start={channel.token}_DONATE" in live
    [(queue, url, task, name), (_, _, donation, donation_name)] = owner.tasks.created
    # The first offer post goes on the bot's one paced queue, to the function that posts the offers.
    assert queue == "telegram-actions" and url.endswith("/expire_subscriptions/task/broadcast")
    assert isinstance(task, BroadcastTask) and task.channel_token == channel.token
    assert name == f"broadcast-{channel.token}-{NOW.date().isoformat()}"
    # ... and the closed channel's donation post.
    assert isinstance(donation, BroadcastTask) and donation.post is PostKind.DONATION
    assert donation_name.startswith(f"donation-post-{channel.token}-")
    assert owner.telegram.commands[None] == list(BUYER_COMMANDS)
    assert owner.telegram.commands[OWNER] == list(OWNER_COMMANDS)
    # The bot's rights record of both channels is now up to date and the channel shows live.
    assert owner.say("/channels") == "channels listed"
    assert "Night Owls Club — 🟢 live" in owner.last().text


def _owner_query() -> Any:
    from shared_schemas.queries import CHANNELS_OF_OWNER

    return CHANNELS_OF_OWNER


def test_cancel_leaves_nothing_and_old_buttons_do_nothing(owner: Owner) -> None:
    owner.say("/newchannel")
    owner.press("Night Owls")
    question = owner.last()
    assert owner.say("/cancel") == "cancelled"
    assert owner.last().text == "Cancelled. Nothing was saved."
    assert owner.press("Night Owls Members", question) == "no conversation"
    assert owner.telegram.answers[-1][1] == "That button belongs to an earlier question."
    assert owner.rt.store.channels.find(_owner_query(), owner_user_id=OWNER) == []
    assert owner.say("/cancel") == "nothing to cancel"
    # Plain text outside a conversation is the buyers' help, as before.
    assert owner.say("hello") == "help"


def test_a_button_of_an_earlier_question_is_refused(owner: Owner) -> None:
    owner.say("/newchannel")
    first = owner.last()
    owner.press("Night Owls")
    assert owner.press("Night Owls", first) == "stale button"


def test_a_conversation_expires_after_24_hours(owner: Owner) -> None:
    owner.say("/newchannel")
    owner.rt.clock = FrozenClock(NOW + timedelta(hours=24, seconds=1))
    assert owner.press("Night Owls") == "conversation expired"
    assert "expired after 24 hours" in owner.last().text


def test_someone_no_longer_creator_is_stopped_at_the_next_step(owner: Owner) -> None:
    owner.say("/newchannel")
    owner.press("Night Owls")
    owner.telegram.members[(OPEN, OWNER)] = ("member", ())
    assert owner.press("Night Owls Members") == "not the owner"
    assert "Only the creator of Night Owls can sell it" in owner.last().text


def test_a_channel_the_bot_was_removed_from_is_refused(owner: Owner) -> None:
    from telepay.adapters.telegram_api import TelegramBadRequest

    owner.say("/newchannel")
    owner.press("Night Owls")
    # Telegram no longer tells the bot about its own membership there (it was removed).
    owner.telegram.members[(CLOSED, BOT)] = TelegramBadRequest("member list is inaccessible")
    assert owner.press("Night Owls Members") == "invalid closed"
    assert "missing the right to invite users via link and ban users" in owner.last().text


def test_a_redelivered_update_is_not_applied_twice(owner: Owner) -> None:
    owner.say("/newchannel")
    update = updates.press(5000, owner.last().callbacks()[0], OWNER)
    assert handle_update(update, owner.rt) == "asked closed"
    # The dedupe claim is gone (it expired or the first attempt failed after the move):
    owner.rt.store.claims.delete(Claim(ClaimPurpose.UPDATE, "5000").doc_id)
    assert handle_update(update, owner.rt) == "asked closed"  # shown again, not moved again
    conversation = Conversations(owner.rt.store, owner.rt.clock).latest(OWNER)
    assert conversation is not None and conversation.step == "closed" and conversation.version == 2


def two_answers_at_once(store: Store, clock: Clock) -> tuple[list[Move], ConversationDoc | None]:
    """Two instances judge two answers against the same version of one conversation and move it
    at the same moment (both transactions open together when the store lets them)."""
    conversations = Conversations(store, clock)
    _, judged = conversations.start(OWNER, "newchannel", "title", {}, update_id=1)
    barrier = threading.Barrier(2)
    results: list[Move] = []

    def also(tx: Tx) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a store that serialises them
            barrier.wait(timeout=2)

    def answer(update_id: int) -> None:
        move, _ = conversations.move(judged, update_id, "description", {"title": f"T{update_id}"}, also=also)
        results.append(move)

    threads = [threading.Thread(target=answer, args=(update_id,)) for update_id in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, conversations.latest(OWNER)


def test_two_answers_at_once_never_both_apply() -> None:
    rt = runtime(TelegramWebhookSettings, MemoryStore())
    results, final = two_answers_at_once(rt.store, rt.clock)
    assert sorted(results) == [Move.APPLIED, Move.CONFLICT]
    assert final is not None and final.version == 2 and final.data["title"] in ("T2", "T3")


def _live(owner: Owner) -> str:
    _go_through(owner)
    owner.press("yes")
    [channel] = owner.rt.store.channels.find(_owner_query(), owner_user_id=OWNER)
    return channel.token


def test_pause_resume_and_a_stranger(owner: Owner) -> None:
    token = _live(owner)
    assert owner.say("/pause") == "paused"
    assert owner.rt.store.channels.get(token).status is ChannelStatus.PAUSED  # type: ignore[union-attr]
    assert owner.say("/pause") == "paused"  # again: the same answer, nothing else changes
    buyer = Owner(owner.rt, STRANGER)
    assert buyer.say(f"/start {token}") == "paused offer"
    assert buyer.say("/pause") == "no channels"
    assert owner.say("/resume") == "resumed"
    assert buyer.say(f"/start {token}") == "offer shown with a trial"  # the 7-day trial set above
    # The bot loses the ban right in the closed channel: /channels shows the problem.
    handle_update(
        updates.my_chat_member(next(UPDATE_IDS), CLOSED, OWNER, "administrator", ("can_invite_users",)),
        owner.rt,
    )
    owner.say("/channels")
    assert "Night Owls Club — ⚠️ rights problem" in owner.last().text
    assert "In the closed channel I'm missing the right to ban users." in owner.last().text


def test_edit_a_price(owner: Owner) -> None:
    token = _live(owner)
    assert owner.say("/edit") == "asked pick_channel"
    assert owner.press(token) == "asked pick_group"
    assert owner.press("tiers") == "asked tier_count"
    owner.press("1")
    assert owner.say("0") == "invalid tier_price"
    owner.say("6.50")
    assert owner.press("30") == "asked tier_stars"
    assert labels(owner.last()) == ["Use ⭐325 (from the USD price)"]
    assert owner.say("0") == "invalid tier_stars"
    assert owner.say("⭐300") == "asked tier_label"
    assert owner.press("Skip") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None
    assert [(t.price, t.days, t.stars) for t in channel.tiers] == [(Decimal("6.50"), 30, 300)]
    assert channel.title == "Night Owls Club" and channel.payout_wallet == TRON  # the rest unchanged
    # Back to the converted price: the owner's Star price is gone.
    owner.say("/edit")
    owner.press(token)
    owner.press("tiers")
    owner.press("1")
    owner.say("6.50")
    owner.press("30")
    assert owner.press("Use ⭐325 (from the USD price)") == "asked tier_label"
    assert owner.press("Skip") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None and [t.stars for t in channel.tiers] == [None]


def test_a_price_beyond_telegrams_limit_in_stars_is_sold_in_crypto_only(owner: Owner) -> None:
    token = _live(owner)
    owner.say("/edit")
    owner.press(token)
    owner.press("tiers")
    owner.press("1")
    owner.say("250")  # 12,500 Stars at $0.02 a Star: more than Telegram takes in one payment
    assert owner.press("30") == "asked tier_stars"
    assert labels(owner.last()) == ["Crypto only (over Telegram's limit in Stars)"]
    assert owner.press("Crypto only (over Telegram's limit in Stars)") == "asked tier_label"
    assert owner.last().text.startswith(
        "Heads-up: $250.00 is more than ⭐10,000 at $0.02 a Star, Telegram's limit, so this tier is sold "
        "in crypto only. Set a price in Stars of your own to sell it in Stars too.\n\n"
    )
    assert owner.press("Skip") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None and [(t.price, t.stars) for t in channel.tiers] == [(Decimal("250.00"), None)]


def test_no_star_price_is_asked_while_stars_are_switched_off() -> None:
    owner = owner_on(MemoryStore(), stars_enabled=False)
    channel = demo_channel(owner=OWNER)
    owner.rt.store.channels.set(channel.token, channel)
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        owner.telegram.members[(chat, OWNER)] = ("creator", ())
    owner.say("/edit")
    owner.press(channel.token)
    owner.press("tiers")
    owner.press("1")
    owner.say("6.50")
    assert owner.press("30") == "asked tier_label"
    assert owner.press("Skip") == "channel saved"


def change_wallet(owner: Owner, token: str, address: str, confirm: str = "yes") -> str:
    """/edit's payout group: USDT on Tron to `address`, then the confirmation."""
    owner.say("/edit")
    owner.press(token)
    assert owner.press("payout") == "asked payout_currency"
    owner.press("USDT")
    owner.press("trx")
    assert owner.say(address) == "asked confirm_wallet"
    assert address in owner.last().text and "future payouts" in owner.last().text
    return owner.press(confirm)


def test_a_new_wallet_takes_a_confirmation_and_is_announced(owner: Owner) -> None:
    token = _live(owner)
    other = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
    for confirm, outcome in (("no", "cancelled"), ("yes", "channel saved, payouts held")):
        assert change_wallet(owner, token, other, confirm) == outcome
        channel = owner.rt.store.channels.get(token)
        assert channel is not None and channel.payout_wallet == (TRON if confirm == "no" else other)
    assert "Your payout wallet is now " + other in owner.telegram.to(OWNER)[-2].text


def test_edit_the_channels(owner: Owner) -> None:
    token = _live(owner)
    handle_update(
        updates.my_chat_member(9000, OTHER, OWNER, "administrator", OPEN_RIGHTS, "Owls Lobby"), owner.rt
    )
    owner.say("/edit")
    owner.press(token)
    assert owner.press("channels") == "asked open"
    assert [b.text for row in owner.last().keyboard or [] for b in row][:3] == [
        "Night Owls",
        "Night Owls Members",
        "Owls Lobby",
    ]
    owner.press("Owls Lobby")
    assert owner.press("Night Owls Members") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None and (channel.open_channel_id, channel.closed_channel_id) == (OTHER, CLOSED)


def test_stats(owner: Owner) -> None:
    """Sales made as buyers make them (tests/sales.py); the figures shared with the owner app are
    compared one by one in tests/unit/owners/test_dashboard.py."""
    token = _live(owner)
    store = owner.rt.store
    day = timedelta(days=1)
    sell(store, 1, NOW - 2 * day, token)
    sell(store, 2, NOW - 20 * day, token)
    sell(store, 2, NOW - 3 * day, token)  # renewed with days left
    sell(store, 5, NOW - 40 * day, token)  # outside both periods, ended 10 days ago
    sweep_at(store, NOW - 9 * day)  # after the grace period: removed
    assert owner.say("/stats") == "stats shown"
    text = owner.last().text
    assert "Active subscribers: 2" in text
    assert "Ending in the next 7 days: 0" in text
    price = store.channels.get(token).tiers[0].price  # type: ignore[union-attr]
    assert f"Last 7 days: 1 new, 1 renewed, ${2 * price} in sales, $0.00 in donations" in text
    assert f"Last 30 days: 2 new, 1 renewed, ${3 * price} in sales, $0.00 in donations" in text
    assert "Last 30 days: renewal rate 50%, churn 100%" in text


def test_a_co_admin_cannot_sell_the_owners_channels_by_typing_their_ids(owner: Owner) -> None:
    """An administrator of both channels who is not their creator (even one without a single
    right) is refused, whether they tap or type the chats; only the creator may sell them."""
    mallory = Owner(owner.rt, user_id=6666)
    for chat in (OPEN, CLOSED):
        owner.telegram.members[(chat, mallory.user_id)] = ("administrator", ())
    assert mallory.say("/newchannel") == "asked open"
    assert mallory.say(str(OPEN)) == "invalid open"
    assert "Only the creator of Night Owls can sell it" in mallory.last().text
    assert mallory.say(str(CLOSED)) == "invalid open"
    # The owner is not held up: her channels are free for her own offer.
    assert owner.say("/newchannel") == "asked open"
    assert owner.press("Night Owls") == "asked closed"


def test_digits_that_are_not_ascii_are_refused_not_a_crash(owner: Owner) -> None:
    """'²' and '٣' pass str.isdigit(); int() refuses the first. Each is a wrong answer, asked again."""
    assert owner.say("/newchannel") == "asked open"
    for typed in ("²", "-²", "٣٣", "9" * 5000):
        assert owner.say(typed) == "invalid open", typed
    forged = updates.press(next(UPDATE_IDS), "ow:²:x", OWNER)  # a client may send any callback data
    assert handle_update(forged, owner.rt) == "unknown button"


def test_edit_writes_only_its_own_settings_not_a_stale_snapshot(owner: Owner) -> None:
    """/edit keeps the answers of a conversation up to a day old: what changed meanwhile elsewhere
    (the owner app, an operator) stays as it is, only the group being edited is written."""
    token = _live(owner)
    owner.say("/edit")
    owner.press(token)
    assert owner.press("title") == "asked title"
    # Meanwhile, an operator changes the description and the grace period (`telepay channels update`).
    change_channel(owner.rt.store, token, {"description": "Changed in the app.", "grace_period_minutes": 30})
    assert owner.say("Night Owls Daily") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None and channel.title == "Night Owls Daily"
    assert channel.description == "Changed in the app." and channel.grace_period_minutes == 30


def test_a_chat_taken_after_it_was_picked_is_refused_at_go_live(owner: Owner, tmp_path: Path) -> None:
    """The chat is checked when picked, but the go-live comes minutes later: an operator's
    `telepay channels register` (or another conversation) may take it meanwhile. The go-live's own
    transaction refuses, and one chat keeps one offer."""
    _go_through(owner)  # the owner is at "go live?"
    example = json.loads((Path(__file__).parents[3] / "docs" / "channel.example.json").read_text())
    path = tmp_path / "taken.json"
    path.write_text(json.dumps(example | {"token": "TakenFirst01", "closed_channel_id": CLOSED}))
    channel_file.register(owner.rt.store, owner.rt.clock, path, lambda prices: [])  # prices checked elsewhere
    assert owner.press("yes") == "chat in use"
    assert "Night Owls Members is already used by the offer Night Owls Club" in owner.last().text
    assert [c.token for c in owner.rt.store.channels.find(_owner_query(), owner_user_id=OWNER)] == []
    assert present(owner.rt.store.channels.get("TakenFirst01")).closed_channel_id == CLOSED
    assert owner.say("/cancel") == "cancelled"


# -- free trials --
def test_edit_the_free_trial_refuses_what_is_out_of_range_and_records_the_change(owner: Owner) -> None:
    token = _live(owner)  # set up with a 7-day trial
    assert owner.say("/edit") == "asked pick_channel"
    assert owner.press(token) == "asked pick_group"
    assert "Free trial" in labels(owner.last())
    assert owner.press("trial") == "asked trial"
    for typed in ("0", "31", "abc"):
        assert owner.say(typed) == "invalid trial"
        assert owner.rt.store.channels.get(token).trial_days == 7  # type: ignore[union-attr]  # nothing saved
    assert "from 1 to 30 days" in owner.telegram.to(OWNER)[-3].text
    assert "whole number of days" in owner.last().text
    assert owner.say("21") == "channel saved"
    assert owner.rt.store.channels.get(token).trial_days == 21  # type: ignore[union-attr]
    owner.say("/edit")
    owner.press(token)
    owner.press("trial")
    assert owner.press("No trial") == "channel saved"
    assert owner.rt.store.channels.get(token).trial_days is None  # type: ignore[union-attr]
