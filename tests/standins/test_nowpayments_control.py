"""The NowPayments stand-in's control handlers, called one by one (no HTTP server: IPNs go to a mock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from local.control_call import ControlCall, ControlError
from local.nowpayments_standin import control
from local.nowpayments_standin.control import Control
from local.nowpayments_standin.ipn import IpnSender
from local.nowpayments_standin.model import InvoiceRequest, NowPaymentsStandin, WithdrawalRequest
from local.nowpayments_standin.validation import ValidationFailed
from tests.standins.test_nowpayments_standin import API_KEY, IPN_SECRET, verify_ipn

T = TypeVar("T")
RECEIVER = "http://receiver.test/ipn"


class Receiver:
    """Answers IPNs like TelePay's ipn_handler would, and keeps what it received."""

    def __init__(self) -> None:
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        valid = verify_ipn(request.content, request.headers.get("x-nowpayments-sig"))
        return httpx.Response(200 if valid else 401, text="ok" if valid else "bad signature")

    def statuses(self) -> list[str]:
        return [json.loads(r.content)["payment_status"] for r in self.received]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def ctx(receiver: Receiver) -> Control:
    standin = NowPaymentsStandin(API_KEY, IPN_SECRET, totp_secret="JBSWY3DPEHPK3PXP")
    return Control(standin, IpnSender(standin, transport=httpx.MockTransport(receiver)))


def run(ctx: Control, handler: Callable[[Control, ControlCall], Awaitable[T]], call: ControlCall) -> T:
    """Runs one handler as the app would: inside the sender's lifespan."""

    async def main() -> T:
        async with ctx.ipns.running():
            return await handler(ctx, call)

    return asyncio.run(main())


def invoice_id(ctx: Control, ipn_callback_url: str | None = RECEIVER) -> int:
    request = InvoiceRequest(
        price_amount=3, price_currency="usd", order_id="order-1", ipn_callback_url=ipn_callback_url
    )
    return ctx.standin.create_invoice(request, "http://standin.test").id


def payment_id(ctx: Control, **spec: Any) -> int:
    answer = run(ctx, control.create_payment, ControlCall(body=spec, path={"invoice_id": invoice_id(ctx)}))
    return int(answer["payment_id"])


def test_config_names_the_public_base(ctx: Control) -> None:
    answer = run(ctx, control.config, ControlCall(base_url="http://127.0.0.1:9/"))
    assert answer["public_base_url"] == "http://127.0.0.1:9"
    assert answer["totp_secret"] == "JBSWY3DPEHPK3PXP"


def test_invoice_lists_its_payments(ctx: Control) -> None:
    invoice = invoice_id(ctx)
    with pytest.raises(ControlError) as unknown:
        run(ctx, control.invoice, ControlCall(path={"invoice_id": invoice + 1}))
    assert unknown.value.status == 404
    created = run(ctx, control.create_payment, ControlCall(body={"invoice_id": invoice}))
    answer = run(ctx, control.invoice, ControlCall(path={"invoice_id": invoice}))
    assert answer["invoice"]["invoice_url"] == f"http://standin.test/payment/?iid={invoice}"
    assert answer["payment_ids"] == [created["payment_id"]]


def test_create_payment_prices_in_the_pay_currency(ctx: Control) -> None:
    answer = run(
        ctx,
        control.create_payment,
        ControlCall(body={"pay_currency": "BTC"}, path={"invoice_id": invoice_id(ctx)}),
    )
    assert answer["payment"]["pay_currency"] == "btc"
    assert answer["payment"]["pay_amount"] == 0.00005
    assert answer["payment"]["payment_status"] == "waiting"
    with pytest.raises(ValidationFailed, match="unknown payment status"):
        run(
            ctx,
            control.create_payment,
            ControlCall(body={"status": "paid"}, path={"invoice_id": invoice_id(ctx)}),
        )


def test_steps_send_signed_ipns_in_order(ctx: Control, receiver: Receiver) -> None:
    payment = payment_id(ctx)
    steps = [{"status": "confirming"}, {"status": "finished", "duplicates": 2}]
    answer = run(ctx, control.steps, ControlCall(body={"steps": steps}, path={"payment_id": payment}))
    assert receiver.statuses() == ["confirming", "finished", "finished"]
    assert [ipn["response_status"] for ipn in answer["ipns"]] == [200, 200, 200]
    assert answer["payment"]["payment_status"] == "finished"
    view = run(ctx, control.payment, ControlCall(path={"payment_id": payment}))
    assert [h["status"] for h in view["history"]] == ["confirming", "finished"]
    assert view["latest"]["actually_paid"] == view["latest"]["pay_amount"]


