"""The public surface: ``/v1/...`` in NowPayments' shapes, the hosted invoice page and ``/healthz``.

Each ``/v1`` call first meets the injected failures, then is recorded in the call log
(:meth:`PublicApi.logged`). Handlers only translate: validation messages come from
``validation.py``, rules and refusals from ``model.py``.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from local.nowpayments_standin import validation as v
from local.nowpayments_standin.currencies import CURRENCIES, known
from local.nowpayments_standin.jsjson import js_json_stringify, js_number_to_string
from local.nowpayments_standin.model import (
    InvoiceRequest,
    NowPaymentsError,
    NowPaymentsStandin,
    WithdrawalRequest,
    payment_api_view,
)
from local.nowpayments_standin.validation import ValidationFailed

__all__ = ["JSResponse", "PublicApi", "np_error"]

Handler = Callable[[Request], Awaitable[Response]]


class JSResponse(Response):
    """JSON written the way a Node.js server writes it (``0.00005``, not ``5e-05``)."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return js_json_stringify(content).encode("utf-8")


def np_error(status: int, code: str, message: str) -> JSResponse:
    """An error in NowPayments' shape."""
    return JSResponse({"status": False, "statusCode": status, "code": code, "message": message}, status)


def _invalid(failure: ValidationFailed) -> JSResponse:
    return np_error(400, "INVALID_REQUEST_PARAMS", failure.message)


def _refused(error: NowPaymentsError) -> JSResponse:
    return np_error(error.status, error.code, error.message)


