"""Gifts as people use them: a buyer taps 🎁 Buy as a gift, pays (crypto or Stars, one-time), gets a
message to forward; whoever opens its link first gets the days, once, even when many open it at
once; the buyer is told, and `/subscriptions` lists the gift until then. The buyer's own
subscription never moves; a refund voids the gift, or takes its days back from the redeemer."""

from __future__ import annotations

import json
import re
import threading

import pytest

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import GiftState, OrderStatus, SubscriptionDoc
from shared_schemas.ids import parse_order_id, parse_start, subscription_id
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.tasks import CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.runtime import Runtime
from telepay.subscriptions.gift_rules import Redemption
from telepay.subscriptions.gifts import redeem
from tests import updates
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, fakes, present, runtime
from tests.memory_store import MemoryStore

BUYER, FRIEND, THIRD, OWNER = 4242, 4343, 4444, 5001
TOKEN = "DemoChannel01"
IDS = iter(range(100, 10_000))


def _buy_gift(store: MemoryStore, tier: str = "t1") -> CreateInvoiceTask:
    """The buyer opens the offer, taps 🎁 Buy as a gift, picks the tier and pays in crypto."""
    webhook = runtime(TelegramWebhookSettings, store)
    telegram, _, tasks = fakes(webhook)
    handle_update(updates.start(next(IDS), f"/start {TOKEN}", BUYER), webhook)
    offer = telegram.to(BUYER)[-1]
    gift = next(b for b in offer.buttons() if b.text == "🎁 Buy as a gift")
    assert (
        handle_update(updates.press(next(IDS), gift.callback_data or "", BUYER), webhook)
        == "gift tiers shown"
    )
    choice = telegram.to(BUYER)[-1]
    assert choice.text.startswith("🎁 Which would you like to give?")
    tier_button = next(b for b in choice.buttons() if (b.callback_data or "").endswith(f":{tier}"))
    handle_update(updates.press(next(IDS), tier_button.callback_data or "", BUYER), webhook)
    rails = telegram.to(BUYER)[-1]  # the tier is sold in Stars too: how to pay
    assert rails.text.startswith("🎁 A gift of")
    crypto = next(b for b in rails.buttons() if b.text.startswith("Pay with crypto"))
    assert (
        handle_update(updates.press(next(IDS), crypto.callback_data or "", BUYER), webhook)
        == "invoice queued"
    )
    task = tasks.created[-1][2]
    assert isinstance(task, CreateInvoiceTask) and task.gift
    return task


def _pay(store: MemoryStore, task: CreateInvoiceTask, payment_id: int, status: str = "finished") -> str:
    invoicing = runtime(CreateInvoiceSettings, store)
    invoice_telegram, _, _ = fakes(invoicing)
    if store.orders.get(task.order_id) is None:
        assert create_invoice(task, 1, invoicing) == "invoiced"
        assert invoice_telegram.to(BUYER)[-1].text.startswith("🎁 Your invoice for the gift is ready")
    paying = runtime(IpnHandlerSettings, store)
    fakes(paying)[1].set_payment(payment_id, task.order_id, status, "5.00")
    body = json.dumps(
        {"payment_id": payment_id, "payment_status": status, "order_id": task.order_id}
    ).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), paying).http_status == 200
    assert isinstance(paying.publisher, RecordingPublisher)
    [*_, (_, event, _)] = paying.publisher.published
    notifying = runtime(NotifySettings, store)
    handle_event(Envelope[PaymentEvent].model_validate_json(event), notifying)
    return notifying_text(notifying)


def notifying_text(rt: Runtime[NotifySettings]) -> str:
    return fakes(rt)[0].to(BUYER)[-1].text


def _link_code(text: str) -> str:
    match = re.search(r"\?start=(\S+)", text)
    assert match, text
    link = parse_start(match[1])
    assert link.channel_token == TOKEN and link.code
    return link.code


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def test_a_gift_is_bought_forwarded_and_redeemed_once(store: MemoryStore) -> None:
    task = _buy_gift(store)
    assert parse_order_id(task.order_id).gift  # its own order id: tp1-gft-...
    assert task.order_id.startswith("tp1-gft-")
    text = _pay(store, task, 71)
    assert text.startswith("🎁 Your gift is ready: forward this message")
    code = _link_code(text)
    order = present(store.orders.get(task.order_id))
    assert order.status is OrderStatus.SETTLED and order.subscription_expires_at is None
    assert store.subscriptions.get(subscription_id(TOKEN, BUYER)) is None  # the buyer's days: none
    assert present(store.ledger.get(task.order_id)).gross_amount == order.price_amount  # a sale as usual

    # Before redemption the buyer's /subscriptions lists the gift with its link.
    webhook = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(webhook)
    assert handle_update(updates.start(next(IDS), "/subscriptions", BUYER), webhook).endswith("1 gift(s)")
    assert f"_G{code}" in telegram.to(BUYER)[-1].text

    # The friend opens the forwarded link: the days, and the Join button.
    assert (
        handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{code}", FRIEND), webhook) == "gift redeemed"
    )
    welcome = telegram.to(FRIEND)[-1]
    assert welcome.text.startswith("🎁 You redeemed a gift: 1 month of Night Owls Club, until")
    assert [b.text for b in welcome.buttons()] == ["Join Night Owls Club"]
    sub = present(store.subscriptions.get(subscription_id(TOKEN, FRIEND)))
    assert sub.expires_at == NOW + (sub.expires_at - NOW) and (sub.expires_at - NOW).days == 30
    assert (
        telegram.to(BUYER)[-1].text == "🎁 Your gift of 1 month of Night Owls Club was redeemed. Thank you!"
    )

    # A third person, and the friend again: refused; nobody's days move.
    assert handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{code}", THIRD), webhook) == (
        "gift already redeemed"
    )
    assert telegram.to(THIRD)[-1].text == "This gift was already redeemed."
    assert store.subscriptions.get(subscription_id(TOKEN, THIRD)) is None
    handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{code}", FRIEND), webhook)
    assert telegram.to(FRIEND)[-1].text.startswith("You redeemed this gift already")
    assert present(store.subscriptions.get(subscription_id(TOKEN, FRIEND))).expires_at == sub.expires_at
    assert len([m for m in telegram.to(BUYER) if "was redeemed" in m.text]) == 1  # told once

    # After redemption the buyer's /subscriptions no longer lists it.
    assert handle_update(updates.start(next(IDS), "/subscriptions", BUYER), webhook) == "no subscriptions"


