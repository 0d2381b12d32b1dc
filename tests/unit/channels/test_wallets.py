"""Payout addresses checked offline for each network: format, length and checksum, so a typo is
caught before money is sent to it."""

from __future__ import annotations

import hashlib

import pytest

from local.nowpayments_standin import currencies
from telepay.channels import wallets

# Published examples: the genesis block's address, BIP 173/350 test vectors, the USDT contract on
# Tron, wrapped SOL's mint.
BTC_LEGACY = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BTC_BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
BTC_TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
ETH = "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
SOLANA = "So11111111111111111111111111111111111111112"

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(version: int, payload: bytes) -> str:
    """An independent encoder, to make Litecoin addresses for the tests."""
    raw = bytes([version]) + payload
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + text


@pytest.mark.parametrize(
    ("network", "address"),
    [
        ("btc", BTC_LEGACY),
        ("btc", BTC_P2SH),
        ("btc", BTC_BECH32),
        ("btc", BTC_BECH32.upper()),
        ("btc", BTC_TAPROOT),
        ("eth", ETH),
        ("eth", ETH.lower()),
        ("trx", TRON),
        ("sol", SOLANA),
        ("ltc", base58check(0x30, bytes(range(20)))),
        ("ltc", base58check(0x32, bytes(range(20, 40)))),
    ],
)
def test_addresses_accepted(network: str, address: str) -> None:
    net = wallets.network(network)
    assert net is not None and net.is_address(address)


@pytest.mark.parametrize(
    ("network", "address"),
    [
        ("btc", BTC_LEGACY[:-1] + "b"),  # a typo: the checksum catches it
        ("btc", BTC_BECH32[:-1] + "5"),
        ("btc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".replace("q", "Q", 1)),  # mixed case
        ("btc", TRON),
        ("btc", ETH),
        ("eth", ETH[:-1]),
        ("eth", "de0B295669a9FD93d5F28D9Ec85E40f4cb697BAe"),
        ("eth", ETH[:-1] + "g"),
        ("trx", TRON[:-1] + "u"),
        ("trx", BTC_LEGACY),
        ("sol", SOLANA + "0"),  # 0 is not base58
        ("sol", "1111"),
        ("ltc", BTC_LEGACY),
        ("ltc", BTC_BECH32),
    ],
)
def test_addresses_refused(network: str, address: str) -> None:
    net = wallets.network(network)
    assert net is not None and not net.is_address(address)


def test_each_coin_is_paid_out_on_its_networks() -> None:
    assert [n.code for n in wallets.networks_for("usdt")] == ["eth", "trx"]
    assert [n.code for n in wallets.networks_for("usdc")] == ["eth", "sol"]
    assert wallets.network("doge") is None


def test_each_coin_on_each_network_has_nowpayments_code() -> None:
    assert wallets.payout_ticker("usdt", "trx") == "usdttrc20"
    assert wallets.payout_ticker("USDT", "eth") == "usdterc20"
    assert wallets.payout_ticker("usdc", "sol") == "usdcsol"
    assert wallets.payout_ticker("btc", "btc") == "btc"
    assert wallets.payout_ticker("usdt", "btc") is None  # not a pair TelePay pays out on
    assert wallets.payout_ticker("usdttrc20", None) is None  # a code is not a coin


@pytest.mark.parametrize("net", wallets.NETWORKS, ids=lambda n: n.code)
def test_every_payout_code_is_one_nowpayments_knows_on_that_network(net: wallets.Network) -> None:
    """The stand-in plays NowPayments' currency list: each code TelePay sends exists there, on the
    same network, and takes the addresses TelePay accepts for that network."""
    example = {"btc": BTC_BECH32, "eth": ETH, "trx": TRON, "sol": SOLANA, "ltc": base58check(0x30, bytes(20))}
    for coin, code in net.tickers.items():
        known = currencies.known(code)
        assert known is not None, f"{coin} on {net.code}: NowPayments has no {code}"
        assert known.network == net.code
        assert known.takes(example[net.code]), (code, example[net.code])
