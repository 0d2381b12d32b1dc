"""The control API (``/_control/...``): drive payments and payouts, replay IPNs, inject failures.

Each handler is a plain async function of a :class:`Control` (the state and the IPN sender) and a
``ControlCall`` (body, path and query as plain values) that answers JSON; ``control_routes`` wraps
them in HTTP. Errors answer ``{"error": "..."}``: 400 for a bad request, 404 for an unknown id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local.control_call import ControlCall, ControlError, control_endpoint
from local.nowpayments_standin.api import JSResponse
from local.nowpayments_standin.currencies import known
from local.nowpayments_standin.ipn import IpnSender, prepare_ipn
from local.nowpayments_standin.model import NowPaymentsStandin, Payment, payment_api_view
from local.nowpayments_standin.validation import ValidationFailed

JSON = dict[str, Any]


@dataclass
class Control:
    standin: NowPaymentsStandin
    ipns: IpnSender


ControlHandler = Callable[[Control, ControlCall], Awaitable[Any]]


def payment_view(payment: Payment) -> JSON:
    return {
        "payment_id": payment.payment_id,
        "invoice_id": payment.invoice_id,
        "ipn_callback_url": payment.ipn_callback_url,
        "api": payment_api_view(payment.api_state),
        "latest": payment.state,
        "history": payment.history,
    }


def _payment(ctx: Control, call: ControlCall) -> Payment:
    payment = ctx.standin.payments.get(int(call.path["payment_id"]))
    if payment is None:
        raise ControlError("no such payment", 404)
    return payment


# ------------------------------------------------------------------------------------ handlers


async def config(ctx: Control, call: ControlCall) -> JSON:
    s = ctx.standin
    return {
        "public_base_url": s.public_base(call.base_url),
        "email": s.email,
        "totp_secret": s.totp_secret,
        "ipn_timeout": s.ipn_timeout,
        "token_ttl": s.token_ttl,
        "payout_auto_finish_seconds": s.payout_auto_finish_seconds,
    }


async def reset(ctx: Control, call: ControlCall) -> JSON:
    ctx.standin.reset()
    return {"reset": True}


async def invoices(ctx: Control, call: ControlCall) -> JSON:
    return {"invoices": [i.api_view() for i in ctx.standin.invoices.values()]}


async def invoice(ctx: Control, call: ControlCall) -> JSON:
    found = ctx.standin.invoices.get(int(call.path["invoice_id"]))
    if found is None:
        raise ControlError("no such invoice", 404)
    payments = [p.payment_id for p in ctx.standin.invoice_payments(found.id)]
    return {"invoice": found.api_view(), "payment_ids": payments}


async def payments(ctx: Control, call: ControlCall) -> JSON:
    return {"payments": [payment_view(p) for p in ctx.standin.payments.values()]}


async def payment(ctx: Control, call: ControlCall) -> JSON:
    return payment_view(_payment(ctx, call))


async def create_payment(ctx: Control, call: ControlCall) -> JSON:
    invoice_id = call.path.get("invoice_id", call.body.get("invoice_id"))
    found = ctx.standin.invoices.get(int(invoice_id)) if invoice_id is not None else None
    if found is None:
        raise ControlError("no such invoice", 404)
    created = ctx.standin.create_payment(found, call.body)
    return {"payment_id": created.payment_id, "payment": payment_api_view(created.api_state)}


async def steps(ctx: Control, call: ControlCall) -> JSON:
    return await ctx.ipns.run_steps(_payment(ctx, call), call.body)


async def ipns(ctx: Control, call: ControlCall) -> JSON:
    records = list(ctx.standin.ipns.values())
    if "payment_id" in call.query:
        wanted = int(call.query["payment_id"])
        records = [r for r in records if r.get("payment_id") == wanted]
    return {"ipns": records}


async def replay(ctx: Control, call: ControlCall) -> JSON:
    original = ctx.standin.ipns.get(int(call.path["ipn_id"]))
    if original is None:
        raise ControlError("no such IPN", 404)
    body = call.body
    outgoing = {
        "url": body.get("url") or original["url"],
        "signature_mode": original["signature_mode"],
        "body": original["body"],
        "signature": original["signature"],
        "signed_text": original["signed_text"],
    }
    meta = {k: original.get(k) for k in ("kind", "payment_id", "step", "payment_status", "payout_id")}
    results = await ctx.ipns.deliver_copies(
        outgoing,
        int(body.get("copies", 1)),
        bool(body.get("concurrent")),
        {**meta, "replay_of": original["ipn_id"]},
    )
    return {"ipns": results}


async def sign(ctx: Control, call: ControlCall) -> JSON:
    payload = call.body.get("body")
    if not isinstance(payload, dict):
        raise ValidationFailed("body must be an object")
    return prepare_ipn(
        ctx.standin,
        payload,
        url=str(call.body.get("url", "")),
        mode=call.body.get("signature", "valid"),
        tamper=call.body.get("tamper"),
    )


async def failures(ctx: Control, call: ControlCall) -> JSON:
    return {"failures": [f.view() for f in ctx.standin.failures]}


async def add_failure(ctx: Control, call: ControlCall) -> JSON:
    return ctx.standin.add_failure(call.body).view()


async def clear_failures(ctx: Control, call: ControlCall) -> JSON:
    ctx.standin.failures.clear()
    return {"failures": []}


async def calls(ctx: Control, call: ControlCall) -> JSON:
    return {"calls": ctx.standin.calls}


async def payouts(ctx: Control, call: ControlCall) -> JSON:
    views = []
    for batch in ctx.standin.payouts.values():
        ctx.standin.advance_payouts(batch)
        views.append(
            {
                "id": batch.id,
                "verified": batch.verified_at is not None,
                "verify_failures": batch.verify_failures,
                "withdrawals": batch.withdrawals,
            }
        )
    return {"payouts": views}


async def payout_status(ctx: Control, call: ControlCall) -> JSON:
    found = ctx.standin.find_batch(call.path["payout_id"])
    if found is None:
        raise ControlError("no such payout", 404)
    body = call.body
    status = str(body.get("status", "")).upper()
    _, withdrawals = found
    results = []
    for withdrawal in withdrawals:
        ctx.standin.set_withdrawal_status(withdrawal, status, body.get("error", "stand-in failure"))
        url = body.get("ipn_url") or withdrawal["ipn_callback_url"]
        if body.get("send_ipn", True) and url:
            outgoing = prepare_ipn(
                ctx.standin, dict(withdrawal), url=url, mode=body.get("signature", "valid")
            )
            results.append(
                await ctx.ipns.deliver(
                    outgoing, kind="payout", payout_id=withdrawal["id"], payment_status=status
                )
            )
    return {"withdrawals": withdrawals, "ipns": results}


async def payout_minimums(ctx: Control, call: ControlCall) -> JSON:
    """``POST /_control/payout-minimums`` ``{"btc": 0.0001, ...}``: set minimum withdrawals."""
    for currency, value in call.body.items():
        ctx.standin.payout_minimums[str(currency).lower()] = float(value)
    return {"payout_minimums": ctx.standin.payout_minimums}


async def payment_minimums(ctx: Control, call: ControlCall) -> JSON:
    """``POST /_control/payment-minimums`` ``{"ltc": 3, ...}``: set coins' minimum payment in USD."""
    for currency, value in call.body.items():
        if known(str(currency)) is None:
            raise ValidationFailed(f"unknown currency {currency}")
        ctx.standin.payment_minimums_usd[str(currency).lower()] = float(value)
    return {"payment_minimums_usd": ctx.standin.payment_minimums_usd}


