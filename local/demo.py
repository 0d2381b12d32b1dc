"""The scripted demo `make run` plays on a fresh stack: an owner goes live through the bot, a subscriber
opens the offer, pays, and is let into the private channel; a stranger with the forwarded link
is turned away; a donor gives through the keypad. Then the stack's clock moves forward a few days
at a time (`DAYS_LATER`): more buyers come, Sam renews, a free trial ends; and the owner has a
second channel with no sale yet, so her dashboard has days, a renewal, an expiry and a channel to
switch to. Each step is printed as it happens.

`play(..., language="ru")` plays it with everyone's Telegram app in that language: what the demo
waits for and taps is looked up in that language's catalog (`Speech`), so the demo fails when a
text the bot sends is not in the reader's language."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from babel.messages.pofile import read_po

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from local.fixtures import CLOSED_RIGHTS, OPEN_RIGHTS
from shared_schemas.ids import CALLBACK_TRIAL
from telepay.core import i18n
from telepay.donations.keypad_rules import shown

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Speech:
    """The demo's words in `language`: an English fragment of a text the bot sends becomes the
    longest literal part of that text's translation; a button's English label becomes its label."""

    def __init__(self, language: str = i18n.SOURCE) -> None:
        self.language = language

    @cached_property
    def _sources(self) -> list[str | tuple[str, str]]:
        with (i18n.LOCALES / f"{i18n.DOMAIN}.pot").open("rb") as template:
            ids = [message.id for message in read_po(template) if message.id]
        return [source if isinstance(source, str) else (source[0], source[1]) for source in ids]

    def _translate(self, source: str | tuple[str, str]) -> str:
        with i18n.speaking(self.language):
            catalog = i18n.translations(self.language)
            return catalog.ngettext(*source, 2) if isinstance(source, tuple) else catalog.gettext(source)

    def __call__(self, fragment: str) -> str:
        if self.language == i18n.SOURCE or not fragment:
            return fragment
        english = [s if isinstance(s, str) else s[1] for s in self._sources]
        # A number in the fragment stands for a placeholder of the text ("Price 1 of 2").
        pattern = re.compile(
            "".join(
                r"\{[a-z_]+\}" if part.isdigit() else re.escape(part) for part in re.split(r"(\d+)", fragment)
            )
        )
        found = sorted(
            (
                source
                for source, text in zip(self._sources, english, strict=True)
                if fragment in text or pattern.search(text)
            ),
            key=lambda source: (
                not (source if isinstance(source, str) else source[1]).startswith(fragment),
                len(str(source)),
            ),
        )
        if not found:
            return fragment  # a name or a number: the same in every language
        text = self._translate(found[0])
        return max((part.strip() for line in text.split("\n") for part in PLACEHOLDER.split(line)), key=len)

    def label(self, english: str) -> str:
        """A button: its whole label translated (amounts written as the language writes them)."""
        if english == i18n.LANGUAGES[i18n.SOURCE]:  # the posts' language: the demo's own
            return i18n.LANGUAGES[self.language]
        if english.startswith("$"):
            with i18n.speaking(self.language):
                return i18n.money(Decimal(english[1:].replace(",", "")), "USD")
        if english.startswith("⭐"):  # Stars, in a button of their own ("Use ⭐250 (from the USD price)")
            with i18n.speaking(self.language):
                return i18n.money(Decimal(english[1:].replace(",", "")), i18n.STARS)
        if self.language == i18n.SOURCE or english not in self._sources:
            return english
        return self._translate(english)

    def amount(self, typed: str) -> str:
        """The keypad's amount as it shows what was typed."""
        with i18n.speaking(self.language):
            return shown(typed, "USD")


OPEN_TITLE = "Night Owls Club"
CLOSED_TITLE = "Night Owls Club · Members"
TRON_WALLET = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

