"""IPNs: signing (valid, or deliberately wrong for tests) and delivery to the receiver's URL.

``prepare_ipn`` is pure: it returns the outgoing IPN (exact body text and header value).
:class:`IpnSender` owns the HTTP client, POSTs IPNs, records each attempt in the stand-in's IPN log
and plays a payment's steps in the order asked.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from local.nowpayments_standin.jsjson import (
    js_json_stringify,
    nowpayments_signature,
    nowpayments_signed_text,
    python_signature,
)
from local.nowpayments_standin.model import (
    NowPaymentsStandin,
    Payment,
    now_iso,
    payment_api_view,
    round8,
    step_state,
)
from local.nowpayments_standin.validation import ValidationFailed

__all__ = ["SIGNATURE_MODES", "IpnSender", "prepare_ipn"]

SIGNATURE_MODES = ("valid", "wrong", "tampered", "missing", "python")


def _sign(body: dict[str, Any], mode: str, secret: str, wrong_secret: str) -> str | None:
    if mode == "missing":
        return None
    if mode == "wrong":
        return nowpayments_signature(body, wrong_secret)
    if mode == "python":
        return python_signature(body, secret)
    return nowpayments_signature(body, secret)


def _tampered(body: dict[str, Any], tamper: dict[str, Any] | None) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    if tamper:
        changed.update(tamper)
    elif "actually_paid" in changed:
        paid = max(float(changed.get("actually_paid") or 0), float(changed.get("pay_amount") or 0))
        changed["actually_paid"] = round8(paid * 10 or 1)
        changed["payment_status"] = "finished"
    else:
        changed["status"] = "FINISHED"
    return changed


def prepare_ipn(
    standin: NowPaymentsStandin,
    body: dict[str, Any],
    *,
    url: str,
    mode: str,
    tamper: dict[str, Any] | None = None,
    signature_value: str | None = None,
) -> dict[str, Any]:
    """Sign a body as asked (with the stand-in's IPN secret); returns the outgoing IPN."""
    if mode not in SIGNATURE_MODES:
        raise ValidationFailed(f"signature must be one of {', '.join(SIGNATURE_MODES)}, not {mode!r}")
    signature = _sign(body, mode, standin.ipn_secret, standin.wrong_secret)
    sent_body = _tampered(body, tamper) if mode == "tampered" else body
    if signature_value is not None:
        signature = signature_value
    return {
        "url": url,
        "signature_mode": mode,
        "body": js_json_stringify(sent_body),
        "signature": signature,
        "signed_text": nowpayments_signed_text(body),
    }


class IpnSender:
    """Delivers IPNs over HTTP while the app runs (its client lives in the app's lifespan)."""

    def __init__(
        self, standin: NowPaymentsStandin, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.standin = standin
        self._transport = transport  # tests hand in an httpx.MockTransport instead of the network
        self._client: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            trust_env=False, follow_redirects=False, transport=self._transport
        ) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the stand-in's HTTP client only exists while the app is running")
        return self._client

    async def deliver(self, outgoing: dict[str, Any], **meta: Any) -> dict[str, Any]:
        """POST one IPN and wait for the receiver's answer; records and returns the result."""
        headers = {"Content-Type": "application/json"}
        if outgoing["signature"] is not None:
            headers["x-nowpayments-sig"] = outgoing["signature"]
        record: dict[str, Any] = {"ipn_id": next(self.standin.ipn_ids), **meta, **outgoing}
        record["sent_at"] = now_iso()
        started = time.perf_counter()
        try:
            response = await self.client.post(
                outgoing["url"],
                content=outgoing["body"].encode("utf-8"),
                headers=headers,
                timeout=self.standin.ipn_timeout,
            )
            record["response_status"] = response.status_code
            record["response_body"] = response.text
            record["error"] = None
        except httpx.HTTPError as error:
            record["response_status"] = None
            record["response_body"] = None
            record["error"] = f"{type(error).__name__}: {error}"
        record["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.standin.ipns[record["ipn_id"]] = record
        return record

    async def deliver_copies(
        self, outgoing: dict[str, Any], copies: int, concurrent: bool, meta: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if concurrent:
            return list(
                await asyncio.gather(*(self.deliver(outgoing, **meta, copy=c) for c in range(copies)))
            )
        return [await self.deliver(outgoing, **meta, copy=c) for c in range(copies)]

    async def run_steps(self, payment: Payment, request_body: dict[str, Any]) -> dict[str, Any]:
        """Moves a payment through ``steps`` and sends their IPNs (see the README's control API)."""
        steps = request_body.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            raise ValidationFailed("steps must be a non-empty list of objects")
        order = request_body.get("send_order", list(range(len(steps))))
        if not isinstance(order, list) or sorted(order) != list(range(len(steps))):
            raise ValidationFailed("send_order must be a permutation of the step indices")
        concurrent_all = bool(request_body.get("concurrent", False))

        # 1. Build every step's state in logical order.
        states = []
        previous = payment.state
        for step in steps:
            duplicates = step.get("duplicates", 1)
            if not isinstance(duplicates, int) or duplicates < 0:
                raise ValidationFailed("duplicates must be an integer >= 0")
            previous = step_state(previous, step)
            states.append(previous)

        # 2. Prepare the IPNs (signing can fail validation before anything is sent).
        prepared: list[dict[str, Any] | None] = []
        for index, step in enumerate(steps):
            url = step.get("ipn_url") or payment.ipn_callback_url
            if not step.get("send_ipn", True):
                prepared.append(None)
                continue
            if not url:
                raise ValidationFailed(
                    "the payment has no ipn_callback_url (set one, or ipn_url in the step)"
                )
            body = dict(states[index])
            body.update(step.get("body_overrides") or {})
            prepared.append(
                prepare_ipn(
                    self.standin,
                    body,
                    url=url,
                    mode=step.get("signature", "valid"),
                    tamper=step.get("tamper"),
                    signature_value=step.get("signature_value"),
                )
            )

        payment.state = previous  # everything validated: commit the new logical state

        # 3. Deliver in send order; before step i goes out, the API has caught up to step i.
        applied = -1

        def catch_up(until: int) -> None:
            nonlocal applied
            for j in range(applied + 1, until + 1):
                payment.record_step(j, states[j], update_api=bool(steps[j].get("update_api", True)))
            applied = max(applied, until)

        def meta(index: int) -> dict[str, Any]:
            return {
                "kind": "payment",
                "payment_id": payment.payment_id,
                "step": index,
                "payment_status": states[index]["payment_status"],
            }

        results: list[dict[str, Any]] = []
        if concurrent_all:
            catch_up(len(steps) - 1)
            jobs = []
            for index in order:
                outgoing = prepared[index]
                if outgoing is None:
                    continue
                for c in range(steps[index].get("duplicates", 1)):
                    jobs.append(self.deliver(outgoing, **meta(index), copy=c))
            results = list(await asyncio.gather(*jobs))
        else:
            for index in order:
                catch_up(index)
                outgoing = prepared[index]
                if outgoing is None:
                    continue
                results.extend(
                    await self.deliver_copies(
                        outgoing,
                        steps[index].get("duplicates", 1),
                        bool(steps[index].get("concurrent")),
                        meta(index),
                    )
                )
        catch_up(len(steps) - 1)
        return {"payment": payment_api_view(payment.api_state), "ipns": results}
