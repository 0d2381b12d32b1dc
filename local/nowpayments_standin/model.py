"""The stand-in's state and rules: invoices, payments and their steps, payouts, tokens, injected failures.

No HTTP here: ``api.py`` and ``control.py`` translate requests into these calls, ``ipn.py`` signs
and delivers IPNs. A rule the public API answers with an error raises :class:`NowPaymentsError`
(NowPayments' status, code and message); a bad control request raises ``ValidationFailed``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pyotp

from local.nowpayments_standin.currencies import CURRENCIES, PAYMENT_MINIMUMS_USD, known
from local.nowpayments_standin.jsjson import js_number_to_string
from local.nowpayments_standin.validation import ValidationFailed

__all__ = [
    "FAILURE_MODES",
    "PAYMENT_STATUSES",
    "PAYOUT_STATUSES",
    "FailureRule",
    "Invoice",
    "InvoiceRequest",
    "NowPaymentsError",
    "NowPaymentsStandin",
    "Payment",
    "PayoutBatch",
    "WithdrawalRequest",
    "now_iso",
    "payment_api_view",
    "round8",
    "step_state",
]

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
    "usdcsol": 1.0,
    "usdtsol": 1.0,
    "usdtbsc": 1.0,
    "usdtmatic": 1.0,
}
# Minimum withdrawal per currency (`GET /v1/payout-withdrawal/min-amount/{coin}`); others: 0.
_DEFAULT_PAYOUT_MINIMUMS = {
    "btc": 0.0001,
    "eth": 0.001,
    "usdttrc20": 1.0,
    "trx": 10.0,
    "ton": 0.1,
    "ltc": 0.01,
}
FIAT_CURRENCIES = ("usd", "eur", "gbp")  # what `fiat_equivalent` may name
PAYOUT_ENDED = ("FAILED", "REJECTED")
_DEFAULT_VERIFY_ATTEMPTS = 10
DEFAULT_EMAIL = "merchant@example.com"
DEFAULT_PASSWORD = "password"


class NowPaymentsError(Exception):
    """A refusal the public API answers in NowPayments' error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def round8(x: float) -> float:
    return round(float(x), 8)


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
# Records


@dataclass(kw_only=True)
class InvoiceRequest:
    """A validated ``POST /v1/invoice``."""

    price_amount: float | int
    price_currency: str
    pay_currency: str | None = None
    order_id: str | None = None
    order_description: str | None = None
    ipn_callback_url: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    partially_paid_url: str | None = None
    is_fixed_rate: bool = False
    is_fee_paid_by_user: bool = False


@dataclass(kw_only=True)
class Invoice(InvoiceRequest):
    """What was asked, and what the stand-in gave it."""

    id: int
    token_id: str
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

    def record_step(self, index: int, state: dict[str, Any], *, update_api: bool) -> None:
        """Step ``index`` has happened: the API shows it (unless told not to) and the history has it."""
        if update_api:
            self.api_state = copy.deepcopy(state)
        self.history.append({"step": index, "status": state["payment_status"], "at": now_iso()})


def payment_api_view(state: dict[str, Any]) -> dict[str, Any]:
    """What ``GET /v1/payment/{id}`` answers for a payment state."""
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
    verified_at: float | None = None
    verify_failures: int = 0


class WithdrawalRequest(NamedTuple):
    """One validated item of ``POST /v1/payout``."""

    address: str
    currency: str
    amount: float | int
    ipn_callback_url: str | None
    extra_id: str | None
    payout_description: str | None
    unique_external_id: str | None


# --------------------------------------------------------------------------------------------------
# State and rules


