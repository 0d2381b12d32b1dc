"""`telepay channels register` and `update` check a channel's prices against NowPayments' minimum
payment in each coin buyers can use (the stand-in's): a price no coin takes is refused and named
by its field, the coins a low price leaves out are said, and NowPayments being down or not
configured blocks nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from local.nowpayments_standin.model import NowPaymentsStandin
from tests.harness import COMMON, nowpayments_standin
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import EXAMPLE, channel_file, ok, run

AT_FIVE = (
    "tiers[0].price: Heads-up: NowPayments can't take $5.00 in USDTTRC20 (from $9.00), "
    "USDC (from $15.00), USDTERC20 (from $15.00) and USDT (from $50.00), so buyers can "
    "pay with the other 12 coins only."
)


@pytest.fixture
def standin() -> Iterator[tuple[NowPaymentsStandin, dict[str, str]]]:
    with nowpayments_standin() as (url, np):
        env = {
            "NOWPAYMENTS_API_BASE_URL": url,
            "NOWPAYMENTS_API_KEY": COMMON["nowpayments_api_key"].get_secret_value(),
        }
        yield np, env


def _minimum_calls(np: NowPaymentsStandin) -> int:
    return sum(1 for call in np.calls if call["path"] == "/v1/min-amount")


def _cli(store: MemoryStore, env: dict[str, str], *args: str) -> Result:
    return run(store, *args, env=env)


def test_register_says_which_coins_each_low_price_leaves_out(
    standin: tuple[NowPaymentsStandin, dict[str, str]],
) -> None:
    _, env = standin
    result = ok(_cli(MemoryStore(), env, "channels", "register", str(EXAMPLE)))
    assert f"note: {AT_FIVE}" in result.stdout
    assert "note: donation_min: Heads-up: NowPayments can't take $2.00 in BTC (from $2.50)" in (result.stdout)
    answer = json.loads(ok(_cli(MemoryStore(), env, "--json", "channels", "register", str(EXAMPLE))).stdout)
    assert answer["token"] == "NightOwls2026"
    assert [n["field"] for n in answer["notes"]] == ["tiers[0].price", "tiers[1].price", "donation_min"]


def test_a_price_no_coin_takes_is_refused_and_nothing_is_written(
    standin: tuple[NowPaymentsStandin, dict[str, str]], tmp_path: Path
) -> None:
    _, env = standin
    store = MemoryStore()
    cheap = channel_file(tmp_path, tiers=[{"price": "0.25", "days": 30}])
    result = _cli(store, env, "channels", "register", str(cheap))
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        "  tiers[0].price: NowPayments can't take $0.25 in any coin buyers pay with. "
        "Please set at least $0.30." in result.stderr
    )
    assert store.channels.get("NightOwls2026") is None


def test_update_checks_only_the_prices_it_changes(
    standin: tuple[NowPaymentsStandin, dict[str, str]], tmp_path: Path
) -> None:
    np, env = standin
    store = MemoryStore()
    ok(_cli(store, env, "channels", "register", str(EXAMPLE)))
    before = _minimum_calls(np)
    title = tmp_path / "title.json"
    title.write_text(json.dumps({"title": "Night Owls"}))
    assert "note:" not in ok(_cli(store, env, "channels", "update", "NightOwls2026", str(title))).stdout
    assert _minimum_calls(np) == before
    donation = tmp_path / "donation.json"
    donation.write_text(json.dumps({"donation_min": "0.25"}))
    refused = _cli(store, env, "channels", "update", "NightOwls2026", str(donation))
    assert refused.exit_code == 1 and "  donation_min: NowPayments can't take $0.25" in refused.stderr
    channel = store.channels.get("NightOwls2026")
    assert channel is not None and str(channel.donation_min) == "2.00"


def test_nowpayments_down_or_not_configured_blocks_nothing(
    standin: tuple[NowPaymentsStandin, dict[str, str]], tmp_path: Path
) -> None:
    np, env = standin
    np.add_failure({"mode": "error", "count": 100, "path": "/v1/merchant/coins"})
    unchecked = "note: tiers[0].price: I couldn't check NowPayments' minimum payments just now"
    cheap = channel_file(tmp_path, tiers=[{"price": "0.25", "days": 30}])
    assert unchecked in ok(_cli(MemoryStore(), env, "channels", "register", str(cheap))).stdout
    assert unchecked in ok(_cli(MemoryStore(), {}, "channels", "register", str(cheap))).stdout
