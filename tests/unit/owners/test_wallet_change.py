"""A changed payout wallet holds that channel's payouts for 48 hours: walked as an owner would (the
channel set up with /newchannel, the wallet changed with /edit), with payouts run against the
NowPayments stand-in. Whoever got hold of the owner's Telegram for a minute gets nothing paid to
their wallet before the owner could cancel the change; the cancel button restores the wallet from
before; a stranger's press or an older button does nothing."""
# ruff: noqa: F811 (the tests take the payout tests' `world` fixture, imported below)

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from local.fixtures import tron_address
from shared_schemas.config import OwnerAppSettings, PayoutSettings
from shared_schemas.ids import wallet_cancel_callback
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.bot.webhook import handle_update
from telepay.core.clock import FrozenClock
from telepay.owners import app
from telepay.payouts import flow as payout_flow
from telepay.runtime import Runtime
from tests import updates
from tests.harness import NOW, present, runtime
from tests.unit.owners.test_app import changes_of
from tests.unit.owners.test_commands import (
    OWNER,
    STRANGER,
    TRON,
    UPDATE_IDS,
    _live,
    change_wallet,
    owner_on,
)
from tests.unit.payouts.test_flow import World, book, settled, world  # noqa: F401

THIEF_WALLET = tron_address("someone who had the owner's phone for a minute")
HELD_UNTIL = "Saturday, 28 November 2026, 12:00 UTC"  # NOW + 48 h


def payouts_at(world: World, hours: float) -> Runtime[PayoutSettings]:
    rt = world.runtime()
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.current = NOW + timedelta(hours=hours)
    return rt


