"""Support threads in the bot, update by update on the in-memory store and fakes, as a buyer who
paid and the channel's owner walk it: the Help button under the receipt, /support, what went wrong,
the owner's card with the subscription and orders, replies by replying both ways, Close; /cancel,
several channels, none; /paysupport the same way; a re-delivered update; and the owner told once
when a buyer who paid blocked the bot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_schemas.config import (
    CreateInvoiceSettings,
    IpnHandlerSettings,
    NotifySettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import SupportSide, SupportStatus
from shared_schemas.ids import support_thread_id
from shared_schemas.messages import Envelope, PaymentEvent
from telepay.adapters.telegram_api import TelegramForbidden, TelegramRetryAfter, TelegramUnavailable
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels, save_channel
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.payments.notify import handle_event
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.fakes import FakeTelegram
from tests.harness import IPN_SECRET, RecordingPublisher, fakes, present, runtime
from tests.memory_store import MemoryStore

BUYER, OWNER = 4242, 5001
TOKEN, OTHER = "DemoChannel01", "OtherChan02"


@pytest.fixture
def store() -> MemoryStore:
    forget_cached_channels()
    store = MemoryStore()
    save_channel(store, demo_channel())
    return store


def _paid(
    store: MemoryStore, update_id: int, token: str = TOKEN, blocked: bool = False, owner_busy: bool = False
) -> list[Any]:
    """The buyer buys the first tier in crypto; the receipts notify sent the buyer."""
    rt = runtime(TelegramWebhookSettings, store)
    _, _, tasks = fakes(rt)
    handle_update(updates.start(update_id, f"/start {token}", BUYER), rt)
    handle_update(updates.press(update_id + 1, f"buy:{token}:t1", BUYER), rt)
    assert handle_update(updates.press(update_id + 2, f"pay:{token}:t1:c", BUYER), rt) == "invoice queued"
    [(_, _, task, _)] = tasks.created
    assert create_invoice(task, 1, runtime(CreateInvoiceSettings, store)) == "invoiced"
    ipn = runtime(IpnHandlerSettings, store)
    _, nowpayments, _ = fakes(ipn)
    nowpayments.set_payment(70 + update_id, task.order_id, "finished", "5.00")
    body = json.dumps({"payment_id": 70 + update_id, "payment_status": "finished", "order_id": task.order_id})
    assert handle_ipn(body.encode(), ipn_signature.sign(body.encode(), IPN_SECRET), ipn).http_status == 200
    publisher = ipn.publisher
    assert isinstance(publisher, RecordingPublisher)
    notify = runtime(NotifySettings, store)
    telegram, _, _ = fakes(notify)
    if blocked:
        telegram.fail_method["send_message"] = [TelegramForbidden("Forbidden: bot was blocked by the user")]
    if owner_busy:  # the owner's payment notice: Telegram asks for a long wait, so Pub/Sub retries the event
        telegram.fail_method["send_message"].append(TelegramRetryAfter(60))
    for _, data, _ in publisher.published:
        event = Envelope[PaymentEvent].model_validate_json(data)
        if owner_busy:
            with pytest.raises(TelegramRetryAfter):
                handle_event(event, notify)
        handle_event(event, notify)
    return telegram.sent


def _chat(store: MemoryStore) -> tuple[Runtime[TelegramWebhookSettings], FakeTelegram]:
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    return rt, telegram


def test_a_buyer_and_the_owner_talk_by_replying_and_the_buyer_closes(store: MemoryStore) -> None:
    [receipt, _] = _paid(store, 1)
    assert receipt.chat_id == BUYER and f"sup:{TOKEN}" in receipt.callbacks()  # 💬 Help under the receipt
    rt, telegram = _chat(store)

    assert handle_update(updates.start(20, "/support", BUYER), rt) == "support: asked what went wrong"
    assert "Write what went wrong with Night Owls Club" in telegram.to(BUYER)[-1].text
    assert (
        handle_update(updates.start(21, "The join link says expired", BUYER), rt) == "support thread opened"
    )

    [card] = telegram.to(OWNER)
    order = present(store.orders.get(present(store.subscriptions.get(f"{TOKEN}-{BUYER}")).last_order_id))
    assert "Support request about Night Owls Club" in card.text and "Ada (id 4242)" in card.text
    assert (
        "Subscription: " in card.text and "until Saturday, 26 December 2026, 12:00 UTC (active)" in card.text
    )
    assert f"{order.order_id} · $5.00 · paid · Thursday, 26 November 2026" in card.text
    assert "The join link says expired" in card.text and "Reply to this message to answer." in card.text
    thread_id = support_thread_id(BUYER, 21)
    assert card.callbacks() == [f"spx:{thread_id}"]
    confirm = telegram.to(BUYER)[-1]
    assert "Sent to the owner of Night Owls Club" in confirm.text

    # The owner answers by replying to the card; the buyer answers by replying to that.
    assert handle_update(updates.reply(22, "Here is a new one", OWNER, card.message_id), rt) == (
        "support reply passed to the buyer"
    )
    answer = telegram.to(BUYER)[-1]
    assert answer.text.startswith("💬 Reply from the owner of Night Owls Club:\n\nHere is a new one")
    assert telegram.to(OWNER)[-1].text == "✅ Sent."
    assert handle_update(updates.reply(23, "It works, thanks!", BUYER, answer.message_id), rt) == (
        "support reply passed to the owner"
    )
    assert "Ada (id 4242) writes about Night Owls Club:\n\nIt works, thanks!" in telegram.to(OWNER)[-1].text

    # The buyer closes; the owner is told; a reply after that is told the thread is closed.
    assert (
        handle_update(updates.press(24, f"spx:{thread_id}", BUYER), rt)
        == "support thread closed by the buyer"
    )
    assert telegram.to(OWNER)[-1].text == "Ada (id 4242) closed the conversation about Night Owls Club."
    assert handle_update(updates.press(25, f"spx:{thread_id}", OWNER), rt) == "support: closed already"
    assert (
        handle_update(updates.reply(26, "one more thing", OWNER, card.message_id), rt)
        == "support: thread closed"
    )
    assert telegram.to(OWNER)[-1].text == "This conversation is closed: /support to start a new one."

    thread = present(store.support_threads.get(thread_id))
    assert thread.status is SupportStatus.CLOSED and thread.closed_by is SupportSide.BUYER
    assert [(m.sender, m.text) for m in thread.messages] == [
        (SupportSide.BUYER, "The join link says expired"),
        (SupportSide.OWNER, "Here is a new one"),
        (SupportSide.BUYER, "It works, thanks!"),
    ]
    assert f"{OWNER}:{card.message_id}" in thread.telegram_messages


def test_a_stranger_cannot_write_in_or_close_a_thread(store: MemoryStore) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    handle_update(updates.start(20, "/support", BUYER), rt)
    handle_update(updates.start(21, "help", BUYER), rt)
    [card] = telegram.to(OWNER)
    assert handle_update(updates.press(22, f"spx:{support_thread_id(BUYER, 21)}", 777), rt) == (
        "support: not theirs to close"
    )
    # a reply from someone else's chat to that message id maps to nothing of theirs
    assert (
        handle_update(updates.reply(23, "hi", 777, card.message_id), rt)
        != "support reply passed to the buyer"
    )
    assert present(store.support_threads.get(support_thread_id(BUYER, 21))).status is SupportStatus.OPEN


def test_cancel_stops_the_wait_and_the_next_text_goes_nowhere(store: MemoryStore) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    handle_update(updates.start(20, "/support", BUYER), rt)
    assert handle_update(updates.start(21, "/cancel", BUYER), rt) == "support cancelled"
    assert telegram.to(BUYER)[-1].text == "OK, nothing was sent."
    assert handle_update(updates.start(22, "hello?", BUYER), rt) != "support thread opened"
    assert telegram.to(OWNER) == [] and store.support_threads.get(support_thread_id(BUYER, 22)) is None


def test_the_wait_ends_after_its_lifetime(store: MemoryStore) -> None:
    from datetime import timedelta

    from tests.harness import NOW

    _paid(store, 1)
    rt, _ = _chat(store)
    handle_update(updates.start(20, "/support", BUYER), rt)
    later = runtime(TelegramWebhookSettings, store, now=NOW + timedelta(minutes=31))
    assert handle_update(updates.start(21, "hello?", BUYER), later) == "support: wait expired"
    assert "I stopped waiting" in fakes(later)[0].to(BUYER)[-1].text


def test_with_two_channels_the_buyer_picks_one_and_with_none_gets_a_kind_answer(store: MemoryStore) -> None:
    rt, telegram = _chat(store)
    assert handle_update(updates.start(5, "/support", BUYER), rt) == "support: no channels"
    assert "I don't see a subscription or an order of yours yet" in telegram.to(BUYER)[-1].text

    save_channel(
        store,
        demo_channel(
            token=OTHER,
            title="Morning Notes",
            open_channel_id=-1002000000001,
            closed_channel_id=-1002000000002,
        ),
    )
    _paid(store, 10)
    _paid(store, 30, token=OTHER)
    rt, telegram = _chat(store)
    assert handle_update(updates.start(50, "/support", BUYER), rt) == "support: asked which channel"
    question = telegram.to(BUYER)[-1]
    assert question.callbacks() == [f"sup:{TOKEN}", f"sup:{OTHER}"]
    assert handle_update(updates.press(51, f"sup:{OTHER}", BUYER), rt) == "support: asked what went wrong"
    assert handle_update(updates.start(52, "Where is today's post?", BUYER), rt) == "support thread opened"
    thread = present(store.support_threads.get(support_thread_id(BUYER, 52)))
    assert thread.channel_token == OTHER and "Morning Notes" in telegram.to(OWNER)[-1].text


def test_the_help_button_of_a_channel_not_theirs_does_not_open_it(store: MemoryStore) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    # a forged button for a channel the buyer never bought: the buyer's own channel is asked about
    assert handle_update(updates.press(20, "sup:SomeoneElse9", BUYER), rt) == "support: asked what went wrong"
    assert "Night Owls Club" in telegram.to(BUYER)[-1].text


def test_paysupport_with_text_opens_the_thread_at_once_and_is_kept_for_the_operator(
    store: MemoryStore,
) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    said = "/paysupport I paid $5 but cannot join"
    assert handle_update(updates.start(31, said, BUYER), rt) == "support thread opened"
    assert "I paid $5 but cannot join" in telegram.to(OWNER)[-1].text
    thread = present(store.support_threads.get(support_thread_id(BUYER, 31)))
    assert thread.origin == "paysupport"
    request = present(store.pay_support.get(f"{BUYER}-31"))
    assert request.channel_tokens == [TOKEN] and "cannot join" in request.text


def test_paysupport_without_any_purchase_still_answers(store: MemoryStore) -> None:
    rt, telegram = _chat(store)
    assert handle_update(updates.start(3, "/paysupport", BUYER), rt) == "support: no channels"
    assert "Payment support: tell me what happened" in telegram.to(BUYER)[-1].text
    assert (
        handle_update(updates.start(4, "/paysupport I was charged twice", BUYER), rt)
        == "support: no channels"
    )
    assert "The operator has your message" in telegram.to(BUYER)[-1].text
    assert present(store.pay_support.get(f"{BUYER}-4")).text == "I was charged twice"


def test_a_redelivered_update_opens_one_thread_and_sends_the_card_once(store: MemoryStore) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    handle_update(updates.start(20, "/support", BUYER), rt)
    telegram.fail_method["send_message"] = [TelegramUnavailable("502")]  # the owner's card, the first time
    with pytest.raises(TelegramUnavailable):
        handle_update(updates.start(21, "help", BUYER), rt)
    assert handle_update(updates.start(21, "help", BUYER), rt) == "support thread opened"
    assert (
        len(telegram.to(OWNER)) == 1
        and len([m for m in telegram.to(BUYER) if "Sent to the owner" in m.text]) == 1
    )
    assert present(store.support_threads.get(support_thread_id(BUYER, 21))).message_count == 1


def test_an_owner_who_blocked_the_bot_leaves_the_thread_kept(store: MemoryStore) -> None:
    _paid(store, 1)
    rt, telegram = _chat(store)
    handle_update(updates.start(20, "/support", BUYER), rt)
    telegram.fail_method["send_message"] = [TelegramForbidden("blocked")]
    assert handle_update(updates.start(21, "help", BUYER), rt) == "support thread opened, owner unreachable"
    assert "couldn't reach the owner of Night Owls Club" in telegram.to(BUYER)[-1].text
    assert store.support_threads.get(support_thread_id(BUYER, 21)) is not None


def test_the_owner_is_told_once_when_a_buyer_who_paid_blocked_the_bot(store: MemoryStore) -> None:
    sent = _paid(store, 1, blocked=True)
    owner = [m.text for m in sent if m.chat_id == OWNER]
    [notice] = [text for text in owner if "has blocked the bot" in text]
    order_id = present(store.subscriptions.get(f"{TOKEN}-{BUYER}")).last_order_id
    assert f"order {order_id}" in notice and "$5.00" in notice and "Ada (id 4242)" in notice
    assert "Monthly" in notice or "30 days" in notice
    # The event again (Pub/Sub re-delivers it): the owner is not told twice.
    notify = runtime(NotifySettings, store)
    from telepay.support import unreachable

    unreachable.tell_owner(notify, order_id)
    assert not any("has blocked the bot" in m.text for m in fakes(notify)[0].sent)


def test_the_owner_is_told_when_the_event_comes_again_after_the_buyers_receipt_was_refused(
    store: MemoryStore,
) -> None:
    sent = _paid(store, 1, blocked=True, owner_busy=True)
    owner = [m.text for m in sent if m.chat_id == OWNER]
    assert len([text for text in owner if "has blocked the bot" in text]) == 1
    assert len([text for text in owner if "New payment" in text]) == 1


def test_every_order_state_has_words_on_the_owners_card() -> None:
    """The card says an order's state in the owner's language, never the stored value."""
    from shared_schemas.documents import OrderStatus
    from telepay.support.texts import ORDER_STATES

    assert set(ORDER_STATES) == set(OrderStatus)
