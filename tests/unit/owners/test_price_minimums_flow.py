"""Prices NowPayments can take: an owner setting a tier price or the donation minimum in the bot
or the owner app hears which coins buyers can't pay that much with (NowPayments' minimum payment
per coin, from the stand-in), a price no coin takes is refused, and NowPayments being down never
blocks the owner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.nowpayments_standin.model import NowPaymentsStandin
from shared_schemas.config import OwnerAppSettings
from shared_schemas.queries import CHANNELS_OF_OWNER
from telepay.adapters.telegram_api import TelegramRetryAfter
from telepay.bot.webhook import handle_update
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.harness import fakes, nowpayments_standin, runtime
from tests.memory_store import MemoryStore
from tests.unit.owners.test_app import OWNER as APP_OWNER
from tests.unit.owners.test_app import call
from tests.unit.owners.test_commands import BOT, CLOSED, CLOSED_RIGHTS, OWNER, TRON, Owner
from tests.unit.owners.test_commands import owner as owner  # the fixture: an owner with two channels

# At $1.00 these eight of the stand-in's sixteen coins are out (its README lists each minimum).
OUT_AT_ONE_DOLLAR = (
    "Heads-up: NowPayments can't take $1.00 in XMR (from $1.20), DOGE (from $1.50), "
    "BTC (from $2.50), ETH (from $4.00) and 4 more coins, so buyers can pay with the "
    "other 8 coins only."
)
NONE_AT_A_QUARTER = "NowPayments can't take $0.25 in any coin buyers pay with. Please set at least $0.30."


@pytest.fixture
def standin(owner: Owner) -> Iterator[NowPaymentsStandin]:
    with nowpayments_standin(owner.rt) as (_, np):
        yield np


def _to_prices(owner: Owner) -> None:
    owner.say("/newchannel")
    owner.press("Night Owls")
    owner.telegram.members[(CLOSED, BOT)] = ("administrator", CLOSED_RIGHTS)
    assert owner.press("Night Owls Members") == "asked title"
    owner.say("Night Owls Club")
    owner.press("Skip")
    owner.press("English")
    assert owner.press("1") == "asked tier_price"


def test_the_owner_hears_which_coins_a_low_price_leaves_out(
    owner: Owner, standin: NowPaymentsStandin
) -> None:
    _to_prices(owner)
    assert owner.say("0.25") == "invalid tier_price"
    assert NONE_AT_A_QUARTER in owner.last().text and "Price 1 of 1" in owner.last().text
    assert owner.say("1") == "asked tier_days"
    assert owner.last().text.startswith(OUT_AT_ONE_DOLLAR + "\n\n")
    owner.press("30")
    owner.press("auto")
    assert owner.press("Skip") == "asked trial"
    assert owner.press("off") == "asked donation_min"
    assert owner.say("0.25") == "invalid donation_min"
    assert NONE_AT_A_QUARTER in owner.last().text
    assert owner.say("9") == "asked donation_max"
    assert "Heads-up: NowPayments can't take $9.00 in USDC (from $15.00), USDTERC20 " in owner.last().text
    owner.say("500")
    owner.press("Skip")
    owner.press("0")
    owner.press("USDT")
    owner.press("trx")
    owner.say(TRON)
    assert owner.press("instant") == "asked confirm"
    assert owner.press("yes") == "channel live"
    [channel] = owner.rt.store.channels.find(CHANNELS_OF_OWNER, owner_user_id=OWNER)
    assert (str(channel.tiers[0].price), str(channel.donation_min)) == ("1.00", "9.00")


def test_the_note_is_said_again_when_telegram_redelivers_the_answer(
    owner: Owner, standin: NowPaymentsStandin
) -> None:
    _to_prices(owner)
    owner.telegram.fail_method["send_message"] = [TelegramRetryAfter(1)]  # the next question: 429
    answer = updates.start(next(owner.ids), "1", OWNER)
    with pytest.raises(TelegramRetryAfter):
        handle_update(answer, owner.rt)
    assert handle_update(answer, owner.rt) == "asked tier_days"  # Telegram's re-delivery
    assert owner.last().text.startswith(OUT_AT_ONE_DOLLAR + "\n\n")
    owner.press("30")
    assert not owner.last().text.startswith("Heads-up")  # said once, above the question it is about


def test_edit_checks_the_new_price_too(owner: Owner, standin: NowPaymentsStandin) -> None:
    channel = demo_channel(owner=OWNER)
    owner.rt.store.channels.set(channel.token, channel)
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        owner.telegram.members[(chat, OWNER)] = ("creator", ())
    owner.say("/edit")
    owner.press(channel.token)
    owner.press("tiers")
    owner.press("1")
    assert owner.say("0.25") == "invalid tier_price"
    assert owner.say("2.50") == "asked tier_days"
    assert "so buyers can pay with the other 11 coins only." in owner.last().text


def test_nowpayments_down_does_not_block_the_owner(owner: Owner, standin: NowPaymentsStandin) -> None:
    standin.add_failure({"mode": "error", "count": 100, "path": "/v1/merchant/coins"})
    _to_prices(owner)
    assert owner.say("0.25") == "asked tier_days"
    assert owner.last().text.startswith(
        "I couldn't check NowPayments' minimum payments just now, so some coins may not take $0.25."
    )


# -- the owner app ---------------------------------------------------------------------------------
@pytest.fixture
def app() -> Iterator[tuple[Runtime[OwnerAppSettings], NowPaymentsStandin]]:
    store = MemoryStore()
    channel = demo_channel()
    store.channels.set(channel.token, channel)
    rt = runtime(OwnerAppSettings, store)
    for chat in (channel.open_channel_id, channel.closed_channel_id):
        fakes(rt)[0].members[(chat, APP_OWNER)] = ("creator", ())
    with nowpayments_standin(rt) as (_, np):
        yield rt, np


def _settings(rt: Runtime[OwnerAppSettings], **body: object) -> tuple[int, dict[str, Any]]:
    reply = call(rt, "/api/channels/DemoChannel01/settings", "POST", body)
    return reply.status, reply.body


def test_the_app_refuses_a_price_no_coin_takes_and_names_the_coins_a_low_one_leaves_out(
    app: tuple[Runtime[OwnerAppSettings], NowPaymentsStandin],
) -> None:
    rt, _ = app
    tiers = [{"price": "0.25", "days": 30}, {"price": "12.50", "days": 90}]
    status, body = _settings(rt, tiers=tiers)
    assert (status, body["errors"]) == (422, [{"field": "tiers[0].price", "reason": NONE_AT_A_QUARTER}])
    status, body = _settings(rt, tiers=[{"price": "1", "days": 30}, tiers[1]], donation_min="9")
    assert status == 200 and body["changed"] == ["donation_min", "tiers"]
    assert body["notes"][0] == {"field": "tiers[0].price", "note": OUT_AT_ONE_DOLLAR}
    assert [n["field"] for n in body["notes"]] == ["tiers[0].price", "donation_min"]  # 12.50 was there
    # Saving something else checks no price again.
    status, body = _settings(rt, title="Night Owls Club 2")
    assert (status, body["notes"]) == (200, [])


def test_the_app_saves_when_nowpayments_is_down_and_says_it_could_not_check(
    app: tuple[Runtime[OwnerAppSettings], NowPaymentsStandin],
) -> None:
    rt, np = app
    np.add_failure({"mode": "error", "count": 100, "path": "/v1/min-amount"})
    status, body = _settings(rt, donation_min="0.25")
    assert status == 200 and body["changed"] == ["donation_min"]
    assert body["notes"] == [
        {
            "field": "donation_min",
            "note": "I couldn't check NowPayments' minimum payments just now, so some coins may "
            "not take $0.25.",
        }
    ]
