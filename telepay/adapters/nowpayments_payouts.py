"""NowPayments mass payouts: `/v1/auth` (a JWT, cached until shortly before it expires), create a
payout with our `unique_external_id`, verify it with a TOTP code (pyotp) from the account's 2FA
secret, read withdrawals back, find one by its external id, minimum amounts, estimates, balance."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyotp

from shared_schemas.nowpayments import Withdrawal
from telepay.adapters.nowpayments_api import (
    NowPaymentsApi,
    NowPaymentsRejected,
    NowPaymentsUnavailable,
    _withdrawal,
)
from telepay.core.errors import Permanent

TOKEN_MARGIN_SECONDS = 30  # a token this close to its expiry is renewed first


class VerificationRefused(Permanent):
    """NowPayments refused the 2FA code (a wrong secret or a clock far off): the operator acts."""


class NowPaymentsPayouts(NowPaymentsApi):
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        *,
        email: str,
        password: str,
        totp_secret: str,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(base_url, api_key, timeout)
        self._email, self._password = email, password
        self._totp = pyotp.TOTP(totp_secret)
        self._wall_clock = wall_clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()  # one token for all of the instance's threads
        self.auth_calls = 0

    # ------------------------------------------------------------------ auth
    def _bearer(self) -> str:
        with self._token_lock:
            if self._token is None or self._wall_clock() >= self._token_expires - TOKEN_MARGIN_SECONDS:
                data = self._call("POST", "/v1/auth", json={"email": self._email, "password": self._password})
                self.auth_calls += 1
                self._token = str(data["token"])
                self._token_expires = _expiry(self._token, self._wall_clock())
            return self._token

    def _authed(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call with the JWT; a token refused as expired or invalid is renewed once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            try:
                return self._call(method, path, headers=headers, **kwargs)
            except NowPaymentsRejected as error:
                if error.status != 401 or attempt == 2:
                    raise
                self._token = None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ payouts
    def create_payout(
        self,
        *,
        address: str,
        currency: str,
        amount: Decimal,
        unique_external_id: str,
        ipn_callback_url: str,
        extra_id: str | None = None,
        description: str = "",
    ) -> Withdrawal:
        withdrawal: dict[str, Any] = {
            "address": address,
            "currency": currency.lower(),
            # A JSON number, as NowPayments documents it; the decimal's own text keeps every digit.
            "amount": float(amount),
            "ipn_callback_url": ipn_callback_url,
            "unique_external_id": unique_external_id,
            "payout_description": description,
        }
        if extra_id:
            withdrawal["extra_id"] = extra_id
        data = self._authed(
            "POST", "/v1/payout", json={"ipn_callback_url": ipn_callback_url, "withdrawals": [withdrawal]}
        )
        [item] = data["withdrawals"]
        return _withdrawal({**item, "batch_withdrawal_id": item.get("batch_withdrawal_id") or data["id"]})

    def verify(self, batch_id: str) -> None:
        """Verify with the current TOTP code; a payout verified before counts as done."""
        try:
            self._authed(
                "POST", f"/v1/payout/{batch_id}/verify", json={"verification_code": self._totp.now()}
            )
        except NowPaymentsRejected as error:
            text = str(error)
            if "ALREADY_VERIFIED" in text.upper() or "already verified" in text.lower():
                return
            if error.status == 400 and "VERIF" in text.upper():
                raise VerificationRefused(text) from error
            raise

    def find_by_external_id(self, unique_external_id: str, since: datetime) -> Withdrawal | None:
        """The withdrawal created with this external id, if any (`GET /v1/payout`, newest pages from
        `since`): how a payout whose create answer was lost is found instead of created twice. Only
        then: a first attempt has nothing to find and never pages through past withdrawals."""
        for page in range(0, 50):
            data = self._authed(
                "GET",
                "/v1/payout",
                params={
                    "date_from": since.strftime("%Y-%m-%d"),
                    "limit": 100,
                    "page": page,
                    "order_by": "created_at",
                    "order": "desc",
                },
            )
            items = data.get("payouts", []) if isinstance(data, dict) else data
            for item in items:
                if item.get("unique_external_id") == unique_external_id:
                    return _withdrawal(item)
            if len(items) < 100:
                return None
        raise NowPaymentsUnavailable("payout list too long to search")

    def min_amount(self, currency: str) -> Decimal:
        data = self._call("GET", f"/v1/payout-withdrawal/min-amount/{currency.lower()}")
        return Decimal(str(data["result"]))

    def estimate(self, amount: Decimal, currency_from: str, currency_to: str) -> Decimal:
        data = self._call(
            "GET",
            "/v1/estimate",
            params={
                "amount": str(amount),
                "currency_from": currency_from.lower(),
                "currency_to": currency_to.lower(),
            },
        )
        return Decimal(str(data["estimated_amount"]))

    def balance(self) -> dict[str, Decimal]:
        data = self._call("GET", "/v1/balance")
        return {currency: Decimal(str(item.get("amount", 0))) for currency, item in data.items()}


def _expiry(token: str, now: float) -> float:
    """The JWT's `exp`, read without checking the signature (NowPayments checks it); a token whose
    expiry cannot be read is used for five minutes."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return now + 300