# An answer to the bot: send a text or tap a button, then the bot's next message contains `expect`.
Answer = tuple[str, str, str]
# Everything /newchannel asks after the two channels are chosen, answered as an owner would.
DEMO_ANSWERS: tuple[Answer, ...] = (
    ("send", "Night Owls Club", "Describe what subscribers get"),
    ("send", "Late-night market notes, every day.", "In which language"),
    ("tap", "English", "How many prices"),
    ("tap", "2", "Price 1 of 2"),
    ("send", "5", "how many days of access"),
    ("tap", "30", "in Telegram Stars"),
    ("tap", "⭐250", "a short name"),  # the USD price converted at $0.02 a Star
    ("send", "Monthly", "Price 2 of 2"),
    ("send", "12.50", "how many days of access"),
    ("tap", "90", "in Telegram Stars"),
    ("tap", "⭐625", "a short name"),
    ("send", "Quarterly", "Offer newcomers a free trial"),
    ("send", "7", "smallest amount"),  # a free trial of 7 days for newcomers
    ("tap", "$4.99", "largest donation"),
    ("tap", "$9,999.99", "donation post"),
    ("tap", "Skip", "Grace period"),
    ("tap", "None", "Which coin"),
    ("tap", "USDT", "On which network"),
    ("tap", "Tron (TRC-20)", "wallet address for"),
    ("send", TRON_WALLET, "How should payouts be made"),
    ("tap", "Instant: after every payment", "Shall I put it live?"),
)


def answer_all(chat: BotChat, answers: Sequence[Answer], speech: Speech | None = None) -> dict[str, Any]:
    """Give each answer and wait for the bot's next question; returns the last reply."""
    speech = speech or Speech()
    reply: dict[str, Any] = {}
    for action, value, expect in answers:
        if action == "send":
            reply = chat.send(value, speech(expect))
        else:
            reply = chat.tap(speech.label(value), speech(expect))
    return reply


def token_of(live_message: dict[str, Any]) -> str:
    """The channel token in the deep link the bot sent the owner."""
    match = re.search(r"\?start=([A-Za-z0-9]+)\n", live_message["text"])
    assert match, live_message["text"]
    return match[1]


def telegram_code(language: str) -> str:
    """The `language_code` a Telegram app in `language` sends (`pt_BR` → `pt-br`)."""
    return language.replace("_", "-").lower()


def new_owner(tg: TelegramControl, speech: Speech | None = None) -> tuple[int, BotChat]:
    speech = speech or Speech()
    owner = tg.user(
        "Olivia", username=f"olivia_{uuid.uuid4().hex[:8]}", language_code=telegram_code(speech.language)
    )
    chat = BotChat(tg, owner)  # before she speaks: the bot's answer may come before the next line
    chat.send("/start", speech("Hi!"))  # the owner talks to the bot once, so it may message her
    return owner, chat


def setup_channel(
    tg: TelegramControl, say: Callable[[str], None], speech: Speech | None = None
) -> dict[str, Any]:
    """Olivia goes live the way every owner does: the bot made admin of her two channels, then
    /newchannel in her private chat with the bot."""
    speech = speech or Speech()
    owner, chat = new_owner(tg, speech)
    return go_live(tg, owner, chat, say, speech, OPEN_TITLE)


def go_live(
    tg: TelegramControl,
    owner: int,
    chat: BotChat,
    say: Callable[[str], None],
    speech: Speech,
    title: str,
) -> dict[str, Any]:
    """`owner` sells a pair of channels named `title` (the open one) and `title · Members`: the bot
    made admin of both, then /newchannel answered as `DEMO_ANSWERS` (with `title`)."""
    closed_title = f"{title} · Members"
    handle = re.sub(r"[^a-z]", "", title.lower())
    open_id = tg.channel(title, owner, username=f"{handle}_{uuid.uuid4().hex[:8]}")
    closed_id = tg.channel(closed_title, owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, CLOSED_RIGHTS)
    chat.wait_all(title, closed_title)
    say(f"demo: Olivia makes the bot an admin of {title} and {closed_title}; the bot tells her it is ready")
    chat.send("/newchannel", speech("Which channel is the open one"))
    chat.tap(title, speech("closed one"))
    chat.tap(closed_title, speech("name buyers will see"))
    say("demo: Olivia sends /newchannel and picks the two channels with the buttons")
    answers = (("send", title, DEMO_ANSWERS[0][2]), *DEMO_ANSWERS[1:])
    answer_all(chat, answers, speech)
    say(
        "demo: she answers the questions: title, two prices (in USD, and in Stars converted from them), a 7-day free trial, donations, payout wallet; the bot sums up"
    )
    live = chat.tap(speech.label("✅ Go live"), speech("is live!"))
    token = token_of(live)
    say(f"demo: she taps Go live and gets her link t.me/…?start={token}")
    return {"owner": owner, "open": open_id, "closed": closed_id, "token": token, "chat": chat}


