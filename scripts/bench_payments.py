"""Payment path figures on the local stack (its own stack on its own ports, Telegram limits off):

* IPN acknowledgement latency p50/p99 (as NowPayments sees it) and IPNs/s under concurrency,
* telegram_webhook acknowledgement latency p50/p99,
* time from the `finished` IPN to the access message in the buyer's chat.

    python -m scripts.bench_payments [--ipns 200] [--updates 300] [--access 20] [--port-base 19100]
"""

from __future__ import annotations

import argparse
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from local.clients import NowPaymentsControl, TelegramControl, firestore, wait_for
from local.fixtures import setup_channel
from scripts.benchlib import BENCH_PORT_BASE, private_stack, summary
from shared_schemas.documents import OrderDoc, OrderStatus
from shared_schemas.ids import subscription_order_id
from shared_schemas.names import REQUEST_CONCURRENCY

TOKEN = "BenchPay0001"


def _prepare_orders(
    endpoints: dict[str, Any], users: list[int], np: NowPaymentsControl
) -> list[tuple[int, int]]:
    """An invoiced order, its invoice and a payment for each user; returns (user, payment id)."""
    db = firestore(endpoints)
    api = httpx.Client(
        base_url=endpoints["nowpayments_api"], headers={"x-api-key": endpoints["nowpayments_api_key"]}
    )
    now = datetime.now(UTC)
    prepared = []
    for user in users:
        order_id = subscription_order_id(TOKEN, user, "t1")
        invoice = api.post(
            "/v1/invoice",
            json={
                "price_amount": 5,
                "price_currency": "usd",
                "order_id": order_id,
                "ipn_callback_url": endpoints["functions"]["ipn_handler"],
            },
        ).json()
        order = OrderDoc(
            order_id=order_id,
            kind="sub",
            user_id=user,
            chat_id=user,
            channel_token=TOKEN,
            tier_id="t1",
            days=30,
            price_amount=Decimal("5.00"),
            price_currency="USD",
            status=OrderStatus.INVOICED,
            invoice_id=str(invoice["id"]),
            created_at=now,
            updated_at=now,
        )
        db.collection("orders").document(order_id).set(order.to_firestore())
        prepared.append((user, np.pay(str(invoice["id"]))))
    return prepared


def bench_ipns(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, count: int
) -> tuple[list[float], list[float], float]:
    """IPN acknowledgement: sequential latencies, latencies with REQUEST_CONCURRENCY senders (the
    requests one instance serves at once), IPNs/s."""
    users = [tg.user(f"Payer{i}") for i in range(count)]
    prepared = _prepare_orders(endpoints, users, np)
    half = count // 2
    # Latency: one IPN at a time (waiting, then finished), as NowPayments sees the answer.
    latencies: list[float] = []
    for _, payment in prepared[:half]:
        for ipn in np.steps(payment, [{"status": "waiting"}, {"status": "finished"}]):
            assert ipn["response_status"] == 200, ipn
            latencies.append(float(ipn["elapsed_ms"]))
    print(summary("IPN acknowledgement (sequential)", latencies))
    # Throughput: the other half, as many payments at once as one instance serves.
    started = time.perf_counter()
    concurrent_ms: list[float] = []
    with ThreadPoolExecutor(REQUEST_CONCURRENCY) as pool:
        for ipns in pool.map(
            lambda p: np.steps(p[1], [{"status": "waiting"}, {"status": "finished"}]), prepared[half:]
        ):
            concurrent_ms += [float(i["elapsed_ms"]) for i in ipns if i["response_status"] == 200]
    elapsed = time.perf_counter() - started
    print(summary(f"IPN acknowledgement ({REQUEST_CONCURRENCY} concurrent)", concurrent_ms))
    print(
        f"{f'IPN throughput ({REQUEST_CONCURRENCY} concurrent senders)':<44} {len(concurrent_ms) / elapsed:7.1f} IPNs/s"
    )
    return latencies, concurrent_ms, len(concurrent_ms) / elapsed


def bench_webhook(endpoints: dict[str, Any], tg: TelegramControl, count: int) -> list[float]:
    users = [tg.user(f"Visitor{i}") for i in range(20)]
    for user in users:
        tg.say(user, "/help")
    url = endpoints["functions"]["telegram_webhook"]
    headers = {"X-Telegram-Bot-Api-Secret-Token": endpoints["telegram_webhook_secret"]}
    http = httpx.Client(timeout=10)
    latencies: list[float] = []
    for i in range(count):
        user = users[i % len(users)]
        if i % 2 == 0:  # /start <token>: reads the channel, sends the offer
            update = {
                "update_id": 1_000_000_000 + i,  # above every id the stand-in gives
                "message": {
                    "message_id": 10_000 + i,
                    "date": 0,
                    "chat": {"id": user, "type": "private"},
                    "from": {"id": user, "is_bot": False, "first_name": "V"},
                    "text": f"/start {TOKEN}",
                },
            }
        else:  # a tier paid in crypto: reads the channel, queues a task, answers the button
            update = {
                "update_id": 1_000_000_000 + i,  # above every id the stand-in gives
                "callback_query": {
                    "id": f"bench-{i}",
                    "from": {"id": user, "is_bot": False, "first_name": "V"},
                    "chat_instance": "b",
                    "data": f"pay:{TOKEN}:t1:c",  # the tier, paid in crypto
                    "message": {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}},
                },
            }
        started = time.perf_counter()
        response = http.post(url, json=update, headers=headers)
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    print(summary("telegram_webhook acknowledgement", latencies))
    return latencies


def bench_access(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, count: int
) -> list[float]:
    users = [tg.user(f"Buyer{i}") for i in range(count)]
    for user in users:
        tg.say(user, "/help")
    prepared = _prepare_orders(endpoints, users, np)
    times: list[float] = []
    for user, payment in prepared:
        np.steps(payment, [{"status": "confirming"}])
        started = time.perf_counter()
        np.steps(payment, [{"status": "finished"}])
        wait_for("the access message", functools.partial(_received, tg, user), every=0.01)
        times.append((time.perf_counter() - started) * 1000)
    print(summary("finished IPN -> access message in the chat", times))
    return times


def _received(tg: TelegramControl, user: int) -> bool:
    return any("Payment received" in (m.get("text") or "") for m in tg.transcript(user))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ipns", type=int, default=200)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--access", type=int, default=20)
    parser.add_argument("--port-base", type=int, default=BENCH_PORT_BASE)
    args = parser.parse_args()
    with private_stack(rate_limits=False, port_base=args.port_base) as stack:
        endpoints = stack.config.endpoints()
        tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
        setup_channel(endpoints, tg, TOKEN)
        print(f"payment path on the local stack ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
        bench_webhook(endpoints, tg, args.updates)
        bench_ipns(endpoints, tg, np, args.ipns)
        bench_access(endpoints, tg, np, args.access)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