async def merchant_coins(ctx: Control, call: ControlCall) -> JSON:
    """``POST /_control/merchant-coins`` ``{"coins": ["btc", "usdttrc20"]}``: the coins the
    account accepts (`GET /v1/merchant/coins`)."""
    coins = call.body.get("coins")
    if not isinstance(coins, list) or not all(isinstance(c, str) and known(c) for c in coins):
        raise ValidationFailed('"coins" must be a list of known currency codes')
    ctx.standin.merchant_coins = [c.lower() for c in coins]
    return {"merchant_coins": ctx.standin.merchant_coins}


async def credit(ctx: Control, call: ControlCall) -> JSON:
    """``POST /_control/balance`` ``{"usdttrc20": 100}``: add to the account balance."""
    for currency, value in call.body.items():
        key = str(currency).lower()
        ctx.standin.credits[key] = ctx.standin.credits.get(key, 0.0) + float(value)
    return {"balance": ctx.standin.balance()}


# ------------------------------------------------------------------------------------ HTTP


def _endpoint(ctx: Control, handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    return control_endpoint(
        lambda call: handler(ctx, call),
        JSResponse,
        lambda message: {"error": message},
        bad_requests=(ValidationFailed,),
    )


def control_routes(ctx: Control) -> list[Route]:
    def route(path: str, handler: ControlHandler, method: str = "GET") -> Route:
        return Route(f"/_control{path}", _endpoint(ctx, handler), methods=[method])

    return [
        route("/config", config),
        route("/reset", reset, "POST"),
        route("/invoices", invoices),
        route("/invoices/{invoice_id:int}", invoice),
        route("/invoices/{invoice_id:int}/payments", create_payment, "POST"),
        route("/payments", payments),
        route("/payments", create_payment, "POST"),
        route("/payments/{payment_id:int}", payment),
        route("/payments/{payment_id:int}/steps", steps, "POST"),
        route("/ipns", ipns),
        route("/ipns/{ipn_id:int}/replay", replay, "POST"),
        route("/sign", sign, "POST"),
        route("/failures", failures),
        route("/failures", add_failure, "POST"),
        route("/failures", clear_failures, "DELETE"),
        route("/calls", calls),
        route("/payouts", payouts),
        route("/payouts/{payout_id}/status", payout_status, "POST"),
        route("/payout-minimums", payout_minimums, "POST"),
        route("/payment-minimums", payment_minimums, "POST"),
        route("/merchant-coins", merchant_coins, "POST"),
        route("/balance", credit, "POST"),
    ]
