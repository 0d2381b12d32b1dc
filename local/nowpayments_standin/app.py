"""The NowPayments stand-in: API under ``/v1``, hosted invoice page, IPN sender and ``/_control`` API.

See ``README.md`` in this package for every endpoint and the control API's JSON.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import html
import itertools
import json
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from local.nowpayments_standin.jsjson import (
    js_json_stringify,
    js_number_to_string,
    nowpayments_signature,
    nowpayments_signed_text,
    python_signature,
)

__all__ = ["PAYMENT_STATUSES", "NowPaymentsStandin", "create_app"]

PAYMENT_STATUSES = (
    "waiting",
    "confirming",
    "confirmed",
    "sending",
    "partially_paid",
    "finished",
    "failed",
    "refunded",
    "expired",
)
PAYOUT_STATUSES = ("CREATING", "WAITING", "PROCESSING", "SENDING", "FINISHED", "FAILED", "REJECTED")
SIGNATURE_MODES = ("valid", "wrong", "tampered", "missing", "python")
FAILURE_MODES = ("error", "slow", "invalid_api_key")

# Rough USD value of one unit, for default pay amounts only.
_USD_PER_UNIT = {
    "usd": 1.0,
    "eur": 1.08,
    "gbp": 1.27,
    "btc": 60000.0,
    "eth": 3000.0,
    "ltc": 80.0,
    "trx": 0.12,
    "ton": 5.0,
    "sol": 150.0,
    "xmr": 150.0,
    "doge": 0.15,
    "usdt": 1.0,
    "usdttrc20": 1.0,
    "usdterc20": 1.0,
    "usdc": 1.0,
}
_DEFAULT_VERIFY_ATTEMPTS = 10
DEFAULT_EMAIL = "merchant@example.com"
DEFAULT_PASSWORD = "password"

Handler = Callable[[Request], Awaitable[Response]]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _round8(x: float) -> float:
    return round(float(x), 8)


class JSResponse(Response):
    """JSON written the way a Node.js server writes it (``0.00005``, not ``5e-05``)."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return js_json_stringify(content).encode("utf-8")


def np_error(status: int, code: str, message: str) -> JSResponse:
    """An error in NowPayments' shape."""
    return JSResponse({"status": False, "statusCode": status, "code": code, "message": message}, status)


def _control_error(status: int, message: str) -> JSResponse:
    return JSResponse({"error": message}, status)


class ValidationFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fake_address(currency: str) -> str:
    if currency in ("eth", "usdterc20", "usdc"):
        return "0x" + secrets.token_hex(20)
    if currency in ("trx", "usdttrc20"):
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        return "T" + "".join(secrets.choice(alphabet) for _ in range(33))
    alphabet = "023456789acdefghjklmnpqrstuvwxyz"
    return "bc1q" + "".join(secrets.choice(alphabet) for _ in range(38))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------------------------------
# Joi-like validation, messages as NowPayments (Joi) writes them.


def _label(name: str) -> str:
    return f'"{name}"'


def _number(body: dict[str, Any], name: str, *, required: bool, positive: bool = True) -> float | int | None:
    if name not in body or body[name] is None:
        if required:
            raise ValidationFailed(f"{_label(name)} is required")
        return None
    value = body[name]
    if isinstance(value, str):  # Joi converts numeric strings
        try:
            value = float(value.strip()) if value.strip() else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise ValidationFailed(f"{_label(name)} must be a number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{_label(name)} must be a number")
    if positive and value <= 0:
        raise ValidationFailed(f"{_label(name)} must be a positive number")
    return value


def _string(
    body: dict[str, Any], name: str, *, required: bool = False, allow_null: bool = True
) -> str | None:
    if name not in body or (body[name] is None and allow_null and not required):
        if required:
            raise ValidationFailed(f"{_label(name)} is required")
        return None
    value = body[name]
    if value is None:
        raise ValidationFailed(f"{_label(name)} must be a string")
    if not isinstance(value, str):
        raise ValidationFailed(f"{_label(name)} must be a string")
    if value == "":
        raise ValidationFailed(f"{_label(name)} is not allowed to be empty")
    return value


def _uri(body: dict[str, Any], name: str) -> str | None:
    value = _string(body, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"{_label(name)} must be a valid uri")
    return value


def _boolean(body: dict[str, Any], name: str) -> bool | None:
    if name not in body or body[name] is None:
        return None
    value = body[name]
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not isinstance(value, bool):
        raise ValidationFailed(f"{_label(name)} must be a boolean")
    return value