class NowPaymentsStandin:
    """The whole stand-in's state and its rules; ``create_app`` puts HTTP in front of one instance."""

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
    ) -> None:
        self.api_key = api_key
        self.ipn_secret = ipn_secret
        self.wrong_secret = "wrong-" + ipn_secret
        self.email = email
        self.password = password
        self.totp_secret = totp_secret or pyotp.random_base32()
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.ipn_timeout = ipn_timeout
        self.token_ttl = token_ttl
        self.payout_auto_finish_seconds = payout_auto_finish_seconds
        self._jwt_key = secrets.token_bytes(32)
        base = 4_000_000_000 + secrets.randbelow(500_000_000)
        self._invoice_ids = itertools.count(base)
        self._payment_ids = itertools.count(base + 1_000_000_000)
        self._purchase_ids = itertools.count(base + 2_000_000_000)
        self._payout_ids = itertools.count(base + 3_000_000_000)
        self.ipn_ids = itertools.count(1)
        self._failure_ids = itertools.count(1)
        self._call_seq = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        self.invoices: dict[int, Invoice] = {}
        self.payments: dict[int, Payment] = {}
        self.ipns: dict[int, dict[str, Any]] = {}
        self.failures: list[FailureRule] = []
        self.calls: list[dict[str, Any]] = []
        self.payouts: dict[str, PayoutBatch] = {}
        self.payout_minimums: dict[str, float] = dict(_DEFAULT_PAYOUT_MINIMUMS)
        self.credits: dict[str, float] = {}
        self.payment_minimums_usd: dict[str, float] = dict(PAYMENT_MINIMUMS_USD)
        self.merchant_coins: list[str] = list(CURRENCIES)  # the account's "coins settings": all

    def public_base(self, own_url: str) -> str:
        """Where invoice pages are served: the configured public base, else the stand-in's own URL."""
        return self.public_base_url or own_url.rstrip("/")

    # ---------------------------------------------------------------- injected failures, call log

    def take_failure(self, method: str, path: str) -> FailureRule | None:
        for rule in self.failures:
            if rule.matches(method, path):
                rule.remaining -= 1
                return rule
        return None

    def add_failure(self, spec: dict[str, Any]) -> FailureRule:
        mode = spec.get("mode")
        if mode not in FAILURE_MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(FAILURE_MODES)}")
        rule = FailureRule(
            id=next(self._failure_ids),
            mode=mode,
            remaining=int(spec.get("count", 1)),
            method=spec.get("method"),
            path=spec.get("path"),
            seconds=float(spec.get("seconds", 0)),
            status=int(spec.get("status", 500)),
        )
        self.failures.append(rule)
        return rule

    def record_call(self, method: str, path: str, query: str, status: int, injected: str | None) -> None:
        self.calls.append(
            {
                "seq": next(self._call_seq),
                "time": now_iso(),
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "injected": injected,
            }
        )

    # ---------------------------------------------------------------- credentials

    def api_key_matches(self, key: str | None) -> bool:
        return bool(key) and hmac.compare_digest(str(key).encode(), self.api_key.encode())

    def credentials_match(self, email: str, password: str) -> bool:
        return hmac.compare_digest(
            email.lower().encode(), self.email.lower().encode()
        ) and hmac.compare_digest(password.encode(), self.password.encode())

    def _jwt_signature(self, header: str, payload: str) -> str:
        return _b64url(hmac.new(self._jwt_key, f"{header}.{payload}".encode(), hashlib.sha256).digest())

    def issue_token(self) -> str:
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(
            json.dumps(
                {"id": "standin-merchant", "email": self.email, "iat": now, "exp": now + int(self.token_ttl)},
                separators=(",", ":"),
            ).encode()
        )
        return f"{header}.{payload}.{self._jwt_signature(header, payload)}"

    def check_token(self, token: str) -> None:
        try:
            header, payload, signature = token.split(".")
            if not hmac.compare_digest(self._jwt_signature(header, payload), signature):
                raise ValueError("bad signature")
            claims = json.loads(_b64url_decode(payload))
        except (ValueError, UnicodeDecodeError) as error:
            raise NowPaymentsError(401, "INVALID_TOKEN", "invalid token") from error
        if float(claims.get("exp", 0)) < time.time():
            raise NowPaymentsError(401, "INVALID_TOKEN", "jwt expired")

    # ---------------------------------------------------------------- invoices

    def create_invoice(self, request: InvoiceRequest, own_url: str) -> Invoice:
        invoice_id = next(self._invoice_ids)
        now = now_iso()
        invoice = Invoice(
            id=invoice_id,
            token_id=secrets.token_urlsafe(8)[:10],
            invoice_url=f"{self.public_base(own_url)}/payment/?iid={invoice_id}",
            created_at=now,
            updated_at=now,
            **vars(request),
        )
        self.invoices[invoice_id] = invoice
        return invoice

    def invoice_payments(self, invoice_id: int) -> list[Payment]:
        return [p for p in self.payments.values() if p.invoice_id == invoice_id]

    # ---------------------------------------------------------------- payments

    def create_payment(self, invoice: Invoice, spec: dict[str, Any]) -> Payment:
        pay_currency = str(spec.get("pay_currency") or invoice.pay_currency or "btc").lower()
        price_amount = float(spec.get("price_amount", invoice.price_amount))
        if spec.get("pay_amount") is not None:
            pay_amount = round8(spec["pay_amount"])
        else:
            usd = price_amount * _USD_PER_UNIT.get(invoice.price_currency, 1.0)
            pay_amount = round8(usd / _USD_PER_UNIT.get(pay_currency, 1.0))
        status = spec.get("status", "waiting")
        if status not in PAYMENT_STATUSES:
            raise ValidationFailed(f"unknown payment status {status!r}")
        now = now_iso()
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
            "actually_paid": round8(spec.get("actually_paid", 0)),
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
        _recompute(state, spec)
        payment = Payment(
            payment_id=payment_id,
            invoice_id=invoice.id,
            ipn_callback_url=spec.get("ipn_callback_url") or invoice.ipn_callback_url,
            state=state,
            api_state=copy.deepcopy(state),
        )
        self.payments[payment_id] = payment
        return payment

    # ---------------------------------------------------------------- payouts

    def create_payout(self, requests: list[WithdrawalRequest]) -> PayoutBatch:
        batch_id = str(next(self._payout_ids))
        now = now_iso()
        records = [
            {
                "is_request_payouts": False,
                "id": str(next(self._payout_ids)),
                "address": item.address,
                "currency": item.currency,
                "amount": js_number_to_string(item.amount),
                "batch_withdrawal_id": batch_id,
                "ipn_callback_url": item.ipn_callback_url,
                "status": "WAITING",
                "extra_id": item.extra_id,
                "hash": None,
                "error": None,
                "payout_description": item.payout_description,
                "unique_external_id": item.unique_external_id,
                "created_at": now,
                "requested_at": None,
                "updated_at": None,
            }
            for item in requests
        ]
        batch = PayoutBatch(id=batch_id, withdrawals=records)
        self.payouts[batch_id] = batch
        return batch

    def all_withdrawals(self) -> list[dict[str, Any]]:
        return [w for batch in self.payouts.values() for w in batch.withdrawals]

    def list_withdrawals(
        self, *, batch_id: str | None, status: str | None, date_from: str | None, descending: bool
    ) -> list[dict[str, Any]]:
        """``GET /v1/payout``: withdrawals filtered by batch, status and creation day, by creation."""
        found = [
            w
            for w in self.all_withdrawals()
            if (batch_id is None or w["batch_withdrawal_id"] == batch_id)
            and (status is None or w["status"].upper() == status.upper())
            and (date_from is None or w["created_at"][:10] >= date_from[:10])
        ]
        return sorted(found, key=lambda w: (w["created_at"], int(w["id"])), reverse=descending)

    def min_withdrawal(self, currency: str) -> float:
        return self.payout_minimums.get(currency.lower(), 0.0)

    def payment_minimum(
        self, currency_from: str, currency_to: str, fiat: str | None
    ) -> tuple[float, float | None]:
        """``GET /v1/min-amount``: the least NowPayments takes in a payment of `currency_from`
        settled in `currency_to` (the larger of the two coins' minimums), in `currency_from`'s
        units, rounded up to 8 decimals; and that minimum's worth in `fiat` when asked."""
        for code in (currency_from, currency_to):
            if known(code) is None:
                raise NowPaymentsError(400, "INVALID_REQUEST_PARAMS", f"Currency {code} was not found")
        if fiat is not None and fiat not in FIAT_CURRENCIES:
            raise NowPaymentsError(400, "INVALID_REQUEST_PARAMS", f"Fiat currency {fiat} is not supported")
        usd = max(self.payment_minimums_usd[currency_from], self.payment_minimums_usd[currency_to])
        in_coin = math.ceil(round(usd / _USD_PER_UNIT[currency_from] * 1e8, 6)) / 1e8
        return in_coin, (round8(usd / _USD_PER_UNIT[fiat]) if fiat is not None else None)

    @staticmethod
    def estimate(amount: float, currency_from: str, currency_to: str) -> float | None:
        """``GET /v1/estimate``: by the stand-in's rough USD rates; None for an unknown currency."""
        rate_from = _USD_PER_UNIT.get(currency_from.lower())
        rate_to = _USD_PER_UNIT.get(currency_to.lower())
        if rate_from is None or rate_to is None:
            return None
        return round8(amount * rate_from / rate_to)

    def balance(self) -> dict[str, dict[str, float]]:
        """``GET /v1/balance``: settled payments' outcome plus control credits, minus every
        withdrawal that did not fail (pending while it is not finished)."""
        amounts: dict[str, float] = dict(self.credits)
        for payment in self.payments.values():
            state = payment.api_state
            if state["payment_status"] == "finished":
                currency = str(state["outcome_currency"])
                amounts[currency] = amounts.get(currency, 0.0) + float(state["outcome_amount"])
        pending: dict[str, float] = {}
        for w in self.all_withdrawals():
            if w["status"] in PAYOUT_ENDED:
                continue
            amount = float(w["amount"])
            amounts[w["currency"]] = amounts.get(w["currency"], 0.0) - amount
            if w["status"] != "FINISHED":
                pending[w["currency"]] = pending.get(w["currency"], 0.0) + amount
        return {
            currency: {"amount": round8(value), "pendingAmount": round8(pending.get(currency, 0.0))}
            for currency, value in sorted(amounts.items())
        }

    def find_batch(self, payout_id: str) -> tuple[PayoutBatch, list[dict[str, Any]]] | None:
        """A batch by its id (all its withdrawals) or by one withdrawal's id (that one only)."""
        batch = self.payouts.get(payout_id)
        if batch is not None:
            return batch, batch.withdrawals
        for batch in self.payouts.values():
            for withdrawal in batch.withdrawals:
                if withdrawal["id"] == payout_id:
                    return batch, [withdrawal]
        return None

    def advance_payouts(self, batch: PayoutBatch) -> None:
        """Automatic PROCESSING -> FINISHED after ``payout_auto_finish_seconds`` (evaluated lazily)."""
        delay = self.payout_auto_finish_seconds
        if delay is None or batch.verified_at is None or time.time() < batch.verified_at + delay:
            return
        for withdrawal in batch.withdrawals:
            if withdrawal["status"] == "PROCESSING":
                withdrawal["status"] = "FINISHED"
                withdrawal["hash"] = secrets.token_hex(32)
                withdrawal["updated_at"] = now_iso()

    def verify_payout(self, batch: PayoutBatch, code: str) -> None:
        """Checks the TOTP code (10 attempts); the batch's withdrawals become PROCESSING."""
        if batch.verified_at is not None:
            raise NowPaymentsError(400, "PAYOUT_ALREADY_VERIFIED", "Payout is already verified")
        if batch.verify_failures >= _DEFAULT_VERIFY_ATTEMPTS:
            raise NowPaymentsError(400, "VERIFICATION_ATTEMPTS_EXCEEDED", "Too many verification attempts")
        if not pyotp.TOTP(self.totp_secret).verify(code.strip(), valid_window=1):
            batch.verify_failures += 1
            raise NowPaymentsError(400, "INVALID_VERIFICATION_CODE", "Invalid verification code")
        batch.verified_at = time.time()
        now = now_iso()
        for withdrawal in batch.withdrawals:
            withdrawal["status"] = "PROCESSING"
            withdrawal["requested_at"] = now
            withdrawal["updated_at"] = now

    @staticmethod
    def set_withdrawal_status(withdrawal: dict[str, Any], status: str, error: str) -> None:
        """What the control API forces; a finished withdrawal gets a hash, a failed one ``error``."""
        if status not in PAYOUT_STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(PAYOUT_STATUSES)}")
        withdrawal["status"] = status
        withdrawal["updated_at"] = now_iso()
        if status == "FINISHED" and not withdrawal["hash"]:
            withdrawal["hash"] = secrets.token_hex(32)
        if status in ("FAILED", "REJECTED"):
            withdrawal["error"] = error


