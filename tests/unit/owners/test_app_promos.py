"""The owner app's Codes view (GET/POST /api/channels/<token>/promos, POST .../promo_status): a code
made from the form with the bot's rules (every problem named by its field, a name the channel has
refused, a tier taken below NowPayments' minimum said), listed with its uses, revenue, state and
share link; paused, resumed and ended as `/promos` does (an ended code stays ended); only the
channel's owner who is the creator of both chats; the buyer's offer in the bot follows."""

from __future__ import annotations

from decimal import Decimal

from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.documents import PromoStatus
from shared_schemas.ids import promo_code_id
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels
from telepay.runtime import Runtime
from tests import updates
from tests.harness import fakes, present, runtime
from tests.unit.owners.test_app import OWNER, STRANGER, auth, call
from tests.unit.owners.test_app import rt as rt  # the owner app's fixture

PATH = "/api/channels/DemoChannel01/promos"
STATUS = "/api/channels/DemoChannel01/promo_status"
BUYER = 4242


def test_a_code_made_in_the_app_is_listed_and_sold_in_the_bot(rt: Runtime[OwnerAppSettings]) -> None:
    assert call(rt, PATH).body == {
        "currency": "USD",
        "tiers": [{"tier_id": "t1", "label": "Monthly"}, {"tier_id": "t2", "label": "Quarterly"}],
        "codes": [],
    }
    form = {
        "code": "spring25",
        "discount": "25%",
        "tier_ids": ["t1"],
        "ends_at": "2026-12-31",
        "max_uses": "50",
    }
    reply = call(rt, PATH, "POST", form)
    assert reply.status == 200 and reply.body["notes"] == []
    [listed] = call(rt, PATH).body["codes"]
    assert listed == reply.body["code"]
    assert listed | {"ends_at": listed["ends_at"][:10]} == {
        "code": "SPRING25",
        "percent_off": 25,
        "amount_off": None,
        "tiers": ["Monthly"],
        "starts_at": None,
        "ends_at": "2027-01-01",  # valid through 31 December, UTC
        "max_uses": 50,
        "max_uses_per_buyer": None,
        "new_subscribers_only": False,
        "uses": 0,
        "revenue": "0.00",
        "revenue_stars": 0,
        "status": "active",
        "link": "https://t.me/TelePayTestBot?start=DemoChannel01_SPRING25",
    }
    stored = present(rt.store.promo_codes.get(promo_code_id("DemoChannel01", "SPRING25")))
    assert stored.created_by == OWNER

    bot = runtime(TelegramWebhookSettings, rt.store)
    forget_cached_channels()
    handle_update(updates.start(1, "/start DemoChannel01_SPRING25", BUYER), bot)
    offer = fakes(bot)[0].to(BUYER)[-1]
    assert "Code SPRING25 applied: 25% off (Monthly)" in offer.text
    assert offer.buttons()[0].text == "Monthly · $3.75 or ⭐188 (was $5.00) · 1 month"


def test_the_form_is_checked_as_the_bot_checks(rt: Runtime[OwnerAppSettings]) -> None:
    reply = call(rt, PATH, "POST", {"code": "x", "discount": "150%", "tier_ids": ["t9"], "max_uses": "0"})
    assert reply.status == 422
    assert [e["field"] for e in reply.body["errors"]] == ["code", "discount", "tier_ids", "max_uses"]
    assert "4 to 32 letters and digits" in reply.body["errors"][0]["reason"]
    assert call(rt, PATH, "POST", {"code": "SAVE5"}).body["errors"][0]["field"] == "discount"
    assert call(rt, PATH, "POST", {"code": "SAVE5", "discount": "5", "ends_at": "2026-01-01"}).status == 422
    assert call(rt, PATH, "POST", {"code": "SAVE5", "discount": "$5"}).status == 200
    again = call(rt, PATH, "POST", {"code": "save5", "discount": "10%"})
    assert again.status == 422
    assert again.body["errors"] == [
        {"field": "code", "reason": "Night Owls Club has a code SAVE5 already. Please choose another."}
    ]
    [only] = call(rt, PATH).body["codes"]
    assert (only["amount_off"], only["percent_off"]) == ("5.00", None)


def test_a_code_below_nowpayments_minimum_is_said(rt: Runtime[OwnerAppSettings]) -> None:
    fakes(rt)[1].minimums = {"btc": Decimal("2.50")}
    reply = call(rt, PATH, "POST", {"code": "HALF", "discount": "60%"})
    assert reply.status == 200
    assert reply.body["notes"] == [
        "Heads-up: with this code Monthly would cost $2.00, below the least NowPayments takes ($2.50), so "
        "crypto invoices for it are made at $2.50."
    ]


def test_pause_resume_and_end(rt: Runtime[OwnerAppSettings]) -> None:
    assert call(rt, PATH, "POST", {"code": "FALL10", "discount": "10%"}).status == 200
    code_id = promo_code_id("DemoChannel01", "FALL10")
    for wanted in ("paused", "active", "ended"):
        reply = call(rt, STATUS, "POST", {"code": "fall10", "status": wanted})
        assert reply.status == 200 and reply.body["code"]["status"] == wanted
        assert present(rt.store.promo_codes.get(code_id)).status is PromoStatus(wanted)
    resumed = call(rt, STATUS, "POST", {"code": "FALL10", "status": "active"})
    assert resumed.status == 422
    assert resumed.body["errors"][0]["reason"] == "That code has ended; it can't be resumed."
    assert call(rt, STATUS, "POST", {"code": "FALL10", "status": "gone"}).status == 422
    assert call(rt, STATUS, "POST", {"code": "NOSUCH", "status": "paused"}).status == 404


def test_only_the_owner_who_created_both_chats(rt: Runtime[OwnerAppSettings]) -> None:
    assert call(rt, PATH, "POST", {"code": "MINE", "discount": "10%"}).status == 200
    other = "/api/channels/OtherChannel01/promos"
    assert call(rt, other).status == 404
    assert call(rt, other, "POST", {"code": "MINE", "discount": "10%"}).status == 404
    stranger = auth(STRANGER)
    assert call(rt, PATH, authorization=stranger).status == 404
    assert call(rt, PATH, "POST", {"code": "THEIRS", "discount": "99%"}, authorization=stranger).status == 404
    assert call(rt, STATUS, "POST", {"code": "MINE", "status": "ended"}, authorization=stranger).status == 404
    fakes(rt)[0].members[(-1001000000002, OWNER)] = ("administrator", ())  # no longer the creator
    refused = call(rt, PATH, "POST", {"code": "LATER", "discount": "10%"})
    assert refused.status == 403 and "creator" in refused.body["error"]
    assert call(rt, STATUS, "POST", {"code": "MINE", "status": "ended"}).status == 403
    assert [c["code"] for c in call(rt, PATH).body["codes"]] == ["MINE"]
    assert (
        present(rt.store.promo_codes.get(promo_code_id("DemoChannel01", "MINE"))).status is PromoStatus.ACTIVE
    )