class PublicApi:
    def __init__(self, standin: NowPaymentsStandin) -> None:
        self.standin = standin

    def routes(self) -> list[Route]:
        api = self.logged
        return [
            Route("/healthz", self.healthz),
            Route("/payment/", self.invoice_page),
            Route("/v1/status", api(self.status)),
            Route("/v1/invoice", api(self.create_invoice), methods=["POST"]),
            Route("/v1/payment/{payment_id}", api(self.get_payment)),
            Route("/v1/auth", api(self.auth), methods=["POST"]),
            Route("/v1/full-currencies", api(self.full_currencies)),
            Route("/v1/payout/validate-address", api(self.validate_address), methods=["POST"]),
            Route("/v1/payout", api(self.create_payout), methods=["POST"]),
            Route("/v1/payout", api(self.list_payouts), methods=["GET"]),
            Route("/v1/payout-withdrawal/min-amount/{coin}", api(self.min_amount)),
            Route("/v1/min-amount", api(self.min_payment_amount)),
            Route("/v1/merchant/coins", api(self.merchant_coins)),
            Route("/v1/estimate", api(self.estimate)),
            Route("/v1/balance", api(self.balance)),
            Route("/v1/payout/{batch_id}/verify", api(self.verify_payout), methods=["POST"]),
            Route("/v1/payout/{payout_id}", api(self.get_payout)),
            Route("/v1/{rest:path}", api(self.not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]

    # ---------------------------------------------------------------- plumbing

    def logged(self, handler: Handler) -> Handler:
        """Wrap a /v1 handler: injected failures first, then the call log."""

        async def endpoint(request: Request) -> Response:
            rule = self.standin.take_failure(request.method, request.url.path)
            injected: str | None = None
            response: Response | None = None
            if rule is not None:
                injected = rule.mode
                if rule.mode == "slow":
                    # Received whole, then answered late: a client that gives up meanwhile does
                    # not undo the call (its answer is lost, as with NowPayments).
                    await request.body()
                    await asyncio.sleep(rule.seconds)
                elif rule.mode == "invalid_api_key":
                    response = np_error(403, "INVALID_API_KEY", "Invalid api key")
                else:
                    response = np_error(rule.status, "INTERNAL_ERROR", "Internal server error")
            if response is None:
                response = await handler(request)
            self.standin.record_call(
                request.method, request.url.path, request.url.query, response.status_code, injected
            )
            return response

        return endpoint

    def _api_key_refusal(self, request: Request) -> Response | None:
        if not self.standin.api_key_matches(request.headers.get("x-api-key")):
            return np_error(403, "INVALID_API_KEY", "Invalid api key")
        return None

    def _bearer_refusal(self, request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return np_error(
                401, "AUTH_REQUIRED", "Authorization header is empty (Bearer JWTtoken is required)"
            )
        try:
            self.standin.check_token(auth[7:].strip())
        except NowPaymentsError as error:
            return _refused(error)
        return None

    def _payout_refusal(self, request: Request) -> Response | None:
        denied = self._api_key_refusal(request)
        return denied if denied is not None else self._bearer_refusal(request)

    # ---------------------------------------------------------------- /v1

    async def status(self, request: Request) -> Response:
        return JSResponse({"message": "OK"})

    async def create_invoice(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        try:
            body = v.json_object(await request.body())
            price_amount = v.number(body, "price_amount", required=True)
            price_currency = v.currency(body, "price_currency", required=True)
            assert price_amount is not None and price_currency is not None
            invoice_request = InvoiceRequest(
                price_amount=price_amount,
                price_currency=price_currency,
                pay_currency=v.currency(body, "pay_currency", required=False),
                ipn_callback_url=v.uri(body, "ipn_callback_url"),
                order_id=v.string(body, "order_id"),
                order_description=v.string(body, "order_description"),
                success_url=v.uri(body, "success_url"),
                cancel_url=v.uri(body, "cancel_url"),
                partially_paid_url=v.uri(body, "partially_paid_url"),
                is_fixed_rate=bool(v.boolean(body, "is_fixed_rate")),
                is_fee_paid_by_user=bool(v.boolean(body, "is_fee_paid_by_user")),
            )
        except ValidationFailed as failure:
            return _invalid(failure)
        invoice = self.standin.create_invoice(invoice_request, str(request.base_url))
        return JSResponse(invoice.api_view())

    async def get_payment(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        raw_id = request.path_params["payment_id"]
        if not raw_id.isdigit():
            return np_error(400, "INVALID_REQUEST_PARAMS", "Payment id must be a number")
        payment = self.standin.payments.get(int(raw_id))
        if payment is None:
            return np_error(404, "PAYMENT_NOT_FOUND", f"Payment {raw_id} not found")
        return JSResponse(payment_api_view(payment.api_state))

    async def auth(self, request: Request) -> Response:
        try:
            body = v.json_object(await request.body())
            email = v.string(body, "email", required=True)
            password = v.string(body, "password", required=True)
        except ValidationFailed as failure:
            return _invalid(failure)
        assert email is not None and password is not None
        if not self.standin.credentials_match(email, password):
            return np_error(401, "INVALID_CREDENTIALS", "Invalid email or password")
        return JSResponse({"token": self.standin.issue_token()})

    async def create_payout(self, request: Request) -> Response:
        if (denied := self._payout_refusal(request)) is not None:
            return denied
        try:
            requests = _withdrawal_requests(v.json_object(await request.body()))
        except ValidationFailed as failure:
            return _invalid(failure)
        for index, item in enumerate(requests):
            if (
                refused := _payout_address_refusal(item.currency, item.address, f"withdrawals[{index}]")
            ) is not None:
                return refused
        batch = self.standin.create_payout(requests)
        return JSResponse({"id": batch.id, "withdrawals": batch.withdrawals})

    async def full_currencies(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        return JSResponse({"currencies": [c.full(i) for i, c in enumerate(CURRENCIES.values())]})

    async def validate_address(self, request: Request) -> Response:
        """``POST /v1/payout/validate-address``: "OK" for an address the code's network takes."""
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        try:
            body = v.json_object(await request.body())
            address = v.string(body, "address", required=True)
            currency = v.currency(body, "currency", required=True)
        except ValidationFailed as failure:
            return _invalid(failure)
        assert address is not None and currency is not None
        refused = _payout_address_refusal(currency, address, "")
        return refused if refused is not None else JSResponse("OK")

    async def verify_payout(self, request: Request) -> Response:
        if (denied := self._payout_refusal(request)) is not None:
            return denied
        batch = self.standin.payouts.get(request.path_params["batch_id"])
        if batch is None:
            return np_error(404, "PAYOUT_NOT_FOUND", "Payout not found")
        try:
            body = v.json_object(await request.body())
            code = body.get("verification_code")
            if code is None:
                raise ValidationFailed('"verification_code" is required')
            if isinstance(code, int) and not isinstance(code, bool):
                code = str(code).zfill(6)
            if not isinstance(code, str):
                raise ValidationFailed('"verification_code" must be a string')
        except ValidationFailed as failure:
            return _invalid(failure)
        try:
            self.standin.verify_payout(batch, code)
        except NowPaymentsError as error:
            return _refused(error)
        return JSResponse("OK")

    async def get_payout(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        found = self.standin.find_batch(request.path_params["payout_id"])
        if found is None:
            return np_error(404, "PAYOUT_NOT_FOUND", "Payout not found")
        batch, withdrawals = found
        self.standin.advance_payouts(batch)
        return JSResponse(withdrawals)

    async def list_payouts(self, request: Request) -> Response:
        if (denied := self._payout_refusal(request)) is not None:
            return denied
        query = request.query_params
        try:
            limit = int(query.get("limit", "10"))
            page = int(query.get("page", "0"))
        except ValueError:
            return np_error(400, "INVALID_REQUEST_PARAMS", '"limit" and "page" must be numbers')
        for batch in self.standin.payouts.values():
            self.standin.advance_payouts(batch)
        found = self.standin.list_withdrawals(
            batch_id=query.get("batch_id"),
            status=query.get("status"),
            date_from=query.get("date_from"),
            descending=query.get("order", "asc").lower() == "desc",
        )
        return JSResponse({"payouts": found[page * limit : (page + 1) * limit]})

    async def min_amount(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        coin = request.path_params["coin"]
        if known(coin) is None:
            return np_error(400, "INVALID_REQUEST_PARAMS", f"Currency {coin} was not found")
        return JSResponse({"success": True, "result": self.standin.min_withdrawal(coin)})

    async def min_payment_amount(self, request: Request) -> Response:
        """``GET /v1/min-amount?currency_from=&currency_to=&fiat_equivalent=``: the least a payment
        may be; `currency_to` (the outcome) defaults to `currency_from`, as kept in custody."""
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        query = request.query_params
        currency_from = query.get("currency_from", "").lower()
        if not currency_from:
            return np_error(400, "INVALID_REQUEST_PARAMS", '"currency_from" is required')
        currency_to = query.get("currency_to", "").lower() or currency_from
        fiat = query.get("fiat_equivalent", "").lower() or None
        try:
            in_coin, worth = self.standin.payment_minimum(currency_from, currency_to, fiat)
        except NowPaymentsError as error:
            return _refused(error)
        answer: dict[str, Any] = {
            "currency_from": currency_from,
            "currency_to": currency_to,
            "min_amount": in_coin,
        }
        if worth is not None:
            answer["fiat_equivalent"] = worth
        return JSResponse(answer)

    async def merchant_coins(self, request: Request) -> Response:
        """``GET /v1/merchant/coins``: the coins the account accepts ("coins settings"), the ones
        a buyer may choose on an invoice."""
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        return JSResponse({"selectedCurrencies": [c.upper() for c in self.standin.merchant_coins]})

    async def estimate(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        query = request.query_params
        try:
            amount = float(query.get("amount", ""))
        except ValueError:
            return np_error(400, "INVALID_REQUEST_PARAMS", '"amount" must be a number')
        currency_from = query.get("currency_from", "").lower()
        currency_to = query.get("currency_to", "").lower()
        estimated = self.standin.estimate(amount, currency_from, currency_to)
        if estimated is None:
            return np_error(400, "INVALID_REQUEST_PARAMS", "Currency is not supported")
        return JSResponse(
            {
                "currency_from": currency_from,
                "amount_from": amount,
                "currency_to": currency_to,
                "estimated_amount": estimated,
            }
        )

    async def balance(self, request: Request) -> Response:
        if (denied := self._api_key_refusal(request)) is not None:
            return denied
        return JSResponse(self.standin.balance())

    async def not_found(self, request: Request) -> Response:
        return np_error(404, "NOT_FOUND", f"Cannot {request.method} {request.url.path}")

    # ---------------------------------------------------------------- outside /v1

    async def invoice_page(self, request: Request) -> Response:
        raw = request.query_params.get("iid", "")
        invoice = self.standin.invoices.get(int(raw)) if raw.isdigit() else None
        if invoice is None:
            return HTMLResponse(
                "<!doctype html><title>Invoice not found</title><h1>Invoice not found</h1>", 404
            )
        payments = self.standin.invoice_payments(invoice.id)
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


def _withdrawal_requests(body: dict[str, Any]) -> list[WithdrawalRequest]:
    """The body of ``POST /v1/payout``, validated item by item (Joi labels ``withdrawals[i].x``)."""
    batch_ipn = v.uri(body, "ipn_callback_url")
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
        labelled = {f"{prefix}.{k}": value for k, value in item.items()}
        address = v.string(labelled, f"{prefix}.address", required=True)
        currency = v.currency(labelled, f"{prefix}.currency", required=True)
        amount = v.number(labelled, f"{prefix}.amount", required=True)
        assert address is not None and currency is not None and amount is not None
        parsed.append(
            WithdrawalRequest(
                address=address,
                currency=currency,
                amount=amount,
                ipn_callback_url=v.uri(labelled, f"{prefix}.ipn_callback_url") or batch_ipn,
                extra_id=v.string(labelled, f"{prefix}.extra_id"),
                payout_description=v.string(labelled, f"{prefix}.payout_description"),
                unique_external_id=v.string(labelled, f"{prefix}.unique_external_id"),
            )
        )
    return parsed


def _payout_address_refusal(currency: str, address: str, label: str) -> JSResponse | None:
    """NowPayments' refusal of a payout to an unknown code or an address its network cannot take."""
    coin = known(currency)
    where = f"{label}." if label else ""
    if coin is None:
        return np_error(
            400, "BAD_CREATE_WITHDRAWAL_REQUEST", f'"{where}currency" {currency} is not supported'
        )
    if not coin.takes(address):
        return np_error(
            400, "BAD_CREATE_WITHDRAWAL_REQUEST", f"Invalid payout_address: {address} for {coin.code}"
        )
    return None
