"""Free trials as a buyer walks them, on the in-memory store and fakes: the offer's "🎁 Try 7 days free"
for a newcomer, the trial and its Join button, the join request approved; one trial per account
(double taps, presses at once, a second trial later, someone who paid before); the trial's reminder
and goodbye; a purchase during the trial extends from its end and converts it (crypto and Stars),
and the owner's /stats counts it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from shared_schemas.config import (
    CreateInvoiceSettings,
    ExpireSubscriptionsSettings,
    IpnHandlerSettings,
    TelegramWebhookSettings,
)
from shared_schemas.documents import SubscriptionStatus
from shared_schemas.ids import subscription_id, trial_id
from shared_schemas.queries import TRIALS_STARTED_OF_CHANNEL
from shared_schemas.tasks import BroadcastTask, CreateInvoiceTask
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import forget_cached_channels, save_channel
from telepay.core.clock import FrozenClock
from telepay.core.store import Tx
from telepay.payments import signature as ipn_signature
from telepay.payments.invoices import create_invoice
from telepay.payments.ipn import handle_ipn
from telepay.runtime import Runtime
from telepay.subscriptions import trials
from telepay.subscriptions.broadcast import post_offer
from telepay.subscriptions.expiry import run_task, sweep
from telepay.subscriptions.trial_rules import Refusal
from tests import updates
from tests.conftest import demo_channel
from tests.harness import IPN_SECRET, NOW, fakes, present, runtime
from tests.memory_store import MemoryStore

BUYER = 4242
OWNER = 5001
CLOSED = -1001000000002
TOKEN = "DemoChannel01"
TRIAL = f"try:{TOKEN}"
T = TypeVar("T")
_IDS = iter(range(1000, 10**6))


@pytest.fixture
def store() -> MemoryStore:
    forget_cached_channels()
    store = MemoryStore()
    save_channel(store, demo_channel(trial_days=7))
    return store


def _webhook(store: MemoryStore, days: float = 0) -> Runtime[TelegramWebhookSettings]:
    return runtime(TelegramWebhookSettings, store, now=NOW + timedelta(days=days))


def _start_trial(store: MemoryStore, user: int = BUYER, days: float = 0) -> tuple[str, list[Any]]:
    """/start <token>, then the trial's button; the outcome and what the bot sent the user."""
    rt = _webhook(store, days)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}", user), rt) == "offer shown with a trial"
    offer = telegram.sent[-1]
    assert "Try it free for 7 days" in offer.text
    assert TRIAL in offer.callbacks()
    assert [b.text for b in offer.buttons()][2] == "🎁 Try 7 days free"  # after the two tiers
    outcome = handle_update(updates.press(next(_IDS), TRIAL, user), rt)
    return outcome, telegram.to(user)[1:]


def _purchase(store: MemoryStore, user: int, days: float, payment_id: int, tier: str = "t1") -> str:
    """The tier's button, "Pay with crypto", the invoice and NowPayments' finished IPN, `days` from NOW."""
    rt = _webhook(store, days)
    _, _, tasks = fakes(rt)
    handle_update(updates.press(next(_IDS), f"buy:{TOKEN}:{tier}", user), rt)
    assert handle_update(updates.press(next(_IDS), f"pay:{TOKEN}:{tier}:c", user), rt) == "invoice queued"
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask)
    invoicing = runtime(CreateInvoiceSettings, store, now=NOW + timedelta(days=days))
    assert create_invoice(task, 1, invoicing) == "invoiced"
    ipn = runtime(IpnHandlerSettings, store, now=NOW + timedelta(days=days))
    price = "5.00" if tier == "t1" else "12.50"
    fakes(ipn)[1].set_payment(payment_id, task.order_id, "finished", price)
    body = json.dumps({"payment_id": payment_id, "payment_status": "finished", "order_id": task.order_id})
    result = handle_ipn(body.encode(), ipn_signature.sign(body.encode(), IPN_SECRET), ipn)
    assert result.http_status == 200, result.outcome
    return task.order_id


def _sub(store: MemoryStore, user: int = BUYER) -> Any:
    return present(store.subscriptions.get(subscription_id(TOKEN, user)))


