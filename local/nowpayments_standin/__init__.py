"""Local stand-in for the NowPayments API (invoices, payments, IPNs, payouts) with a control API.

Run it::

    python -m local.nowpayments_standin --host 127.0.0.1 --port 8082 --api-key KEY --ipn-secret SECRET

or build the app in-process with :func:`create_app`. Everything (API, IPN format and signature, the
``/_control`` API) is documented in ``README.md`` next to this file.
"""

from local.nowpayments_standin.app import create_app
from local.nowpayments_standin.jsjson import (
    js_json_stringify,
    js_number_to_string,
    js_sort_object,
    nowpayments_signature,
    nowpayments_signed_text,
    python_signature,
)
from local.nowpayments_standin.model import PAYMENT_STATUSES, NowPaymentsStandin

__all__ = [
    "PAYMENT_STATUSES",
    "NowPaymentsStandin",
    "create_app",
    "js_json_stringify",
    "js_number_to_string",
    "js_sort_object",
    "nowpayments_signature",
    "nowpayments_signed_text",
    "python_signature",
]
