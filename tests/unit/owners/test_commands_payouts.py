"""`/payouts` in the owner's chat: the balance summed from the ledger by state, and the last
payouts with how they ended."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import EntryState, OrderDoc, OrderStatus, PayoutDoc, PayoutState, PayoutStrategy
from shared_schemas.ids import OrderKind, subscription_order_id
from shared_schemas.nowpayments import Payment
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.payouts import ledger
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, fakes, runtime
from tests.memory_store import MemoryStore

OWNER = 5001


def _book(store: MemoryStore, user: int, state: EntryState) -> None:
    channel = demo_channel()
    order = OrderDoc(
        order_id=subscription_order_id(channel.token, user, "t1"),
        kind=OrderKind.SUBSCRIPTION,
        user_id=user,
        chat_id=user,
        channel_token=channel.token,
        tier_id="t1",
        days=30,
        price_amount=Decimal("5.00"),
        price_currency="USD",
        status=OrderStatus.SETTLED,
        created_at=NOW,
        updated_at=NOW,
    )
    payment = Payment(
        payment_id=user,
        payment_status="finished",
        price_amount=Decimal("5.00"),
        price_currency="usd",
        actually_paid=Decimal("5"),
        pay_currency="usdttrc20",
    )
    entry = ledger.book(order, payment, channel, Decimal("3"), NOW)
    store.ledger.set(entry.entry_id, entry.model_copy(update={"state": state}))


def test_payouts_shows_the_balance_by_state_and_the_last_payouts() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    _book(store, 1, EntryState.AVAILABLE)
    _book(store, 2, EntryState.AVAILABLE)
    _book(store, 3, EntryState.PAID)
    store.payouts.set(
        "po-1",
        PayoutDoc(
            payout_id="po-1",
            channel_token="DemoChannel01",
            owner_user_id=OWNER,
            entry_ids=[],
            settled_currency="usdttrc20",
            settled_amount=Decimal("4.85"),
            net_price_amount=Decimal("4.85"),
            price_currency="usd",
            address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            currency="usdttrc20",
            amount=Decimal("4.85"),
            strategy=PayoutStrategy.INSTANT,
            state=PayoutState.FINISHED,
            open=False,
            next_attempt_at=NOW,
            created_at=NOW - timedelta(days=1),
            updated_at=NOW,
        ),
    )
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(1, "/payouts", OWNER), rt) == "payouts shown"
    text = telegram.to(OWNER)[-1].text
    assert "Available: 9.7 USDTTRC20" in text  # two entries of 5 less the 3 % fee
    assert "Paid so far: 4.85 USDTTRC20" in text and "In a payout now: nothing" in text
    assert "• 25 November 2026: 4.85 USDTTRC20 — finished" in text


def test_someone_without_channels_is_told_so() -> None:
    rt = runtime(TelegramWebhookSettings, MemoryStore())
    assert handle_update(updates.start(1, "/payouts", 777), rt) == "no channels"


def test_payouts_shows_stars_apart_with_when_telegram_releases_them() -> None:
    """Stars held by Telegram are not in the available balance: the owner reads them apart, in
    Stars and their USD value, with the date the hold ends; once it has, they count as released."""
    from tests.unit.payouts.stars import stars_entry

    store = MemoryStore()
    save_channel(store, demo_channel())
    _book(store, 1, EntryState.AVAILABLE)
    held = stars_entry("DemoChannel01", 2, 500, owner=OWNER)  # 485 Stars net, $6.30
    store.ledger.set(held.entry_id, held)
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    handle_update(updates.start(1, "/payouts", OWNER), rt)
    text = telegram.to(OWNER)[-1].text
    assert "Available: 4.85 USDTTRC20" in text  # the crypto sale only
    assert "Stars earnings: ⭐485 (≈ $6.30), held until 17 December 2026" in text
    assert "Stars released" not in text

    second = stars_entry("DemoChannel01", 3, 250, owner=OWNER, booked_at=NOW + timedelta(days=3))
    store.ledger.set(second.entry_id, second)
    handle_update(updates.start(2, "/payouts", OWNER), rt)
    text = telegram.to(OWNER)[-1].text
    assert "Stars earnings: ⭐727.5 (≈ $9.45), held until 17 December 2026 to 20 December 2026" in text

    later = runtime(TelegramWebhookSettings, store, NOW + timedelta(days=22))
    handle_update(updates.start(3, "/payouts", OWNER), later)
    text = fakes(later)[0].to(OWNER)[-1].text
    assert "Available: $6.30, 4.85 USDTTRC20" in text
    assert "Stars earnings: ⭐242.5 (≈ $3.15), held until 20 December 2026" in text
    assert "Stars released: ⭐485 (≈ $6.30), counted above" in text
