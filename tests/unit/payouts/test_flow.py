"""The payout flow on the in-memory store against the NowPayments stand-in (in process): instant and
threshold payouts, minimums, and the faults: the process dying after creating and after verifying,
a wrong 2FA code, an expired auth token, and a FAILED payout IPN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pyotp
import pytest
from pydantic import SecretStr

from local.background_server import BackgroundServer
from local.clients import wait_for
from local.fixtures import tron_address
from local.nowpayments_standin import create_app
from local.nowpayments_standin.model import NowPaymentsStandin
from shared_schemas.config import IpnHandlerSettings, PayoutSettings, TelegramWebhookSettings
from shared_schemas.documents import (
    ChannelDoc,
    EntryState,
    OrderStatus,
    PayoutDoc,
    PayoutState,
    PayoutStrategy,
)
from shared_schemas.ids import OrderKind
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from shared_schemas.nowpayments import Payment
from shared_schemas.queries import PAYOUTS_DUE
from telepay.adapters.nowpayments_api import NowPaymentsApi, _withdrawal
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.channels.settings import validate_channel
from telepay.core.clock import FrozenClock
from telepay.payments import signature as ipn_signature
from telepay.payments.ipn import handle_ipn
from telepay.payouts import flow as payout_flow
from telepay.payouts import ledger
from telepay.payouts.balance import retry_payout
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, fakes, present, runtime
from tests.memory_store import MemoryStore
from tests.unit.payouts.stars import stars_entry

API_KEY = "payout-test-key"
IPN_SECRET = "payout-test-ipn-secret"
EMAIL = "merchant@example.test"
PASSWORD = "payout-test-password"
TOTP = pyotp.random_base32()
WALLET = tron_address("the owner")  # a real Tron address: the bot and NowPayments check it


@dataclass
class World:
    url: str
    standin: NowPaymentsStandin
    store: MemoryStore

    def runtime(self, totp: str = TOTP, **changes: Any) -> Runtime[PayoutSettings]:
        return runtime(
            PayoutSettings,
            self.store,
            nowpayments_api_base_url=self.url,
            nowpayments_api_key=SecretStr(API_KEY),
            nowpayments_email=SecretStr(EMAIL),
            nowpayments_password=SecretStr(PASSWORD),
            nowpayments_2fa_secret=SecretStr(totp),
            **({"nowpayments_timeout_seconds": 5.0} | changes),
        )

    def withdrawals(self) -> list[dict[str, Any]]:
        return self.standin.all_withdrawals()

    def calls(self, method: str, path: str) -> int:
        """How often TelePay called this NowPayments endpoint (the stand-in's call log)."""
        return sum(1 for call in self.standin.calls if (call["method"], call["path"]) == (method, path))


@pytest.fixture
def world() -> Iterator[World]:
    app = create_app(API_KEY, IPN_SECRET, email=EMAIL, password=PASSWORD, totp_secret=TOTP, token_ttl=300)
    with BackgroundServer(app) as server:
        store = MemoryStore()
        yield World(server.url, app.state.standin, store)


def channel(
    world: World, token: str, strategy: PayoutStrategy, threshold: str = "0", owner: int = 5001
) -> None:
    # Through the rules the bot and the CLI apply: the owner chose USDT, on Tron, and a wallet.
    checked = validate_channel(
        demo_channel(token=token, owner=owner).model_dump()
        | {
            "payout_wallet": WALLET,
            "payout_currency": "usdt",
            "payout_network": "trx",
            "payout_strategy": strategy.value,
            "payout_threshold": threshold,
        }
    )
    assert isinstance(checked, ChannelDoc), checked
    save_channel(world.store, checked)


def book(
    world: World,
    token: str,
    number: int,
    price: str,
    outcome: str,
    owner: int = 5001,
    currency: str = "usdttrc20",
) -> Any:
    from shared_schemas.documents import OrderDoc

    order = OrderDoc(
        order_id=f"tp1-don-{token}-{number}-x",
        kind=OrderKind.DONATION,
        user_id=number,
        chat_id=number,
        channel_token=token,
        price_amount=Decimal(price),
        price_currency="USD",
        status=OrderStatus.SETTLED,
        created_at=NOW,
        updated_at=NOW,
    )
    payment = Payment(
        payment_id=number,
        payment_status="finished",
        order_id=order.order_id,
        outcome_amount=Decimal(outcome),
        outcome_currency=currency,
    )
    ch = demo_channel(token=token, owner=owner)
    entry = ledger.book(
        order, payment, ch, Decimal("3"), NOW - timedelta(minutes=10) + timedelta(seconds=number)
    )
    world.store.ledger.set(entry.entry_id, entry)
    return entry


def settled(token: str) -> Envelope[PaymentEvent]:
    data = PaymentEvent(
        order_id="o",
        kind=OrderKind.DONATION,
        user_id=1,
        chat_id=1,
        channel_token=token,
        channel_title="t",
        owner_user_id=5001,
        closed_channel_id=0,
        price_amount=Decimal("5"),
        price_currency="usd",
        payment_id=1,
        payment_status="finished",
    )
    return Envelope[PaymentEvent](event_id="e", type=EventType.PAYMENT_SETTLED, occurred_at=NOW, data=data)


def only_payout(world: World) -> PayoutDoc:
    [payout] = [s.doc for page in world.store.payouts.pages(PAYOUTS_DUE, open=True) for s in page]
    return payout


def finish_at_standin(
    world: World, withdrawal_id: str, status: str = "FINISHED", url: str | None = None
) -> None:
    body: dict[str, Any] = {"status": status, "send_ipn": url is not None}
    if url:
        body["ipn_url"] = url
    httpx.post(f"{world.url}/_control/payouts/{withdrawal_id}/status", json=body).raise_for_status()


# ---------------------------------------------------------------------------------------------- paths
def test_instant_pays_each_settled_payment_its_net_and_tells_the_owner(world: World) -> None:
    channel(world, "Inst01", PayoutStrategy.INSTANT)
    entry = book(world, "Inst01", 1, "5.00", "4.975")
    rt = world.runtime()
    [outcome] = payout_flow.handle_event(settled("Inst01"), rt)
    assert outcome.endswith(": verified")
    [w] = world.withdrawals()
    assert (w["address"], w["currency"], Decimal(w["amount"]), w["status"]) == (
        WALLET,
        "usdttrc20",
        entry.settled_net,
        "PROCESSING",
    )
    payout = only_payout(world)
    assert w["unique_external_id"] == payout.payout_id
    assert present(world.store.ledger.get(entry.entry_id)).state is EntryState.RESERVED
    # A replayed event pays nothing twice.
    assert payout_flow.handle_event(settled("Inst01"), rt) == ["nothing to pay yet"]
    finish_at_standin(world, w["id"])
    assert payout_flow.advance(rt, payout.payout_id) == "finished"
    assert present(world.store.ledger.get(entry.entry_id)).state is EntryState.PAID
    assert payout_flow.send_notices(rt) == 1
    telegram = fakes(rt)[0]
    assert "Payout sent" in telegram.to(5001)[0].text and payout_flow.send_notices(rt) == 0
    assert len(world.withdrawals()) == 1


def test_threshold_accumulates_then_pays_the_whole_balance_once(world: World) -> None:
    channel(world, "Thresh01", PayoutStrategy.THRESHOLD, threshold="20")
    rt = world.runtime()
    entries = [book(world, "Thresh01", n, "5.00", "4.975") for n in range(1, 5)]  # 4 x 4.85 USD net
    assert payout_flow.run_scheduled(rt)["reserved"] == 0  # 19.40 USD < 20
    entries.append(book(world, "Thresh01", 5, "12.50", "12.4375"))
    counts = payout_flow.run_scheduled(rt)
    assert counts["reserved"] == 1
    [w] = world.withdrawals()
    assert Decimal(w["amount"]) == sum((e.settled_net for e in entries), Decimal(0))
    assert {e.entry_id for e in entries} == set(only_payout(world).entry_ids)


def test_a_balance_of_more_entries_than_one_payout_takes_is_paid_in_several(world: World) -> None:
    """450 entries reach the threshold: paid in payouts of at most 200 entries each (one Firestore
    transaction reserves each), to the last unit."""
    channel(world, "Many01", PayoutStrategy.THRESHOLD, threshold="20")
    entries = [book(world, "Many01", n, "1.00", "0.995") for n in range(1, 451)]
    rt = world.runtime()
    assert payout_flow.run_scheduled(rt)["reserved"] == 3
    payouts = [present(world.store.payouts.get(w["unique_external_id"])) for w in world.withdrawals()]
    assert sorted(len(p.entry_ids) for p in payouts) == [50, 200, 200]
    covered = [entry_id for p in payouts for entry_id in p.entry_ids]
    assert sorted(covered) == sorted(e.entry_id for e in entries)  # each entry in exactly one payout
    assert sum((Decimal(w["amount"]) for w in world.withdrawals()), Decimal(0)) == sum(
        (e.settled_net for e in entries), Decimal(0)
    )
    assert {w["status"] for w in world.withdrawals()} == {"PROCESSING"}
    assert payout_flow.run_scheduled(rt)["reserved"] == 0  # nothing is left to pay twice


def test_amounts_below_the_minimum_wait_and_are_paid_together(world: World) -> None:
    channel(world, "Minimum1", PayoutStrategy.INSTANT)
    world.standin.payout_minimums["usdttrc20"] = 2.0
    rt = world.runtime()
    book(world, "Minimum1", 1, "1.00", "0.995")
    assert payout_flow.handle_event(settled("Minimum1"), rt) == ["nothing to pay yet"]
    book(world, "Minimum1", 2, "1.50", "1.4925")
    [outcome] = payout_flow.handle_event(settled("Minimum1"), rt)
    [w] = world.withdrawals()
    assert Decimal(w["amount"]) == Decimal("0.96515") + Decimal("1.447725")
    assert "verified" in outcome


def book_stars(world: World, token: str, number: int, stars: int, held_days: int = 21) -> Any:
    """A Stars payment's entry, booked now and held `held_days` by Telegram."""
    entry = stars_entry(token, number, stars, hold=timedelta(days=held_days))
    world.store.ledger.set(entry.entry_id, entry)
    return entry


def test_stars_earned_are_paid_only_once_telegram_releases_them(world: World) -> None:
    """A Stars payment is booked now and held 21 days: the every-minute run pays the owner's crypto
    sales around it but not the Stars; once the hold has passed, the next run pays their USD value
    converted into the owner's coin by NowPayments' estimate."""
    channel(world, "Stars01", PayoutStrategy.INSTANT)
    stars = book_stars(world, "Stars01", 1, 500)  # 500 Stars: $6.50, $6.30 net of the 3% fee
    crypto = book(world, "Stars01", 2, "5.00", "4.975")
    rt = world.runtime()
    assert payout_flow.run_scheduled(rt)["reserved"] == 1
    [w] = world.withdrawals()
    assert Decimal(w["amount"]) == crypto.settled_net  # the crypto sale only
    assert present(world.store.ledger.get(stars.entry_id)).state is EntryState.AVAILABLE
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(days=20, hours=23)
    assert payout_flow.run_scheduled(rt)["reserved"] == 0  # a day before the hold ends: still held
    assert len(world.withdrawals()) == 1
    clock.advance(hours=1)
    assert payout_flow.run_scheduled(rt)["reserved"] == 1
    paid = world.withdrawals()[-1]
    assert (paid["address"], paid["currency"], Decimal(paid["amount"])) == (
        WALLET,
        "usdttrc20",
        Decimal("6.30"),
    )
    held = present(world.store.ledger.get(stars.entry_id))
    assert held.state is EntryState.RESERVED
    payout = present(world.store.payouts.get(paid["unique_external_id"]))
    assert payout.entry_ids == [stars.entry_id]
    assert (payout.settled_currency, payout.settled_amount) == ("usd", Decimal("6.30"))


def test_stars_count_in_usd_towards_the_threshold(world: World) -> None:
    """An owner paid at $10: $4.85 of crypto and $6.30 of released Stars make $11.15 (Stars are
    valued at what they were booked at, not asked of NowPayments, which knows no XTR)."""
    channel(world, "Stars02", PayoutStrategy.THRESHOLD, threshold="10")
    book(world, "Stars02", 1, "5.00", "4.975")
    rt = world.runtime()
    assert payout_flow.run_scheduled(rt)["reserved"] == 0
    book_stars(world, "Stars02", 2, 500, held_days=0)
    counts = payout_flow.run_scheduled(rt)
    assert (counts["reserved"], counts["held"]) == (2, 0)  # one payout per settlement currency
    assert sorted(Decimal(w["amount"]) for w in world.withdrawals()) == [Decimal("4.82575"), Decimal("6.30")]


# ---------------------------------------------------------------------------------------------- faults
class Died(Exception):
    """The process dies here (not a TelePay error: nothing catches it)."""


def die_after_create(world: World, token: str) -> tuple[Runtime[PayoutSettings], PayoutDoc]:
    """A settled payment's payout whose process dies right after NowPayments created the
    withdrawal, before anything was recorded; the runtime (working again) and the payout."""
    channel(world, token, PayoutStrategy.INSTANT)
    book(world, token, 1, "5.00", "4.975")
    rt = world.runtime()
    api = rt.payouts_api
    real_create = api.create_payout

    def create_then_die(**kwargs: Any) -> Any:
        real_create(**kwargs)
        raise Died

    api.create_payout = create_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        payout_flow.handle_event(settled(token), rt)
    api.create_payout = real_create  # type: ignore[method-assign]
    return rt, only_payout(world)


def test_dying_after_create_before_recording_resumes_the_same_payout(world: World) -> None:
    rt, payout = die_after_create(world, "Crash1")
    assert payout.state is PayoutState.RESERVED and len(world.withdrawals()) == 1
    assert payout_flow.run_scheduled(rt)["advanced"] == 1  # the every-minute run resumes it
    [w] = world.withdrawals()
    assert w["status"] == "PROCESSING" and w["unique_external_id"] == payout.payout_id
    assert present(world.store.payouts.get(payout.payout_id)).state is PayoutState.VERIFIED


def test_a_first_attempt_creates_without_searching_past_withdrawals(world: World) -> None:
    """A payout never created before is created at once: the attempt is recorded first, so there
    is nothing to look for in NowPayments' list of withdrawals."""
    channel(world, "First01", PayoutStrategy.INSTANT)
    book(world, "First01", 1, "5.00", "4.975")
    [outcome] = payout_flow.handle_event(settled("First01"), world.runtime())
    assert outcome.endswith(": verified")
    assert world.calls("GET", "/v1/payout") == 0 and world.calls("POST", "/v1/payout") == 1
    payout = only_payout(world)
    assert payout.create_attempted_at == NOW and payout.unique_external_id == payout.payout_id
    [w] = world.withdrawals()
    assert w["unique_external_id"] == payout.unique_external_id


def test_a_create_whose_answer_was_lost_is_found_not_paid_twice(world: World) -> None:
    """NowPayments creates the withdrawal but its answer never arrives (the call times out): the
    next attempt finds it by its external id and goes on with it."""
    channel(world, "Lost01", PayoutStrategy.INSTANT)
    entry = book(world, "Lost01", 1, "5.00", "4.975")
    world.standin.add_failure(
        {"mode": "slow", "seconds": 2.5, "method": "POST", "path": "/v1/payout", "count": 1}
    )
    [outcome] = payout_flow.handle_event(settled("Lost01"), world.runtime(nowpayments_timeout_seconds=1.0))
    assert outcome.endswith(": waits for NowPayments")
    payout = only_payout(world)
    assert payout.state is PayoutState.RESERVED and payout.withdrawal_id is None
    assert payout.create_attempted_at is not None
    [w] = wait_for("NowPayments to finish the slow create", world.withdrawals, timeout=10)
    assert payout_flow.advance(world.runtime(), payout.payout_id) == "verified"
    assert world.calls("GET", "/v1/payout") == 1  # searched once: after the answer was lost
    assert world.calls("POST", "/v1/payout") == 1  # and not created again
    resumed = present(world.store.payouts.get(payout.payout_id))
    assert resumed.withdrawal_id == w["id"] and [x["id"] for x in world.withdrawals()] == [w["id"]]
    assert present(world.store.ledger.get(entry.entry_id)).payout_id == payout.payout_id


def test_a_refused_search_after_a_lost_answer_holds_the_payout_for_the_operator(world: World) -> None:
    """The search after a lost answer is refused (a 4xx): the withdrawal may exist, so the payout is
    held with its entries reserved, not failed (releasing them could pay them twice)."""
    channel(world, "Lost02", PayoutStrategy.INSTANT)
    entry = book(world, "Lost02", 1, "5.00", "4.975")
    world.standin.add_failure(
        {"mode": "slow", "seconds": 2.5, "method": "POST", "path": "/v1/payout", "count": 1}
    )
    payout_flow.handle_event(settled("Lost02"), world.runtime(nowpayments_timeout_seconds=1.0))
    wait_for("NowPayments to finish the slow create", world.withdrawals, timeout=10)
    world.standin.add_failure(
        {"mode": "error", "status": 403, "method": "GET", "path": "/v1/payout", "count": 1}
    )
    payout = only_payout(world)
    assert payout_flow.advance(world.runtime(), payout.payout_id) == "needs the operator"
    held = present(world.store.payouts.get(payout.payout_id))
    assert held.state is PayoutState.RESERVED and held.open and held.attention
    assert present(world.store.ledger.get(entry.entry_id)).state is EntryState.RESERVED
    assert retry_payout(world.store, payout.payout_id, NOW) == "will be resumed"
    assert payout_flow.advance(world.runtime(), payout.payout_id) == "verified"
    assert len(world.withdrawals()) == 1


def test_dying_between_recording_the_attempt_and_creating_creates_once(world: World) -> None:
    channel(world, "Crash3", PayoutStrategy.INSTANT)
    book(world, "Crash3", 1, "5.00", "4.975")
    rt = world.runtime()
    api = rt.payouts_api
    real_create = api.create_payout

    def die(**kwargs: Any) -> Any:
        raise Died

    api.create_payout = die  # type: ignore[method-assign]
    with pytest.raises(Died):
        payout_flow.handle_event(settled("Crash3"), rt)
    assert only_payout(world).create_attempted_at is not None and world.withdrawals() == []
    api.create_payout = real_create  # type: ignore[method-assign]
    assert payout_flow.advance(rt, only_payout(world).payout_id) == "verified"
    assert world.calls("GET", "/v1/payout") == 1 and len(world.withdrawals()) == 1


def test_a_payout_reserved_before_attempts_were_recorded_is_searched_before_it_is_created(
    world: World,
) -> None:
    """A payout reserved by a release that recorded no attempts may have been created already: its
    next attempt searches NowPayments first, so it is not paid twice."""
    rt, payout = die_after_create(world, "Legacy1")
    # As that release left it: no external id and no attempt on the payout.
    world.store.payouts.update(payout.payout_id, {"unique_external_id": None, "create_attempted_at": None})
    assert payout_flow.advance(rt, payout.payout_id) == "verified"
    assert world.calls("GET", "/v1/payout") == 1 and world.calls("POST", "/v1/payout") == 1
    assert len(world.withdrawals()) == 1
    resumed = present(world.store.payouts.get(payout.payout_id))
    assert resumed.unique_external_id == payout.payout_id and resumed.create_attempted_at == NOW


def test_dying_after_verify_before_recording_resumes_without_a_second_payout(world: World) -> None:
    channel(world, "Crash2", PayoutStrategy.INSTANT)
    book(world, "Crash2", 1, "5.00", "4.975")
    rt = world.runtime()
    api = rt.payouts_api
    real_verify = api.verify

    def verify_then_die(batch_id: str) -> None:
        real_verify(batch_id)
        raise Died

    api.verify = verify_then_die  # type: ignore[method-assign]
    with pytest.raises(Died):
        payout_flow.handle_event(settled("Crash2"), rt)
    payout = only_payout(world)
    assert payout.state is PayoutState.CREATED
    api.verify = real_verify  # type: ignore[method-assign]
    assert payout_flow.advance(rt, payout.payout_id) == "verified"
    [batch] = world.standin.payouts.values()
    assert batch.verified_at is not None and batch.verify_failures == 0
    assert len(world.withdrawals()) == 1


def test_a_wrong_2fa_code_holds_the_payout_for_the_operator(world: World) -> None:
    channel(world, "Totp01", PayoutStrategy.INSTANT)
    entry = book(world, "Totp01", 1, "5.00", "4.975")
    wrong = world.runtime(totp=pyotp.random_base32())
    [outcome] = payout_flow.handle_event(settled("Totp01"), wrong)
    assert outcome.endswith("verification refused")
    payout = only_payout(world)
    assert payout.state is PayoutState.CREATED and payout.attention and "2FA" in payout.attention
    assert present(world.store.ledger.get(entry.entry_id)).state is EntryState.RESERVED
    assert payout_flow.advance(wrong, payout.payout_id).startswith("waits for the operator")
    # The operator fixes the secret and retries: the same withdrawal is verified.
    assert retry_payout(world.store, payout.payout_id, NOW) == "will be resumed"
    assert payout_flow.advance(world.runtime(), payout.payout_id) == "verified"
    assert len(world.withdrawals()) == 1


def test_an_expired_auth_token_is_renewed_once(world: World) -> None:
    channel(world, "Token001", PayoutStrategy.INSTANT)
    channel(world, "Token002", PayoutStrategy.INSTANT)
    book(world, "Token001", 1, "5.00", "4.975")
    book(world, "Token002", 2, "5.00", "4.975")
    rt = world.runtime()
    api = rt.payouts_api
    api._wall_clock = lambda: 0.0  # the instance believes its token is fresh
    payout_flow.handle_event(settled("Token001"), rt)
    # The cached token has expired at NowPayments (one already past its `exp`, without waiting).
    world.standin.token_ttl = -60
    api._token = world.standin.issue_token()
    world.standin.token_ttl = 300
    [outcome] = payout_flow.handle_event(settled("Token002"), rt)
    assert outcome.endswith("verified") and api.auth_calls == 2
    assert [w["status"] for w in world.withdrawals()] == ["PROCESSING", "PROCESSING"]


def test_a_failed_payout_ipn_releases_the_entries_and_tells_owner_and_operator(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    channel(world, "Failed01", PayoutStrategy.INSTANT)
    entry = book(world, "Failed01", 1, "5.00", "4.975")
    rt = world.runtime()
    payout_flow.handle_event(settled("Failed01"), rt)
    payout = only_payout(world)
    [w] = world.withdrawals()
    world.standin.set_withdrawal_status(w, "FAILED", "address is not valid")
    raw = json.dumps(w).encode()
    ipn = runtime(
        IpnHandlerSettings,
        world.store,
        nowpayments_api_base_url=world.url,
        nowpayments_api_key=SecretStr(API_KEY),
        nowpayments_ipn_secret=SecretStr(IPN_SECRET),
    )
    ipn.replace(nowpayments=NowPaymentsApi(world.url, API_KEY, 5.0))
    result = handle_ipn(raw, ipn_signature.sign(raw, IPN_SECRET), ipn)
    assert (result.http_status, result.outcome) == (200, "payout failed")
    ended = world.store.payouts.get(payout.payout_id)
    assert ended is not None and ended.state is PayoutState.FAILED and not ended.open
    assert ended.failure_reason == "address is not valid"
    back = world.store.ledger.get(entry.entry_id)
    assert back is not None and back.state is EntryState.AVAILABLE and back.payout_id is None
    assert back.releases == 1 and back.retry_after is not None
    # A late PROCESSING IPN never moves it back.
    assert payout_flow.observe_withdrawal(
        world.store, ipn.clock, payout.payout_id, _status(w, "PROCESSING")
    ).state is (PayoutState.FAILED)
    with caplog.at_level("ERROR"):
        assert payout_flow.send_notices(rt) == 1
    assert any(r.getMessage().startswith("payout failed: ") for r in caplog.records)
    assert "failed" in fakes(rt)[0].to(5001)[0].text
    # Not planned again before retry_after; then a new payout (a new id) covers it.
    assert payout_flow.plan_channel(rt, "Failed01") == []
    later = runtime(PayoutSettings, world.store, NOW + timedelta(hours=7))
    later.replace(payouts_api=rt.payouts_api)
    [again] = payout_flow.plan_channel(later, "Failed01")
    assert again != payout.payout_id


def _status(withdrawal: dict[str, Any], status: str) -> Any:
    return _withdrawal({**withdrawal, "status": status})


def test_one_channel_nowpayments_refuses_holds_only_that_channel(world: World) -> None:
    """A 4xx NowPayments gives for one channel (an estimate it refuses) is recorded on that channel,
    its owner told once, the operator alerted; every other channel is still paid in the same run."""
    channel(world, "Odd001", PayoutStrategy.INSTANT, owner=5002)
    channel(world, "Fine01", PayoutStrategy.INSTANT)
    book(world, "Odd001", 1, "5.00", "4.975", owner=5002, currency="xyzcoin")  # NowPayments refuses it
    book(world, "Fine01", 2, "5.00", "4.975")
    rt = world.runtime()
    counts = payout_flow.run_scheduled(rt)
    assert counts["held"] == 1 and counts["reserved"] == 1
    assert [w["address"] for w in world.withdrawals()] == [WALLET]  # Fine01 was paid
    held = world.store.channels.get("Odd001")
    assert held is not None and held.payout_problem and "NowPayments answered 400" in held.payout_problem
    telegram = fakes(rt)[0]
    assert any("are on hold" in m.text for m in telegram.to(5002))
    payout_flow.run_scheduled(rt)  # the next run: still held, the owner not told again
    assert sum("are on hold" in m.text for m in telegram.to(5002)) == 1


def test_a_notice_to_an_owner_whose_chat_is_gone_does_not_stop_the_run(world: World) -> None:
    from telepay.adapters.telegram_api import TelegramBadRequest

    channel(world, "Gone01", PayoutStrategy.INSTANT)
    book(world, "Gone01", 1, "5.00", "4.975")
    rt = world.runtime()
    payout_flow.handle_event(settled("Gone01"), rt)
    [w] = world.withdrawals()
    finish_at_standin(world, w["id"])
    payout_flow.advance(rt, only_payout(world).payout_id)
    fakes(rt)[0].fail_method["send_message"] = [TelegramBadRequest("Bad Request: chat not found")]
    assert payout_flow.run_scheduled(rt)["notices"] == 1  # counted, not raised
    assert payout_flow.send_notices(rt) == 0  # and not tried again every minute


def test_one_planner_per_channel_at_a_time(world: World) -> None:
    """A planner that finds another planning the channel returns at once; the next one plans."""
    from shared_schemas.names import ClaimPurpose

    channel(world, "Lock01", PayoutStrategy.INSTANT)
    book(world, "Lock01", 1, "5.00", "4.975")
    rt = world.runtime()
    with rt.claims.hold(ClaimPurpose.PAYOUT, "plan:Lock01") as busy:
        busy.release()
        assert payout_flow.plan_channel(rt, "Lock01") == []
    assert len(payout_flow.plan_channel(rt, "Lock01")) == 1


@pytest.mark.usefixtures("catalogs")
def test_the_owners_payout_notices_are_in_the_owners_language(world: World) -> None:
    """The payout function has no update of the owner's: it speaks the language remembered from
    the owner's app (Spanish here; the fake catalogs prefix each text with its language)."""
    for owner, update_id in ((5001, 1), (5002, 2)):
        said = updates.start(update_id, "/start", owner, "Olivia")
        said["message"]["from"]["language_code"] = "es"
        handle_update(said, runtime(TelegramWebhookSettings, world.store))
    channel(world, "Inst01", PayoutStrategy.INSTANT)
    channel(world, "Odd001", PayoutStrategy.INSTANT, owner=5002)
    book(world, "Inst01", 1, "5.00", "4.975")
    book(world, "Odd001", 2, "5.00", "4.975", owner=5002, currency="xyzcoin")  # NowPayments refuses it
    rt = world.runtime()
    payout_flow.run_scheduled(rt)
    [w] = world.withdrawals()
    finish_at_standin(world, w["id"])
    payout_flow.advance(rt, only_payout(world).payout_id)
    payout_flow.send_notices(rt)
    telegram = fakes(rt)[0]
    assert [m.text.split(":")[0] for m in telegram.to(5001)] == ["[es] 💸 Payout sent"]
    assert [m.text.split(":")[0] for m in telegram.to(5002)] == [
        "[es] ⚠️ Payouts for Night Owls Club are on hold"
    ]
