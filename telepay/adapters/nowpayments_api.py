"""NowPayments REST API (invoices and the payment state re-read). Base URL is configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from shared_schemas.nowpayments import Invoice, Payment, Withdrawal
from telepay.core.errors import Permanent, Transient


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
    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"x-api-key": api_key}
        )

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
