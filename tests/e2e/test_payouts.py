"""Owner payouts end to end: an instant owner and a threshold owner are paid exactly their net
amounts after several purchases and donations, through the NowPayments stand-in (create, verify
with a TOTP code, payout IPN to ipn_handler), with the platform fee booked in the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from local.clients import store, wait_for
from local.fixtures import instant_payouts, threshold_payouts, tron_address
from shared_schemas.documents import EntryState, LedgerEntryDoc, PayoutState
from telepay.payouts import ledger
from telepay.payouts.balance import owner_balance, payout_history
from tests.e2e.flows import docs_where, donate, new_channel, open_invoice, pay

pytestmark = pytest.mark.e2e
PAID_IN: dict[str, Any] = {
    "pay_currency": "usdttrc20"
}  # settles in the payout currency (outcome = paid - 0.5 %)


def _buy(tg: Any, np: Any, token: str, tier_index: int) -> int:
    user = tg.user("Buyer")
    return pay(np, open_invoice(tg, user, token, tier_index), **PAID_IN)


def _net(np: Any, payment_id: int) -> Decimal:
    outcome = Decimal(str(np.payment(payment_id)["outcome_amount"]))
    return ledger.split(outcome, Decimal("3"), "usdttrc20")[1]


def _mine(np: Any, wallet: str) -> list[dict[str, Any]]:
    return [w for w in np.withdrawals() if w["address"] == wallet]


def _run_payout_job(stack: Any) -> None:
    scheduler = f"http://127.0.0.1:{stack.config.port_base + 30}"
    httpx.post(f"{scheduler}/run/payouts-every-minute", timeout=200).raise_for_status()


def _verified(np: Any, wallet: str, count: int) -> list[dict[str, Any]] | None:
    found = _mine(np, wallet)
    return found if len(found) == count and all(w["status"] == "PROCESSING" for w in found) else None


def test_instant_and_threshold_owners_are_paid_their_exact_net(stack, endpoints, tg, np, db, token) -> None:  # type: ignore[no-untyped-def]
    instant_wallet, threshold_wallet = tron_address(f"instant {token}"), tron_address(f"threshold {token}")
    instant = new_channel(endpoints, tg, token, **instant_payouts(instant_wallet))
    threshold = new_channel(endpoints, tg, token[:-1] + "T", **threshold_payouts(threshold_wallet, "15"))

    # Instant: two purchases and a donation, each paid on its own once it settles.
    instant_payments = [_buy(tg, np, instant.token, 0), _buy(tg, np, instant.token, 1)]
    instant_payments.append(donate(tg, np, tg.user("Donor"), instant.token, "7", **PAID_IN))
    expected = sorted(_net(np, p) for p in instant_payments)
    withdrawals = wait_for(
        "three verified instant payouts", lambda: _verified(np, instant_wallet, 3), timeout=60
    )
    assert sorted(Decimal(w["amount"]) for w in withdrawals) == expected
    assert {(w["currency"], w["status"]) for w in withdrawals} == {("usdttrc20", "PROCESSING")}

    # Threshold (15 USD): 4.85 + 4.85 net wait; the 12.12 of the next purchase crosses it.
    threshold_payments = [_buy(tg, np, threshold.token, 0)]
    threshold_payments.append(donate(tg, np, tg.user("Donor"), threshold.token, "5", **PAID_IN))
    _run_payout_job(stack)
    assert _mine(np, threshold_wallet) == []
    threshold_payments.append(_buy(tg, np, threshold.token, 1))
    [one] = wait_for("the threshold payout", lambda: _verified(np, threshold_wallet, 1), timeout=60)
    assert Decimal(one["amount"]) == sum((_net(np, p) for p in threshold_payments), Decimal(0))

    # NowPayments finishes them; the payout IPNs reach ipn_handler; the owners are told.
    for withdrawal in [*withdrawals, one]:
        [ipn] = np.set_payout_status(withdrawal["id"], "FINISHED")
        assert ipn["response_status"] == 200, ipn
    _run_payout_job(stack)
    s = store(endpoints)
    for channel, count in ((instant, 3), (threshold, 1)):
        history = payout_history(s, channel.owner)
        assert [p.state for p in history] == [PayoutState.FINISHED] * count
        balance = owner_balance(s, channel.owner)
        assert balance.available == {} and balance.reserved == {} and balance.entries == 3
        assert tg.wait_message(channel.owner, "Payout sent")
    # The fee is booked on every entry, at 3 %, in both currencies.
    for payment_id in instant_payments + threshold_payments:
        [entry] = [
            LedgerEntryDoc.model_validate(d) for d in docs_where(db, "ledger", "payment_id", payment_id)
        ]
        assert entry.fee_percent == Decimal("3") and entry.state is EntryState.PAID
        assert entry.fee_amount + entry.net_amount == entry.gross_amount
        assert entry.settled_fee + entry.settled_net == entry.settled_amount
    assert len(np.withdrawals()) >= 4 and len({w["unique_external_id"] for w in np.withdrawals()}) == len(
        np.withdrawals()
    )
