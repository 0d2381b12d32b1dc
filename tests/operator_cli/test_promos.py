"""`telepay promos list TOKEN` (a channel's codes: discount, tiers, limits, uses, revenue, state) and
`telepay users show` listing the codes a user used, after a code made with the owner's rules was
applied from its link and paid through the bot, create_invoice and NowPayments' IPN."""

from __future__ import annotations

import json

from telepay.channels.lookup import save_channel
from tests.conftest import demo_channel
from tests.memory_store import MemoryStore
from tests.operator_cli.test_main import ok, run
from tests.unit.subscriptions.test_promo_flow import (
    BUYER,
    TOKEN,
    _buy_crypto,
    _invoice,
    _pay,
    _say,
    _webhook,
    make_code,
)


def test_promos_list_and_the_codes_a_user_used() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    make_code(store, max_uses=10)
    make_code(store, code="QUARTER5", discount="$5", tier_ids=["t2"], max_uses_per_buyer=1)
    assert _say(_webhook(store), f"/start {TOKEN}_SUMMER20") == "offer shown with code SUMMER20"
    task = _buy_crypto(store)
    assert _invoice(store, task)[0] == "invoiced"
    _pay(store, task.order_id)

    listed = ok(run(store, "promos", "list", TOKEN)).output
    header, *rows = listed.splitlines()
    assert header.split()[:4] == ["CODE", "DISCOUNT", "TIERS", "STARTS"]
    [summer] = [row for row in rows if row.startswith("SUMMER20")]
    assert "20% off" in summer and "all tiers" in summer and "$4.00" in summer and "active" in summer
    [quarter] = [row for row in rows if row.startswith("QUARTER5")]
    assert "$5.00 off" in quarter and "Quarterly" in quarter
    codes = json.loads(ok(run(store, "--json", "promos", "list", TOKEN)).output)
    by_code = {c["code"]: (c["uses"], c["max_uses"], c["revenue"], c["status"]) for c in codes}
    assert by_code == {"SUMMER20": (1, 10, "4.00", "active"), "QUARTER5": (0, None, "0", "active")}
    missing = run(store, "promos", "list", "NoSuchChan01")
    assert missing.exit_code == 1 and "no channel NoSuchChan01" in missing.output

    shown = ok(run(store, "users", "show", str(BUYER))).output
    used = shown.split("Promo codes used\n", 1)[1]
    assert "SUMMER20" in used and task.order_id in used
    [use] = json.loads(ok(run(store, "--json", "users", "show", str(BUYER))).output)["promo_uses"]
    assert (use["code"], use["uses"], use["order_ids"]) == ("SUMMER20", 1, [task.order_id])