def _currency(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = _string(body, name, required=required)
    if value is None:
        return None
    if not value.isalnum() or not 2 <= len(value) <= 20:
        raise ValidationFailed(f"{_label(name)} is invalid")
    return value.lower()


# --------------------------------------------------------------------------------------------------
# State


@dataclass
class Invoice:
    id: int
    token_id: str
    price_amount: float | int
    price_currency: str
    pay_currency: str | None
    order_id: str | None
    order_description: str | None
    ipn_callback_url: str | None
    success_url: str | None
    cancel_url: str | None
    partially_paid_url: str | None
    is_fixed_rate: bool
    is_fee_paid_by_user: bool
    invoice_url: str
    created_at: str
    updated_at: str

    def api_view(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "token_id": self.token_id,
            "order_id": self.order_id,
            "order_description": self.order_description,
            "price_amount": js_number_to_string(self.price_amount),
            "price_currency": self.price_currency,
            "pay_currency": self.pay_currency,
            "ipn_callback_url": self.ipn_callback_url,
            "invoice_url": self.invoice_url,
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            "partially_paid_url": self.partially_paid_url,
            "payout_currency": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "is_fixed_rate": self.is_fixed_rate,
            "is_fee_paid_by_user": self.is_fee_paid_by_user,
        }


@dataclass
class Payment:
    payment_id: int
    invoice_id: int
    ipn_callback_url: str | None
    state: dict[str, Any]  # latest logical state, IPN-shaped (natural key order)
    api_state: dict[str, Any]  # what GET /v1/payment returns (a snapshot of some state)
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FailureRule:
    id: int
    mode: str
    remaining: int
    method: str | None
    path: str | None
    seconds: float
    status: int

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and not path.startswith(self.path))

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "remaining": self.remaining,
            "method": self.method,
            "path": self.path,
            "seconds": self.seconds,
            "status": self.status,
        }


@dataclass
class PayoutBatch:
    id: str
    withdrawals: list[dict[str, Any]]
    created_at: str
    verified_at: float | None = None
    verify_failures: int = 0


def _payment_api_view(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "payment_id": state["payment_id"],
        "invoice_id": state["invoice_id"],
        "payment_status": state["payment_status"],
        "pay_address": state["pay_address"],
        "payin_extra_id": state["payin_extra_id"],
        "price_amount": state["price_amount"],
        "price_currency": state["price_currency"],
        "pay_amount": state["pay_amount"],
        "actually_paid": state["actually_paid"],
        "pay_currency": state["pay_currency"],
        "order_id": state["order_id"],
        "order_description": state["order_description"],
        "purchase_id": state["purchase_id"],
        "outcome_amount": state["outcome_amount"],
        "outcome_currency": state["outcome_currency"],
        "payout_hash": None,
        "payin_hash": None,
        "created_at": state["created_at"],
        "updated_at": state["updated_at"],
        "type": "crypto2crypto",
    }


