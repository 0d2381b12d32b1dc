"""A promo code's uses under concurrent settlements: twelve orders of a 10-use code, all made before
it ran out, settle at once: each is honoured and counted once (uses == 12, revenue of twelve), and a
thirteenth order made after it ran out is refused at invoice time. On Firestore the twelve
transactions contend on the code's document: one that loses more often than the store retries is
answered 503 and NowPayments sends its IPN again (its claim was released with the transaction). The same scenario runs on the
Firestore emulator (tests/integration/test_promo_concurrency.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from shared_schemas.config import CreateInvoiceSettings, TelegramWebhookSettings
from shared_schemas.ids import promo_code_id
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels, save_channel
from telepay.core.errors import Transient
from telepay.core.store import Store
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, fakes, present, runtime
from tests.memory_store import MemoryStore
from tests.unit.subscriptions.test_promo_flow import make_code

TOKEN = "DemoChannel01"
ORDERS = 12


def settle_twelve_at_once(
    store: Store, ipn_runtime: Callable[[], Runtime[Any]], workers: int = ORDERS
) -> None:
    """`workers` IPNs at a time (all twelve on the memory store)."""
    forget_cached_channels()
    save_channel(store, demo_channel())
    make_code(store, code="TENUSES", discount="20%", max_uses=10)
    webhook = runtime(TelegramWebhookSettings, store)
    invoicing = runtime(CreateInvoiceSettings, store)
    tasks: list[CreateInvoiceTask] = []
    for n in range(ORDERS + 1):
        buyer = 7000 + n
        handle_update(updates.start(10 * n + 1, f"/start {TOKEN}_tenuses", buyer), webhook)
        handle_update(updates.press(10 * n + 2, f"buy:{TOKEN}:t1", buyer), webhook)
        assert (
            handle_update(updates.press(10 * n + 3, f"pay:{TOKEN}:t1:c", buyer), webhook) == "invoice queued"
        )
        task = fakes(webhook)[2].created[-1][2]
        assert isinstance(task, CreateInvoiceTask) and task.promo_code == "TENUSES"
        tasks.append(task)
    *first, thirteenth = tasks
    for task in first:  # all made while the code had uses left
        assert create_invoice(task, 1, invoicing) == "invoiced"

    rt = ipn_runtime()
    bodies = []
    for n, task in enumerate(first):
        order = present(store.orders.get(task.order_id))
        assert order.price_amount == Decimal("4.00")
        fakes(rt)[1].set_payment(500 + n, task.order_id, "finished", "4.00")
        bodies.append(
            json.dumps(
                {"payment_id": 500 + n, "payment_status": "finished", "order_id": task.order_id}
            ).encode()
        )

    def deliver(body: bytes) -> int:
        """NowPayments sends an IPN again while it is answered 503 (a Transient error: here, the
        transaction lost to the others on the one code document more often than it retries)."""
        for _ in range(10):
            try:
                return handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), rt).http_status
            except Transient:
                continue
        return 503

    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(deliver, bodies))
    assert statuses == [200] * ORDERS

    code = present(store.promo_codes.get(promo_code_id(TOKEN, "TENUSES")))
    assert (code.uses, code.revenue) == (ORDERS, Decimal("48.00"))  # twelve honoured, each counted once
    # A 13th order, created after the code ran out, is refused at invoice time.
    assert create_invoice(thirteenth, 1, invoicing) == "rejected: promo code no longer applies"
    assert "has been used up" in fakes(invoicing)[0].to(thirteenth.user_id)[-1].text
    assert store.orders.get(thirteenth.order_id) is None


def test_twelve_concurrent_settlements_of_a_ten_use_code() -> None:
    store = MemoryStore()
    settle_twelve_at_once(
        store, lambda: runtime(__import__("shared_schemas.config").config.IpnHandlerSettings, store)
    )
