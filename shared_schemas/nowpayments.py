"""What TelePay reads from NowPayments' API: an invoice, a payment, a payout's withdrawal and a
coin's minimum payment.

Plain types at the provider's edge: the NowPayments adapter parses its answers into them, and the
pure rules (settlement, the ledger, the payout rules) take them as values without importing the
adapter. Extra fields of the API are ignored; like the documents, the models are built on first use
(a function that never reads a payment does not pay for building them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared_schemas.money import Money


class Invoice(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    id: str
    invoice_url: str
    order_id: str | None = None


class Payment(BaseModel):
    """The API's view of a payment: the only source of truth for settling. A Telegram Stars charge
    is settled through the same decision as one of these (`telepay.payments.stars.as_payment`):
    its `payment_id` is then the charge id (a string), its currency `XTR`."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    payment_id: int | str
    payment_status: str
    order_id: str | None = None
    price_amount: Money | None = None
    price_currency: str | None = None
    pay_amount: Money | None = None
    actually_paid: Money | None = None
    pay_currency: str | None = None
    invoice_id: int | None = None
    outcome_amount: Money | None = None
    outcome_currency: str | None = None


class Withdrawal(BaseModel):
    """One withdrawal of a NowPayments payout (mass payout) batch."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    id: str
    batch_withdrawal_id: str | None = None
    status: str
    address: str | None = None
    currency: str | None = None
    amount: Money | None = None
    unique_external_id: str | None = None
    hash: str | None = None
    error: str | None = None


class MinAmount(BaseModel):
    """`GET /v1/min-amount`: the least NowPayments takes in a payment of `currency_from` (in its
    units), and that amount's worth in the fiat currency asked for (`fiat_equivalent`)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    currency_from: str
    currency_to: str | None = None
    min_amount: Money
    fiat_equivalent: Money | None = None
