"""`telepay payments refund ORDER_ID_OR_CHARGE_ID --reason ...`: give a buyer their Telegram Stars
back. TelePay can refund only Stars: Telegram's `refundStarPayment` returns them, then the refund is
applied as Telegram's own `refunded_payment` would (the days bought come off, the owner's ledger
entry is reversed or offset, buyer and owner are told through the payment events), and who did it
and why is recorded on the charge (`star_payments/<charge id>`: `refund_source` `operator <who>`,
`refund_reason`). A crypto payment is refunded in NowPayments' dashboard, not by TelePay: the
command says so and changes nothing. A Stars payment for no TelePay order (reconciliation kept it
in `unknown_ipns` as `stars-<charge id>`) is refunded through Telegram and its record marked."""

from __future__ import annotations

from dataclasses import dataclass

from operator_cli.context import Operator
from operator_cli.output import Failed
from shared_schemas.config import SettlementSettings, StarsSettings, TelegramSettings
from shared_schemas.documents import OrderDoc, StarPaymentDoc
from shared_schemas.ids import PayRail
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.payments.stars import refund_star_payment


class RefundSettings(TelegramSettings, SettlementSettings, StarsSettings):
    """What a refund uses of a function's settings: Telegram, the settlement rules, the Stars values."""


@dataclass(frozen=True)
class Refunded:
    charge_id: str
    order_id: str | None
    user_id: int
    stars: int
    outcome: str
    operator: str
    reason: str


CRYPTO = (
    "{order} was paid in crypto through NowPayments: TelePay does not refund crypto. Refund it in "
    "NowPayments' dashboard (Payments → the payment → Refund); if access must end too, "
    "`telepay access revoke`. Nothing was changed."
)


def refund(op: Operator, target: str, reason: str) -> Refunded:
    """Refund the Stars charge `target` names (a charge id, or an order id paid in Stars)."""
    reason = reason.strip()
    if not reason:
        raise Failed("--reason must not be empty")
    store = op.store
    record = store.star_payments.get(target)
    if record is None:
        order = store.orders.get(target)
        if order is not None:
            record = _charge_of(op, order)
        else:
            return _unknown_payment(op, target, reason)
    who = op.who()
    rt = op.runtime(RefundSettings)
    outcome = refund_star_payment(rt, record.charge_id, who)
    store.star_payments.update(record.charge_id, {"refund_reason": reason[:500]})
    return Refunded(record.charge_id, record.order_id, record.user_id, record.stars, outcome, who, reason)


def _charge_of(op: Operator, order: OrderDoc) -> StarPaymentDoc:
    """The one Stars charge of `order` still to refund."""
    if order.rail is not PayRail.STARS:
        raise Failed(CRYPTO.format(order=order.order_id))
    charges = [
        charge
        for charge_id in (order.payment_id, *order.extra_payment_ids)
        if isinstance(charge_id, str) and (charge := op.store.star_payments.get(charge_id)) is not None
    ]
    if not charges:
        raise Failed(
            f"{order.order_id} was not paid (status {order.status.value}): there is nothing to refund"
        )
    open_charges = [charge for charge in charges if charge.refunded_at is None]
    if not open_charges:
        raise Failed(f"{order.order_id} is refunded already ({', '.join(c.charge_id for c in charges)})")
    if len(open_charges) > 1:  # a Star subscription Telegram renewed: which payment?
        listed = ", ".join(f"{c.charge_id} (⭐{c.stars}, {c.paid_at:%-d %B %Y})" for c in open_charges)
        raise Failed(
            f"{order.order_id} has {len(open_charges)} Stars payments; give the one to refund: {listed}"
        )
    return open_charges[0]


def _unknown_payment(op: Operator, charge_id: str, reason: str) -> Refunded:
    """A Stars payment reconciliation found for no TelePay order: only Telegram has it to give back."""
    record_id = f"stars-{charge_id}"
    kept = op.store.unknown_ipns.get(record_id)
    if kept is None:
        raise Failed(f"no order or Stars payment {charge_id} (give an order id or a Telegram charge id)")
    source = kept.body.get("source")
    user = source.get("user") if isinstance(source, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, int):
        raise Failed(f"{record_id} names no buyer: refund it by hand")
    who = op.who()
    rt = op.runtime(RefundSettings)
    try:
        rt.telegram.refund_star_payment(user_id, charge_id)
        outcome = "refunded (no TelePay order)"
    except TelegramBadRequest as error:
        if "CHARGE_ALREADY_REFUNDED" not in str(error):
            raise
        outcome = "already refunded"
    op.store.unknown_ipns.update(
        record_id, {"reason": f"{kept.reason}; refunded by operator {who}: {reason}"[:1000]}
    )
    amount = kept.body.get("amount")
    return Refunded(charge_id, None, user_id, amount if isinstance(amount, int) else 0, outcome, who, reason)
