"""The NowPayments adapter against the stand-in: what buyers can pay with and the least each coin
takes (`GET /v1/merchant/coins`, `GET /v1/min-amount`), kept a while so an owner's questions do not
ask again at every answer."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from local.background_server import BackgroundServer
from local.nowpayments_standin import create_app
from local.nowpayments_standin.model import NowPaymentsStandin
from telepay.adapters.nowpayments_api import NowPaymentsApi, NowPaymentsRejected, NowPaymentsUnavailable

KEY = "test-api-key"


@pytest.fixture
def standin() -> Iterator[tuple[str, NowPaymentsStandin]]:
    app = create_app(KEY, "test-ipn-secret")
    with BackgroundServer(app) as server:
        yield server.url, app.state.standin


def _calls(standin: NowPaymentsStandin, path: str) -> int:
    return sum(1 for call in standin.calls if call["path"] == path)


def test_min_amount_in_the_coin_and_in_usd(standin: tuple[str, NowPaymentsStandin]) -> None:
    url, _ = standin
    minimum = NowPaymentsApi(url, KEY, 2.0).min_payment_amount("USDTTRC20", fiat="usd")
    assert (minimum.currency_from, minimum.currency_to) == ("usdttrc20", "usdttrc20")
    assert minimum.fiat_equivalent == Decimal("9") and minimum.min_amount == Decimal("9")
    with pytest.raises(NowPaymentsRejected) as refused:
        NowPaymentsApi(url, "wrong-key", 2.0).min_payment_amount("btc", fiat="usd")
    assert refused.value.status == 403


def test_payment_minimums_of_every_coin_buyers_can_use_are_kept_a_while(
    standin: tuple[str, NowPaymentsStandin],
) -> None:
    url, np = standin
    np.merchant_coins = ["btc", "usdttrc20", "ltc"]
    api = NowPaymentsApi(url, KEY, 2.0)
    assert api.merchant_coins() == ["btc", "usdttrc20", "ltc"]
    expected = {"btc": Decimal("2.5"), "usdttrc20": Decimal("9"), "ltc": Decimal("0.3")}
    assert api.payment_minimums("usd") == expected
    assert api.payment_minimums("usd") == expected
    assert (_calls(np, "/v1/merchant/coins"), _calls(np, "/v1/min-amount")) == (2, 3)
    fresh = NowPaymentsApi(url, KEY, 2.0, minimums_ttl=0)
    fresh.payment_minimums("usd")
    fresh.payment_minimums("usd")
    assert _calls(np, "/v1/min-amount") == 9


def test_a_coin_nowpayments_has_no_minimum_for_is_left_out(standin: tuple[str, NowPaymentsStandin]) -> None:
    url, np = standin
    np.merchant_coins = ["btc", "zzz"]  # one NowPayments refuses to price
    assert NowPaymentsApi(url, KEY, 2.0).payment_minimums("usd") == {"btc": Decimal("2.5")}


def test_nowpayments_down_is_unavailable_and_not_kept(standin: tuple[str, NowPaymentsStandin]) -> None:
    url, np = standin
    np.merchant_coins = ["btc", "ltc"]
    np.add_failure({"mode": "error", "count": 1, "path": "/v1/min-amount"})
    api = NowPaymentsApi(url, KEY, 2.0)
    with pytest.raises(NowPaymentsUnavailable):
        api.payment_minimums("usd")
    assert api.payment_minimums("usd") == {"btc": Decimal("2.5"), "ltc": Decimal("0.3")}
