"""Promo codes end to end, over HTTP through the stand-ins: an owner makes a 20 % code with /promo;
a buyer opens its link, sees the discounted price, gets a NowPayments invoice at that price, pays,
and the code counts once although NowPayments delivers the IPN again (the owner's /promos says 1
use); the ledger books the discounted price. A 100 % code with one use gives the first buyer access
without an invoice (the Join button lets them in) and is refused to the second as used up."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from google.cloud import firestore

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from shared_schemas.ids import promo_code_id
from tests.conftest import stored
from tests.e2e.flows import Channel, docs_where, join, new_channel, notified, texts_in
from tests.e2e.test_exports import _export, _rows

pytestmark = pytest.mark.e2e


def _make_code(tg: TelegramControl, channel: Channel, code: str, discount: str, max_uses: str = "") -> str:
    """The owner's /promo, answer by answer (her only channel: no need to pick it); the share link."""
    owner = BotChat(tg, channel.owner)
    owner.send("/promo", "Send the code buyers will use")
    owner.send(code, "How much off?")
    owner.send(discount, "Which tiers is it for?")
    owner.tap("All tiers", "Until which day (UTC)")
    owner.tap("No end date", "How many times can it be used in all?")
    if max_uses:
        owner.send(max_uses, "How many times can one buyer use it?")
    else:
        owner.tap("No limit", "How many times can one buyer use it?")
    owner.tap("No limit", "Who can use it?")
    summary = owner.tap("Everyone", "Your new code for Night Owls Club")
    assert f"🏷 {code.upper()}: {discount} off · all tiers" in summary["text"]
    live = owner.tap("✅ Create code", f"The code {code.upper()} is live")
    start = f"{channel.token}_{code.upper()}"
    assert f"?start={start}" in live["text"]
    return start


def test_a_20_percent_code_from_promo_to_the_ledger(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    start = _make_code(tg, channel, "save20", "20%")
    buyer = BotChat(tg, tg.user("Bruno"))

    offer = buyer.send(f"/start {start}", "Code SAVE20 applied")
    assert offer["text"].startswith("🏷 Code SAVE20 applied: 20% off (all tiers).")
    monthly = buttons(offer)[0]["text"]
    assert monthly.startswith("Monthly · $4.00") and "(was $5.00)" in monthly, monthly
    choice = buyer.tap("Monthly", "How would you like to pay")
    assert "$4.00" in choice["text"]
    pay_message = buyer.tap("crypto", "Your invoice is ready")
    assert "$4.00 for 1 month of access to Night Owls Club" in pay_message["text"]

    invoice = np.invoice_by_url(buttons(pay_message)[0]["url"])
    assert Decimal(str(invoice["price_amount"])) == Decimal("4.00")  # priced by create_invoice
    payment = np.pay(invoice["id"])
    *_, finished = np.steps(
        payment, [{"status": "waiting"}, {"status": "confirming"}, {"status": "finished"}]
    )
    assert finished["response_status"] == 200, finished
    order_id = str(json.loads(finished["body"])["order_id"])
    receipt = tg.wait_message(buyer.user_id, "Payment received", after=pay_message["message_id"])
    assert "for $4.00" in receipt["text"]
    [again] = np.replay(finished["ipn_id"])  # NowPayments delivers the IPN again
    assert again["response_status"] == 200, again
    notified(db, order_id)

    notice = tg.wait_message(channel.owner, "New payment")
    assert "🏷 Code SAVE20 (full price $5.00)." in notice["text"]
    code = stored(db, "promo_codes", promo_code_id(token, "SAVE20"))
    assert (code["uses"], code["revenue"]) == (1, "4.00")
    order = stored(db, "orders", order_id)
    assert (order["promo_code"], order["price_amount"], order["full_price_amount"]) == (
        "SAVE20",
        "4.00",
        "5.00",
    )
    entry = stored(db, "ledger", order_id)
    assert (entry["gross_amount"], entry["fee_amount"]) == ("4.00", "0.12")  # 3 % of what was paid
    assert len(texts_in(tg, buyer.user_id, "Payment received")) == 1

    listed = BotChat(tg, channel.owner).send("/promos", "Promo codes of Night Owls Club")
    assert "SAVE20: 20% off · all tiers\n1 use · $4.00 · active" in listed["text"], listed["text"]
    assert f"?start={start}" in listed["text"]

    # The owner's sales book shows what was paid, the code and the price before it.
    [sale] = _rows(tg, _export(BotChat(tg, channel.owner), tg, "Sales"))
    assert (sale["order_id"], sale["gross"], sale["promo_code"], sale["full_price"]) == (
        order_id,
        "4.00",
        "SAVE20",
        "5.00",
    )


def test_a_free_code_with_one_use_lets_the_first_buyer_in_and_refuses_the_second(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, db: firestore.Client, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    start = _make_code(tg, channel, "friends", "100%", max_uses="1")
    first = BotChat(tg, tg.user("Fay"))

    offer = first.send(f"/start {start}", "Code FRIENDS applied")
    assert buttons(offer)[0]["text"].startswith("Monthly · free (was $5.00)")
    granted = first.tap("Monthly", "Code FRIENDS: 1 month of Night Owls Club, free")
    assert "Access until" in granted["text"]
    assert docs_where(db, "orders", "user_id", first.user_id) == []  # no invoice, no order
    tg.press(first.user_id, granted["message_id"], buttons(granted)[0]["callback_data"])  # Join
    link = tg.wait_message(first.user_id, "Here's your way into", after=granted["message_id"])
    assert join(tg, first.user_id, channel, link) == "member"
    wait_for(
        "the free use counted",
        lambda: stored(db, "promo_codes", promo_code_id(token, "FRIENDS"))["uses"] == 1 or None,
    )

    second = BotChat(tg, tg.user("Gus"))
    refused = second.send(f"/start {start}", "Sorry, the code FRIENDS has been used up.")
    assert refused["text"] == "Sorry, the code FRIENDS has been used up."
    second.next("Choose how long")  # the offer at its full prices follows
    assert stored(db, "promo_codes", promo_code_id(token, "FRIENDS"))["uses"] == 1
    assert docs_where(db, "subscriptions", "user_id", second.user_id) == []
