"""Sales and expiries made the way buyers make them, on the in-memory store and fakes: `/start`,
the tier, "Pay with crypto", the invoice, NowPayments' IPN; the sweep and its removal tasks. For the
tests of what owners read (`/stats`, the dashboard)."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import count
from typing import Any

from shared_schemas.config import (
    CreateInvoiceSettings,
    ExpireSubscriptionsSettings,
    IpnHandlerSettings,
    OwnerAppSettings,
    TelegramWebhookSettings,
)
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.core.store import Store
from telepay.owners.app import handle
from telepay.owners.init_data import for_user
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.subscriptions.expiry import run_task, sweep
from tests import updates
from tests.harness import IPN_SECRET, fakes, runtime

_ids = count(700_000)


def sell(store: Store, buyer: int, at: datetime, token: str = "DemoChannel01", tier: str = "t1") -> str:
    """A crypto purchase of `tier` by `buyer`, settled at `at`; the order id."""
    rt = runtime(TelegramWebhookSettings, store, now=at)
    _, _, tasks = fakes(rt)
    shown = handle_update(updates.start(next(_ids), f"/start {token}", buyer), rt)
    assert "offer shown" in shown, shown
    assert (
        handle_update(updates.press(next(_ids), f"buy:{token}:{tier}", buyer), rt) == "payment choice shown"
    )
    assert handle_update(updates.press(next(_ids), f"pay:{token}:{tier}:c", buyer), rt) == "invoice queued"
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask)
    invoicing = runtime(CreateInvoiceSettings, store, now=at)
    assert create_invoice(task, 1, invoicing) == "invoiced"
    order = store.orders.get(task.order_id)
    assert order is not None
    paying = runtime(IpnHandlerSettings, store, now=at)
    payment_id = next(_ids)
    fakes(paying)[1].set_payment(payment_id, task.order_id, "finished", str(order.price_amount))
    body = json.dumps({"payment_id": payment_id, "payment_status": "finished", "order_id": task.order_id})
    raw = body.encode()
    assert handle_ipn(raw, ipn_signature.sign(raw, IPN_SECRET), paying).http_status == 200
    return task.order_id


def refund(store: Store, order_id: str, at: datetime) -> str:
    """NowPayments refunds the crypto payment that settled `order_id`, at `at`: its IPN's outcome."""
    order = store.orders.get(order_id)
    assert order is not None and order.payment_id is not None
    paying = runtime(IpnHandlerSettings, store, now=at)
    payment_id = int(order.payment_id)
    fakes(paying)[1].set_payment(payment_id, order_id, "refunded", str(order.price_amount))
    raw = json.dumps({"payment_id": payment_id, "payment_status": "refunded", "order_id": order_id}).encode()
    reply = handle_ipn(raw, ipn_signature.sign(raw, IPN_SECRET), paying)
    assert reply.http_status == 200
    return str(reply.outcome)


def sweep_at(store: Store, at: datetime) -> list[str]:
    """The expiry sweep at `at` and every task it queued (reminders, removals): their outcomes."""
    rt = runtime(ExpireSubscriptionsSettings, store, now=at)
    sweep(rt, f"sweep-{at.isoformat()}")
    _, _, tasks = fakes(rt)
    outcomes = []
    while tasks.created:
        _, _, payload, _ = tasks.created.pop(0)
        outcomes.append(run_task(payload, rt))
    return outcomes


def owner_overview(
    store: Store, at: datetime, days: int = 30, token: str = "DemoChannel01", owner: int = 5001
) -> dict[str, Any]:
    """What the channel's owner sees in the owner app's dashboard at `at` (`GET …/overview/<days>`)."""
    rt = runtime(OwnerAppSettings, store, now=at)
    auth = "tma " + for_user({"id": owner, "first_name": "Olivia"}, "1:test", int(at.timestamp()) - 60)
    reply = handle(rt, "GET", f"/api/channels/{token}/overview/{days}", auth, None)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body
