"""JavaScript-exact JSON text and the NowPayments IPN signature, for the stand-in.

The JavaScript-faithful code (``Number::toString``, ``JSON.stringify``, NowPayments' ``sortObject``)
lives in ``telepay.payments.signature``, the verifier TelePay deploys, so the stand-in signs exactly what
the verifier checks. Only the deliberately wrong Python-style signer (signature mode ``python``) is
the stand-in's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from telepay.payments.signature import (
    js_json_stringify,
    js_number_to_string,
    js_sort_object,
    nowpayments_signature,
    nowpayments_signed_text,
)

__all__ = [
    "js_json_stringify",
    "js_number_to_string",
    "js_sort_object",
    "nowpayments_signature",
    "nowpayments_signed_text",
    "python_signature",
]


def python_signature(body: dict[str, Any], secret: str) -> str:
    """The signature a naive Python port accepts: HMAC over ``json.dumps(json.loads(wire), sort_keys=True,
    separators=(",", ":"))``, where ``wire`` is the JavaScript text sent (so ``0.00005`` becomes ``5e-05``).
    """
    text = json.dumps(json.loads(js_json_stringify(body)), sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()
