"""A buyer's promo code, handler by handler on the in-memory store and fakes: applied from its link
or typed after "🏷 I have a code", the offer's discounted prices, the invoice priced by
create_invoice from the code (crypto and Stars), the use counted once when the payment settles,
the owner told; a code that takes a tier to zero gives access without an invoice; every refusal
says why; a code used up mid-checkout is honoured and the owner told, but admits no new order."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import OrderStatus, PromoCodeDoc, PromoStatus
from shared_schemas.ids import promo_code_id, subscription_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.queries import LEDGER_OF_CHANNEL
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels import promo_rules
from telepay.channels.lookup import load_channel, save_channel
from telepay.core.store import Store
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import Sent
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, active_subscription, fakes, present, runtime
from tests.memory_store import MemoryStore

BUYER, OTHER_BUYER, OWNER = 4242, 4343, 5001
TOKEN = "DemoChannel01"
IDS = itertools.count(1000)
PAYMENTS = itertools.count(9000)


def make_code(store: Store, token: str = TOKEN, **values: Any) -> PromoCodeDoc:
    """A code as its owner makes it: through the rules `/promo` and the owner app apply."""
    channel = present(load_channel(store, token))
    code = promo_rules.validate_code({"code": "SUMMER20", "discount": "20%"} | values, channel, OWNER, NOW)
    assert isinstance(code, PromoCodeDoc), code
    store.promo_codes.set(promo_code_id(token, code.code), code)
    return code


def _webhook(store: MemoryStore, days: float = 0) -> Any:
    return runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=days))


def _say(rt: Any, text: str, user_id: int = BUYER) -> str:
    return handle_update(updates.start(next(IDS), text, user_id), rt)


def _last(rt: Any, user_id: int = BUYER) -> Sent:
    return fakes(rt)[0].to(user_id)[-1]


def _press(rt: Any, data: str, user_id: int = BUYER) -> str:
    return handle_update(updates.press(next(IDS), data, user_id), rt)


def _queued(rt: Any) -> CreateInvoiceTask:
    task = fakes(rt)[2].created[-1][2]
    assert isinstance(task, CreateInvoiceTask)
    return task


def _invoice(store: MemoryStore, task: CreateInvoiceTask, **changes: Any) -> tuple[str, Any]:
    rt = runtime(CreateInvoiceSettings, store)
    for name, value in changes.items():
        setattr(fakes(rt)[1], name, value)
    return create_invoice(task, 1, rt), rt


def _pay(store: MemoryStore, order_id: str, payment_id: int | None = None) -> list[bytes]:
    """NowPayments' finished IPN for what the order charges; the events it published."""
    rt = runtime(IpnHandlerSettings, store)
    order = present(store.orders.get(order_id))
    payment_id = payment_id or next(PAYMENTS)
    fakes(rt)[1].set_payment(payment_id, order_id, "finished", str(order.price_amount))
    body = json.dumps({"payment_id": payment_id, "payment_status": "finished", "order_id": order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt).http_status == 200
    publisher = rt.publisher
    assert isinstance(publisher, RecordingPublisher)
    return [data for _, data, _ in publisher.published]


def _owner_notice(store: MemoryStore, data: bytes) -> str:
    rt = runtime(NotifySettings, store)
    handle_event(Envelope[PaymentEvent].model_validate_json(data), rt)
    return fakes(rt)[0].to(OWNER)[-1].text


def _buy_crypto(store: MemoryStore, user_id: int = BUYER, tier: str = "t1") -> CreateInvoiceTask:
    rt = _webhook(store)
    assert _press(rt, f"buy:{TOKEN}:{tier}", user_id) == "payment choice shown"
    assert _press(rt, f"pay:{TOKEN}:{tier}:c", user_id) == "invoice queued"
    return _queued(rt)


def test_a_buyer_opens_the_code_link_and_pays_the_discounted_price(store: MemoryStore) -> None:
    make_code(store)
    rt = _webhook(store)
    assert _say(rt, f"/start {TOKEN}_summer20") == "offer shown with code SUMMER20"
    offer = _last(rt)
    assert offer.text.startswith("🏷 Code SUMMER20 applied: 20% off (all tiers).")
    assert offer.buttons()[0].text == "Monthly · $4.00 or ⭐200 (was $5.00) · 1 month"
    assert offer.buttons()[1].text == "Quarterly · $10.00 or ⭐500 (was $12.50) · 3 months"

    assert _press(rt, f"buy:{TOKEN}:t1") == "payment choice shown"
    choice = _last(rt)
    assert "$4.00 or ⭐200" in choice.text and "renews by itself" not in choice.text  # a one-time payment
    assert _press(rt, f"pay:{TOKEN}:t1:c") == "invoice queued"
    task = _queued(rt)
    assert task.promo_code == "SUMMER20"

    outcome, invoicing = _invoice(store, task)
    assert outcome == "invoiced"
    assert fakes(invoicing)[1].invoices[0]["price_amount"] == Decimal("4.00")  # priced server-side
    order = present(store.orders.get(task.order_id))
    assert (order.price_amount, order.full_price_amount, order.promo_code) == (
        Decimal("4.00"),
        Decimal("5.00"),
        "SUMMER20",
    )

    [event] = _pay(store, task.order_id, 71)
    assert "🏷 Code SUMMER20 (full price $5.00)." in _owner_notice(store, event)
    code = present(store.promo_codes.get(promo_code_id(TOKEN, "SUMMER20")))
    assert (code.uses, code.revenue) == (1, Decimal("4.00"))
    assert present(store.promo_uses.get(f"{TOKEN}-SUMMER20-{BUYER}")).order_ids == [task.order_id]
    entry = present(store.ledger.get(task.order_id))
    assert entry.gross_amount == Decimal("4.00") and entry.fee_amount == Decimal("0.12")

    _pay(store, task.order_id, 71)  # NowPayments sends the IPN again
    assert present(store.promo_codes.get(promo_code_id(TOKEN, "SUMMER20"))).uses == 1


def test_a_typed_code_applies_to_the_offer_it_was_asked_under(store: MemoryStore) -> None:
    make_code(store, code="WELCOME", discount="$1.50", tier_ids=["t2"])
    rt = _webhook(store)
    _say(rt, f"/start {TOKEN}")
    assert "pce:DemoChannel01" in _last(rt).callbacks()
    assert _press(rt, f"pce:{TOKEN}") == "code asked"
    assert _last(rt).text == "Send me your code for Night Owls Club."
    assert _say(rt, "welcome") == "offer shown with code WELCOME"
    buttons = [b.text for b in _last(rt).buttons()]
    assert buttons[0].startswith("Monthly · $5.00 or ⭐250 · ")  # not for this tier: full price
    assert buttons[1] == "Quarterly · $11.00 or ⭐550 (was $12.50) · 3 months"
    assert _say(rt, "welcome") == "help"  # only the next text is a code


def test_each_refusal_says_why(store: MemoryStore) -> None:
    save_channel(store, demo_channel(token="OtherChan01", open_channel_id=-1002, closed_channel_id=-1003))
    make_code(store, token="OtherChan01", code="ELSEWHERE")
    make_code(store, code="LATER", starts_at="2027-01-01")
    make_code(store, code="SHORT", ends_at="2026-11-30")
    make_code(store, code="NEWONLY", new_subscribers_only=True)
    make_code(store, code="PAUSEDONE")
    store.promo_codes.update(promo_code_id(TOKEN, "PAUSEDONE"), {"status": PromoStatus.PAUSED})
    make_code(store, code="ENDEDONE")
    store.promo_codes.update(promo_code_id(TOKEN, "ENDEDONE"), {"status": PromoStatus.ENDED})
    make_code(store, code="ONCE", max_uses=1)
    store.promo_codes.update(promo_code_id(TOKEN, "ONCE"), {"uses": 1})
    rt = _webhook(store, days=5)  # 1 December 2026: SHORT ended on 30 November
    member = runtime(TelegramWebhookSettings, store)
    store.subscriptions.set(subscription_id(TOKEN, OTHER_BUYER), active_subscription(OTHER_BUYER, 10))
    cases = {
        "NOSUCH": "isn't a code of Night Owls Club",
        "ELSEWHERE": "a code of another channel",
        "LATER": "isn't valid yet",
        "SHORT": "has expired",
        "PAUSEDONE": "is paused",
        "ENDEDONE": "has ended",
        "ONCE": "has been used up",
    }
    for code, reason in cases.items():
        outcome = _say(rt, f"/start {TOKEN}_{code}")
        assert outcome.startswith("promo refused") and outcome.endswith("offer shown"), outcome
        refusal, offer = fakes(rt)[0].to(BUYER)[-2:]
        assert reason in refusal.text, (code, refusal.text)
        assert offer.buttons()[0].text.startswith("Monthly · $5.00")  # the offer at its prices
    assert _say(member, f"/start {TOKEN}_NEWONLY", OTHER_BUYER).startswith(
        "promo refused (new subscribers only)"
    )
    assert "new subscribers only" in fakes(member)[0].to(OTHER_BUYER)[-2].text


def test_a_free_code_gives_access_without_an_invoice_once(store: MemoryStore) -> None:
    make_code(store, code="FRIENDS", discount="100%", max_uses=5)
    rt = _webhook(store)
    _say(rt, f"/start {TOKEN}_friends")
    assert _last(rt).buttons()[0].text == "Monthly · free (was $5.00) · 1 month"
    assert _press(rt, f"buy:{TOKEN}:t1") == "free access granted"
    granted = _last(rt)
    assert granted.text.startswith("🎉 Code FRIENDS: 1 month of Night Owls Club, free. Access until")
    assert granted.callbacks() == [f"join:{TOKEN}"]
    assert not fakes(rt)[2].created  # no invoice
    sub = present(store.subscriptions.get(subscription_id(TOKEN, BUYER)))
    assert sub.expires_at == NOW + timedelta(days=30)
    # A double tap (the offer still on screen): nothing more.
    assert _press(rt, f"buy:{TOKEN}:t1") == "free code used before"
    assert present(store.promo_codes.get(promo_code_id(TOKEN, "FRIENDS"))).uses == 1
    assert present(store.subscriptions.get(subscription_id(TOKEN, BUYER))).expires_at == NOW + timedelta(
        days=30
    )
    assert not store.ledger.find(LEDGER_OF_CHANNEL, channel_token=TOKEN, state="available")  # nothing booked


def test_a_code_used_up_mid_checkout_is_honoured_and_the_owner_told(store: MemoryStore) -> None:
    make_code(store, code="LAST", discount="$1", max_uses=1)
    tasks = []
    for buyer in (BUYER, OTHER_BUYER):  # both see the offer before anyone paid
        _say(_webhook(store), f"/start {TOKEN}_LAST", buyer)
        tasks.append(_buy_crypto(store, buyer))
    for task in tasks:
        assert _invoice(store, task)[0] == "invoiced"
    first, second = (_pay(store, task.order_id)[0] for task in tasks)
    assert "🏷 Code LAST (full price $5.00)." in _owner_notice(store, first)
    assert "🏷 Code LAST (used up: honoured, the order was made before)." in _owner_notice(store, second)
    assert present(store.promo_codes.get(promo_code_id(TOKEN, "LAST"))).uses == 2
    assert present(store.orders.get(tasks[1].order_id)).price_amount == Decimal("4.00")

    # A third buyer who applied it before it ran out: refused at the tier button...
    third = 4444
    store.promo_codes.update(promo_code_id(TOKEN, "LAST"), {"uses": 0})
    _say(_webhook(store), f"/start {TOKEN}_LAST", third)
    store.promo_codes.update(promo_code_id(TOKEN, "LAST"), {"uses": 2})
    rt = _webhook(store)
    assert _press(rt, f"buy:{TOKEN}:t1", third).startswith("promo refused (used up)")
    # ...and at invoice time (a task queued before it ran out).
    late = CreateInvoiceTask.model_validate(
        tasks[0].model_dump() | {"order_id": tasks[0].order_id[:-10] + "latelatela"}
    )
    outcome, invoicing = _invoice(store, late)
    assert outcome == "rejected: promo code no longer applies"
    assert "has been used up" in fakes(invoicing)[0].to(BUYER)[-1].text
    assert store.orders.get(late.order_id) is None


def test_a_crypto_invoice_is_never_below_the_minimum_payment(store: MemoryStore) -> None:
    make_code(store, code="DEEP", discount="90%")
    _say(_webhook(store), f"/start {TOKEN}_DEEP")
    task = _buy_crypto(store)
    outcome, invoicing = _invoice(
        store, task, minimums={"usdttrc20": Decimal("4.2"), "ltc": Decimal("1.004")}
    )
    assert outcome == "invoiced"
    assert fakes(invoicing)[1].invoices[0]["price_amount"] == Decimal("1.01")  # $0.50 raised to LTC's minimum
    assert "$1.01" in fakes(invoicing)[0].to(BUYER)[-1].text


def test_a_stars_purchase_with_a_code_is_a_one_time_discounted_payment(store: MemoryStore) -> None:
    make_code(store)
    rt = _webhook(store)
    _say(rt, f"/start {TOKEN}_SUMMER20")
    _press(rt, f"buy:{TOKEN}:t1")
    assert _press(rt, f"pay:{TOKEN}:t1:s") == "invoice queued"
    task = _queued(rt)
    assert _invoice(store, task)[0] == "invoiced in Stars"
    order = present(store.orders.get(task.order_id))
    assert (order.price_amount, order.full_price_amount, order.star_subscription) == (
        Decimal(200),
        Decimal(250),
        False,
    )
    assert (
        handle_update(updates.pre_checkout(next(IDS), BUYER, task.order_id, 200), rt)
        == "pre-checkout accepted"
    )
    assert handle_update(updates.star_payment(next(IDS), BUYER, task.order_id, 200, "ch-1"), rt).startswith(
        "finished"
    )
    code = present(store.promo_codes.get(promo_code_id(TOKEN, "SUMMER20")))
    assert (code.uses, code.revenue, code.revenue_stars) == (1, Decimal("0"), 200)
    assert present(store.orders.get(task.order_id)).status is OrderStatus.SETTLED