def test_unknown_codes_and_other_channels_links_are_refused(store: MemoryStore) -> None:
    save_channel(store, demo_channel(token="OtherChannel1", open_channel_id=-1003, closed_channel_id=-1004))
    code = _link_code(_pay(store, _buy_gift(store), 72))
    webhook = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(webhook)
    assert handle_update(updates.start(next(IDS), f"/start OtherChannel1_G{code}", FRIEND), webhook) == (
        "gift unknown gift"
    )
    assert handle_update(updates.start(next(IDS), f"/start {TOKEN}_GABCDEFGHJKLM", FRIEND), webhook) == (
        "gift unknown gift"
    )
    assert telegram.to(FRIEND)[-1].text.startswith("I don't know this gift")
    assert present(store.gifts.get(code)).state is GiftState.READY


def test_concurrent_redemptions_give_the_days_once(store: MemoryStore) -> None:
    code = _link_code(_pay(store, _buy_gift(store), 73))
    rt = runtime(TelegramWebhookSettings, store)
    people = list(range(9000, 9012))
    results: dict[int, Redemption] = {}
    barrier = threading.Barrier(len(people))

    def open_link(user_id: int) -> None:
        barrier.wait()
        results[user_id] = redeem(rt, TOKEN, code, user_id)[0]

    threads = [threading.Thread(target=open_link, args=(user_id,)) for user_id in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [u for u, verdict in results.items() if verdict is Redemption.OK]
    assert len(winners) == 1
    assert all(results[u] is Redemption.TAKEN for u in people if u not in winners)
    subs = [store.subscriptions.get(subscription_id(TOKEN, u)) for u in people]
    assert [s.user_id for s in subs if isinstance(s, SubscriptionDoc)] == winners
    assert present(store.gifts.get(code)).redeemed_by == winners[0]


def test_an_ipn_sent_again_never_writes_a_redeemed_gift_over(store: MemoryStore) -> None:
    task = _buy_gift(store)
    code = _link_code(_pay(store, task, 74))
    webhook = runtime(TelegramWebhookSettings, store)
    handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{code}", FRIEND), webhook)
    paying = runtime(IpnHandlerSettings, store, now=NOW)
    fakes(paying)[1].set_payment(74, task.order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 74, "payment_status": "finished", "order_id": task.order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), paying).http_status == 200
    gift = present(store.gifts.get(code))
    assert gift.state is GiftState.REDEEMED and gift.redeemed_by == FRIEND


def test_a_refunded_gift_is_voided_or_its_days_taken_back(store: MemoryStore) -> None:
    unredeemed = _buy_gift(store)
    code = _link_code(_pay(store, unredeemed, 75))
    _pay(store, unredeemed, 75, "refunded")
    assert present(store.gifts.get(code)).state is GiftState.VOIDED
    webhook = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(webhook)
    handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{code}", FRIEND), webhook)
    assert telegram.to(FRIEND)[-1].text == "This gift is no longer valid: its payment was refunded."

    redeemed = _buy_gift(store)
    other = _link_code(_pay(store, redeemed, 76))
    handle_update(updates.start(next(IDS), f"/start {TOKEN}_G{other}", THIRD), webhook)
    assert present(store.subscriptions.get(subscription_id(TOKEN, THIRD))).expires_at > NOW
    _pay(store, redeemed, 76, "refunded")
    assert present(store.subscriptions.get(subscription_id(TOKEN, THIRD))).expires_at == NOW
    assert present(store.gifts.get(other)).state is GiftState.VOIDED


def test_a_gift_in_stars_is_a_one_time_payment(store: MemoryStore) -> None:
    webhook = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(webhook)
    handle_update(updates.press(next(IDS), f"gpy:{TOKEN}:t1:s", BUYER), webhook)
    task = tasks.created[-1][2]
    assert isinstance(task, CreateInvoiceTask) and task.gift and task.rail.value == "stars"
    invoicing = runtime(CreateInvoiceSettings, store)
    create_invoice(task, 1, invoicing)
    order = present(store.orders.get(task.order_id))
    assert order.gift and not order.star_subscription and order.gift_code
