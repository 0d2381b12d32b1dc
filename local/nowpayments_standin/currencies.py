"""The coins the stand-in knows, as NowPayments names them: one code per coin *on a network*
(USDT on Tron is `usdttrc20`, on Ethereum `usdterc20`; `usdt` alone is USDT on Omni, a Bitcoin
layer), each with its network and the `wallet_regex` of `GET /v1/full-currencies`, and the least
NowPayments takes in a payment of it (`GET /v1/min-amount`).

Payouts (`POST /v1/payout`), their minimums, `POST /v1/payout/validate-address` and
`GET /v1/min-amount` refuse a code that is not here, and a payout an address the code's network
cannot take, as NowPayments does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    code: str
    name: str
    network: str
    wallet_regex: str
    is_stable: bool = False

    def takes(self, address: str) -> bool:
        return re.fullmatch(self.wallet_regex, address) is not None

    def full(self, index: int) -> dict[str, object]:
        """This coin as `GET /v1/full-currencies` lists it (the fields TelePay and the tests read)."""
        return {
            "id": index + 1,
            "code": self.code.upper(),
            "name": self.name,
            "enable": True,
            "wallet_regex": self.wallet_regex,
            "priority": index + 1,
            "extra_id_exists": False,
            "extra_id_regex": None,
            "logo_url": f"/images/coins/{self.code}.svg",
            "track": True,
            "cg_id": self.code,
            "is_maxlimit": False,
            "network": self.network,
            "smart_contract": None,
            "network_precision": None,
            "is_stable": self.is_stable,
            "is_popular": True,
            "is_defi": False,
            "available_for_to_conversion": True,
        }


_BASE58 = "[1-9A-HJ-NP-Za-km-z]"
_EVM = "^(0x)[0-9A-Fa-f]{40}$"
_TRON = f"^T{_BASE58}{{33}}$"
_SOLANA = f"^{_BASE58}{{32,44}}$"
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("btc", "Bitcoin", "btc", "^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,62}$"),
        Currency("eth", "Ethereum", "eth", _EVM),
        Currency("usdterc20", "Tether USD (Ethereum)", "eth", _EVM, is_stable=True),
        Currency("usdc", "USD Coin (Ethereum)", "eth", _EVM, is_stable=True),
        Currency("trx", "Tron", "trx", _TRON),
        Currency("usdttrc20", "Tether USD (Tron)", "trx", _TRON, is_stable=True),
        Currency("sol", "Solana", "sol", _SOLANA),
        Currency("usdcsol", "USD Coin (Solana)", "sol", _SOLANA, is_stable=True),
        Currency("usdtsol", "Tether USD (Solana)", "sol", _SOLANA, is_stable=True),
        Currency("usdtbsc", "Tether USD (BNB Smart Chain)", "bsc", _EVM, is_stable=True),
        Currency("usdtmatic", "Tether USD (Polygon)", "matic", _EVM, is_stable=True),
        Currency("usdt", "Tether USD (Omni)", "btc", "^[13][a-km-zA-HJ-NP-Z1-9]{25,34}$", is_stable=True),
        Currency("ltc", "Litecoin", "ltc", "^(L|M|3|ltc1)[a-km-zA-HJ-NP-Z0-9]{26,62}$"),
        Currency("ton", "Toncoin", "ton", "^(EQ|UQ)[A-Za-z0-9_-]{46}$"),
        Currency("xmr", "Monero", "xmr", "^[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}$"),
        Currency("doge", "Dogecoin", "doge", "^D[5-9A-HJ-NP-U][1-9A-HJ-NP-Za-km-z]{32}$"),
    )
}

# The least NowPayments takes in a payment of each coin, in USD (`GET /v1/min-amount`): what the
# network charges to move it decides, so a stablecoin on Ethereum or Tron needs several dollars
# while Litecoin or USDT on BNB Smart Chain takes cents. Roughly the real service's order of
# magnitude; `POST /_control/payment-minimums` sets others.
PAYMENT_MINIMUMS_USD: dict[str, float] = {
    "btc": 2.5,
    "eth": 4.0,
    "usdterc20": 15.0,
    "usdc": 15.0,
    "trx": 1.0,
    "usdttrc20": 9.0,
    "sol": 0.8,
    "usdcsol": 1.0,
    "usdtsol": 1.0,
    "usdtbsc": 0.5,
    "usdtmatic": 0.5,
    "usdt": 50.0,
    "ltc": 0.3,
    "ton": 0.6,
    "xmr": 1.2,
    "doge": 1.5,
}
assert set(PAYMENT_MINIMUMS_USD) == set(CURRENCIES)


def known(code: str) -> Currency | None:
    return CURRENCIES.get(code.lower())
