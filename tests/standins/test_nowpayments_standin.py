"""The NowPayments stand-in: API shapes, IPN signatures (checked by an independent verifier), control API."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import Any

import httpx
import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from local.background_server import BackgroundServer
from local.fixtures import tron_address
from local.nowpayments_standin import create_app
from local.nowpayments_standin.jsjson import js_json_stringify, js_number_to_string, js_sort_object

API_KEY = "test-api-key"
IPN_SECRET = "test-ipn-secret"
EMAIL = "merchant@example.test"
PASSWORD = "hunter2"
TOTP_SECRET = pyotp.random_base32()
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# --------------------------------------------------------------------------------------------------
# An independent verifier of the documented scheme: HMAC-SHA512 over JSON.stringify(sortObject(body)),
# rebuilt from the received text with every number kept exactly as it was written.
BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP 173's example


class _NumberText(str):
    __slots__ = ()


def _canonical(value: Any) -> str:
    if isinstance(value, _NumberText):
        return str(value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return (
            "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _canonical(value[k]) for k in keys) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def verify_ipn(body: bytes, signature: str | None, secret: str = IPN_SECRET) -> bool:
    if not signature:
        return False
    parsed = json.loads(body, parse_float=_NumberText, parse_int=_NumberText)
    expected = hmac.new(secret.encode(), _canonical(parsed).encode(), hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, signature)


# --------------------------------------------------------------------------------------------------
# A real HTTP receiver for IPNs.


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.delay = 0.0
        self.standin_url = ""
        self.in_flight = 0
        self.max_in_flight = 0

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.delay = 0.0
            self.in_flight = 0
            self.max_in_flight = 0

    async def ipn(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-nowpayments-sig")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            api_status = None
            payload = json.loads(body)
            if "payment_id" in payload and self.standin_url:
                # What the API says while this IPN is being handled.
                async with httpx.AsyncClient(trust_env=False) as client:
                    answer = await client.get(
                        f"{self.standin_url}/v1/payment/{payload['payment_id']}",
                        headers={"x-api-key": API_KEY},
                    )
                    api_status = answer.json()["payment_status"]
            valid = verify_ipn(body, signature)
            with self.lock:
                self.received.append(
                    {
                        "body": body,
                        "signature": signature,
                        "valid": valid,
                        "payload": payload,
                        "api_status": api_status,
                    }
                )
            return PlainTextResponse("ok" if valid else "bad signature", 200 if valid else 401)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    recv = Receiver()
    app = Starlette(routes=[Route("/ipn", recv.ipn, methods=["POST"])])
    with BackgroundServer(app) as server:
        yield recv, server.url + "/ipn"


@pytest.fixture(scope="module")
def standin_server() -> Iterator[BackgroundServer]:
    app = create_app(
        API_KEY, IPN_SECRET, email=EMAIL, password=PASSWORD, totp_secret=TOTP_SECRET, ipn_timeout=5
    )
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture
def np(standin_server: BackgroundServer, receiver: tuple[Receiver, str]) -> Iterator[httpx.Client]:
    recv, _ = receiver
    recv.clear()
    recv.standin_url = standin_server.url
    with httpx.Client(base_url=standin_server.url, trust_env=False, timeout=10) as client:
        client.post("/_control/reset").raise_for_status()
        yield client


KEY = {"x-api-key": API_KEY}


def _invoice(np: httpx.Client, ipn_url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "price_amount": 3,
        "price_currency": "usd",
        "order_id": "order-1",
        "ipn_callback_url": ipn_url,
        **extra,
    }
    response = np.post("/v1/invoice", json=body, headers=KEY)
    assert response.status_code == 200, response.text
    invoice: dict[str, Any] = response.json()
    return invoice


def _payment(np: httpx.Client, invoice_id: str, **spec: Any) -> int:
    spec.setdefault("pay_currency", "btc")
    spec.setdefault("pay_amount", 0.00005)
    response = np.post(f"/_control/invoices/{invoice_id}/payments", json=spec)
    assert response.status_code == 200, response.text
    return int(response.json()["payment_id"])


def _steps(np: httpx.Client, payment_id: int, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = np.post(f"/_control/payments/{payment_id}/steps", json={"steps": steps, **extra})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --------------------------------------------------------------------------------------------------
# API


def test_status_and_healthz(np: httpx.Client) -> None:
    assert np.get("/v1/status").json() == {"message": "OK"}
    assert np.get("/healthz").json() == {"status": "ok"}


def test_invoice_is_shaped_like_the_real_one(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    invoice = _invoice(
        np,
        receiver[1],
        price_amount=9.99,
        order_description="30 days",
        success_url="https://t.me/bot?start=ok",
        cancel_url="https://t.me/bot?start=cancel",
        is_fixed_rate=True,
        is_fee_paid_by_user=False,
    )
    assert invoice["id"].isdigit()
    assert invoice["price_amount"] == "9.99"
    assert invoice["price_currency"] == "usd"
    assert invoice["pay_currency"] is None
    assert invoice["order_id"] == "order-1"
    assert invoice["order_description"] == "30 days"
    assert invoice["ipn_callback_url"] == receiver[1]
    assert invoice["success_url"] == "https://t.me/bot?start=ok"
    assert invoice["cancel_url"] == "https://t.me/bot?start=cancel"
    assert invoice["token_id"]
    assert ISO_MS.match(invoice["created_at"]) and ISO_MS.match(invoice["updated_at"])
    base = str(np.base_url).rstrip("/")
    assert invoice["invoice_url"] == f"{base}/payment/?iid={invoice['id']}"
    page = np.get(invoice["invoice_url"])
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert invoice["id"] in page.text
    listed = np.get("/_control/invoices").json()["invoices"]
    assert [i["id"] for i in listed] == [invoice["id"]]


def test_invoice_url_uses_configured_public_base() -> None:
    app = create_app(API_KEY, IPN_SECRET, public_base_url="https://pay.example.test/")
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, trust_env=False) as client:
        invoice = client.post(
            "/v1/invoice", json={"price_amount": 1, "price_currency": "usd"}, headers=KEY
        ).json()
    assert invoice["invoice_url"] == f"https://pay.example.test/payment/?iid={invoice['id']}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"price_currency": "usd"}, '"price_amount" is required'),
        ({"price_amount": 0, "price_currency": "usd"}, '"price_amount" must be a positive number'),
        ({"price_amount": -3, "price_currency": "usd"}, '"price_amount" must be a positive number'),
        ({"price_amount": "abc", "price_currency": "usd"}, '"price_amount" must be a number'),
        ({"price_amount": True, "price_currency": "usd"}, '"price_amount" must be a number'),
        ({"price_amount": 5}, '"price_currency" is required'),
        ({"price_amount": 5, "price_currency": 7}, '"price_currency" must be a string'),
        (
            {"price_amount": 5, "price_currency": "usd", "ipn_callback_url": "nope"},
            '"ipn_callback_url" must be a valid uri',
        ),
        (
            {"price_amount": 5, "price_currency": "usd", "is_fixed_rate": "maybe"},
            '"is_fixed_rate" must be a boolean',
        ),
        ({"price_amount": 5, "price_currency": "usd", "order_id": 12}, '"order_id" must be a string'),
    ],
)
def test_invoice_validation_errors(np: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = np.post("/v1/invoice", json=body, headers=KEY)
    assert response.status_code == 400
    assert response.json() == {
        "status": False,
        "statusCode": 400,
        "code": "INVALID_REQUEST_PARAMS",
        "message": message,
    }


def test_numeric_string_price_is_accepted(np: httpx.Client) -> None:
    response = np.post("/v1/invoice", json={"price_amount": "12.50", "price_currency": "EUR"}, headers=KEY)
    assert response.status_code == 200
    assert response.json()["price_amount"] == "12.5"
    assert response.json()["price_currency"] == "eur"


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": ""}])
def test_api_key_is_checked(np: httpx.Client, headers: dict[str, str]) -> None:
    expected = {"status": False, "statusCode": 403, "code": "INVALID_API_KEY", "message": "Invalid api key"}
    response = np.post("/v1/invoice", json={"price_amount": 5, "price_currency": "usd"}, headers=headers)
    assert (response.status_code, response.json()) == (403, expected)
    response = np.get("/v1/payment/123", headers=headers)
    assert (response.status_code, response.json()) == (403, expected)


def test_unknown_and_malformed_payment_ids(np: httpx.Client) -> None:
    response = np.get("/v1/payment/999999999", headers=KEY)
    assert response.status_code == 404
    assert response.json()["code"] == "PAYMENT_NOT_FOUND"
    assert response.json()["status"] is False
    response = np.get("/v1/payment/abc", headers=KEY)
    assert response.status_code == 400
    assert response.json()["message"] == "Payment id must be a number"


def test_payment_object_from_the_api(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    invoice = _invoice(np, receiver[1])
    payment_id = _payment(np, invoice["id"])
    response = np.get(f"/v1/payment/{payment_id}", headers=KEY)
    assert response.status_code == 200
    assert '"pay_amount":0.00005' in response.text  # numbers written as Node writes them
    payment = response.json()
    assert payment["payment_id"] == payment_id
    assert payment["invoice_id"] == int(invoice["id"])
    assert payment["payment_status"] == "waiting"
    assert payment["pay_currency"] == "btc"
    assert payment["order_id"] == "order-1"
    assert payment["price_amount"] == 3
    assert payment["actually_paid"] == 0
    assert isinstance(payment["purchase_id"], str)
    for key in (
        "pay_address",
        "outcome_amount",
        "outcome_currency",
        "order_description",
        "created_at",
        "updated_at",
    ):
        assert key in payment


# --------------------------------------------------------------------------------------------------
# IPNs and signatures


def test_ipn_body_and_valid_signature(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    invoice = _invoice(np, url)
    payment_id = _payment(np, invoice["id"])
    result = _steps(np, payment_id, [{"status": "finished"}])
    [sent] = result["ipns"]
    assert sent["response_status"] == 200
    assert sent["response_body"] == "ok"
    [got] = recv.received
    assert got["valid"]
    assert got["body"].decode() == sent["body"]
    assert got["signature"] == sent["signature"]
    text = got["body"].decode()
    assert '"pay_amount":0.00005' in text and "5e-05" not in text
    body = got["payload"]
    assert body["payment_id"] == payment_id and body["invoice_id"] == int(invoice["id"])
    assert body["parent_payment_id"] is None and body["payin_extra_id"] is None
    assert body["payment_status"] == "finished"
    assert body["actually_paid"] == 0.00005
    assert body["pay_currency"] == "btc" and body["price_currency"] == "usd"
    assert isinstance(body["purchase_id"], str)
    assert set(body["fee"]) == {"currency", "depositFee", "withdrawalFee", "serviceFee"}
    for key in (
        "pay_address",
        "actually_paid_at_fiat",
        "order_id",
        "order_description",
        "created_at",
        "updated_at",
        "outcome_amount",
        "outcome_currency",
    ):
        assert key in body
    # The wire keeps the natural key order; only the signed text is sorted.
    assert text.startswith('{"payment_id":')


@pytest.mark.parametrize("mode", ["wrong", "tampered", "missing", "python"])
def test_bad_signatures_are_rejected_by_the_verifier(
    np: httpx.Client, receiver: tuple[Receiver, str], mode: str
) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    result = _steps(np, payment_id, [{"status": "finished", "signature": mode}])
    [sent] = result["ipns"]
    [got] = recv.received
    assert not got["valid"]
    assert sent["response_status"] == 401 and sent["response_body"] == "bad signature"
    if mode == "missing":
        assert got["signature"] is None
    if mode == "tampered":  # signed the true body, sent another one
        assert got["payload"]["actually_paid"] != 0.00005
        assert verify_ipn(sent["signed_text"].encode(), got["signature"])
    if mode == "python":  # signed over json.dumps(sort_keys=True): "5e-05" where JS writes "0.00005"
        python_text = json.dumps(json.loads(got["body"]), sort_keys=True, separators=(",", ":"))
        assert "5e-05" in python_text
        expected = hmac.new(IPN_SECRET.encode(), python_text.encode(), hashlib.sha512).hexdigest()
        assert got["signature"] == expected
    if mode == "wrong":
        assert verify_ipn(got["body"], got["signature"], secret="wrong-" + IPN_SECRET)


def test_status_sequence_with_duplicates_and_reordering(
    np: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    steps: list[dict[str, Any]] = [
        {"status": "waiting"},
        {"status": "confirming"},
        {"status": "finished", "duplicates": 2},
    ]
    result = _steps(np, payment_id, steps, send_order=[2, 0, 1])
    statuses = [r["payload"]["payment_status"] for r in recv.received]
    assert statuses == ["finished", "finished", "waiting", "confirming"]
    assert all(r["valid"] for r in recv.received)
    assert [r["response_status"] for r in result["ipns"]] == [200, 200, 200, 200]
    # Duplicates are the same bytes and signature.
    assert recv.received[0]["body"] == recv.received[1]["body"]
    # The API had already reached "finished" when the late IPNs arrived.
    assert [r["api_status"] for r in recv.received] == ["finished"] * 4
    assert result["payment"]["payment_status"] == "finished"


def test_in_order_sequence_api_follows_each_ipn(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    _steps(
        np, payment_id, [{"status": s} for s in ("waiting", "confirming", "confirmed", "sending", "finished")]
    )
    assert [r["payload"]["payment_status"] for r in recv.received] == [
        "waiting",
        "confirming",
        "confirmed",
        "sending",
        "finished",
    ]
    assert [r["api_status"] for r in recv.received] == [r["payload"]["payment_status"] for r in recv.received]


def test_api_state_and_ipns_are_separately_controllable(
    np: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    _steps(np, payment_id, [{"status": "finished", "update_api": False}])
    assert recv.received[-1]["payload"]["payment_status"] == "finished"
    assert np.get(f"/v1/payment/{payment_id}", headers=KEY).json()["payment_status"] == "waiting"
    _steps(np, payment_id, [{"status": "partially_paid", "actually_paid": 0.00002, "send_ipn": False}])
    assert len(recv.received) == 1
    api = np.get(f"/v1/payment/{payment_id}", headers=KEY).json()
    assert (api["payment_status"], api["actually_paid"]) == ("partially_paid", 0.00002)
    for status in ("failed", "refunded", "expired"):
        _steps(np, payment_id, [{"status": status}])
        assert np.get(f"/v1/payment/{payment_id}", headers=KEY).json()["payment_status"] == status
    assert (
        np.post(f"/_control/payments/{payment_id}/steps", json={"steps": [{"status": "paid"}]}).status_code
        == 400
    )
    rejected = np.post(
        f"/_control/payments/{payment_id}/steps",
        json={"steps": [{"status": "finished", "signature": "bogus"}]},
    )
    assert rejected.status_code == 400
    assert np.get(f"/_control/payments/{payment_id}").json()["latest"]["payment_status"] == "expired"


def test_a_refund_after_settlement(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    """A `refunded` step after `finished`: its IPN and the API say refunded, and the balance no
    longer counts the payment."""
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"], pay_currency="usdttrc20", pay_amount=3)
    _steps(np, payment_id, [{"status": "finished"}])
    settled = np.get("/v1/balance", headers=KEY).json()
    assert settled == {"usdttrc20": {"amount": 2.985, "pendingAmount": 0}}
    [ipn] = _steps(np, payment_id, [{"status": "refunded"}])["ipns"]
    assert ipn["response_status"] == 200 and ipn["payment_status"] == "refunded"
    assert recv.received[-1]["payload"]["payment_status"] == "refunded"
    assert recv.received[-1]["api_status"] == "refunded"
    assert np.get(f"/v1/payment/{payment_id}", headers=KEY).json()["payment_status"] == "refunded"
    assert np.get("/v1/balance", headers=KEY).json() == {}


def test_concurrent_duplicates(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    recv.delay = 0.3
    started = time.monotonic()
    result = _steps(np, payment_id, [{"status": "finished", "duplicates": 5, "concurrent": True}])
    elapsed = time.monotonic() - started
    assert len(recv.received) == 5 and all(r["valid"] for r in recv.received)
    assert recv.max_in_flight > 1
    assert elapsed < 5 * 0.3
    assert [r["copy"] for r in result["ipns"]] == [0, 1, 2, 3, 4]


def test_whole_sequence_concurrent(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    recv.delay = 0.2
    _steps(
        np, payment_id, [{"status": "confirming"}, {"status": "finished", "duplicates": 3}], concurrent=True
    )
    assert sorted(r["payload"]["payment_status"] for r in recv.received) == ["confirming"] + ["finished"] * 3
    assert recv.max_in_flight > 1


def test_replay_sends_the_same_bytes(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    payment_id = _payment(np, _invoice(np, url)["id"])
    [first] = _steps(np, payment_id, [{"status": "finished"}])["ipns"]
    replayed = np.post(f"/_control/ipns/{first['ipn_id']}/replay", json={"copies": 2}).json()["ipns"]
    assert [r["replay_of"] for r in replayed] == [first["ipn_id"]] * 2
    assert len(recv.received) == 3
    assert {r["body"] for r in recv.received} == {first["body"].encode()}
    assert {r["signature"] for r in recv.received} == {first["signature"]}
    listed = np.get("/_control/ipns", params={"payment_id": payment_id}).json()["ipns"]
    assert len(listed) == 3


def test_unreachable_receiver_is_reported(np: httpx.Client) -> None:
    invoice = _invoice(np, "http://127.0.0.1:9/ipn")
    payment_id = _payment(np, invoice["id"])
    [sent] = _steps(np, payment_id, [{"status": "finished"}])["ipns"]
    assert sent["response_status"] is None
    assert sent["error"]


def test_control_lists_payments(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    payment_id = _payment(np, _invoice(np, receiver[1])["id"], actually_paid=0)
    _steps(np, payment_id, [{"status": "confirming"}, {"status": "finished"}])
    [listed] = np.get("/_control/payments").json()["payments"]
    assert listed["payment_id"] == payment_id
    assert [h["status"] for h in listed["history"]] == ["confirming", "finished"]
    assert np.get(f"/_control/payments/{payment_id}").json()["api"]["payment_status"] == "finished"


# --------------------------------------------------------------------------------------------------
# Failure modes


def test_injected_500s_then_normal(np: httpx.Client) -> None:
    np.post(
        "/_control/failures", json={"mode": "error", "count": 2, "path": "/v1/invoice"}
    ).raise_for_status()
    body = {"price_amount": 5, "price_currency": "usd"}
    statuses = [np.post("/v1/invoice", json=body, headers=KEY).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert np.get("/v1/status").status_code == 200  # other endpoints unaffected
    # Only this test's calls: a slow call of another test may finish (and be logged) meanwhile.
    calls = [
        c for c in np.get("/_control/calls").json()["calls"] if c["path"] in ("/v1/invoice", "/v1/status")
    ]
    assert [(c["path"], c["status"], c["injected"]) for c in calls] == [
        ("/v1/invoice", 500, "error"),
        ("/v1/invoice", 500, "error"),
        ("/v1/invoice", 200, None),
        ("/v1/status", 200, None),
    ]


def test_injected_slowness_exceeds_client_timeout(np: httpx.Client) -> None:
    np.post(
        "/_control/failures", json={"mode": "slow", "seconds": 1.0, "path": "/v1/payment"}
    ).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        np.get("/v1/payment/1", headers=KEY, timeout=0.3)
    assert np.get("/v1/payment/1", headers=KEY, timeout=5).status_code == 404


def test_a_slow_call_the_client_gave_up_on_still_takes_effect(np: httpx.Client) -> None:
    """The answer is lost, not the call: what a timed-out create did is there when read back."""
    np.post(
        "/_control/failures", json={"mode": "slow", "seconds": 1.0, "method": "POST", "path": "/v1/invoice"}
    ).raise_for_status()
    before = len(np.get("/_control/invoices").json()["invoices"])
    with pytest.raises(httpx.ReadTimeout):
        np.post("/v1/invoice", json={"price_amount": 5, "price_currency": "usd"}, headers=KEY, timeout=0.3)
    deadline = time.monotonic() + 10
    while len(np.get("/_control/invoices").json()["invoices"]) == before:
        assert time.monotonic() < deadline, "the slow create never took effect"
        time.sleep(0.1)


def test_injected_invalid_api_key(np: httpx.Client) -> None:
    np.post(
        "/_control/failures", json={"mode": "invalid_api_key", "count": 1, "method": "POST"}
    ).raise_for_status()
    body = {"price_amount": 5, "price_currency": "usd"}
    first = np.post("/v1/invoice", json=body, headers=KEY)
    assert (first.status_code, first.json()["code"]) == (403, "INVALID_API_KEY")
    assert np.post("/v1/invoice", json=body, headers=KEY).status_code == 200
    assert np.get("/_control/failures").json()["failures"][0]["remaining"] == 0


# --------------------------------------------------------------------------------------------------
# Payouts


def test_payout_auth_create_verify(np: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    wrong = np.post("/v1/auth", json={"email": EMAIL, "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["status"] is False
    token = np.post("/v1/auth", json={"email": EMAIL, "password": PASSWORD}).json()["token"]
    assert token.count(".") == 2
    request = {
        "withdrawals": [
            {"address": BTC_ADDRESS, "currency": "btc", "amount": 0.0001, "ipn_callback_url": url}
        ]
    }
    no_bearer = np.post("/v1/payout", json=request, headers=KEY)
    assert (no_bearer.status_code, no_bearer.json()["code"]) == (401, "AUTH_REQUIRED")
    bad_bearer = np.post("/v1/payout", json=request, headers={**KEY, "Authorization": "Bearer x.y.z"})
    assert bad_bearer.status_code == 401
    auth = {**KEY, "Authorization": f"Bearer {token}"}
    assert np.post("/v1/payout", json={"withdrawals": []}, headers=auth).status_code == 400
    missing = np.post("/v1/payout", json={"withdrawals": [{"currency": "btc", "amount": 1}]}, headers=auth)
    assert missing.json()["message"] == '"withdrawals[0].address" is required'
    batch = np.post("/v1/payout", json=request, headers=auth).json()
    [withdrawal] = batch["withdrawals"]
    assert withdrawal["status"] == "WAITING"
    assert withdrawal["batch_withdrawal_id"] == batch["id"]
    assert withdrawal["amount"] == "0.0001"
    wrong_code = np.post(
        f"/v1/payout/{batch['id']}/verify", json={"verification_code": "000000"}, headers=auth
    )
    if wrong_code.status_code == 200:  # the 1-in-a-million chance that 000000 is the current code
        pytest.skip("000000 happened to be valid")
    assert wrong_code.status_code == 400 and wrong_code.json()["status"] is False
    code = pyotp.TOTP(TOTP_SECRET).now()
    verified = np.post(f"/v1/payout/{batch['id']}/verify", json={"verification_code": code}, headers=auth)
    assert (verified.status_code, verified.json()) == (200, "OK")
    [status] = np.get(f"/v1/payout/{withdrawal['id']}", headers=KEY).json()
    assert status["status"] == "PROCESSING"
    finished = np.post(f"/_control/payouts/{batch['id']}/status", json={"status": "FINISHED"}).json()
    assert finished["ipns"][0]["response_status"] == 200
    assert recv.received[-1]["valid"] and recv.received[-1]["payload"]["status"] == "FINISHED"
    assert np.get(f"/v1/payout/{batch['id']}", headers=KEY).json()[0]["status"] == "FINISHED"


def test_payouts_can_finish_automatically() -> None:
    app = create_app(
        API_KEY,
        IPN_SECRET,
        email=EMAIL,
        password=PASSWORD,
        totp_secret=TOTP_SECRET,
        payout_auto_finish_seconds=0,
    )
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, trust_env=False) as client:
        token = client.post("/v1/auth", json={"email": EMAIL, "password": PASSWORD}).json()["token"]
        auth = {**KEY, "Authorization": f"Bearer {token}"}
        batch = client.post(
            "/v1/payout",
            json={"withdrawals": [{"address": tron_address("one"), "currency": "trx", "amount": 5}]},
            headers=auth,
        ).json()
        code = pyotp.TOTP(TOTP_SECRET).now()
        assert client.post(
            f"/v1/payout/{batch['id']}/verify", json={"verification_code": code}, headers=auth
        ).is_success
        assert client.get(f"/v1/payout/{batch['id']}", headers=KEY).json()[0]["status"] == "FINISHED"


def test_payout_list_minimums_estimate_and_balance(np: httpx.Client) -> None:
    token = np.post("/v1/auth", json={"email": EMAIL, "password": PASSWORD}).json()["token"]
    auth = {**KEY, "Authorization": f"Bearer {token}"}
    assert np.get("/v1/payout", headers=KEY).status_code == 401  # the list needs the JWT too
    np.post("/_control/balance", json={"trx": 100}).raise_for_status()
    ids = []
    for number in range(3):
        withdrawal = {"address": tron_address(str(number)), "currency": "trx", "amount": 10 + number}
        batch = np.post(
            "/v1/payout",
            json={"withdrawals": [{**withdrawal, "unique_external_id": f"x{number}"}]},
            headers=auth,
        ).json()
        ids.append(batch["withdrawals"][0]["id"])
    listed = np.get("/v1/payout", params={"limit": 2, "page": 0, "order": "desc"}, headers=auth).json()
    assert [w["id"] for w in listed["payouts"]] == [ids[2], ids[1]]
    rest = np.get("/v1/payout", params={"limit": 2, "page": 1, "order": "desc"}, headers=auth).json()
    assert [(w["id"], w["unique_external_id"]) for w in rest["payouts"]] == [(ids[0], "x0")]
    np.post(f"/_control/payouts/{ids[0]}/status", json={"status": "FAILED", "send_ipn": False})
    np.post(f"/_control/payouts/{ids[1]}/status", json={"status": "FINISHED", "send_ipn": False})
    # 100 credited; 11 sent, 12 still pending; the failed 10 is back.
    assert np.get("/v1/balance", headers=KEY).json() == {"trx": {"amount": 77, "pendingAmount": 12}}
    assert np.get("/v1/payout-withdrawal/min-amount/trx", headers=KEY).json() == {
        "success": True,
        "result": 10,
    }
    np.post("/_control/payout-minimums", json={"trx": 20}).raise_for_status()
    assert np.get("/v1/payout-withdrawal/min-amount/TRX", headers=KEY).json()["result"] == 20
    estimate = np.get(
        "/v1/estimate", params={"amount": 12, "currency_from": "usd", "currency_to": "trx"}, headers=KEY
    ).json()
    assert estimate == {
        "currency_from": "usd",
        "amount_from": 12,
        "currency_to": "trx",
        "estimated_amount": 100,
    }
    unknown = np.get(
        "/v1/estimate", params={"amount": 1, "currency_from": "usd", "currency_to": "zzz"}, headers=KEY
    )
    assert unknown.status_code == 400


# --------------------------------------------------------------------------------------------------
# JavaScript number formatting and JSON.stringify


KNOWN_JS = [
    (0.00005, "0.00005"),
    (0.0000081, "0.0000081"),
    (0.000001, "0.000001"),
    (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"),
    (1.234e-7, "1.234e-7"),
    (123e-20, "1.23e-18"),
    (10.0, "10"),
    (100, "100"),
    (-1.5, "-1.5"),
    (-0.0, "0"),
    (0.0, "0"),
    (0.1 + 0.2, "0.30000000000000004"),
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (1.5e21, "1.5e+21"),
    (123456789012345680000.0, "123456789012345680000"),
    (2**53 + 1, "9007199254740992"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (165.652609, "165.652609"),
    (2**-24, "5.960464477539063e-8"),
    (math.inf, "Infinity"),
    (-math.inf, "-Infinity"),
    (math.nan, "NaN"),
]


@pytest.mark.parametrize(("value", "expected"), KNOWN_JS)
def test_known_javascript_number_strings(value: float, expected: str) -> None:
    assert js_number_to_string(value) == expected


def _oracle(x: float) -> str:
    """Number::toString by another route: ECMAScript's recommended step 5 (Note 2) with exact decimals.

    The fewest digits k such that some k-digit s * 10**e reads back as x; among those, the one closest to
    x, ties going to the even s. Then the layout rules of Number::toString.
    """
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _oracle(-x)
    with localcontext() as ctx:
        ctx.prec = 1200
        exact = Decimal(x)
        for k in range(1, 18):
            exponent = exact.adjusted() - k + 1
            floor = int(exact.scaleb(-exponent))
            found = []
            for s in (floor - 1, floor, floor + 1, floor + 2):
                if s <= 0 or len(str(s)) != k:
                    continue
                value = Decimal(s).scaleb(exponent)
                if float(value) == x:
                    found.append((abs(value - exact), s % 2, s))
            if found:
                s = min(found)[2]
                break
    digits = str(s).rstrip("0")
    n = len(str(s)) + exponent  # x = 0.digits * 10**n
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    tail = "." + digits[1:] if k > 1 else ""
    return f"{digits[0]}{tail}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


_JS_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d*[1-9])?(e[+-][1-9]\d*)?$")


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_round_trips_and_matches_oracle(x: float) -> None:
    text = js_number_to_string(x)
    assert float(text) == x
    assert text == _oracle(x)
    assert _JS_NUMBER.match(text), text
    magnitude = abs(x)
    if x != 0:
        assert ("e" in text) == (magnitude < 1e-6 or magnitude >= 1e21)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(1000), places=8))
def test_crypto_amounts_never_use_exponents(amount: Decimal) -> None:
    x = float(amount)
    text = js_number_to_string(x)
    assert float(text) == x
    if x >= 1e-6:
        assert "e" not in text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_safe_integers_are_plain(n: int) -> None:
    assert js_number_to_string(n) == str(n)


def test_json_stringify_matches_javascript() -> None:
    assert js_json_stringify({"a": [1, 2.5, None, True], "b": "x"}) == '{"a":[1,2.5,null,true],"b":"x"}'
    assert js_json_stringify({"s": 'q"\\\n\t\x01é€😀\u2028'}) == '{"s":"q\\"\\\\\\n\\t\\u0001é€😀\u2028"}'
    assert js_json_stringify({"lone": "\ud800"}) == '{"lone":"\\ud800"}'
    assert js_json_stringify({"n": math.nan, "i": math.inf}) == '{"n":null,"i":null}'
    # JavaScript puts array-index keys first, in numeric order.
    assert js_json_stringify({"b": 1, "10": 2, "2": 3, "a": 4}) == '{"2":3,"10":2,"b":1,"a":4}'


def test_sort_object_like_the_reference() -> None:
    body = {"b": {"z": 1, "a": {"y": 0.00005, "c": None}}, "a": 1e-7, "B": "upper first", "fee": {}}
    assert js_json_stringify(js_sort_object(body)) == (
        '{"B":"upper first","a":1e-7,"b":{"a":{"c":null,"y":0.00005},"z":1},"fee":{}}'
    )
    # typeof [] === "object": sortObject turns arrays into index-keyed objects.
    assert js_json_stringify(js_sort_object({"l": [3, 4]})) == '{"l":{"0":3,"1":4}}'


def test_payouts_refuse_a_code_they_do_not_know_and_an_address_its_network_cannot_take(
    np: httpx.Client,
) -> None:
    token = np.post("/v1/auth", json={"email": EMAIL, "password": PASSWORD}).json()["token"]
    auth = {**KEY, "Authorization": f"Bearer {token}"}
    tron = tron_address("owner")

    def payout(currency: str, address: str) -> httpx.Response:
        item = {"address": address, "currency": currency, "amount": 5}
        return np.post("/v1/payout", json={"withdrawals": [item]}, headers=auth)

    unknown = payout("usdtron", tron)
    assert unknown.status_code == 400 and "usdtron is not supported" in unknown.json()["message"]
    # `usdt` alone is USDT on Omni: a Tron address is not one of its addresses.
    wrong_chain = payout("usdt", tron)
    assert wrong_chain.status_code == 400
    assert wrong_chain.json()["code"] == "BAD_CREATE_WITHDRAWAL_REQUEST"
    assert f"Invalid payout_address: {tron}" in wrong_chain.json()["message"]
    assert payout("usdttrc20", tron).is_success
    assert np.get("/v1/payout-withdrawal/min-amount/usdtron", headers=KEY).status_code == 400

    check = "/v1/payout/validate-address"
    assert np.post(check, json={"address": tron, "currency": "usdttrc20"}, headers=KEY).json() == "OK"
    refused = np.post(check, json={"address": BTC_ADDRESS, "currency": "usdttrc20"}, headers=KEY)
    assert refused.status_code == 400 and "Invalid payout_address" in refused.json()["message"]
    assert np.post(check, json={"address": tron, "currency": "usdttrc20"}).status_code in (401, 403)

    listed = np.get("/v1/full-currencies", headers=KEY).json()["currencies"]
    usdt_tron = next(c for c in listed if c["code"] == "USDTTRC20")
    assert usdt_tron["network"] == "trx" and re.fullmatch(usdt_tron["wallet_regex"], tron)


# --------------------------------------------------------------------------------------------------
# Payment minimums: the coins an invoice offers and the least NowPayments takes in each


def test_merchant_coins_are_the_coins_an_invoice_offers(np: httpx.Client) -> None:
    coins = np.get("/v1/merchant/coins", headers=KEY).json()
    assert set(coins) == {"selectedCurrencies"}
    listed = {c["code"] for c in np.get("/v1/full-currencies", headers=KEY).json()["currencies"]}
    assert coins["selectedCurrencies"] and set(coins["selectedCurrencies"]) <= listed  # upper case, known
    np.post("/_control/merchant-coins", json={"coins": ["btc", "usdttrc20"]}).raise_for_status()
    assert np.get("/v1/merchant/coins", headers=KEY).json() == {"selectedCurrencies": ["BTC", "USDTTRC20"]}
    assert np.post("/_control/merchant-coins", json={"coins": ["usdtron"]}).status_code == 400
    assert np.get("/v1/merchant/coins").status_code == 403


def test_min_amount_answers_in_nowpayments_shape_with_the_fiat_equivalent(np: httpx.Client) -> None:
    def minimum(**params: str) -> httpx.Response:
        return np.get("/v1/min-amount", params=params, headers=KEY)

    answer = minimum(currency_from="btc", currency_to="btc", fiat_equivalent="usd").json()
    assert set(answer) == {"currency_from", "currency_to", "min_amount", "fiat_equivalent"}
    assert (answer["currency_from"], answer["currency_to"]) == ("btc", "btc")
    # In the coin's own units, and what that is worth in the fiat asked for.
    assert answer["min_amount"] == pytest.approx(answer["fiat_equivalent"] / 60000, rel=1e-3)
    assert "e-" not in minimum(currency_from="btc", currency_to="btc").text  # written as Node writes it
    # Realistic minimums: a stablecoin on Tron or Ethereum needs several dollars, Litecoin cents.
    usd = {
        coin: minimum(currency_from=coin, currency_to=coin, fiat_equivalent="usd").json()["fiat_equivalent"]
        for coin in ("usdttrc20", "usdterc20", "ltc", "usdtbsc")
    }
    assert usd["usdterc20"] > usd["usdttrc20"] > 5 > 1 > usd["usdtbsc"] and usd["ltc"] < 1
    # Without fiat_equivalent the answer has no fiat_equivalent; upper-case codes are taken.
    plain = minimum(currency_from="LTC", currency_to="ltc").json()
    assert set(plain) == {"currency_from", "currency_to", "min_amount"} and plain["currency_from"] == "ltc"
    # Into another outcome currency, the larger of the two minimums counts.
    assert minimum(currency_from="ltc", currency_to="usdterc20", fiat_equivalent="usd").json()[
        "fiat_equivalent"
    ] == pytest.approx(usd["usdterc20"])
    np.post("/_control/payment-minimums", json={"ltc": 3}).raise_for_status()
    assert minimum(currency_from="ltc", currency_to="ltc", fiat_equivalent="usd").json()[
        "fiat_equivalent"
    ] == pytest.approx(3)


def test_min_amount_refuses_what_nowpayments_refuses(np: httpx.Client) -> None:
    def refused(params: dict[str, str], headers: dict[str, str] = KEY) -> tuple[int, str, str]:
        answer = np.get("/v1/min-amount", params=params, headers=headers)
        body = answer.json()
        assert body["status"] is False and body["statusCode"] == answer.status_code
        return answer.status_code, body["code"], body["message"]

    assert refused({"currency_from": "btc"}, {})[:2] == (403, "INVALID_API_KEY")
    assert refused({}) == (400, "INVALID_REQUEST_PARAMS", '"currency_from" is required')
    status, code, message = refused({"currency_from": "usdtron", "currency_to": "btc"})
    assert (status, code) == (400, "INVALID_REQUEST_PARAMS") and "usdtron" in message
    assert "zzz" in refused({"currency_from": "btc", "currency_to": "zzz"})[2]
    assert "xyz" in refused({"currency_from": "btc", "currency_to": "btc", "fiat_equivalent": "xyz"})[2]


def test_the_readme_lists_each_coins_minimum_payment() -> None:
    from pathlib import Path

    from local.nowpayments_standin.currencies import PAYMENT_MINIMUMS_USD

    readme = (Path(__file__).resolve().parents[2] / "local" / "nowpayments_standin" / "README.md").read_text()
    listed: dict[str, float] = {}
    for codes, minimums in re.findall(r"^\| (`[^|]+`) \|.*\| ([0-9., ]+) \|$", readme, re.M):
        for code, value in zip(re.findall(r"`(\w+)`", codes), minimums.split(","), strict=True):
            listed[code] = float(value)
    assert listed == PAYMENT_MINIMUMS_USD