def test_steps_that_do_not_validate_change_nothing(ctx: Control, receiver: Receiver) -> None:
    payment = payment_id(ctx)
    body = {"steps": [{"status": "finished"}, {"status": "finished", "signature": "forged"}]}
    with pytest.raises(ValidationFailed, match="signature must be one of"):
        run(ctx, control.steps, ControlCall(body=body, path={"payment_id": payment}))
    with pytest.raises(ValidationFailed, match="permutation"):
        run(
            ctx, control.steps, ControlCall(body={**body, "send_order": [0, 0]}, path={"payment_id": payment})
        )
    assert ctx.standin.payments[payment].state["payment_status"] == "waiting"
    assert receiver.received == []


def test_a_wrong_signature_is_refused_by_the_receiver(ctx: Control) -> None:
    payment = payment_id(ctx)
    body = {"steps": [{"status": "finished", "signature": "wrong"}]}
    (ipn,) = run(ctx, control.steps, ControlCall(body=body, path={"payment_id": payment}))["ipns"]
    assert (ipn["signature_mode"], ipn["response_status"]) == ("wrong", 401)


def test_replay_sends_the_same_bytes_again(ctx: Control, receiver: Receiver) -> None:
    payment = payment_id(ctx)
    (first,) = run(
        ctx,
        control.steps,
        ControlCall(body={"steps": [{"status": "finished"}]}, path={"payment_id": payment}),
    )["ipns"]
    replayed = run(ctx, control.replay, ControlCall(body={"copies": 2}, path={"ipn_id": first["ipn_id"]}))[
        "ipns"
    ]
    assert [r["replay_of"] for r in replayed] == [first["ipn_id"]] * 2
    assert {r.content for r in receiver.received} == {first["body"].encode()}
    listed = run(ctx, control.ipns, ControlCall(query={"payment_id": str(payment)}))["ipns"]
    assert len(listed) == 3
    with pytest.raises(ControlError):
        run(ctx, control.replay, ControlCall(path={"ipn_id": 999}))


def test_sign_prepares_without_sending(ctx: Control, receiver: Receiver) -> None:
    answer = run(
        ctx, control.sign, ControlCall(body={"body": {"b": 1, "a": 0.00005}, "signature": "missing"})
    )
    assert answer["signature"] is None
    assert answer["signed_text"] == '{"a":0.00005,"b":1}'
    with pytest.raises(ValidationFailed, match="body must be an object"):
        run(ctx, control.sign, ControlCall(body={"body": [1]}))
    assert receiver.received == []


def test_failure_rules_are_added_listed_and_cleared(ctx: Control) -> None:
    with pytest.raises(ValidationFailed, match="mode must be one of"):
        run(ctx, control.add_failure, ControlCall(body={"mode": "explode"}))
    rule = run(
        ctx, control.add_failure, ControlCall(body={"mode": "error", "path": "/v1/invoice", "count": 2})
    )
    assert rule == {
        "id": 1,
        "mode": "error",
        "remaining": 2,
        "method": None,
        "path": "/v1/invoice",
        "seconds": 0.0,
        "status": 500,
    }
    assert run(ctx, control.failures, ControlCall())["failures"] == [rule]
    assert run(ctx, control.clear_failures, ControlCall()) == {"failures": []}


def test_payout_status_finishes_and_tells_the_receiver(ctx: Control, receiver: Receiver) -> None:
    item = WithdrawalRequest("bc1qaddress", "btc", 0.001, RECEIVER, None, None, None)
    batch = ctx.standin.create_payout([item, item])
    with pytest.raises(ValidationFailed, match="status must be one of"):
        run(ctx, control.payout_status, ControlCall(body={"status": "lost"}, path={"payout_id": batch.id}))
    one = batch.withdrawals[0]["id"]
    answer = run(
        ctx, control.payout_status, ControlCall(body={"status": "finished"}, path={"payout_id": one})
    )
    (withdrawal,) = answer["withdrawals"]
    assert withdrawal["status"] == "FINISHED" and withdrawal["hash"]
    assert [ipn["response_status"] for ipn in answer["ipns"]] == [200]
    payouts = run(ctx, control.payouts, ControlCall())["payouts"]
    assert [w["status"] for w in payouts[0]["withdrawals"]] == ["FINISHED", "WAITING"]


def test_reset_forgets_everything(ctx: Control) -> None:
    payment_id(ctx)
    assert run(ctx, control.reset, ControlCall()) == {"reset": True}
    assert run(ctx, control.invoices, ControlCall()) == {"invoices": []}
    assert run(ctx, control.payments, ControlCall()) == {"payments": []}