def play(
    endpoints: dict[str, Any], say: Callable[[str], None], language: str = i18n.SOURCE
) -> dict[str, Any]:
    """Plays the demo; returns the demo owner as a Mini App user (`user`, for the owner app's link),
    her two channels' tokens and the buyers by name."""
    tg = TelegramControl(endpoints)
    np = NowPaymentsControl(endpoints)
    bot = endpoints["telegram_bot_username"]
    speech = Speech(language)
    code = telegram_code(language)
    ids = setup_channel(tg, say, speech)
    token = ids["token"]
    tg.wait_message(ids["open"], speech("Choose how long"))
    say("demo: the bot posts the offer in the open channel")
    sam = tg.user("Sam", language_code=code)
    ids["buyers"] = {"Sam": sam}
    say(f"demo: Sam opens t.me/{bot}?start={token}")
    tg.say(sam, f"/start {token}")
    offer = tg.wait_message(sam, speech("Choose how long"))
    say("demo: the bot shows the offer: " + " | ".join(b["text"] for b in buttons(offer)))
    monthly = buttons(offer)[0]
    tg.press(sam, offer["message_id"], monthly["callback_data"])
    say(f"demo: Sam taps “{monthly['text']}”, then “Pay with crypto”")
    tg.choose_payment(sam, after=offer["message_id"])
    pay = tg.wait_message(sam, speech("Access is granted as soon as the payment is confirmed"))
    invoice_url = buttons(pay)[0]["url"]
    say(f"demo: the bot sends a Pay button ({buttons(pay)[0]['text']}) → {invoice_url}")
    invoice = np.invoice_by_url(invoice_url)
    payment = np.pay(invoice["id"])
    for status in ("waiting", "confirming", "finished"):
        [ipn] = np.steps(payment, [{"status": status}])
        say(f"demo: NowPayments sends the IPN “{status}” → ipn_handler answers {ipn['response_status']}")
    receipt = tg.wait_message(sam, speech("Payment received, thank you!"))
    say("demo: Sam gets a receipt: " + receipt["text"].splitlines()[2])
    link = buttons(receipt)[0]["url"]
    result = tg.join(sam, link)
    say(f"demo: Sam opens the Join link → {result['result']}")
    status = _wait_member(tg, ids["closed"], sam)
    say(f"demo: the bot approves Sam's join request → Sam is a {status} of the closed channel")
    notice = tg.wait_message(ids["owner"], speech("New payment"))
    say("demo: Olivia is told: " + notice["text"].splitlines()[1])
    max_ = tg.user("Max", language_code=code)
    tg.join(max_, link)
    tg.wait_message(max_, speech("couldn't let you into this channel"))
    say(
        f"demo: Max tries Sam's forwarded link → declined ({tg.member_status(ids['closed'], max_) or 'not a member'})"
    )
    _stars(tg, ids, say, speech, code)
    ids["buyers"]["Tara"] = _trial(tg, ids, say, speech, code)
    _promo(tg, np, ids, say, speech, code)
    _donation(tg, np, ids, say, speech)
    second = go_live(tg, ids["owner"], ids["chat"], say, speech, SECOND_TITLE)
    say(f"demo: Olivia also sells {SECOND_TITLE}, which has no sale yet")
    _days_later(endpoints, tg, np, ids, say, speech, code)
    say("demo: done. The stack keeps running: try the stand-ins' control APIs (see README).")
    return {
        "user": {"id": ids["owner"], "first_name": "Olivia"},
        "token": ids["token"],
        "second_token": second["token"],
        "buyers": ids["buyers"],
    }


SECOND_TITLE = "Early Birds"
DAY = 86_400
# The days after the first (how many days the stack's clock moves forward for each), and who buys
# which tier (0 monthly, 1 quarterly) in crypto. Sam's second purchase, before his month ends, is a
# renewal. Tara's 7-day free trial ends a week after the first day; nine days after it the sweep
# has removed her.
DAYS_LATER: tuple[tuple[int, str, int], ...] = (
    (1, "Ben", 1),
    (2, "Cleo", 0),
    (4, "Sam", 0),
    (5, "Dan", 0),
    (6, "Gus", 1),
)
TRIAL_ENDED = 9