class NowPaymentsStandin:
    """All state and behaviour; ``create_app`` wraps one instance in a Starlette app."""

    def __init__(
        self,
        api_key: str,
        ipn_secret: str,
        *,
        email: str = DEFAULT_EMAIL,
        password: str = DEFAULT_PASSWORD,
        totp_secret: str | None = None,
        public_base_url: str | None = None,
        ipn_timeout: float = 10.0,
        token_ttl: float = 300.0,
        payout_auto_finish_seconds: float | None = None,
        wrong_secret: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.ipn_secret = ipn_secret
        self.wrong_secret = wrong_secret or ("wrong-" + ipn_secret)
        self.email = email
        self.password = password
        self.totp_secret = totp_secret or pyotp.random_base32()
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.ipn_timeout = ipn_timeout
        self.token_ttl = token_ttl
        self.payout_auto_finish_seconds = payout_auto_finish_seconds
        self._jwt_key = secrets.token_bytes(32)
        self._client: httpx.AsyncClient | None = None
        base = 4_000_000_000 + secrets.randbelow(500_000_000)
        self._invoice_ids = itertools.count(base)
        self._payment_ids = itertools.count(base + 1_000_000_000)
        self._purchase_ids = itertools.count(base + 2_000_000_000)
        self._payout_ids = itertools.count(base + 3_000_000_000)
        self._ipn_ids = itertools.count(1)
        self._failure_ids = itertools.count(1)
        self._call_seq = itertools.count(1)
        self.reset()

    # ---------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        self.invoices: dict[int, Invoice] = {}
        self.payments: dict[int, Payment] = {}
        self.ipns: dict[int, dict[str, Any]] = {}
        self.failures: list[FailureRule] = []
        self.calls: list[dict[str, Any]] = []
        self.payouts: dict[str, PayoutBatch] = {}

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
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

    # ---------------------------------------------------------------- API plumbing

    def _take_failure(self, request: Request) -> FailureRule | None:
        for rule in self.failures:
            if rule.matches(request.method, request.url.path):
                rule.remaining -= 1
                return rule
        return None

    def api(self, handler: Handler) -> Handler:
        """Wrap a /v1 handler: injected failures first, then the call log."""

        async def endpoint(request: Request) -> Response:
            rule = self._take_failure(request)
            injected: str | None = None
            response: Response | None = None
            if rule is not None:
                injected = rule.mode
                if rule.mode == "slow":
                    await asyncio.sleep(rule.seconds)
                elif rule.mode == "invalid_api_key":
                    response = np_error(403, "INVALID_API_KEY", "Invalid api key")
                else:
                    response = np_error(rule.status, "INTERNAL_ERROR", "Internal server error")
            if response is None:
                response = await handler(request)
            self.calls.append(
                {
                    "seq": next(self._call_seq),
                    "time": _now_iso(),
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "status": response.status_code,
                    "injected": injected,
                }
            )
            return response

        return endpoint

    def _check_api_key(self, request: Request) -> Response | None:
        key = request.headers.get("x-api-key")
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return np_error(403, "INVALID_API_KEY", "Invalid api key")
        return None

    async def _json_object(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValidationFailed(f"Unexpected token in JSON: {error.msg}") from error
        if not isinstance(body, dict):
            raise ValidationFailed('"value" must be of type object')
        return body

    def _issue_token(self) -> str:
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(
            json.dumps(
                {"id": "standin-merchant", "email": self.email, "iat": now, "exp": now + int(self.token_ttl)},
                separators=(",", ":"),
            ).encode()
        )
        signature = _b64url(hmac.new(self._jwt_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def _check_bearer(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return np_error(
                401, "AUTH_REQUIRED", "Authorization header is empty (Bearer JWTtoken is required)"
            )
        token = auth[7:].strip()
        try:
            header, payload, signature = token.split(".")
            expected = _b64url(
                hmac.new(self._jwt_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            )
            if not hmac.compare_digest(expected, signature):
                raise ValueError("bad signature")
            claims = json.loads(_b64url_decode(payload))
        except (ValueError, UnicodeDecodeError):
            return np_error(401, "INVALID_TOKEN", "invalid token")
        if float(claims.get("exp", 0)) < time.time():
            return np_error(401, "INVALID_TOKEN", "jwt expired")
        return None

    # ---------------------------------------------------------------- /v1 endpoints

    async def v1_status(self, request: Request) -> Response:
        return JSResponse({"message": "OK"})

    async def v1_create_invoice(self, request: Request) -> Response:
        if (denied := self._check_api_key(request)) is not None:
            return denied
        try:
            body = await self._json_object(request)
            price_amount = _number(body, "price_amount", required=True)
            price_currency = _currency(body, "price_currency", required=True)
            pay_currency = _currency(body, "pay_currency", required=False)
            ipn_callback_url = _uri(body, "ipn_callback_url")
            order_id = _string(body, "order_id")
            order_description = _string(body, "order_description")
            success_url = _uri(body, "success_url")
            cancel_url = _uri(body, "cancel_url")
            partially_paid_url = _uri(body, "partially_paid_url")
            is_fixed_rate = _boolean(body, "is_fixed_rate")
            is_fee_paid_by_user = _boolean(body, "is_fee_paid_by_user")
        except ValidationFailed as failure:
            return np_error(400, "INVALID_REQUEST_PARAMS", failure.message)
        assert price_amount is not None and price_currency is not None
        invoice_id = next(self._invoice_ids)
        base = self.public_base_url or str(request.base_url).rstrip("/")
        now = _now_iso()
        invoice = Invoice(
            id=invoice_id,
            token_id=secrets.token_urlsafe(8)[:10],
            price_amount=price_amount,
            price_currency=price_currency,
            pay_currency=pay_currency,
            order_id=order_id,
            order_description=order_description,
            ipn_callback_url=ipn_callback_url,
            success_url=success_url,
            cancel_url=cancel_url,
            partially_paid_url=partially_paid_url,
            is_fixed_rate=bool(is_fixed_rate),
            is_fee_paid_by_user=bool(is_fee_paid_by_user),
            invoice_url=f"{base}/payment/?iid={invoice_id}",
            created_at=now,
            updated_at=now,
        )
        self.invoices[invoice_id] = invoice
        return JSResponse(invoice.api_view())

    async def v1_get_payment(self, request: Request) -> Response:
        if (denied := self._check_api_key(request)) is not None:
            return denied
        raw_id = request.path_params["payment_id"]
        if not raw_id.isdigit():
            return np_error(400, "INVALID_REQUEST_PARAMS", "Payment id must be a number")
        payment = self.payments.get(int(raw_id))
        if payment is None:
            return np_error(404, "PAYMENT_NOT_FOUND", f"Payment {raw_id} not found")
        return JSResponse(_payment_api_view(payment.api_state))

    async def v1_auth(self, request: Request) -> Response:
        try:
            body = await self._json_object(request)
            email = _string(body, "email", required=True)
            password = _string(body, "password", required=True)
        except ValidationFailed as failure:
            return np_error(400, "INVALID_REQUEST_PARAMS", failure.message)
        assert email is not None and password is not None
        if not (
            hmac.compare_digest(email.lower().encode(), self.email.lower().encode())
            and hmac.compare_digest(password.encode(), self.password.encode())
        ):
            return np_error(401, "INVALID_CREDENTIALS", "Invalid email or password")
        return JSResponse({"token": self._issue_token()})

    async def v1_create_payout(self, request: Request) -> Response:
        if (denied := self._check_api_key(request)) is not None:
            return denied
        if (denied := self._check_bearer(request)) is not None:
            return denied
        try:
            body = await self._json_object(request)
            batch_ipn = _uri(body, "ipn_callback_url")
            withdrawals = body.get("withdrawals")
            if withdrawals is None:
                raise ValidationFailed('"withdrawals" is required')
            if not isinstance(withdrawals, list):
                raise ValidationFailed('"withdrawals" must be an array')
            if not withdrawals:
                raise ValidationFailed('"withdrawals" must contain at least 1 items')
            parsed = []
            for index, item in enumerate(withdrawals):
                prefix = f"withdrawals[{index}]"
                if not isinstance(item, dict):
                    raise ValidationFailed(f'"{prefix}" must be of type object')
                labelled = {f"{prefix}.{k}": v for k, v in item.items()}
                address = _string(labelled, f"{prefix}.address", required=True)
                currency = _currency(labelled, f"{prefix}.currency", required=True)
                amount = _number(labelled, f"{prefix}.amount", required=True)
                ipn = _uri(labelled, f"{prefix}.ipn_callback_url") or batch_ipn
                extra_id = _string(labelled, f"{prefix}.extra_id")
                description = _string(labelled, f"{prefix}.payout_description")
                unique_id = _string(labelled, f"{prefix}.unique_external_id")
                parsed.append((address, currency, amount, ipn, extra_id, description, unique_id))
        except ValidationFailed as failure:
            return np_error(400, "INVALID_REQUEST_PARAMS", failure.message)
        batch_id = str(next(self._payout_ids))
        now = _now_iso()
        records = []
        for address, currency, amount, ipn, extra_id, description, unique_id in parsed:
            assert amount is not None
            records.append(
                {
                    "is_request_payouts": False,
                    "id": str(next(self._payout_ids)),
                    "address": address,
                    "currency": currency,
                    "amount": js_number_to_string(amount),
                    "batch_withdrawal_id": batch_id,
                    "ipn_callback_url": ipn,
                    "status": "WAITING",
                    "extra_id": extra_id,
                    "hash": None,
                    "error": None,
                    "payout_description": description,
                    "unique_external_id": unique_id,
                    "created_at": now,
                    "requested_at": None,
                    "updated_at": None,
                }
            )
        batch = PayoutBatch(id=batch_id, withdrawals=records, created_at=now)
        self.payouts[batch_id] = batch
        return JSResponse({"id": batch_id, "withdrawals": records})

    def _find_batch(self, payout_id: str) -> tuple[PayoutBatch, list[dict[str, Any]]] | None:
        batch = self.payouts.get(payout_id)
        if batch is not None:
            return batch, batch.withdrawals
        for batch in self.payouts.values():
            for withdrawal in batch.withdrawals:
                if withdrawal["id"] == payout_id:
                    return batch, [withdrawal]
        return None

    def _advance_payouts(self, batch: PayoutBatch) -> None:
        """Automatic PROCESSING -> FINISHED after ``payout_auto_finish_seconds`` (evaluated lazily)."""
        delay = self.payout_auto_finish_seconds
        if delay is None or batch.verified_at is None or time.time() < batch.verified_at + delay:
            return
        for withdrawal in batch.withdrawals:
            if withdrawal["status"] == "PROCESSING":
                withdrawal["status"] = "FINISHED"
                withdrawal["hash"] = secrets.token_hex(32)
                withdrawal["updated_at"] = _now_iso()

    async def v1_verify_payout(self, request: Request) -> Response:
        if (denied := self._check_api_key(request)) is not None:
            return denied
        if (denied := self._check_bearer(request)) is not None:
            return denied
        batch = self.payouts.get(request.path_params["batch_id"])
        if batch is None:
            return np_error(404, "PAYOUT_NOT_FOUND", "Payout not found")
        try:
            body = await self._json_object(request)
            code = body.get("verification_code")
            if code is None:
                raise ValidationFailed('"verification_code" is required')
            if isinstance(code, int) and not isinstance(code, bool):
                code = str(code).zfill(6)
            if not isinstance(code, str):
                raise ValidationFailed('"verification_code" must be a string')
        except ValidationFailed as failure:
            return np_error(400, "INVALID_REQUEST_PARAMS", failure.message)
        if batch.verified_at is not None:
            return np_error(400, "PAYOUT_ALREADY_VERIFIED", "Payout is already verified")
        if batch.verify_failures >= _DEFAULT_VERIFY_ATTEMPTS:
            return np_error(400, "VERIFICATION_ATTEMPTS_EXCEEDED", "Too many verification attempts")
        if not pyotp.TOTP(self.totp_secret).verify(code.strip(), valid_window=1):
            batch.verify_failures += 1
            return np_error(400, "INVALID_VERIFICATION_CODE", "Invalid verification code")
        batch.verified_at = time.time()
        now = _now_iso()
        for withdrawal in batch.withdrawals:
            withdrawal["status"] = "PROCESSING"
            withdrawal["requested_at"] = now
            withdrawal["updated_at"] = now
        return JSResponse("OK")

    async def v1_get_payout(self, request: Request) -> Response:
        if (denied := self._check_api_key(request)) is not None:
            return denied
        found = self._find_batch(request.path_params["payout_id"])
        if found is None:
            return np_error(404, "PAYOUT_NOT_FOUND", "Payout not found")
        batch, withdrawals = found
        self._advance_payouts(batch)
        return JSResponse(withdrawals)

    async def v1_not_found(self, request: Request) -> Response:
        return np_error(404, "NOT_FOUND", f"Cannot {request.method} {request.url.path}")

    # ---------------------------------------------------------------- hosted invoice page

    async def invoice_page(self, request: Request) -> Response:
        raw = request.query_params.get("iid", "")
        invoice = self.invoices.get(int(raw)) if raw.isdigit() else None
        if invoice is None:
            return HTMLResponse(
                "<!doctype html><title>Invoice not found</title><h1>Invoice not found</h1>", 404
            )
        payments = [p for p in self.payments.values() if p.invoice_id == invoice.id]
        status = payments[-1].api_state["payment_status"] if payments else "waiting"
        esc = html.escape
        page = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>NOWPayments stand-in invoice {invoice.id}</title></head><body>"
            f"<h1>Invoice {invoice.id}</h1>"
            f"<p>Amount: {esc(js_number_to_string(invoice.price_amount))} {esc(invoice.price_currency.upper())}</p>"
            f"<p>Order: {esc(invoice.order_id or '')} {esc(invoice.order_description or '')}</p>"
            f"<p>Status: <span id='status'>{esc(status)}</span></p>"
            "<p>This is the local NowPayments stand-in: payments are driven through its /_control API.</p>"
            "</body></html>"
        )
        return HTMLResponse(page)

    async def healthz(self, request: Request) -> Response:
        return JSResponse({"status": "ok"})

    # ---------------------------------------------------------------- payments and IPNs

    def create_payment(self, invoice: Invoice, spec: dict[str, Any]) -> Payment:
        pay_currency = str(spec.get("pay_currency") or invoice.pay_currency or "btc").lower()
        price_amount = float(spec.get("price_amount", invoice.price_amount))
        if spec.get("pay_amount") is not None:
            pay_amount = _round8(spec["pay_amount"])
        else:
            usd = price_amount * _USD_PER_UNIT.get(invoice.price_currency, 1.0)
            pay_amount = _round8(usd / _USD_PER_UNIT.get(pay_currency, 1.0))
        status = spec.get("status", "waiting")
        if status not in PAYMENT_STATUSES:
            raise ValidationFailed(f"unknown payment status {status!r}")
        now = _now_iso()
        payment_id = next(self._payment_ids)
        price_value: float | int = spec.get("price_amount", invoice.price_amount)
        state: dict[str, Any] = {
            "payment_id": payment_id,
            "parent_payment_id": None,
            "invoice_id": invoice.id,
            "payment_status": status,
            "pay_address": spec.get("pay_address") or _fake_address(pay_currency),
            "payin_extra_id": None,
            "price_amount": price_value,
            "price_currency": invoice.price_currency,
            "pay_amount": pay_amount,
            "actually_paid": _round8(spec.get("actually_paid", 0)),
            "actually_paid_at_fiat": 0,
            "pay_currency": pay_currency,
            "order_id": spec.get("order_id", invoice.order_id),
            "order_description": spec.get("order_description", invoice.order_description),
            "purchase_id": str(next(self._purchase_ids)),
            "created_at": now,
            "updated_at": now,
            "outcome_amount": 0,
            "outcome_currency": str(spec.get("outcome_currency") or pay_currency).lower(),
            "fee": {"currency": pay_currency, "depositFee": 0, "withdrawalFee": 0, "serviceFee": 0},
        }
        self._recompute(state, spec)
        payment = Payment(
            payment_id=payment_id,
            invoice_id=invoice.id,
            ipn_callback_url=spec.get("ipn_callback_url") or invoice.ipn_callback_url,
            state=state,
            api_state=copy.deepcopy(state),
        )
        self.payments[payment_id] = payment
        return payment

    @staticmethod
    def _recompute(state: dict[str, Any], step: dict[str, Any]) -> None:
        """Derived amounts; explicit values in ``step`` win."""
        paid = float(state["actually_paid"])
        pay_amount = float(state["pay_amount"])
        basis = paid if paid > 0 else pay_amount
        withdrawal_fee = _round8(basis * 0.005)
        if "actually_paid_at_fiat" in step:
            state["actually_paid_at_fiat"] = step["actually_paid_at_fiat"]
        else:
            fiat = float(state["price_amount"]) * paid / pay_amount if pay_amount else 0.0
            state["actually_paid_at_fiat"] = round(fiat, 2)
        state["outcome_amount"] = step.get("outcome_amount", _round8(basis - withdrawal_fee))
        fee = dict(state["fee"])
        fee["withdrawalFee"] = step.get("withdrawal_fee", withdrawal_fee)
        state["fee"] = fee

    def _step_state(self, previous: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
        status = step.get("status")
        if status not in PAYMENT_STATUSES:
            raise ValidationFailed(
                f"step status must be one of {', '.join(PAYMENT_STATUSES)}, not {status!r}"
            )
        state = copy.deepcopy(previous)
        state["payment_status"] = status
        pay_amount = float(step.get("pay_amount", state["pay_amount"]))
        state["pay_amount"] = _round8(pay_amount)
        if "actually_paid" in step:
            state["actually_paid"] = _round8(step["actually_paid"])
        elif status in ("confirming", "confirmed", "sending", "finished") and not state["actually_paid"]:
            state["actually_paid"] = _round8(pay_amount)
        elif status == "partially_paid" and not state["actually_paid"]:
            state["actually_paid"] = _round8(pay_amount / 2)
        for key in ("outcome_currency", "order_id", "order_description", "pay_address"):
            if key in step:
                state[key] = step[key]
        state["updated_at"] = _now_iso()
        self._recompute(state, step)
        return state

    def _sign(self, body: dict[str, Any], mode: str) -> str | None:
        if mode == "missing":
            return None
        if mode == "wrong":
            return nowpayments_signature(body, self.wrong_secret)
        if mode == "python":
            return python_signature(body, self.ipn_secret)
        return nowpayments_signature(body, self.ipn_secret)

    def _tampered(self, body: dict[str, Any], tamper: dict[str, Any] | None) -> dict[str, Any]:
        changed = copy.deepcopy(body)
        if tamper:
            changed.update(tamper)
        elif "actually_paid" in changed:
            paid = max(float(changed.get("actually_paid") or 0), float(changed.get("pay_amount") or 0))
            changed["actually_paid"] = _round8(paid * 10 or 1)
            changed["payment_status"] = "finished"
        else:
            changed["status"] = "FINISHED"
        return changed

    def prepare_ipn(
        self,
        body: dict[str, Any],
        *,
        url: str,
        mode: str,
        tamper: dict[str, Any] | None = None,
        signature_value: str | None = None,
    ) -> dict[str, Any]:
        """Sign a body as asked; returns the outgoing IPN (exact text and header value)."""
        if mode not in SIGNATURE_MODES:
            raise ValidationFailed(f"signature must be one of {', '.join(SIGNATURE_MODES)}, not {mode!r}")
        signature = self._sign(body, mode)
        sent_body = self._tampered(body, tamper) if mode == "tampered" else body
        if signature_value is not None:
            signature = signature_value
        return {
            "url": url,
            "signature_mode": mode,
            "body": js_json_stringify(sent_body),
            "signature": signature,
            "signed_text": nowpayments_signed_text(body),
        }

    async def deliver(self, outgoing: dict[str, Any], **meta: Any) -> dict[str, Any]:
        """POST one IPN and wait for the receiver's answer; records and returns the result."""
        headers = {"Content-Type": "application/json"}
        if outgoing["signature"] is not None:
            headers["x-nowpayments-sig"] = outgoing["signature"]
        record: dict[str, Any] = {"ipn_id": next(self._ipn_ids), **meta, **outgoing}
        record["sent_at"] = _now_iso()
        started = time.perf_counter()
        try:
            response = await self.client.post(
                outgoing["url"],
                content=outgoing["body"].encode("utf-8"),
                headers=headers,
                timeout=self.ipn_timeout,
            )
            record["response_status"] = response.status_code
            record["response_body"] = response.text
            record["error"] = None
        except httpx.HTTPError as error:
            record["response_status"] = None
            record["response_body"] = None
            record["error"] = f"{type(error).__name__}: {error}"
        record["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.ipns[record["ipn_id"]] = record
        return record

    async def _deliver_copies(
        self, outgoing: dict[str, Any], copies: int, concurrent: bool, meta: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if concurrent:
            return list(
                await asyncio.gather(*(self.deliver(outgoing, **meta, copy=c) for c in range(copies)))
            )
        return [await self.deliver(outgoing, **meta, copy=c) for c in range(copies)]

    async def run_steps(self, payment: Payment, request_body: dict[str, Any]) -> dict[str, Any]:
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
            previous = self._step_state(previous, step)
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
                self.prepare_ipn(
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
                if steps[j].get("update_api", True):
                    payment.api_state = copy.deepcopy(states[j])
                payment.history.append({"step": j, "status": states[j]["payment_status"], "at": _now_iso()})
            applied = max(applied, until)

        results: list[dict[str, Any]] = []
        if concurrent_all:
            catch_up(len(steps) - 1)
            jobs = []
            for index in order:
                outgoing = prepared[index]
                if outgoing is None:
                    continue
                meta = {
                    "kind": "payment",
                    "payment_id": payment.payment_id,
                    "step": index,
                    "payment_status": states[index]["payment_status"],
                }
                for c in range(steps[index].get("duplicates", 1)):
                    jobs.append(self.deliver(outgoing, **meta, copy=c))
            results = list(await asyncio.gather(*jobs))
        else:
            for index in order:
                catch_up(index)
                outgoing = prepared[index]
                if outgoing is None:
                    continue
                meta = {
                    "kind": "payment",
                    "payment_id": payment.payment_id,
                    "step": index,
                    "payment_status": states[index]["payment_status"],
                }
                results.extend(
                    await self._deliver_copies(
                        outgoing,
                        steps[index].get("duplicates", 1),
                        bool(steps[index].get("concurrent")),
                        meta,
                    )
                )
        catch_up(len(steps) - 1)
        return {"payment": _payment_api_view(payment.api_state), "ipns": results}

    # ---------------------------------------------------------------- /_control endpoints

    async def _control_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValidationFailed("the request body must be a JSON object")
        return body

    def _control(self, handler: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ValidationFailed as failure:
                return _control_error(400, failure.message)
            except (ValueError, TypeError, KeyError) as error:
                return _control_error(400, f"{type(error).__name__}: {error}")

        return endpoint

    async def c_config(self, request: Request) -> Response:
        return JSResponse(
            {
                "public_base_url": self.public_base_url or str(request.base_url).rstrip("/"),
                "email": self.email,
                "totp_secret": self.totp_secret,
                "ipn_timeout": self.ipn_timeout,
                "token_ttl": self.token_ttl,
                "payout_auto_finish_seconds": self.payout_auto_finish_seconds,
            }
        )

    async def c_reset(self, request: Request) -> Response:
        self.reset()
        return JSResponse({"reset": True})

    async def c_invoices(self, request: Request) -> Response:
        return JSResponse({"invoices": [i.api_view() for i in self.invoices.values()]})

    async def c_invoice(self, request: Request) -> Response:
        invoice = self.invoices.get(int(request.path_params["invoice_id"]))
        if invoice is None:
            return _control_error(404, "no such invoice")
        payments = [p.payment_id for p in self.payments.values() if p.invoice_id == invoice.id]
        return JSResponse({"invoice": invoice.api_view(), "payment_ids": payments})

    def _payment_view(self, payment: Payment) -> dict[str, Any]:
        return {
            "payment_id": payment.payment_id,
            "invoice_id": payment.invoice_id,
            "ipn_callback_url": payment.ipn_callback_url,
            "api": _payment_api_view(payment.api_state),
            "latest": payment.state,
            "history": payment.history,
        }

    async def c_payments(self, request: Request) -> Response:
        return JSResponse({"payments": [self._payment_view(p) for p in self.payments.values()]})

    async def c_payment(self, request: Request) -> Response:
        payment = self.payments.get(int(request.path_params["payment_id"]))
        if payment is None:
            return _control_error(404, "no such payment")
        return JSResponse(self._payment_view(payment))

    async def c_create_payment(self, request: Request) -> Response:
        body = await self._control_body(request)
        invoice_id = request.path_params.get("invoice_id", body.get("invoice_id"))
        invoice = self.invoices.get(int(invoice_id)) if invoice_id is not None else None
        if invoice is None:
            return _control_error(404, "no such invoice")
        payment = self.create_payment(invoice, body)
        return JSResponse({"payment_id": payment.payment_id, "payment": _payment_api_view(payment.api_state)})

    async def c_steps(self, request: Request) -> Response:
        payment = self.payments.get(int(request.path_params["payment_id"]))
        if payment is None:
            return _control_error(404, "no such payment")
        body = await self._control_body(request)
        return JSResponse(await self.run_steps(payment, body))

    async def c_ipns(self, request: Request) -> Response:
        records = list(self.ipns.values())
        if "payment_id" in request.query_params:
            wanted = int(request.query_params["payment_id"])
            records = [r for r in records if r.get("payment_id") == wanted]
        return JSResponse({"ipns": records})

    async def c_replay(self, request: Request) -> Response:
        original = self.ipns.get(int(request.path_params["ipn_id"]))
        if original is None:
            return _control_error(404, "no such IPN")
        body = await self._control_body(request)
        outgoing = {
            "url": body.get("url") or original["url"],
            "signature_mode": original["signature_mode"],
            "body": original["body"],
            "signature": original["signature"],
            "signed_text": original["signed_text"],
        }
        meta = {k: original.get(k) for k in ("kind", "payment_id", "step", "payment_status", "payout_id")}
        results = await self._deliver_copies(
            outgoing,
            int(body.get("copies", 1)),
            bool(body.get("concurrent")),
            {**meta, "replay_of": original["ipn_id"]},
        )
        return JSResponse({"ipns": results})

    async def c_sign(self, request: Request) -> Response:
        body = await self._control_body(request)
        payload = body.get("body")
        if not isinstance(payload, dict):
            raise ValidationFailed("body must be an object")
        mode = body.get("signature", "valid")
        return JSResponse(
            self.prepare_ipn(payload, url=str(body.get("url", "")), mode=mode, tamper=body.get("tamper"))
        )

    async def c_failures_get(self, request: Request) -> Response:
        return JSResponse({"failures": [f.view() for f in self.failures]})

    async def c_failures_add(self, request: Request) -> Response:
        body = await self._control_body(request)
        mode = body.get("mode")
        if mode not in FAILURE_MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(FAILURE_MODES)}")
        rule = FailureRule(
            id=next(self._failure_ids),
            mode=mode,
            remaining=int(body.get("count", 1)),
            method=body.get("method"),
            path=body.get("path"),
            seconds=float(body.get("seconds", 0)),
            status=int(body.get("status", 500)),
        )
        self.failures.append(rule)
        return JSResponse(rule.view())

    async def c_failures_clear(self, request: Request) -> Response:
        self.failures.clear()
        return JSResponse({"failures": []})

    async def c_calls(self, request: Request) -> Response:
        return JSResponse({"calls": self.calls})

    async def c_payouts(self, request: Request) -> Response:
        views = []
        for batch in self.payouts.values():
            self._advance_payouts(batch)
            views.append(
                {
                    "id": batch.id,
                    "verified": batch.verified_at is not None,
                    "verify_failures": batch.verify_failures,
                    "withdrawals": batch.withdrawals,
                }
            )
        return JSResponse({"payouts": views})

    async def c_payout_status(self, request: Request) -> Response:
        found = self._find_batch(request.path_params["payout_id"])
        if found is None:
            return _control_error(404, "no such payout")
        body = await self._control_body(request)
        status = str(body.get("status", "")).upper()
        if status not in PAYOUT_STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(PAYOUT_STATUSES)}")
        _, withdrawals = found
        results = []
        for withdrawal in withdrawals:
            withdrawal["status"] = status
            withdrawal["updated_at"] = _now_iso()
            if status == "FINISHED" and not withdrawal["hash"]:
                withdrawal["hash"] = secrets.token_hex(32)
            if status in ("FAILED", "REJECTED"):
                withdrawal["error"] = body.get("error", "stand-in failure")
            url = body.get("ipn_url") or withdrawal["ipn_callback_url"]
            if body.get("send_ipn", True) and url:
                outgoing = self.prepare_ipn(dict(withdrawal), url=url, mode=body.get("signature", "valid"))
                results.append(
                    await self.deliver(
                        outgoing, kind="payout", payout_id=withdrawal["id"], payment_status=status
                    )
                )
        return JSResponse({"withdrawals": withdrawals, "ipns": results})


def create_app(
    api_key: str,
    ipn_secret: str,
    *,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    totp_secret: str | None = None,
    public_base_url: str | None = None,
    ipn_timeout: float = 10.0,
    token_ttl: float = 300.0,
    payout_auto_finish_seconds: float | None = None,
) -> Starlette:
    """The stand-in as a Starlette app; the instance is ``app.state.standin``."""
    s = NowPaymentsStandin(
        api_key,
        ipn_secret,
        email=email,
        password=password,
        totp_secret=totp_secret,
        public_base_url=public_base_url,
        ipn_timeout=ipn_timeout,
        token_ttl=token_ttl,
        payout_auto_finish_seconds=payout_auto_finish_seconds,
    )
    c = s._control
    routes = [
        Route("/healthz", s.healthz),
        Route("/payment/", s.invoice_page),
        Route("/v1/status", s.api(s.v1_status)),
        Route("/v1/invoice", s.api(s.v1_create_invoice), methods=["POST"]),
        Route("/v1/payment/{payment_id}", s.api(s.v1_get_payment)),
        Route("/v1/auth", s.api(s.v1_auth), methods=["POST"]),
        Route("/v1/payout", s.api(s.v1_create_payout), methods=["POST"]),
        Route("/v1/payout/{batch_id}/verify", s.api(s.v1_verify_payout), methods=["POST"]),
        Route("/v1/payout/{payout_id}", s.api(s.v1_get_payout)),
        Route("/v1/{rest:path}", s.api(s.v1_not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/_control/config", c(s.c_config)),
        Route("/_control/reset", c(s.c_reset), methods=["POST"]),
        Route("/_control/invoices", c(s.c_invoices)),
        Route("/_control/invoices/{invoice_id:int}", c(s.c_invoice)),
        Route("/_control/invoices/{invoice_id:int}/payments", c(s.c_create_payment), methods=["POST"]),
        Route("/_control/payments", c(s.c_payments)),
        Route("/_control/payments", c(s.c_create_payment), methods=["POST"]),
        Route("/_control/payments/{payment_id:int}", c(s.c_payment)),
        Route("/_control/payments/{payment_id:int}/steps", c(s.c_steps), methods=["POST"]),
        Route("/_control/ipns", c(s.c_ipns)),
        Route("/_control/ipns/{ipn_id:int}/replay", c(s.c_replay), methods=["POST"]),
        Route("/_control/sign", c(s.c_sign), methods=["POST"]),
        Route("/_control/failures", c(s.c_failures_get)),
        Route("/_control/failures", c(s.c_failures_add), methods=["POST"]),
        Route("/_control/failures", c(s.c_failures_clear), methods=["DELETE"]),
        Route("/_control/calls", c(s.c_calls)),
        Route("/_control/payouts", c(s.c_payouts)),
        Route("/_control/payouts/{payout_id}/status", c(s.c_payout_status), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=s.lifespan)
    app.state.standin = s
    return app
