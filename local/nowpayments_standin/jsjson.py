"""JavaScript-exact JSON text and the NowPayments IPN signature.

NowPayments' reference code signs ``JSON.stringify(sortObject(body))`` with HMAC-SHA512. To produce the
same bytes from Python, three JavaScript behaviours are reproduced here:

* ``Number::toString`` (ECMAScript 2023, 6.1.6.1.20): the shortest digits that round-trip (Python's
  ``repr`` yields exactly those), written in plain notation for 1e-7 < |x| < 1e21 and in exponent
  notation otherwise (``1e-7``, ``1.5e+21``); integral values lose their ``.0``; ``-0`` is ``0``.
* ``JSON.stringify``: compact, only ``"``, ``\\``, control characters and lone surrogates escaped
  (lower-case ``\\u00xx``), non-finite numbers written as ``null``, and object keys in JavaScript
  property order (array-index keys first, ascending; then the others in insertion order).
* ``sortObject`` from the NowPayments docs::

      function sortObject(obj) {
        return Object.keys(obj).sort().reduce((result, key) => {
          result[key] = (obj[key] && typeof obj[key] === 'object') ? sortObject(obj[key]) : obj[key];
          return result;
        }, {});
      }

  keys are sorted by UTF-16 code units (JavaScript's default sort), and, as in JavaScript, arrays
  (``typeof [] === 'object'``) come out as objects keyed ``"0"``, ``"1"``...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from typing import Any

__all__ = [
    "js_json_stringify",
    "js_number_to_string",
    "js_sort_object",
    "nowpayments_signature",
    "nowpayments_signed_text",
    "python_signature",
]

_MAX_ARRAY_INDEX = 2**32 - 2


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
        item = items[key]
        result[key] = js_sort_object(item) if isinstance(item, dict | list) else item
    return result


def nowpayments_signed_text(body: dict[str, Any]) -> str:
    """The exact text NowPayments signs: ``JSON.stringify(sortObject(body))``."""
    return js_json_stringify(js_sort_object(body))


def nowpayments_signature(body: dict[str, Any], secret: str) -> str:
    """Hex HMAC-SHA512 of ``JSON.stringify(sortObject(body))`` with the IPN secret."""
    text = nowpayments_signed_text(body)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()


def python_signature(body: dict[str, Any], secret: str) -> str:
    """The signature a naive Python port accepts: HMAC over ``json.dumps(json.loads(wire), sort_keys=True,
    separators=(",", ":"))``, where ``wire`` is the JavaScript text sent (so ``0.00005`` becomes ``5e-05``).
    """
    text = json.dumps(json.loads(js_json_stringify(body)), sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()