def _days_later(
    endpoints: dict[str, Any],
    tg: TelegramControl,
    np: NowPaymentsControl,
    ids: dict[str, Any],
    say: Callable[[str], None],
    speech: Speech,
    code: str | None,
) -> None:
    """Sales on the days after the first, each a buyer's whole purchase on the stack's clock moved
    forward to that day (it stays there: `make run`'s stack then runs that many days ahead)."""
    buyers: dict[str, int] = dict(ids["buyers"])
    offset = Path(endpoints["clock_offset_file"])
    for day, name, tier in DAYS_LATER:
        offset.write_text(str(day * DAY))
        buyer = buyers.get(name) or tg.user(name, language_code=code)
        buyers[name] = buyer
        receipt = buy(tg, np, ids["token"], buyer, tier, speech)
        renewed = " (a renewal)" if name == "Sam" else ""
        say(
            f"demo: day {day + 1}: {name} buys the {('monthly', 'quarterly')[tier]} tier{renewed}: "
            + receipt["text"].splitlines()[0]
        )
    offset.write_text(str(TRIAL_ENDED * DAY))
    httpx.post(
        f"{endpoints['scheduler']}/run/expire-subscriptions-every-minute", timeout=120
    ).raise_for_status()
    tara = buyers["Tara"]
    wait_for(
        "Tara's removal", lambda: tg.member_status(ids["closed"], tara) != "member", timeout=180, every=1
    )
    say(f"demo: day {TRIAL_ENDED + 1}: Tara's free trial has ended; the sweep removed her from the channel")


def buy(
    tg: TelegramControl, np: NowPaymentsControl, token: str, buyer: int, tier: int, speech: Speech
) -> dict[str, Any]:
    """`buyer` opens the offer, taps tier `tier`, pays in crypto; the receipt."""
    seen = max((m["message_id"] for m in tg.transcript(buyer)), default=0)
    tg.say(buyer, f"/start {token}")
    offer = tg.wait_message(buyer, speech("Choose how long"), after=seen)
    tg.press(buyer, offer["message_id"], buttons(offer)[tier]["callback_data"])
    tg.choose_payment(buyer, after=offer["message_id"])
    pay = tg.wait_message(
        buyer, speech("Access is granted as soon as the payment is confirmed"), after=offer["message_id"]
    )
    np.steps(
        np.pay(np.invoice_by_url(buttons(pay)[0]["url"])["id"]),
        [{"status": "waiting"}, {"status": "finished"}],
    )
    return tg.wait_message(buyer, speech("Payment received, thank you!"), after=pay["message_id"])


def _stars(
    tg: TelegramControl, ids: dict[str, Any], say: Callable[[str], None], speech: Speech, code: str | None
) -> None:
    """One purchase in Telegram Stars: the 30-day tier as a Star subscription Telegram renews."""
    stella = tg.user("Stella", language_code=code)
    tg.say(stella, f"/start {ids['token']}")
    offer = tg.wait_message(stella, speech("Choose how long"))
    tg.press(stella, offer["message_id"], buttons(offer)[0]["callback_data"])
    tg.choose_payment(stella, after=offer["message_id"], stars=True)
    say("demo: Stella taps the monthly tier, then “⭐ Pay with Stars”")
    ready = tg.wait_message(stella, speech("Your Star subscription is ready"))
    link = buttons(ready)[0]["url"]
    say(f"demo: the bot sends a Star subscription ({buttons(ready)[0]['text']}) → {link}")
    paid = tg.pay_stars(stella, invoice_link=link)
    say(
        f"demo: Stella pays in Telegram → {paid['result']} (pre-checkout answered, charge {paid.get('charge_id')})"
    )
    receipt = tg.wait_message(stella, speech("Payment received, thank you!"))
    say("demo: Stella gets a receipt: " + receipt["text"].splitlines()[2])


def _trial(
    tg: TelegramControl, ids: dict[str, Any], say: Callable[[str], None], speech: Speech, code: str | None
) -> int:
    """A newcomer takes the channel's free trial: the offer's 🎁 Try 7 days free, then Join."""
    tara = tg.user("Tara", language_code=code)
    tg.say(tara, f"/start {ids['token']}")
    offer = tg.wait_message(tara, speech("Choose how long"))
    trial = next(b for b in buttons(offer) if b["callback_data"].startswith(f"{CALLBACK_TRIAL}:"))
    tg.press(tara, offer["message_id"], trial["callback_data"])
    say(f"demo: Tara, new here, taps “{trial['text']}”")
    started = tg.wait_message(tara, speech("-day free trial of"))
    say("demo: her trial starts: " + started["text"].splitlines()[0])
    tg.press(tara, started["message_id"], buttons(started)[0]["callback_data"])  # Join
    link = tg.wait_message(tara, speech("Here's your way into"), after=started["message_id"])
    tg.join(tara, buttons(link)[0]["url"])
    say(f"demo: Tara opens the Join link → a {_wait_member(tg, ids['closed'], tara)} until her trial ends")
    return tara


