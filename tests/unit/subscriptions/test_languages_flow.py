"""Whoever reads a text decides its language: a Russian buyer reads the offer, the invoice, the
receipt and later the reminder in Russian (the reminder comes from the expiry sweep, which has no
update of theirs: their remembered language), while the owner, who speaks Spanish, reads the
"New payment" notice in Spanish; a channel's daily offer post is in the channel's language,
whoever's update or task caused it. The catalogs are fakes that prefix each text with its language."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from shared_schemas.config import (
    CreateInvoiceSettings,
    ExpireSubscriptionsSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.messages import Envelope, PaymentEvent
from shared_schemas.tasks import BroadcastTask, CreateInvoiceTask
from telepay.adapters.telegram_api import TelegramForbidden
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.subscriptions.broadcast import post_offer
from telepay.subscriptions.expiry import run_task, sweep
from tests import updates
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, RecordingPublisher, fakes, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001
pytestmark = pytest.mark.usefixtures("catalogs")


def speaking(update: dict[str, Any], language_code: str) -> dict[str, Any]:
    """The update as Telegram sends it from a user whose app is in `language_code`."""
    for kind in ("message", "callback_query", "chat_join_request"):
        if kind in update:
            update[kind]["from"]["language_code"] = language_code
    return update


def test_the_buyer_reads_russian_and_the_owner_spanish_from_the_offer_to_the_reminder(
    store: MemoryStore,
) -> None:
    webhook = runtime(TelegramWebhookSettings, store)
    telegram, _, tasks = fakes(webhook)
    handle_update(speaking(updates.start(1, "/start", OWNER, "Olivia"), "es"), webhook)  # the owner's app
    assert handle_update(speaking(updates.start(2, "/start DemoChannel01", BUYER), "ru-RU"), webhook) == (
        "offer shown"
    )
    offer = telegram.to(BUYER)[-1]
    assert offer.text.endswith("\n\n[ru] Choose how long you'd like access:")
    assert [b.text.split(" · ")[0] for b in offer.buttons()] == [
        "[ru] Monthly",
        "[ru] Quarterly",
        "[ru] 🏷 I have a code",
        "[ru] 🎁 Buy as a gift",
        "[ru] 💝 Donate",
    ]
    assert "5,00" in offer.buttons()[0].text  # the amount as Russian writes it
    handle_update(speaking(updates.press(3, "buy:DemoChannel01:t1", BUYER), "ru-RU"), webhook)
    choice = telegram.to(BUYER)[-1]  # Stars or crypto, in Russian
    assert [b.text.split(" (")[0] for b in choice.buttons()] == [
        "[ru] ⭐ Pay with Stars",
        "[ru] Pay with crypto",
    ]
    handle_update(speaking(updates.press(4, "pay:DemoChannel01:t1:c", BUYER), "ru-RU"), webhook)
    assert telegram.answers[-1][1] == "[ru] Preparing your invoice…"
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask)

    # create_invoice runs on Cloud Tasks, with no update: the buyer's remembered language.
    invoicing = runtime(CreateInvoiceSettings, store)
    invoice_telegram, nowpayments, _ = fakes(invoicing)
    assert create_invoice(task, 1, invoicing) == "invoiced"
    [pay] = invoice_telegram.to(BUYER)
    assert pay.text.startswith("[ru] Your invoice is ready") and pay.buttons()[0].text.startswith("[ru] Pay")
    assert nowpayments.invoices[0]["order_description"].startswith("[ru] ")  # the payment page's text

    paying = runtime(IpnHandlerSettings, store)
    fakes(paying)[1].set_payment(71, task.order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 71, "payment_status": "finished", "order_id": task.order_id}).encode()
    assert handle_ipn(body, ipn_signature.sign(body, IPN_SECRET), paying).http_status == 200
    assert isinstance(paying.publisher, RecordingPublisher)
    [(_, event, _)] = paying.publisher.published

    notifying = runtime(NotifySettings, store)
    handle_event(Envelope[PaymentEvent].model_validate_json(event), notifying)
    notify_telegram, _, _ = fakes(notifying)
    [receipt] = notify_telegram.to(BUYER)
    [notice] = notify_telegram.to(OWNER)
    assert receipt.text.startswith("[ru] Payment received") and receipt.buttons()[0].text.startswith(
        "[ru] Join"
    )
    assert "декабря" in receipt.text  # the end date written out in Russian
    assert notice.text.startswith("[es] 💰 New payment for Night Owls Club") and "[ru]" not in notice.text
    assert "diciembre" in notice.text  # the owner's date in Spanish

    # Four days before the end, the sweep (no update anyone sent) reminds the buyer in Russian.
    expiry = runtime(ExpireSubscriptionsSettings, store, now=NOW + timedelta(days=27))
    expiry_telegram, _, expiry_tasks = fakes(expiry)
    assert sweep(expiry, "run-1")["queued"] == 1
    [(_, _, remind, _)] = expiry_tasks.created
    assert run_task(remind, expiry) == "reminded"
    [reminder] = expiry_telegram.to(BUYER)
    assert reminder.text.startswith("[ru] ⏰ Your access to Night Owls Club ends on")
    assert "(in about 3 days)" in reminder.text  # the plural form for 3, from the catalog
    assert [b.text for b in reminder.buttons()] == ["[ru] 🔄 Renew", "[ru] 💬 Help"]


def test_the_daily_offer_post_is_in_the_channels_language_and_the_owners_notice_in_the_owners(
    store: MemoryStore,
) -> None:
    # Through the channel rules: the owner chose Russian for the posts of her second channel.
    save_channel(store, demo_channel(token="RussianChan1", owner=5002, open_channel_id=-1002, language="ru"))
    webhook = runtime(TelegramWebhookSettings, store)
    handle_update(speaking(updates.start(1, "/start", 5002, "Mila"), "uk"), webhook)  # she reads Ukrainian

    posting = runtime(ExpireSubscriptionsSettings, store)
    telegram, _, _ = fakes(posting)
    assert post_offer(BroadcastTask(channel_token="RussianChan1", day="2026-11-26"), posting) == "posted"
    assert post_offer(BroadcastTask(channel_token="DemoChannel01", day="2026-11-26"), posting) == "posted"
    [russian] = telegram.to(-1002)
    assert russian.text.endswith("\n\n[ru] Choose how long you'd like access:")
    assert all(b.text.startswith("[ru] ") for b in russian.buttons())
    [english] = telegram.to(-1001000000001)  # the first channel's posts stay in English
    assert english.text.endswith("\n\nChoose how long you'd like access:")

    telegram.fail_method["send_message"] = [TelegramForbidden("bot was kicked from the channel chat")] * 3
    for day in (7, 8, 9):
        post_offer(BroadcastTask(channel_token="RussianChan1", day=f"2026-11-2{day}"), posting)
    [paused] = telegram.to(5002)
    assert paused.text.startswith("[uk] ⚠️ I've paused the daily offer post of Night Owls Club")


def test_a_post_language_the_bot_does_not_speak_is_refused_by_the_channel_rules() -> None:
    with pytest.raises(ValueError, match="language"):
        demo_channel(language="tlh")
    assert demo_channel().language == "en"