def test_a_newcomer_starts_the_trial_and_joins(store: MemoryStore) -> None:
    outcome, sent = _start_trial(store)
    assert outcome == "trial started"
    [message] = sent
    assert message.text.startswith(
        "🎁 Your 7-day free trial of Night Owls Club runs until Thursday, 3 December 2026"
    )
    assert "UTC" in message.text
    assert message.callbacks() == [f"join:{TOKEN}"]
    sub = _sub(store)
    assert sub.expires_at == NOW + timedelta(days=7) and sub.trial_ends_at == sub.expires_at
    trial = present(store.trials.get(trial_id(TOKEN, BUYER)))
    assert (trial.days, trial.started_at, trial.ends_at) == (7, NOW, NOW + timedelta(days=7))

    rt = _webhook(store, days=1)
    assert handle_update(updates.press(next(_IDS), f"join:{TOKEN}", BUYER), rt) == "join link sent"
    assert handle_update(updates.join_request(next(_IDS), CLOSED, BUYER), rt) == "join approved"
    # Now a member on a trial: /start shows the subscription and the tiers, no trial button.
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}", BUYER), rt).endswith("; offer shown")
    assert TRIAL not in telegram.sent[-1].callbacks()


def test_a_double_tap_or_a_redelivered_press_grants_once(store: MemoryStore) -> None:
    assert _start_trial(store)[0] == "trial started"
    rt = _webhook(store, days=2)
    telegram, _, _ = fakes(rt)
    press = updates.press(next(_IDS), TRIAL, BUYER)
    assert handle_update(press, rt) == "trial shown again"
    assert handle_update(press, rt) == "duplicate (done)"  # Telegram delivers the same press again
    assert "runs until Thursday, 3 December 2026" in telegram.to(BUYER)[-1].text
    assert _sub(store).expires_at == NOW + timedelta(days=7)  # not 9, not 14
    assert len(store.trials.find(TRIALS_STARTED_OF_CHANNEL, channel_token=TOKEN)) == 1


class RacingStore(MemoryStore):
    """Every transaction's first attempt waits, once it has read, for the other presser's to have
    read too: both see no trial, and one of them must lose at commit."""

    def __init__(self, racers: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(racers)

    def transaction(self, work: Callable[[Tx], T]) -> T:
        first = True

        def paused(tx: Tx) -> T:
            nonlocal first
            result = work(tx)
            if first:
                first = False
                self.barrier.wait(timeout=10)
            return result

        return super().transaction(paused)


def test_presses_at_once_grant_one_trial() -> None:
    racing = RacingStore(racers=4)
    channel = demo_channel(trial_days=7)
    save_channel(racing, channel)
    outcomes: list[trials.Outcome] = []
    threads = [
        threading.Thread(
            target=lambda: outcomes.append(trials.start(racing, FrozenClock(NOW), channel, BUYER))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sum(o.new for o in outcomes) == 1 and len(outcomes) == 4
    assert {o.refusal for o in outcomes if not o.new} == {Refusal.USED}
    assert racing.transactions_retried >= 3  # the losers ran again and found the trial
    assert _sub(racing).expires_at == NOW + timedelta(days=7)


def test_a_second_trial_is_refused_kindly_with_the_tiers(store: MemoryStore) -> None:
    _start_trial(store)
    rt = _webhook(store, days=20)  # long after the trial ended
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}", BUYER), rt) == "offer shown"
    assert TRIAL not in telegram.sent[-1].callbacks()
    # The old button, pressed again: why not, and the tiers.
    outcome = handle_update(updates.press(next(_IDS), TRIAL, BUYER), rt)
    assert outcome == "trial refused (had a trial); offer shown"
    why, offer = telegram.to(BUYER)[-2:]
    assert "You've already had your free trial of Night Owls Club" in why.text
    assert offer.callbacks()[:2] == [f"buy:{TOKEN}:t1", f"buy:{TOKEN}:t2"]
    assert _sub(store).expires_at == NOW + timedelta(days=7)


def test_someone_who_paid_before_sees_the_tiers_only(store: MemoryStore) -> None:
    _purchase(store, BUYER, days=0, payment_id=71)
    rt = _webhook(store, days=40)  # their access lapsed long ago
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}", BUYER), rt) == "offer shown"
    assert TRIAL not in telegram.sent[-1].callbacks()
    assert "Try it free" not in telegram.sent[-1].text
    outcome = handle_update(updates.press(next(_IDS), TRIAL, BUYER), rt)  # a button from before
    assert outcome == "trial refused (paid before); offer shown"
    assert "is for newcomers" in telegram.to(BUYER)[-2].text
    assert store.trials.get(trial_id(TOKEN, BUYER)) is None


def test_a_trial_button_after_the_owner_turned_trials_off(store: MemoryStore) -> None:
    save_channel(store, demo_channel())  # as the owner's /edit saves it: no trial
    rt = _webhook(store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}", BUYER), rt) == "offer shown"
    assert TRIAL not in telegram.sent[-1].callbacks()
    outcome = handle_update(updates.press(next(_IDS), TRIAL, BUYER), rt)
    assert outcome == "trial refused (no trial offered); offer shown"
    assert "doesn't offer a free trial right now" in telegram.to(BUYER)[-2].text
    assert store.subscriptions.get(subscription_id(TOKEN, BUYER)) is None


def test_the_daily_posts_link_starts_the_trial(store: MemoryStore) -> None:
    poster = runtime(ExpireSubscriptionsSettings, store)
    assert post_offer(BroadcastTask(channel_token=TOKEN, day="2026-11-26"), poster) == "posted"
    [post] = fakes(poster)[0].to(demo_channel().open_channel_id)
    assert "Try it free for 7 days" in post.text
    trial_button = post.buttons()[2]
    assert trial_button.text == "🎁 Try 7 days free"
    assert trial_button.url == f"https://t.me/TelePayTestBot?start={TOKEN}-try"
    rt = _webhook(store)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), f"/start {TOKEN}-try", BUYER), rt) == "trial started"
    assert "7-day free trial" in telegram.to(BUYER)[-1].text


