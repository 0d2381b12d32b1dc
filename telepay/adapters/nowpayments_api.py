"""NowPayments REST API (invoices, the payment state re-read, and the least a payment may be in
each coin buyers can use). Base URL is configuration."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from shared_schemas.nowpayments import Invoice, MinAmount, Payment, Withdrawal
from telepay.core.errors import Permanent, Transient
from telepay.core.logs import get_logger

log = get_logger("telepay.nowpayments")
# An owner setting prices answers a few questions in a row (and each tier has one): the coins'
# minimums are asked once and kept this long by the instance. They follow network fees, which
# move over hours, not minutes.
MINIMUMS_TTL_SECONDS = 600.0
MINIMUMS_PARALLEL = 8  # an account may accept dozens of coins: one `/v1/min-amount` per coin


class NowPaymentsUnavailable(Transient):
    """Timeout, connection failure, 5xx or 429 (rate limited): retry later."""


class NowPaymentsRejected(Permanent):
    """4xx: the request itself is wrong (bad key, bad params, unknown payment)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"NowPayments answered {status}: {body[:300]}")
        self.status = status


def _json_decimal(response: httpx.Response) -> Any:
    import json

    return json.loads(response.text, parse_float=Decimal)


class NowPaymentsApi:
    def __init__(
        self, base_url: str, api_key: str, timeout: float, minimums_ttl: float = MINIMUMS_TTL_SECONDS
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"x-api-key": api_key}
        )
        self._minimums_ttl = minimums_ttl
        self._minimums: dict[str, tuple[float, dict[str, Decimal]]] = {}  # fiat → (when, minimums)
        self._minimums_lock = threading.Lock()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise NowPaymentsUnavailable(f"{method} {path}: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise NowPaymentsUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise NowPaymentsRejected(response.status_code, response.text)
        try:
            return _json_decimal(response)
        except ValueError as error:
            raise NowPaymentsUnavailable(f"{method} {path}: answer is not JSON") from error

    def create_invoice(
        self,
        *,
        price_amount: Decimal,
        price_currency: str,
        order_id: str,
        order_description: str,
        ipn_callback_url: str,
        success_url: str,
        cancel_url: str,
    ) -> Invoice:
        body = {
            # A JSON number, as NowPayments documents it; the decimal's own text keeps the cents.
            "price_amount": float(price_amount),
            "price_currency": price_currency.lower(),
            "order_id": order_id,
            "order_description": order_description,
            "ipn_callback_url": ipn_callback_url,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "is_fixed_rate": True,
            "is_fee_paid_by_user": False,
        }
        data = self._call("POST", "/v1/invoice", json=body)
        return Invoice.model_validate({**data, "id": str(data.get("id"))})

    def get_payment(self, payment_id: int) -> Payment:
        return Payment.model_validate(self._call("GET", f"/v1/payment/{payment_id}"))

    def merchant_coins(self) -> list[str]:
        """The coins the account accepts (its "coins settings", lower case): the ones a buyer may
        choose on an invoice, which names no `pay_currency`."""
        data = self._call("GET", "/v1/merchant/coins")
        return [str(code).lower() for code in data.get("selectedCurrencies") or []]

    def min_payment_amount(self, currency: str, *, fiat: str) -> MinAmount:
        """The least NowPayments takes in a payment of `currency`, and its worth in `fiat`. The
        payment stays in the account's custody in the coin paid (its `outcome_currency`), so the
        outcome is the coin itself; fixed rate, fee not on the buyer: as TelePay's invoices are."""
        params = {
            "currency_from": currency.lower(),
            "currency_to": currency.lower(),
            "fiat_equivalent": fiat.lower(),
            "is_fixed_rate": "true",
            "is_fee_paid_by_user": "false",
        }
        return MinAmount.model_validate(self._call("GET", "/v1/min-amount", params=params))

    def payment_minimums(self, fiat: str) -> dict[str, Decimal]:
        """Each coin buyers may pay with → the least NowPayments takes in it, in `fiat`; kept for
        `minimums_ttl` seconds. A coin NowPayments refuses to price is left out (logged); any
        `NowPaymentsUnavailable` is raised and nothing is kept."""
        fiat = fiat.lower()
        with self._minimums_lock:
            kept = self._minimums.get(fiat)
        if kept is not None and time.monotonic() - kept[0] < self._minimums_ttl:
            return dict(kept[1])
        coins = self.merchant_coins()

        def one(coin: str) -> Decimal | None:
            try:
                return self.min_payment_amount(coin, fiat=fiat).fiat_equivalent
            except NowPaymentsRejected as error:
                log.warning("no minimum payment for %s: %s", coin, error)
                return None

        with ThreadPoolExecutor(max_workers=max(1, min(MINIMUMS_PARALLEL, len(coins)))) as pool:
            found = dict(zip(coins, pool.map(one, coins), strict=True))
        minimums = {coin: value for coin, value in found.items() if value is not None}
        with self._minimums_lock:
            self._minimums[fiat] = (time.monotonic(), minimums)
        return dict(minimums)

    def get_withdrawal(self, withdrawal_id: str) -> Withdrawal:
        """A withdrawal's status (`GET /v1/payout/{id}` answers the list of matching withdrawals)."""
        data = self._call("GET", f"/v1/payout/{withdrawal_id}")
        items = data if isinstance(data, list) else data.get("withdrawals", [])
        for item in items:
            if str(item.get("id")) == str(withdrawal_id):
                return _withdrawal(item)
        if len(items) == 1:
            return _withdrawal(items[0])
        raise NowPaymentsRejected(404, f"withdrawal {withdrawal_id} not in the answer")


def _withdrawal(item: dict[str, Any]) -> Withdrawal:
    return Withdrawal.model_validate(
        {**item, "id": str(item.get("id")), "batch_withdrawal_id": _text(item.get("batch_withdrawal_id"))}
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
