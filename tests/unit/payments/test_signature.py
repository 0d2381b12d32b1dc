"""The IPN signature is checked exactly as NowPayments signs (its reference signer is JavaScript)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local.nowpayments_standin.jsjson import js_json_stringify, nowpayments_signature
from telepay.payments.signature import canonical_text, sign, verify

SECRET = "unit-ipn-secret"
# What a NowPayments IPN looks like on the wire: JavaScript number text, nested fee, unsorted keys.
WIRE = (
    b'{"payment_id":5077125051,"payment_status":"finished","pay_address":"bc1qexample",'
    b'"price_amount":5,"price_currency":"usd","pay_amount":0.00005,"actually_paid":0.00005,'
    b'"pay_currency":"btc","order_id":"tp1-sub-DemoChannel01-7-t1-abcdefghij",'
    b'"fee":{"currency":"btc","depositFee":0,"withdrawalFee":0.0000081,"serviceFee":0},'
    b'"outcome_amount":0.0000419,"purchase_id":"5837122679"}'
)


def _js_signature(secret: str) -> str:
    # Sorted keys at every level, compact, numbers exactly as JavaScript wrote them.
    canonical = (
        '{"actually_paid":0.00005,"fee":{"currency":"btc","depositFee":0,"serviceFee":0,'
        '"withdrawalFee":0.0000081},"order_id":"tp1-sub-DemoChannel01-7-t1-abcdefghij",'
        '"outcome_amount":0.0000419,"pay_address":"bc1qexample","pay_amount":0.00005,'
        '"pay_currency":"btc","payment_id":5077125051,"payment_status":"finished",'
        '"price_amount":5,"price_currency":"usd","purchase_id":"5837122679"}'
    )
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha512).hexdigest()


def test_accepts_the_signature_javascript_makes() -> None:
    assert verify(WIRE, _js_signature(SECRET), SECRET)


def test_refuses_a_signature_made_the_python_way() -> None:
    python_text = json.dumps(json.loads(WIRE), sort_keys=True, separators=(",", ":"))
    assert "5e-05" in python_text
    python_signature = hmac.new(SECRET.encode(), python_text.encode(), hashlib.sha512).hexdigest()
    assert not verify(WIRE, python_signature, SECRET)


def test_refuses_tampering_wrong_secret_and_missing_signature() -> None:
    signature = _js_signature(SECRET)
    tampered = WIRE.replace(b'"price_amount":5', b'"price_amount":50')
    assert not verify(tampered, signature, SECRET)
    assert not verify(WIRE, _js_signature("another-secret"), SECRET)
    assert not verify(WIRE, None, SECRET)
    assert not verify(WIRE, "", SECRET)
    assert not verify(b"not json", signature, SECRET)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.dictionaries(st.text(), c)
    )
)
def test_signing_is_independent_of_key_order_and_whitespace(value: object) -> None:
    body = {"z": value, "a": [1, "x"], "m": {"k2": 1, "k1": 2}}
    spaced = json.dumps(body, indent=2).encode()
    compact = json.dumps(dict(reversed(list(body.items()))), separators=(",", ":")).encode()
    assert canonical_text(spaced) == canonical_text(compact)
    assert verify(compact, sign(spaced, SECRET), SECRET)


# NowPayments signs JSON.stringify(sortObject(body)): arrays become objects keyed "0", "1"...,
# integer-like keys come first in numeric order, numbers are written as JavaScript writes them.
@pytest.mark.parametrize(
    ("wire", "signed_text"),
    [
        (b'{"items":[1,2]}', '{"items":{"0":1,"1":2}}'),
        (b'{"fee":{"10":1,"2":2,"b":3,"a":4}}', '{"fee":{"2":2,"10":1,"a":4,"b":3}}'),
        (b'{"l":[[],{}],"e":[]}', '{"e":{},"l":{"0":{},"1":{}}}'),
        (
            b'{"a":1.0,"b":1E-7,"c":1e21,"d":-0,"e":0.00005,"f":100e-2,"g":1.50,"h":1e400}',
            '{"a":1,"b":1e-7,"c":1e+21,"d":0,"e":0.00005,"f":1,"g":1.5,"h":null}',
        ),
        (b'{"big":12345678901234567890,"small":5e-324}', '{"big":12345678901234567000,"small":5e-324}'),
        (b'{"s":"\\ud800 \\u00e9 \\u2028 \\u001f"}', '{"s":"\\ud800 \u00e9 \u2028 \\u001f"}'),
        (b'{"__proto__":{"x":1},"k":0}', '{"k":0}'),
    ],
)
def test_canonical_text_is_what_javascript_signs(wire: bytes, signed_text: str) -> None:
    assert canonical_text(wire) == signed_text
    signature = hmac.new(SECRET.encode(), signed_text.encode(), hashlib.sha512).hexdigest()
    assert verify(wire, signature, SECRET)


@pytest.mark.parametrize(
    "body",
    [
        {"items": [1, 2]},
        {"fee": {"10": 1, "2": 2}},
        {"x": [{"b": 1, "a": [0.1, 1e-7]}], "10": "ten", "9": None, "ü": "ü"},
    ],
)
def test_the_standin_signer_and_the_verifier_agree(body: dict[str, object]) -> None:
    wire = js_json_stringify(body).encode()
    assert verify(wire, nowpayments_signature(body, SECRET), SECRET)


@pytest.mark.parametrize(
    "wire",
    [
        b'{"a":"\\ud800"}',
        b'{"\\udfff":1}',
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"a":NaN}',
        b'{"a":-Infinity}',
        b"\xff\xfe{",
        b"[1,2]",
        b'"text"',
        b"null",
        b"",
    ],
)
def test_malformed_or_hostile_bodies_are_refused_without_raising(wire: bytes) -> None:
    assert verify(wire, "0" * 128, SECRET) is False
