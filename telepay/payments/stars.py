"""Telegram Stars, the second way to pay, into the same orders, subscriptions, ledger and events
as a NowPayments payment.

- `on_pre_checkout`: the buyer pressed Pay; answered at once (Telegram waits 10 seconds): yes only
  if the order exists, is the buyer's, is unpaid and still costs what the channel asks now.
- `apply_star_charge`: a `successful_payment` (or a charge reconciliation found in
  `getStarTransactions`) settled as a finished IPN is: through `settlement.decide`, in one
  transaction with the ledger entry (held until Telegram releases the Stars), the outbox event and
  the charge's own record (`star_payments/<charge id>`), which makes a re-delivered update change
  nothing. A renewal Telegram charged by itself (`is_recurring`, not `is_first_recurring`) is a
  further payment of the subscription's first order: 30 more days, said so in the receipt.
- `apply_star_refund`: a refund (the operator's `telepay payments refund`, or Telegram's
  `refunded_payment`) takes the refunded payment's days off and reverses its ledger entry, once.
- `/paysupport`, which Telegram expects from bots that take Stars, is a support conversation
  (`telepay.support.threads`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared_schemas.config import SettlementSettings, StarsSettings, TelegramWebhookSettings
from shared_schemas.documents import (
    ChannelStatus,
    OrderDoc,
    OrderStatus,
    StarPaymentDoc,
    StarRenewal,
)
from shared_schemas.ids import OrderKind, PayRail, parse_order_id, subscription_id
from shared_schemas.names import ClaimPurpose
from shared_schemas.nowpayments import Payment
from shared_schemas.telegram import TgMessage, TgPreCheckoutQuery, TgSuccessfulPayment
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.channels.lookup import load_channel
from telepay.channels.star_prices import tier_in_stars
from telepay.core.errors import Permanent
from telepay.core.i18n import N_, STARS, t
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.payments.ipn import flush_outbox, settle_payment
from telepay.payments.settlement import Decision
from telepay.runtime import Runtime

log = get_logger("telepay.stars")


NOT_VALID = N_("This invoice is no longer valid. Open the offer again for a new one.")
PAID_ALREADY = N_("This invoice is paid already. Open the offer again to buy more time.")
PRICE_CHANGED = N_("The price changed since this invoice was made. Open the offer again for the new price.")
PAUSED = N_("Sales of this channel are paused right now. Please try again later.")


@dataclass(frozen=True)
class StarCharge:
    """One Telegram Stars payment: a `successful_payment`, or an incoming transaction of
    `getStarTransactions` (whose id is the charge id)."""

    charge_id: str
    user_id: int
    payload: str  # the order id
    stars: int
    recurring: bool = False
    first_recurring: bool = False
    expiration: datetime | None = None  # subscription_expiration_date
    paid_at: datetime | None = None

    @property
    def is_renewal(self) -> bool:
        return self.recurring and not self.first_recurring


def charge_of(payment: TgSuccessfulPayment, user_id: int, date: int) -> StarCharge:
    expiration = payment.subscription_expiration_date
    return StarCharge(
        charge_id=payment.telegram_payment_charge_id,
        user_id=user_id,
        payload=payment.invoice_payload,
        stars=payment.total_amount,
        recurring=payment.is_recurring,
        first_recurring=payment.is_first_recurring,
        expiration=datetime.fromtimestamp(expiration, UTC) if expiration else None,
        paid_at=datetime.fromtimestamp(date, UTC) if date else None,
    )


def as_payment(charge: StarCharge, payout_usd: Decimal, status: str = "finished") -> Payment:
    """The charge as the settlement decision reads a payment: paid in full, in XTR; what it is worth
    to the owner is its USD value at `payout_usd` per Star (the ledger's settled amount)."""
    stars = Decimal(charge.stars)
    return Payment(
        payment_id=charge.charge_id,
        payment_status=status,
        order_id=charge.payload,
        price_amount=stars,
        price_currency=STARS,
        pay_amount=stars,
        actually_paid=stars,
        pay_currency=STARS.lower(),
        outcome_amount=(stars * payout_usd).quantize(Decimal("0.0001")),
        outcome_currency="usd",
    )


def _order(rt: Runtime[Any], payload: str) -> OrderDoc | None:
    try:
        parse_order_id(payload)
    except ValueError:
        return None
    order = rt.store.orders.get(payload)
    return order if order is not None and order.rail is PayRail.STARS else None


# -- pre-checkout ------------------------------------------------------------------------------
def checkout_refusal(rt: Runtime[StarsSettings], query: TgPreCheckoutQuery) -> str | None:
    """Why this Pay press must be refused (a sentence for the buyer), or None to take the payment."""
    order = _order(rt, query.invoice_payload)
    if order is None or order.user_id != query.from_user.id or query.currency != STARS:
        return t(NOT_VALID)
    if order.status in (OrderStatus.SETTLED, OrderStatus.REFUNDED):
        return t(PAID_ALREADY)
    if order.status not in (OrderStatus.CREATING, OrderStatus.INVOICED):
        return t(NOT_VALID)
    if Decimal(query.total_amount) != order.price_amount:
        return t(PRICE_CHANGED)
    channel = load_channel(rt.store, order.channel_token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        return t(PAUSED)
    if order.kind is OrderKind.SUBSCRIPTION:
        tier = channel.tier(order.tier_id or "")
        if tier is None or tier.days != order.days:
            return t(NOT_VALID)
        # -- promo codes --: a discounted order keeps its price while the tier's full price stands
        full = order.full_price_amount if order.promo_code else Decimal(query.total_amount)
        if tier_in_stars(tier, rt.settings.stars_usd_price) != full:
            return t(PRICE_CHANGED)
    return None


def on_pre_checkout(query: TgPreCheckoutQuery, rt: Runtime[TelegramWebhookSettings]) -> str:
    refusal = checkout_refusal(rt, query)
    try:
        rt.telegram.answer_pre_checkout_query(query.id, refusal is None, refusal)
    except TelegramBadRequest as error:  # too late (Telegram waited 10 s): the buyer was told
        log.warning("pre-checkout answer refused: %s", error, extra={"order_id": query.invoice_payload})
        return "pre-checkout answered too late"
    return "pre-checkout accepted" if refusal is None else f"pre-checkout refused: {refusal}"


# -- settling a charge ---------------------------------------------------------------------------
def apply_star_charge(rt: Runtime[SettlementSettings], charge: StarCharge, source: str) -> str:
    """Settle one Stars charge, once: a re-delivered update, or reconciliation finding a charge its
    update already applied, changes nothing. The event is published at once (a failed publish
    stays in the outbox for the every-minute sweep)."""
    settings = _stars_settings(rt)
    ids = {"order_id": charge.payload, "user_id": charge.user_id}
    order = _order(rt, charge.payload)
    if rt.store.star_payments.get(charge.charge_id) is not None:
        return "duplicate (done)"
    if order is None or order.user_id != charge.user_id:
        log.error("a Stars payment for no TelePay order: refund it", extra=ids)
        return "unknown order"
    now = rt.clock.now()
    paid_at = charge.paid_at or now
    held_until = paid_at + timedelta(days=settings.stars_hold_days)
    payment = as_payment(charge, settings.stars_payout_usd)

    def adjust(current: OrderDoc, decision: Decision) -> Decision:
        return _with_renewal(current, charge, decision)

    def also(tx: Tx, current: OrderDoc, decision: Decision) -> None:
        record = StarPaymentDoc(
            charge_id=charge.charge_id,
            order_id=current.order_id,
            user_id=charge.user_id,
            channel_token=current.channel_token,
            kind=current.kind,
            stars=charge.stars,
            recurring=charge.recurring,
            subscription_expiration_date=charge.expiration,
            outcome=decision.outcome,
            source=source,
            paid_at=paid_at,
        )
        tx.set(rt.store.star_payments, charge.charge_id, record)

    with rt.claims.hold(ClaimPurpose.STAR_PAYMENT, charge.charge_id, lease=timedelta(seconds=30)) as claim:
        if claim.done_before:
            return "duplicate (done)"
        outcome, _ = settle_payment(
            rt,
            order.order_id,
            payment,
            loaded=order,
            claim=claim,
            held_until=held_until,
            adjust=adjust,
            also=also,
        )
    flush_outbox(rt, order.order_id)
    log.info("Stars charge (%s): %s", source, outcome, extra=ids)
    return outcome


def _with_renewal(order: OrderDoc, charge: StarCharge, decision: Decision) -> Decision:
    """A Star subscription's payment also records the subscription Telegram renews (its first
    charge, its price, when it charges next), and its event says whether Telegram renewed it."""
    renews_on = charge.expiration if order.star_subscription else None
    _mark_stars(
        decision,
        renewed_by_telegram=charge.is_renewal,
        renews_on=renews_on.isoformat() if renews_on else None,
    )
    sub = decision.subscription
    if (
        sub is None
        or not order.star_subscription
        or charge.expiration is None
        or "refund" in decision.outcome
    ):
        return decision
    first = sub.star_renewal.charge_id if charge.is_renewal and sub.star_renewal else charge.charge_id
    renewal = StarRenewal(
        charge_id=first, order_id=order.order_id, stars=charge.stars, period_end=charge.expiration
    )
    return replace(decision, subscription=sub.model_copy(update={"star_renewal": renewal}))


def _mark_stars(decision: Decision, **fields: object) -> None:
    """The decision's event says it is a Stars payment (and what else notify needs of it)."""
    if decision.event is not None:
        data = decision.event.envelope["data"]
        assert isinstance(data, dict)
        data |= {"rail": PayRail.STARS.value, **fields}


# -- refunds ---------------------------------------------------------------------------------------
def apply_star_refund(
    rt: Runtime[SettlementSettings], charge_id: str, source: str, first: Callable[[], None] | None = None
) -> str:
    """What a refunded Stars payment bought ends (its days come off, its ledger entry is reversed
    or offset), once; buyer and owner are told by notify, from the event. `first` runs while the
    refund is held (the operator's call to Telegram): Telegram's `refunded_payment` for it, which
    may arrive before that call returns, waits and then finds it applied."""
    record = rt.store.star_payments.get(charge_id)
    if record is None:
        return "unknown charge"
    if record.refunded_at is not None:
        return "already refunded"
    charge = StarCharge(charge_id, record.user_id, record.order_id, record.stars, record.recurring)
    payment = as_payment(charge, _stars_settings(rt).stars_payout_usd, status="refunded")
    now = rt.clock.now()

    def also(tx: Tx, current: OrderDoc, decision: Decision) -> None:
        tx.update(rt.store.star_payments, charge_id, {"refunded_at": now, "refund_source": source})

    def adjust(current: OrderDoc, decision: Decision) -> Decision:
        _mark_stars(decision)
        sub = decision.subscription
        if sub is not None and sub.star_renewal is not None:  # a refunded subscription is not renewed
            renewal = sub.star_renewal.model_copy(update={"canceled": True})
            return replace(decision, subscription=sub.model_copy(update={"star_renewal": renewal}))
        return decision

    with rt.claims.hold(
        ClaimPurpose.STAR_PAYMENT, f"{charge_id}:refund", lease=timedelta(seconds=30)
    ) as claim:
        if claim.done_before:
            return "already refunded"
        if first is not None:
            first()
        outcome, _ = settle_payment(rt, record.order_id, payment, claim=claim, adjust=adjust, also=also)
    flush_outbox(rt, record.order_id)
    log.info("Stars refund (%s): %s", source, outcome, extra={"order_id": record.order_id})
    return outcome


def refund_star_payment(rt: Runtime[Any], charge_id: str, operator: str) -> str:
    """The operator's refund: Telegram gives the buyer their Stars back (and a Star subscription's
    renewal is stopped), then the refund is applied, all while the refund is held, so Telegram's own
    `refunded_payment` notice of it cannot apply it a second time."""
    record = rt.store.star_payments.get(charge_id)
    if record is None:
        raise Permanent(f"no Stars payment {charge_id}")
    if record.refunded_at is not None:
        return "already refunded"

    def at_telegram() -> None:
        try:
            rt.telegram.refund_star_payment(record.user_id, charge_id)
        except TelegramBadRequest as error:
            if "CHARGE_ALREADY_REFUNDED" not in str(error):
                raise
        renewal = _renewal_of(rt, record)
        if renewal is not None:
            try:
                rt.telegram.edit_user_star_subscription(record.user_id, renewal, True)
            except TelegramBadRequest as error:  # ended already, or Telegram stopped it with the refund
                log.info("renewal not cancelled: %s", error, extra={"order_id": record.order_id})

    return apply_star_refund(rt, charge_id, f"operator {operator}", first=at_telegram)


def _renewal_of(rt: Runtime[Any], record: StarPaymentDoc) -> str | None:
    sub = rt.store.subscriptions.get(subscription_id(record.channel_token, record.user_id))
    renewal = sub.star_renewal if sub else None
    if renewal is None or renewal.canceled or renewal.order_id != record.order_id:
        return None
    return renewal.charge_id


def on_successful_payment(message: TgMessage, rt: Runtime[TelegramWebhookSettings]) -> str:
    assert message.successful_payment is not None and message.from_user is not None
    charge = charge_of(message.successful_payment, message.from_user.id, message.date)
    return apply_star_charge(rt, charge, "update")


def on_refunded_payment(message: TgMessage, rt: Runtime[TelegramWebhookSettings]) -> str:
    assert message.refunded_payment is not None
    return apply_star_refund(rt, message.refunded_payment.telegram_payment_charge_id, "telegram")


def _stars_settings(rt: Runtime[Any]) -> StarsSettings:
    settings = rt.settings
    assert isinstance(settings, StarsSettings), "Stars need StarsSettings"
    return settings
