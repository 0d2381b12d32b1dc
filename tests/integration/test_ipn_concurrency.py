"""One ipn_handler process serves REQUEST_CONCURRENCY requests at once around one runtime: on the
real Firestore and Pub/Sub emulators, a burst of finished IPNs for distinct orders, each arriving
three times at once, settles every order exactly once (one ledger entry, one settled event,
published) whatever the interleaving."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared_schemas.ids import OrderKind, subscription_order_id
from shared_schemas.names import REQUEST_CONCURRENCY, Collection
from shared_schemas.tasks import CreateInvoiceTask
from telepay.channels.lookup import save_channel
from telepay.core.errors import Transient
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from tests.conftest import demo_channel
from tests.harness import nowpayments_of
from tests.integration.helpers import IPN_SECRET, runtime, store_of

pytestmark = pytest.mark.integration
ORDERS = 24
COPIES = 3


def _ipn(order_id: str, payment_id: int) -> tuple[bytes, str]:
    body = json.dumps(
        {"payment_id": payment_id, "payment_status": "finished", "order_id": order_id, "actually_paid": 0.001}
    ).encode()
    return body, ipn_signature.sign(body, IPN_SECRET)


def test_concurrent_finished_ipns_on_one_process_settle_each_order_once(firestore_db: Any) -> None:
    store = store_of(firestore_db)
    save_channel(store, demo_channel())
    # The orders as buyers make them: the tier tapped, create_invoice's own rules and invoice.
    invoicing = runtime(firestore_db, kind="invoice")
    order_ids = []
    for n in range(ORDERS):
        user = 9000 + n
        order_id = subscription_order_id("DemoChannel01", user, "t1")
        task = CreateInvoiceTask(
            order_id=order_id,
            user_id=user,
            chat_id=user,
            channel_token="DemoChannel01",
            kind=OrderKind.SUBSCRIPTION,
            tier_id="t1",
        )
        assert create_invoice(task, 1, invoicing) == "invoiced"
        order_ids.append(order_id)

    rt = runtime(firestore_db)  # one process's runtime, shared by every request thread
    for n, order_id in enumerate(order_ids):
        nowpayments_of(rt).set_payment(7000 + n, order_id, "finished", "5.00")
    deliveries = [(order_id, 7000 + n) for n, order_id in enumerate(order_ids) for _ in range(COPIES)]
    random.Random(31).shuffle(deliveries)

    def deliver(delivery: tuple[str, int]) -> list[str]:
        """As NowPayments does: sent again while the answer is a 503 (another copy holds the claim)."""
        outcomes = []
        for _ in range(50):
            try:
                result = handle_ipn(*_ipn(*delivery), rt)
            except Transient as error:
                outcomes.append(f"retry: {error}")
                continue
            assert result.http_status == 200, result
            return [*outcomes, result.outcome]
        raise AssertionError(f"{delivery} never settled: {outcomes[-3:]}")

    with ThreadPoolExecutor(REQUEST_CONCURRENCY) as pool:
        outcomes = [outcome for answered in pool.map(deliver, deliveries) for outcome in answered]

    settled = [o for o in outcomes if o == "finished: payment.settled"]
    assert len(settled) == ORDERS  # each order settled by exactly one of its copies
    assert all(o == "finished: payment.settled" or o.startswith(("duplicate", "retry")) for o in outcomes)
    orders = [s.to_dict() for s in firestore_db.collection(Collection.ORDERS.value).stream()]
    assert sorted(o["order_id"] for o in orders if o["status"] == "settled") == sorted(order_ids)
    ledger = [s.id for s in firestore_db.collection(Collection.LEDGER.value).stream()]
    assert sorted(ledger) == sorted(order_ids)  # one entry each
    events = [s.to_dict() for s in firestore_db.collection(Collection.OUTBOX.value).stream()]
    assert sorted(e["order_id"] for e in events) == sorted(order_ids)  # one settled event each
    assert all(e["published"] for e in events)
    subscriptions = [s.to_dict() for s in firestore_db.collection(Collection.SUBSCRIPTIONS.value).stream()]
    assert len(subscriptions) == ORDERS and {s["last_order_id"] for s in subscriptions} == set(order_ids)