def test_a_new_wallet_gets_nothing_for_48_hours_then_everything(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    assert change_wallet(owner, token, THIEF_WALLET) == "channel saved, payouts held"
    notice = owner.last()
    assert f"payouts of Night Owls Club wait until {HELD_UNTIL}" in notice.text
    assert f"payouts go back to the wallet before ({TRON})" in notice.text
    assert [b.text for row in notice.keyboard or [] for b in row] == ["↩️ Cancel this change"]

    # A sale settles during the hold: nothing leaves, by the event nor by the every-minute run.
    book(world, token, 1, "150.00", "149.25")  # above the 100 USD threshold
    assert payout_flow.handle_event(settled(token), payouts_at(world, 1)) == ["nothing to pay yet"]
    assert payout_flow.run_scheduled(payouts_at(world, 47.9))["reserved"] == 0
    assert world.withdrawals() == []
    owner.say("/payouts")
    assert f"🔒 Night Owls Club: payouts held until {HELD_UNTIL}" in owner.last().text

    # The hold ends: the balance goes to the wallet the owner chose.
    counts = payout_flow.run_scheduled(payouts_at(world, 48.1))
    assert counts["reserved"] == 1
    [withdrawal] = world.withdrawals()
    assert (withdrawal["address"], withdrawal["currency"]) == (THIEF_WALLET, "usdttrc20")


def test_the_owner_cancels_and_the_money_goes_to_the_old_wallet_at_once(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    change_wallet(owner, token, THIEF_WALLET)
    assert owner.press("↩️ Cancel this change") == "wallet change cancelled"
    assert f"Payouts of Night Owls Club go to {TRON} again" in owner.last().text
    channel = present(world.store.channels.get(token))
    assert (channel.payout_wallet, channel.wallet_hold) == (TRON, None)
    changes = sorted(changes_of(owner.rt), key=lambda c: c.changed_at)
    assert [c.changes["payout_wallet"] for c in changes if "payout_wallet" in c.changes][-1] == {
        "before": THIEF_WALLET,
        "after": TRON,
    }
    book(world, token, 1, "150.00", "149.25")  # above the 100 USD threshold
    [outcome] = payout_flow.handle_event(settled(token), payouts_at(world, 1))
    assert outcome.endswith(": verified")
    assert [w["address"] for w in world.withdrawals()] == [TRON]
    # The button again: nothing more to undo.
    assert owner.press("↩️ Cancel this change", owner.telegram.to(OWNER)[-2]) == "wallet change stale"


def test_a_redelivered_cancel_still_says_the_change_was_cancelled(world: World) -> None:
    # Telegram rate-limits the confirmation (429): the press is answered 503 and delivered again,
    # after the cancel was saved. Found by the wallet-change drill.
    owner = owner_on(world.store)
    token = _live(owner)
    change_wallet(owner, token, THIEF_WALLET)
    [button] = [b for row in owner.last().keyboard or [] for b in row]
    assert button.callback_data is not None
    press = updates.press(next(UPDATE_IDS), button.callback_data, OWNER)
    owner.telegram.fail_method["send_message"] = [TelegramRetryAfter(1)]
    with pytest.raises(TelegramRetryAfter):
        handle_update(press, owner.rt)
    assert present(world.store.channels.get(token)).payout_wallet == TRON
    assert handle_update(press, owner.rt) == "wallet change cancelled"  # Telegram's re-delivery
    assert f"Payouts of Night Owls Club go to {TRON} again" in owner.last().text
    # A later press of the same button: nothing more to undo.
    assert owner.press("↩️ Cancel this change", owner.telegram.to(OWNER)[-2]) == "wallet change stale"
    assert owner.last().text == "That change was already undone or replaced by a newer one."


def test_two_changes_cancel_back_to_the_first_wallet_and_old_buttons_are_stale(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    change_wallet(owner, token, tron_address("second"))
    first_notice = owner.last()
    assert isinstance(owner.rt.clock, FrozenClock)
    owner.rt.clock.advance(minutes=5)
    change_wallet(owner, token, THIEF_WALLET)
    second_notice = owner.last()
    assert owner.press("↩️ Cancel this change", first_notice) == "wallet change stale"
    assert present(world.store.channels.get(token)).payout_wallet == THIEF_WALLET
    assert owner.press("↩️ Cancel this change", second_notice) == "wallet change cancelled"
    assert present(world.store.channels.get(token)).payout_wallet == TRON


def test_changing_back_to_the_old_wallet_ends_the_hold(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    change_wallet(owner, token, THIEF_WALLET)
    assert change_wallet(owner, token, TRON) == "channel saved"
    assert present(world.store.channels.get(token)).wallet_hold is None


def test_a_stranger_cannot_cancel_or_change_anything(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    change_wallet(owner, token, tron_address("new"))
    [button] = [b for row in owner.last().keyboard or [] for b in row]
    assert button.callback_data is not None
    assert handle_update(updates.press(next(UPDATE_IDS), button.callback_data, STRANGER), owner.rt) == (
        "wallet change not the owner"
    )
    forged = wallet_cancel_callback(token, "0" * 20)
    assert handle_update(updates.press(next(UPDATE_IDS), forged, OWNER), owner.rt) == "wallet change stale"
    assert present(world.store.channels.get(token)).payout_wallet == tron_address("new")


def test_the_operator_is_alerted_without_the_address(world: World, caplog: pytest.LogCaptureFixture) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    with caplog.at_level(logging.WARNING):
        change_wallet(owner, token, THIEF_WALLET)
    [alert] = [r for r in caplog.records if r.getMessage().startswith("wallet changed: ")]
    assert token in alert.getMessage() and "2026-11-28T12:00:00+00:00" in alert.getMessage()
    assert all(THIEF_WALLET not in r.getMessage() and TRON not in r.getMessage() for r in caplog.records)


def test_the_owner_app_shows_until_when_payouts_are_held(world: World) -> None:
    owner = owner_on(world.store)
    token = _live(owner)
    app_rt = runtime(OwnerAppSettings, world.store)
    assert app.payouts(app_rt, OWNER)["held"] == []
    change_wallet(owner, token, THIEF_WALLET)
    assert app.payouts(app_rt, OWNER)["held"] == [
        {
            "token": token,
            "title": "Night Owls Club",
            "until": "2026-11-28T12:00:00+00:00",
            "why": "wallet changed",
        }
    ]
