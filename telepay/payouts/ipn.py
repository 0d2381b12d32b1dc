"""Payout IPNs, received by ipn_handler: NowPayments posts a withdrawal object (signed like payment
IPNs) on each status change. As for payments, the IPN only says "look again": the status that
counts is read back from the API, then recorded forward-only (`payout_flow.observe_withdrawal`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared_schemas.config import IpnHandlerSettings
from shared_schemas.documents import UnknownIpnDoc
from shared_schemas.nowpayments import Withdrawal
from telepay.adapters.nowpayments_api import NowPaymentsRejected, NowPaymentsUnavailable, _withdrawal
from telepay.core.errors import RetryLater
from telepay.core.logs import get_logger
from telepay.payouts.flow import observe_withdrawal
from telepay.runtime import Runtime

log = get_logger("telepay.payout_ipn")


def is_payout_ipn(raw: Any) -> bool:
    return isinstance(raw, dict) and "batch_withdrawal_id" in raw and "payment_id" not in raw


def handle_payout_ipn(raw: dict[str, Any], rt: Runtime[IpnHandlerSettings]) -> tuple[int, str]:
    """(HTTP status, outcome) of a signed payout IPN."""
    try:
        sent = _withdrawal(raw)
    except ValidationError:
        return 400, "malformed payout IPN"
    payout_id = sent.unique_external_id or ""
    payout = rt.store.payouts.get(payout_id) if payout_id and "/" not in payout_id else None
    if payout is None:
        _record_unknown(rt, raw, sent, "unknown payout")
        return 200, "unknown payout"
    try:
        current = rt.nowpayments.get_withdrawal(sent.id)
    except NowPaymentsUnavailable as error:
        raise RetryLater(f"withdrawal re-read failed: {error}") from error
    except NowPaymentsRejected as error:
        _record_unknown(rt, raw, sent, f"withdrawal not confirmed by the API ({error.status})")
        return 200, "withdrawal unknown to the API"
    if current.unique_external_id not in (None, payout_id) or (
        payout.withdrawal_id not in (None, current.id)
    ):
        _record_unknown(rt, raw, sent, "API withdrawal belongs to another payout")
        return 200, "payout mismatch"
    after = observe_withdrawal(rt.store, rt.clock, payout_id, current)
    log.info("payout IPN %s: payout %s", current.status, after.state.value, extra={"payout_id": payout_id})
    return 200, f"payout {after.state.value}"


def _record_unknown(
    rt: Runtime[IpnHandlerSettings], raw: dict[str, Any], sent: Withdrawal, reason: str
) -> None:
    doc = UnknownIpnDoc(
        received_at=rt.clock.now(),
        order_id=sent.unique_external_id,
        payment_id=None,
        payment_status=sent.status,
        reason=reason,
        body=raw,
    )
    rt.store.unknown_ipns.set(f"payout-{sent.id}-{sent.status}", doc)
