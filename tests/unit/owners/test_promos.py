"""An owner's promo codes in the bot: `/promo` asks for each setting (bad answers refused with the
reason, optional ones skipped with a button), warns when a code takes a tier below NowPayments'
minimum, writes the code on confirmation and sends its share link; `/promos` lists the codes and
pauses, resumes and ends them; someone who is not the owner can do none of it."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import PromoStatus
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels, save_channel
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import Sent
from tests.harness import fakes, present, runtime
from tests.memory_store import MemoryStore

OWNER, STRANGER = 5001, 5002
OPEN, CLOSED = -1001000000001, -1001000000002
IDS = itertools.count(100)
Rt = Runtime[TelegramWebhookSettings]


@pytest.fixture
def rt() -> Rt:
    forget_cached_channels()
    rt = runtime(TelegramWebhookSettings, MemoryStore())
    save_channel(rt.store, demo_channel())
    telegram = fakes(rt)[0]
    for chat in (OPEN, CLOSED):
        telegram.members[(chat, OWNER)] = ("creator", ())
    return rt


def _say(rt: Rt, text: str, user_id: int = OWNER) -> str:
    return handle_update(updates.start(next(IDS), text, user_id), rt)


def _last(rt: Rt, user_id: int = OWNER) -> Sent:
    return fakes(rt)[0].to(user_id)[-1]


def _press(rt: Rt, label: str, user_id: int = OWNER) -> str:
    message = _last(rt, user_id)
    [data] = [b.callback_data for b in message.buttons() if b.text == label and b.callback_data]
    return handle_update(updates.press(next(IDS), data, user_id, message_id=message.message_id), rt)


def _make_code(rt: Rt, code: str = "summer20", discount: str = "20%", uses: str = "10") -> None:
    assert _say(rt, "/promo") == "asked promo_code"  # one channel: no need to pick it
    assert _say(rt, code) == "asked promo_discount"
    assert _say(rt, discount) == "asked promo_tiers"
    assert _press(rt, "All tiers") == "asked promo_ends"
    assert _press(rt, "No end date") == "asked promo_max_uses"
    assert _say(rt, uses) == "asked promo_per_buyer"
    assert _press(rt, "No limit") == "asked promo_new_only"
    assert _press(rt, "Everyone") == "asked promo_confirm"


def test_an_owner_makes_a_code_and_gets_its_link(rt: Rt) -> None:
    _make_code(rt)
    summary = _last(rt).text
    assert "SUMMER20: 20% off · all tiers · 10 uses in all" in summary
    assert _press(rt, "✅ Create code") == "promo code created"
    assert "https://t.me/TelePayTestBot?start=DemoChannel01_SUMMER20" in _last(rt).text
    code = present(rt.store.promo_codes.get("DemoChannel01-SUMMER20"))
    assert (code.percent_off, code.amount_off, code.max_uses, code.max_uses_per_buyer) == (20, None, 10, None)
    assert code.created_by == OWNER and code.status is PromoStatus.ACTIVE and code.tier_ids == []


def test_bad_answers_are_refused_with_the_reason(rt: Rt) -> None:
    _say(rt, "/promo")
    assert _say(rt, "no!") == "invalid promo_code"
    assert "4 to 32 letters and digits" in _last(rt).text
    assert _say(rt, "DONATE") == "invalid promo_code"  # the donation link's suffix
    _say(rt, "WINTER")
    for wrong, reason in (
        ("120%", "from 1 to 100"),
        ("0", "more than zero"),
        ("5,5", "dot for cents"),
        ("lots", "percentage"),
    ):
        assert _say(rt, wrong) == "invalid promo_discount"
        assert reason in _last(rt).text
    _say(rt, "$2")
    _press(rt, "Quarterly")
    for wrong in ("31/01/2027", "2026-02-30", "2026-11-01"):  # not a date, no such day, over already
        assert _say(rt, wrong) == "invalid promo_ends"
    assert _say(rt, "2027-01-31") == "asked promo_max_uses"
    assert _say(rt, "-3") == "invalid promo_max_uses"
    _press(rt, "No limit")
    _press(rt, "1")
    _press(rt, "New subscribers only")
    assert (
        "WINTER: $2.00 off · Quarterly · until Monday, 1 February 2027, 00:00 UTC · 1 use per buyer · new subscribers only"
        in _last(rt).text
    )
    _press(rt, "✅ Create code")
    code = present(rt.store.promo_codes.get("DemoChannel01-WINTER"))
    assert code.amount_off == Decimal("2.00") and code.tier_ids == ["t2"] and code.new_subscribers_only


def test_a_code_name_is_unique_per_channel(rt: Rt) -> None:
    _make_code(rt)
    _press(rt, "✅ Create code")
    _say(rt, "/promo")
    assert _say(rt, "Summer20") == "invalid promo_code"
    assert "has a code SUMMER20 already" in _last(rt).text


def test_a_code_below_the_minimum_payment_is_said_to_the_owner(rt: Rt) -> None:
    fakes(rt)[1].minimums = {"usdttrc20": Decimal("4.2"), "btc": Decimal("2.5")}
    _say(rt, "/promo")
    _say(rt, "HALF")
    _say(rt, "70%")  # Monthly $5.00 -> $1.50, below the least any coin takes ($2.50)
    note = _last(rt).text
    assert "Monthly would cost $1.50, below the least NowPayments takes ($2.50)" in note
    assert "made at $2.50" in note and "Quarterly" not in note


def test_only_the_owner_makes_or_manages_codes(rt: Rt) -> None:
    assert _say(rt, "/promo", STRANGER) == "no channels"
    _make_code(rt)
    fakes(rt)[0].members[(CLOSED, OWNER)] = ("administrator", ())  # no longer the creator
    assert _press(rt, "✅ Create code") == "not the owner"
    assert rt.store.promo_codes.get("DemoChannel01-SUMMER20") is None
    fakes(rt)[0].members[(CLOSED, OWNER)] = ("creator", ())
    _make_code(rt)
    _press(rt, "✅ Create code")
    _say(rt, "/promos")
    [pause] = [b for b in _last(rt).buttons() if b.text == "⏸ Pause SUMMER20"]
    assert pause.callback_data is not None
    assert handle_update(updates.press(next(IDS), pause.callback_data, STRANGER), rt) == "not the owner"
    assert present(rt.store.promo_codes.get("DemoChannel01-SUMMER20")).status is PromoStatus.ACTIVE


def test_promos_lists_codes_and_pauses_resumes_and_ends_them(rt: Rt) -> None:
    _make_code(rt)
    _press(rt, "✅ Create code")
    assert _say(rt, "/promos") == "promo codes listed"
    listing = _last(rt).text
    assert "SUMMER20: 20% off" in listing and "0 uses of 10 · $0.00 · active" in listing
    assert "start=DemoChannel01_SUMMER20" in listing
    assert _press(rt, "⏸ Pause SUMMER20") == "promo code paused"
    assert "· paused" in _last(rt).text  # the list, edited in place
    assert _press(rt, "▶️ Resume SUMMER20") == "promo code active"
    assert _press(rt, "⏹ End SUMMER20") == "promo code ended"
    assert present(rt.store.promo_codes.get("DemoChannel01-SUMMER20")).status is PromoStatus.ENDED
    assert "· ended" in _last(rt).text and not _last(rt).buttons()


def test_promos_without_codes_or_channels(rt: Rt) -> None:
    assert _say(rt, "/promos") == "promo codes listed"
    assert "has no promo codes yet" in _last(rt).text
    assert _say(rt, "/promos", STRANGER) == "no channels"