def _expiry(store: MemoryStore, at: timedelta) -> list[str]:
    rt = runtime(ExpireSubscriptionsSettings, store, now=NOW + at)
    telegram, _, tasks = fakes(rt)
    sweep(rt, f"run-{at}")
    while tasks.created:
        _, _, payload, _ = tasks.created.pop(0)
        run_task(payload, rt)
    return [m.text for m in telegram.to(BUYER)] + [b.text for m in telegram.to(BUYER) for b in m.buttons()]


def test_the_trials_reminder_and_goodbye_say_it_was_a_trial(store: MemoryStore) -> None:
    _start_trial(store)
    told = _expiry(store, timedelta(days=6, hours=1))  # the first reminder due, 23 hours before the end
    assert told[0].startswith("⏰ Your free trial of Night Owls Club ends on Thursday, 3 December 2026")
    assert "Choose a plan to keep your access" in told[0]
    assert "📋 Choose a plan" in told
    told = _expiry(store, timedelta(days=7, minutes=1))
    assert told[0].startswith("Your free trial of Night Owls Club ended on")
    sub = _sub(store)
    assert sub.status is SubscriptionStatus.EXPIRED and sub.removed_at is not None


def test_a_purchase_during_the_trial_extends_from_its_end_and_converts_it(store: MemoryStore) -> None:
    _start_trial(store)
    order_id = _purchase(store, BUYER, days=2, payment_id=72)
    sub = _sub(store)
    assert sub.expires_at == NOW + timedelta(days=7 + 30)  # the trial's end + the tier's 30 days
    assert sub.trial_ends_at is None  # the access is no longer the trial's
    trial = present(store.trials.get(trial_id(TOKEN, BUYER)))
    assert trial.converted_order_id == order_id and trial.converted_at == NOW + timedelta(days=2)
    # A second purchase converts nothing again.
    _purchase(store, BUYER, days=3, payment_id=73)
    assert present(store.trials.get(trial_id(TOKEN, BUYER))).converted_order_id == order_id

    # The owner's /stats: the trial started and converted, nobody on a trial now.
    _start_trial(store, user=777, days=3)  # another newcomer, still on their trial
    rt = _webhook(store, days=4)
    telegram, _, _ = fakes(rt)
    assert handle_update(updates.start(next(_IDS), "/stats", OWNER), rt) == "stats shown"
    text = telegram.to(OWNER)[-1].text
    assert "On a free trial now: 1" in text
    assert "Last 7 days: 2 trials started, 1 converted to a purchase" in text
    assert "Last 30 days: 2 trials started, 1 converted to a purchase" in text


def test_a_stars_purchase_converts_the_trial_too(store: MemoryStore) -> None:
    _start_trial(store)
    rt = _webhook(store, days=1)
    _, _, tasks = fakes(rt)
    handle_update(updates.press(next(_IDS), f"buy:{TOKEN}:t2", BUYER), rt)
    assert handle_update(updates.press(next(_IDS), f"pay:{TOKEN}:t2:s", BUYER), rt) == "invoice queued"
    [(_, _, task, _)] = tasks.created
    assert isinstance(task, CreateInvoiceTask)
    assert create_invoice(task, 1, runtime(CreateInvoiceSettings, store)) == "invoiced in Stars"
    paid_at = int((NOW + timedelta(days=1)).timestamp())
    assert handle_update(updates.pre_checkout(next(_IDS), BUYER, task.order_id, 625), rt) == (
        "pre-checkout accepted"
    )
    handle_update(updates.star_payment(next(_IDS), BUYER, task.order_id, 625, "stx-t", paid_at), rt)
    assert _sub(store).expires_at == NOW + timedelta(days=7 + 90)
    assert present(store.trials.get(trial_id(TOKEN, BUYER))).converted_order_id == task.order_id
