"""NowPayments IPN signatures, computed exactly as NowPayments computes them.

NowPayments signs `JSON.stringify(sortObject(body))` with HMAC-SHA512 and the IPN secret. So the
verifier must rebuild that text: keys sorted at every level, compact separators, strings escaped as
JavaScript escapes them, and every number written as it was sent (the sender is JavaScript, whose
number text is what arrives: `0.00005` must stay `0.00005`, which Python's float repr would turn
into `5e-05`). Numbers are therefore kept as their original text while parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


class RawNumber(str):
    """A JSON number kept as the exact text it arrived as."""

    __slots__ = ()


class SignatureError(ValueError):
    pass


def parse_preserving_numbers(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=RawNumber, parse_int=RawNumber)
    except (ValueError, UnicodeDecodeError) as error:
        raise SignatureError("body is not JSON") from error


def _serialise(value: Any) -> str:
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{_string(k)}:{_serialise(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_serialise(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    raise SignatureError(f"unexpected JSON value {type(value).__name__}")


def _string(text: str) -> str:
    # JSON.stringify escapes exactly what json.dumps(ensure_ascii=False) escapes.
    return json.dumps(text, ensure_ascii=False)


def canonical_text(body: bytes) -> str:
    return _serialise(parse_preserving_numbers(body))


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), canonical_text(body).encode(), hashlib.sha512).hexdigest()


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of `x-nowpayments-sig` against the body."""
    if not signature:
        return False
    try:
        expected = sign(body, secret)
    except SignatureError:
        return False
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
