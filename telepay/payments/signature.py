"""NowPayments IPN signatures, computed exactly as NowPayments computes them.

NowPayments' documented signer is JavaScript::

    function sortObject(obj) {
      return Object.keys(obj).sort().reduce((result, key) => {
        result[key] = (obj[key] && typeof obj[key] === 'object') ? sortObject(obj[key]) : obj[key];
        return result;
      }, {});
    }
    hmac = crypto.createHmac('sha512', ipnSecret); hmac.update(JSON.stringify(sortObject(body)))

The verifier rebuilds that text from the body received, as JavaScript would after ``JSON.parse``:

* numbers are doubles, written by ``Number::toString`` (ECMAScript 2023, 6.1.6.1.20): the shortest
  digits that round-trip (Python's ``repr`` yields exactly those), plain for 1e-6 <= |x| < 1e21 and
  in exponent notation otherwise (``1e-7``, ``1.5e+21``); ``1.0`` is ``1``, ``-0`` is ``0``, numbers
  beyond the double range are ``Infinity``, which ``JSON.stringify`` writes as ``null``;
* ``sortObject`` sorts keys by UTF-16 code units and turns arrays (``typeof [] === 'object'``) into
  objects keyed ``"0"``, ``"1"``...; assigning ``result["__proto__"]`` sets a prototype instead of a
  property, so that key disappears;
* ``JSON.stringify`` writes an object's keys in JavaScript property order (array-index keys first,
  ascending; then the others in insertion order), compact, escaping only ``"``, ``\\``, control
  characters and lone surrogates (lower-case ``\\u00xx``).

The NowPayments stand-in signs with the same functions, so the two cannot drift apart; a test checks
both against Node running the snippet above.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "SignatureError",
    "canonical_text",
    "js_json_stringify",
    "js_number_to_string",
    "js_sort_object",
    "nowpayments_signature",
    "nowpayments_signed_text",
    "parse_as_javascript",
    "sign",
    "verify",
]

# Real IPNs nest two levels deep; anything much deeper is refused before it can exhaust the stack.
MAX_DEPTH = 32
_MAX_ARRAY_INDEX = 2**32 - 2


class SignatureError(ValueError):
    pass


# -- JavaScript's number text ------------------------------------------------------------------


def _shortest_digits(x: float) -> tuple[str, int]:
    """For a finite x > 0: (digits, n) with x == 0.<digits> * 10**n, digits shortest, no outer zeros."""
    mantissa, _, exponent_text = repr(x).partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    integer_part, _, fraction_part = mantissa.partition(".")
    digits = integer_part + fraction_part
    point = len(integer_part) + exponent
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return digits, point


def js_number_to_string(value: float | int) -> str:
    """``String(value)`` in JavaScript, for a Python int or float (ints are taken as doubles, like JS)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number_to_string(-x)
    digits, n = _shortest_digits(x)
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return f"{digits}e{sign}{abs(e)}"
    return f"{digits[0]}.{digits[1:]}e{sign}{abs(e)}"


# -- JSON.stringify ------------------------------------------------------------------------------

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_quote(text: str) -> str:
    out = ['"']
    i = 0
    length = len(text)
    while i < length:
        ch = text[i]
        code = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDBFF and i + 1 < length and 0xDC00 <= ord(text[i + 1]) <= 0xDFFF:
            # A surrogate pair held as two code points: a well-formed pair in JavaScript, written raw.
            pair = (ch + text[i + 1]).encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            out.append(pair)
            i += 1
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")  # lone surrogate (well-formed JSON.stringify, ES2019)
        else:
            out.append(ch)
        i += 1
    out.append('"')
    return "".join(out)


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and str(int(key)) == key and int(key) <= _MAX_ARRAY_INDEX


def _js_property_order(keys: list[str]) -> list[str]:
    """OrdinaryOwnPropertyKeys: array indices ascending, then string keys in insertion order."""
    indices = sorted((k for k in keys if _is_array_index(k)), key=int)
    return indices + [k for k in keys if not _is_array_index(k)]


def js_json_stringify(value: Any) -> str:
    """``JSON.stringify(value)`` (no indentation) for JSON-like Python values."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_quote(value)
    if isinstance(value, int | float):
        text = js_number_to_string(value)
        return "null" if text in ("NaN", "Infinity", "-Infinity") else text
    if isinstance(value, dict):
        as_text = {str(k): v for k, v in value.items()}
        parts = [f"{_js_quote(k)}:{js_json_stringify(as_text[k])}" for k in _js_property_order(list(as_text))]
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(js_json_stringify(v) for v in value) + "]"
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# -- sortObject and the signature ------------------------------------------------------------------


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def js_sort_object(obj: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """NowPayments' ``sortObject`` (see the module docstring), arrays included the JavaScript way."""
    items: dict[str, Any] = (
        {str(k): v for k, v in obj.items()}
        if isinstance(obj, dict)
        else {str(i): v for i, v in enumerate(obj)}
    )
    result: dict[str, Any] = {}
    for key in sorted(items, key=_utf16_key):
        if key == "__proto__":
            continue  # `result.__proto__ = ...` sets the prototype: no own property, not stringified
        item = items[key]
        result[key] = js_sort_object(item) if isinstance(item, dict | list) else item
    return result


def nowpayments_signed_text(body: dict[str, Any]) -> str:
    """The exact text NowPayments signs: ``JSON.stringify(sortObject(body))``."""
    return js_json_stringify(js_sort_object(body))


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def nowpayments_signature(body: dict[str, Any], secret: str) -> str:
    """Hex HMAC-SHA512 of ``JSON.stringify(sortObject(body))`` with the IPN secret."""
    return _hmac(secret, nowpayments_signed_text(body))


# -- the verifier ----------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SignatureError("body nested too deeply")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def parse_as_javascript(body: bytes) -> dict[str, Any]:
    """``JSON.parse(body)`` as JavaScript sees it (every number a double), for an object body only."""
    try:
        value = json.loads(body, parse_int=float, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise SignatureError("body is not JSON") from error
    if not isinstance(value, dict):
        raise SignatureError("body is not a JSON object")
    _check_depth(value)
    return value


def canonical_text(body: bytes) -> str:
    """The text NowPayments signed for this body."""
    return nowpayments_signed_text(parse_as_javascript(body))


def sign(body: bytes, secret: str) -> str:
    return _hmac(secret, canonical_text(body))


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of `x-nowpayments-sig` against the body; False for any malformed body."""
    if not signature:
        return False
    try:
        expected = sign(body, secret)
    except SignatureError:
        return False
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
