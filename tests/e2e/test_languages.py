"""Buyers read TelePay in their own language, end to end: the language comes from the
`language_code` of their Telegram updates (the stand-in's users carry it, as Telegram's do), and
each text is looked up in the real catalog, so this fails when a message is left in English or a
catalog lacks it. A Russian buyer gets the offer, the invoice, the receipt, the reminder and the
removal notice in Russian; a Brazilian one in Portuguese; a German one (no catalog) in English."""

from __future__ import annotations

from typing import Any

import pytest
from google.cloud import firestore

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from local.demo import Speech
from telepay.core import i18n
from tests.e2e.conftest import StackClock
from tests.e2e.flows import join, new_channel, pay, texts_in
from tests.e2e.test_expiry import DAY, sweep

pytestmark = pytest.mark.e2e

OFFER = "Choose how long"
INVOICE = "Access is granted as soon as the payment is confirmed"
RECEIPT = "Payment received, thank you!"
REMINDER = "Renew now to keep it"
ENDED = "Tap Renew to come back"


def in_(language: str, fragment: str) -> str:
    """A piece of the text the buyer reads for an English `fragment`, from `language`'s catalog
    (`local.demo.Speech`: the text containing the fragment, translated)."""
    said = Speech(language)(fragment)
    assert language == i18n.SOURCE or said != fragment, f"{fragment!r} has no {language} translation"
    return said


def _buy(
    tg: TelegramControl, np: NowPaymentsControl, buyer: int, token: str, language: str
) -> dict[str, Any]:
    tg.say(buyer, f"/start {token}")
    offer = tg.wait_message(buyer, in_(language, OFFER))
    tg.press(buyer, offer["message_id"], buttons(offer)[0]["callback_data"])
    tg.choose_payment(buyer, after=offer["message_id"])  # crypto
    invoice = tg.wait_message(buyer, in_(language, INVOICE), after=offer["message_id"])
    pay(np, invoice)
    return tg.wait_message(buyer, in_(language, RECEIPT), after=invoice["message_id"])


def test_a_russian_buyer_reads_everything_in_russian(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    db: firestore.Client,
    token: str,
    clock: StackClock,
) -> None:
    channel = new_channel(endpoints, tg, token)
    ivan = tg.user("Иван", language_code="ru")
    receipt = _buy(tg, np, ivan, token, "ru")
    assert "5,00" in receipt["text"] and "UTC" in receipt["text"]
    join(tg, ivan, channel, receipt)

    clock.set(27 * DAY + 60)
    sweep(endpoints, f"{token}-ru-1")
    reminder = tg.wait_message(ivan, in_("ru", REMINDER))
    assert "UTC" in reminder["text"]

    clock.set(30 * DAY + 60)
    wait_for("the removal", lambda: tg.member_status(channel.closed, ivan) != "member", timeout=130, every=1)
    tg.wait_message(ivan, in_("ru", ENDED))
    assert not texts_in(tg, ivan, "Payment received") and not texts_in(tg, ivan, "Choose how long")


@pytest.mark.parametrize(("code", "language"), [("pt-br", "pt_BR"), ("de", "en")])
def test_other_buyers_read_their_language_or_english(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    token: str,
    code: str,
    language: str,
) -> None:
    new_channel(endpoints, tg, token)
    buyer = tg.user("Ana", language_code=code)
    receipt = _buy(tg, np, buyer, token, language)
    if language == "en":
        assert "Receipt: 1 month of Night Owls Club for $5.00." in receipt["text"]
    else:
        assert "US$ 5,00" in receipt["text"].replace("\xa0", " ")