# Olivia's /promo, answer by answer: a 20 % code for every tier, no end, no limits, for everyone.
PROMO_ANSWERS: tuple[Answer, ...] = (
    ("send", "/promo", "Send the code buyers will use"),
    ("send", "NIGHT20", "How much off?"),
    ("send", "20%", "Which tiers is it for?"),
    ("tap", "All tiers", "Until which day (UTC)"),
    ("tap", "No end date", "How many times can it be used in all?"),
    ("tap", "No limit", "How many times can one buyer use it?"),
    ("tap", "No limit", "Who can use it?"),
    ("tap", "Everyone", "Your new code for"),
    ("tap", "✅ Create code", "Buyers type it under the offer"),
)


def _promo(
    tg: TelegramControl,
    np: NowPaymentsControl,
    ids: dict[str, Any],
    say: Callable[[str], None],
    speech: Speech,
    code: str | None,
) -> None:
    """Olivia makes a 20 % code with /promo and shares its link; Pat opens it, sees the monthly tier
    at $4.00 instead of $5.00, and pays the discounted invoice."""
    live = answer_all(BotChat(tg, ids["owner"]), PROMO_ANSWERS, speech)
    link = f"{ids['token']}_NIGHT20"
    assert f"?start={link}" in live["text"], live["text"]
    say(f"demo: Olivia sends /promo and makes NIGHT20, 20% off every tier → t.me/…?start={link}")
    pat = tg.user("Pat", language_code=code)
    tg.say(pat, f"/start {link}")
    offer = tg.wait_message(pat, speech("applied:"))
    say("demo: Pat opens it and sees: " + " | ".join(b["text"] for b in buttons(offer)[:2]))
    tg.press(pat, offer["message_id"], buttons(offer)[0]["callback_data"])
    tg.choose_payment(pat, after=offer["message_id"])
    pay = tg.wait_message(pat, speech("Access is granted as soon as the payment is confirmed"))
    invoice = np.invoice_by_url(buttons(pay)[0]["url"])
    say(f"demo: the invoice is priced by the code: {invoice['price_amount']} {invoice['price_currency']}")
    np.steps(np.pay(invoice["id"]), [{"status": "waiting"}, {"status": "finished"}])
    receipt = tg.wait_message(pat, speech("Payment received, thank you!"))
    say("demo: Pat pays the discounted price and gets a receipt: " + receipt["text"].splitlines()[0])


def _donation(
    tg: TelegramControl,
    np: NowPaymentsControl,
    ids: dict[str, Any],
    say: Callable[[str], None],
    speech: Speech,
) -> None:
    dee = tg.user("Dee", language_code=telegram_code(speech.language))
    say(f"demo: Dee opens t.me/…?start={ids['token']}_DONATE")
    tg.say(dee, f"/start {ids['token']}_DONATE")
    keypad = tg.wait_message(dee, speech.amount(""))
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    for key in ("2", "5"):
        tg.press(dee, keypad["message_id"], keys[key])
        tg.wait_message(dee, speech.amount("2" if key == "2" else "25"))
    say("demo: Dee types 25 on the keypad (its state lives in Firestore) and confirms")
    tg.press(dee, keypad["message_id"], keys[speech.label("✅ Confirm")])
    tg.choose_payment(dee, message_id=keypad["message_id"])  # crypto
    pay = tg.wait_message(dee, speech("thank you here as soon as the payment is confirmed"))
    payment = np.pay(np.invoice_by_url(buttons(pay)[0]["url"])["id"])
    np.steps(payment, [{"status": "waiting"}, {"status": "finished"}])
    thanks = tg.wait_message(dee, speech("Thank you for your donation"))
    say("demo: Dee pays and is thanked: " + thanks["text"])
    notice = tg.wait_message(ids["owner"], speech("New donation"))
    say("demo: Olivia is told: " + notice["text"].splitlines()[1])


def _wait_member(tg: TelegramControl, chat_id: int, user_id: int) -> str:
    return wait_for(
        "the join approval",
        lambda: (
            tg.member_status(chat_id, user_id) if tg.member_status(chat_id, user_id) == "member" else None
        ),
    )
