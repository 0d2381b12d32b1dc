"""Where payouts may go: the networks TelePay pays out on, the coins on each, and their addresses.

Addresses are checked as far as can be done offline: characters, length and, where the format has
one, the checksum (Base58Check, Bech32/Bech32m), so a typo is caught before money is sent to it.
Ethereum's mixed-case (EIP-55) checksum needs Keccak, which the standard library lacks, so it is
not verified. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from telepay.core.i18n import N_

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3


def _b58decode(text: str) -> bytes | None:
    number = 0
    for char in text:
        digit = _B58.find(char)
        if digit < 0:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _base58check(text: str, versions: set[int], length: int = 21) -> bool:
    """Base58Check: a version byte, a payload and 4 bytes of double SHA-256."""
    raw = _b58decode(text)
    if raw is None or len(raw) != length + 4:
        return False
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return False
    return payload[0] in versions


def _bech32_polymod(values: list[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(generators):
            if (top >> bit) & 1:
                check ^= generator
    return check


def _segwit(text: str, hrp: str) -> bool:
    """A SegWit address (BIP 173 Bech32 for version 0, BIP 350 Bech32m above)."""
    if text.lower() != text and text.upper() != text:
        return False
    text = text.lower()
    prefix, _, data = text.rpartition("1")
    if prefix != hrp or not 6 + 33 <= len(data) <= 6 + 53 or any(c not in _BECH32 for c in data):
        return False
    values = [_BECH32.index(c) for c in data]
    expanded = [ord(c) >> 5 for c in prefix] + [0] + [ord(c) & 31 for c in prefix]
    constant = _bech32_polymod(expanded + values)
    version = values[0]
    if version > 16 or constant != (_BECH32_CONST if version == 0 else _BECH32M_CONST):
        return False
    bits = len(values[1:-6]) * 5
    program_bytes = bits // 8
    if bits % 8 > 4 or not 2 <= program_bytes <= 40:
        return False
    return version != 0 or program_bytes in (20, 32)


def _bitcoin(text: str) -> bool:
    # Legacy P2PKH (version 0, `1…`) and P2SH (5, `3…`), or SegWit `bc1…`.
    return _segwit(text, "bc") or _base58check(text, {0x00, 0x05})


def _litecoin(text: str) -> bool:
    # P2PKH (48, `L…`), P2SH (50, `M…`; the old 5, `3…`), or SegWit `ltc1…`.
    return _segwit(text, "ltc") or _base58check(text, {0x30, 0x32, 0x05})


def _ethereum(text: str) -> bool:
    return bool(re.fullmatch(r"0x[0-9a-fA-F]{40}", text))


def _tron(text: str) -> bool:
    return len(text) == 34 and text.startswith("T") and _base58check(text, {0x41})


def _solana(text: str) -> bool:
    raw = _b58decode(text) if 32 <= len(text) <= 44 else None
    return raw is not None and len(raw) == 32


@dataclass(frozen=True)
class Network:
    code: str  # TelePay's name of the network (what the channel stores)
    name: str
    tickers: Mapping[str, str]  # coin paid out on it → NowPayments' code of that coin on this network
    address_format: str  # shown when an address is refused
    is_address: Callable[[str], bool]

    @property
    def currencies(self) -> tuple[str, ...]:
        """The coins paid out on it (lowercase)."""
        return tuple(self.tickers)


# NowPayments names a token per network (`GET /v1/full-currencies`): USDT on Tron is `usdttrc20`,
# on Ethereum `usdterc20`; `usdt` alone is another chain. A channel stores the coin and the
# network its owner chose; payouts, their minimums and estimates use the code of the pair.
NETWORKS: tuple[Network, ...] = (
    Network("btc", "Bitcoin", {"btc": "btc"}, N_("starts with bc1, 1 or 3"), _bitcoin),
    Network(
        "eth",
        "Ethereum (ERC-20)",
        {"eth": "eth", "usdt": "usdterc20", "usdc": "usdc"},
        N_("0x followed by 40 hex characters"),
        _ethereum,
    ),
    Network(
        "trx",
        "Tron (TRC-20)",
        {"trx": "trx", "usdt": "usdttrc20"},
        N_("T followed by 33 letters and digits"),
        _tron,
    ),
    Network(
        "sol",
        "Solana",
        {"sol": "sol", "usdc": "usdcsol"},
        N_("32 to 44 letters and digits (base58)"),
        _solana,
    ),
    Network("ltc", "Litecoin", {"ltc": "ltc"}, N_("starts with ltc1, L or M"), _litecoin),
)
PAYOUT_CURRENCIES: tuple[str, ...] = tuple(dict.fromkeys(c for n in NETWORKS for c in n.currencies))


def payout_ticker(currency: str, network_code: str | None) -> str | None:
    """NowPayments' code for a coin on a network (`usdt` on `trx` → `usdttrc20`); None for a pair
    TelePay does not pay out on."""
    net = network(network_code or "")
    return net.tickers.get(currency.lower()) if net else None


def network(code: str) -> Network | None:
    return next((n for n in NETWORKS if n.code == code), None)


def networks_for(currency: str) -> tuple[Network, ...]:
    return tuple(n for n in NETWORKS if currency in n.currencies)
