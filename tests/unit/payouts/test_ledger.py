"""The ledger booking over random amounts and rates (Hypothesis), and booking through the IPN path
on the in-memory store: one entry per settled payment, none for a replay."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared_schemas.config import IpnHandlerSettings
from shared_schemas.documents import EntryState, LedgerEntryDoc, OrderDoc, OrderStatus
from shared_schemas.ids import OrderKind
from shared_schemas.money import quantum
from shared_schemas.nowpayments import Payment
from telepay.channels.lookup import save_channel
from telepay.payments.ipn import apply_payment
from telepay.payouts import ledger
from tests.conftest import demo_channel
from tests.harness import fakes, runtime
from tests.memory_store import MemoryStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CHANNEL = demo_channel()
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
crypto = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000"), places=8)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("99.99"), places=2)


def order(
    order_id: str = "tp1-sub-DemoChannel01-7-t1-aaaaaaaaaa", price: Decimal = Decimal("5.00")
) -> OrderDoc:
    return OrderDoc(
        order_id=order_id,
        kind=OrderKind.SUBSCRIPTION,
        user_id=7,
        chat_id=7,
        channel_token=CHANNEL.token,
        tier_id="t1",
        days=30,
        price_amount=price,
        price_currency="USD",
        status=OrderStatus.INVOICED,
        created_at=NOW,
        updated_at=NOW,
    )


def payment(order_id: str, price: Decimal, outcome: Decimal | None, payment_id: int = 55) -> Payment:
    return Payment(
        payment_id=payment_id,
        payment_status="finished",
        order_id=order_id,
        price_amount=price,
        price_currency="usd",
        pay_amount=Decimal("0.001"),
        actually_paid=Decimal("0.001"),
        pay_currency="btc",
        outcome_amount=outcome,
        outcome_currency=None if outcome is None else "usdttrc20",
    )


@given(prices, crypto, rates)
def test_gross_is_fee_plus_net_exactly_and_the_fee_is_rounded_once(
    price: Decimal, outcome: Decimal, rate: Decimal
) -> None:
    o = order(price=price)
    entry = ledger.book(o, payment(o.order_id, price, outcome), CHANNEL, rate, NOW)
    assert entry.fee_amount + entry.net_amount == entry.gross_amount == price
    assert entry.settled_fee + entry.settled_net == entry.settled_amount == outcome
    for amount, currency in ((entry.fee_amount, "usd"), (entry.settled_fee, "usdttrc20")):
        assert amount == amount.quantize(quantum(currency))
    # Rounded once, half up: within half a unit of the exact fee.
    assert abs(entry.fee_amount - price * rate / 100) <= quantum("usd") / 2
    assert abs(entry.settled_fee - outcome * rate / 100) <= quantum("btc") / 2
    assert entry.fee_percent == rate and entry.net_amount >= 0 and entry.settled_net >= 0


def test_the_rounding_rule_on_known_values() -> None:
    assert ledger.split(Decimal("5.00"), Decimal("3"), "usd") == (Decimal("0.15"), Decimal("4.85"))
    # 3 % of 12.50 is 0.375: half up gives 0.38.
    assert ledger.split(Decimal("12.50"), Decimal("3"), "usd") == (Decimal("0.38"), Decimal("12.12"))
    assert ledger.split(Decimal("0.00000050"), Decimal("3"), "btc") == (
        Decimal("0.00000002"),
        Decimal("0.00000048"),
    )


def test_without_an_outcome_the_paid_amount_is_the_settlement() -> None:
    o = order()
    entry = ledger.book(o, payment(o.order_id, o.price_amount, None), CHANNEL, Decimal("3"), NOW)
    assert (entry.settled_amount, entry.settled_currency) == (Decimal("0.001"), "btc")


@given(st.lists(st.tuples(crypto, st.sampled_from(list(EntryState))), max_size=30))
def test_balance_sums_each_state_exactly(items: list[tuple[Decimal, EntryState]]) -> None:
    entries = []
    for number, (amount, state) in enumerate(items):
        o = order(order_id=f"o{number}")
        entry = ledger.book(o, payment(o.order_id, o.price_amount, amount), CHANNEL, Decimal("3"), NOW)
        entries.append(entry.model_copy(update={"state": state}))
    result = ledger.balance(entries)
    for state, sums in (
        (EntryState.AVAILABLE, result.available),
        (EntryState.RESERVED, result.reserved),
        (EntryState.PAID, result.paid),
    ):
        assert sums.get("usdttrc20", Decimal(0)) == sum(
            (e.settled_net for e in entries if e.state is state), Decimal(0)
        )
    assert result.entries == len(entries)


def test_settling_books_one_entry_and_a_replay_books_nothing() -> None:
    store = MemoryStore()
    save_channel(store, CHANNEL)
    o = order()
    store.orders.set(o.order_id, o)
    rt = runtime(IpnHandlerSettings, store, platform_fee_percent=Decimal("3"))
    p = payment(o.order_id, o.price_amount, Decimal("4.975"))
    fakes(rt)[1].payments[55] = p
    assert apply_payment(rt, o.order_id, p).endswith("payment.settled")
    entry = store.ledger.get(o.order_id)
    assert isinstance(entry, LedgerEntryDoc)
    assert (entry.fee_amount, entry.net_amount, entry.settled_net) == (
        Decimal("0.15"),
        Decimal("4.85"),
        Decimal("4.82575"),
    )
    assert entry.owner_user_id == CHANNEL.owner_user_id and entry.state is EntryState.AVAILABLE
    # The fee rate changes; a replay of the same payment books nothing and rewrites nothing.
    rt2 = runtime(IpnHandlerSettings, store, platform_fee_percent=Decimal("10"))
    assert apply_payment(rt2, o.order_id, p) == "already settled"
    assert store.ledger.get(o.order_id) == entry