def _recompute(state: dict[str, Any], step: dict[str, Any]) -> None:
    """Derived amounts; explicit values in ``step`` win."""
    paid = float(state["actually_paid"])
    pay_amount = float(state["pay_amount"])
    basis = paid if paid > 0 else pay_amount
    withdrawal_fee = round8(basis * 0.005)
    if "actually_paid_at_fiat" in step:
        state["actually_paid_at_fiat"] = step["actually_paid_at_fiat"]
    else:
        fiat = float(state["price_amount"]) * paid / pay_amount if pay_amount else 0.0
        state["actually_paid_at_fiat"] = round(fiat, 2)
    state["outcome_amount"] = step.get("outcome_amount", round8(basis - withdrawal_fee))
    fee = dict(state["fee"])
    fee["withdrawalFee"] = step.get("withdrawal_fee", withdrawal_fee)
    state["fee"] = fee


def step_state(previous: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """The payment state after one step of ``POST /_control/payments/{id}/steps``."""
    status = step.get("status")
    if status not in PAYMENT_STATUSES:
        raise ValidationFailed(f"step status must be one of {', '.join(PAYMENT_STATUSES)}, not {status!r}")
    state = copy.deepcopy(previous)
    state["payment_status"] = status
    pay_amount = float(step.get("pay_amount", state["pay_amount"]))
    state["pay_amount"] = round8(pay_amount)
    if "actually_paid" in step:
        state["actually_paid"] = round8(step["actually_paid"])
    elif status in ("confirming", "confirmed", "sending", "finished") and not state["actually_paid"]:
        state["actually_paid"] = round8(pay_amount)
    elif status == "partially_paid" and not state["actually_paid"]:
        state["actually_paid"] = round8(pay_amount / 2)
    for key in ("outcome_currency", "order_id", "order_description", "pay_address"):
        if key in step:
            state[key] = step[key]
    state["updated_at"] = now_iso()
    _recompute(state, step)
    return state
