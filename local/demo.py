"""The scripted demo `make run` plays on a fresh stack: an owner's channel is set up, a subscriber
opens the offer, pays, and is let into the private channel; a stranger with the forwarded link
is turned away; a donor gives through the keypad. Each step is printed as it happens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from local.clients import NowPaymentsControl, TelegramControl, buttons, store
from shared_schemas.documents import ChannelDoc, Tier
from telepay.channels import save_channel

DEMO_TOKEN = "NightOwls01"
OPEN_RIGHTS = ["can_post_messages", "can_edit_messages", "can_delete_messages"]
CLOSED_RIGHTS = ["can_invite_users", "can_restrict_members", "can_delete_messages"]


def setup_channel(endpoints: dict[str, Any], tg: TelegramControl, token: str = DEMO_TOKEN) -> dict[str, int]:
    owner = tg.user("Olivia", username=f"olivia_{token.lower()}")
    tg.say(owner, "/start")  # the owner talks to the bot once, so it may message her
    open_id = tg.channel("Night Owls Club", owner, username=f"nightowls_{token.lower()}")
    closed_id = tg.channel("Night Owls Club · Members", owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, CLOSED_RIGHTS)
    channel = ChannelDoc(
        token=token,
        owner_user_id=owner,
        title="Night Owls Club",
        description="Late-night market notes, every day.",
        open_channel_id=open_id,
        closed_channel_id=closed_id,
        tiers=[
            Tier(tier_id="t1", price=Decimal("5.00"), days=30, label="Monthly"),
            Tier(tier_id="t2", price=Decimal("12.50"), days=90, label="Quarterly"),
        ],
        created_at=datetime.now(UTC),
    )
    save_channel(store(endpoints), channel)
    return {"owner": owner, "open": open_id, "closed": closed_id}


def play(endpoints: dict[str, Any], say: Callable[[str], None]) -> None:
    tg = TelegramControl(endpoints)
    np = NowPaymentsControl(endpoints)
    bot = endpoints["telegram_bot_username"]
    say("demo: setting up Olivia's channel pair (open and closed) with two tiers")
    ids = setup_channel(endpoints, tg)
    sam = tg.user("Sam")
    say(f"demo: Sam opens t.me/{bot}?start={DEMO_TOKEN}")
    tg.say(sam, f"/start {DEMO_TOKEN}")
    offer = tg.wait_message(sam, "Choose how long")
    say("demo: the bot shows the offer: " + " | ".join(b["text"] for b in buttons(offer)))
    monthly = buttons(offer)[0]
    tg.press(sam, offer["message_id"], monthly["callback_data"])
    say(f"demo: Sam taps “{monthly['text']}”")
    pay = tg.wait_message(sam, "Your invoice is ready")
    invoice_url = buttons(pay)[0]["url"]
    say(f"demo: the bot sends a Pay button ({buttons(pay)[0]['text']}) → {invoice_url}")
    invoice = np.invoice_by_url(invoice_url)
    payment = np.pay(invoice["id"])
    for status in ("waiting", "confirming", "finished"):
        [ipn] = np.steps(payment, [{"status": status}])
        say(f"demo: NowPayments sends the IPN “{status}” → ipn_handler answers {ipn['response_status']}")
    receipt = tg.wait_message(sam, "Payment received")
    say("demo: Sam gets a receipt: " + receipt["text"].splitlines()[2])
    link = buttons(receipt)[0]["url"]
    result = tg.join(sam, link)
    say(f"demo: Sam opens the Join link → {result['result']}")
    status = _wait_member(tg, ids["closed"], sam)
    say(f"demo: the bot approves Sam's join request → Sam is a {status} of the closed channel")
    notice = tg.wait_message(ids["owner"], "New payment")
    say("demo: Olivia is told: " + notice["text"].splitlines()[1])
    max_ = tg.user("Max")
    tg.join(max_, link)
    tg.wait_message(max_, "couldn't let you into this channel")
    say(
        f"demo: Max tries Sam's forwarded link → declined ({tg.member_status(ids['closed'], max_) or 'not a member'})"
    )
    _donation(tg, np, ids, say)
    say("demo: done. The stack keeps running: try the stand-ins' control APIs (see README).")


def _donation(
    tg: TelegramControl, np: NowPaymentsControl, ids: dict[str, int], say: Callable[[str], None]
) -> None:
    dee = tg.user("Dee")
    say(f"demo: Dee opens t.me/…?start={DEMO_TOKEN}_DONATE")
    tg.say(dee, f"/start {DEMO_TOKEN}_DONATE")
    keypad = tg.wait_message(dee, "Amount: $0.00 USD")
    keys = {b["text"]: b["callback_data"] for b in buttons(keypad)}
    for key in ("2", "5"):
        tg.press(dee, keypad["message_id"], keys[key])
        tg.wait_message(dee, f"Amount: ${'2' if key == '2' else '25'} USD")
    say("demo: Dee types 25 on the keypad (its state lives in Firestore) and confirms")
    tg.press(dee, keypad["message_id"], keys["✅ Confirm"])
    pay = tg.wait_message(dee, "Your invoice is ready")
    payment = np.pay(np.invoice_by_url(buttons(pay)[0]["url"])["id"])
    np.steps(payment, [{"status": "waiting"}, {"status": "finished"}])
    thanks = tg.wait_message(dee, "Thank you for your donation")
    say("demo: Dee pays and is thanked: " + thanks["text"])
    notice = tg.wait_message(ids["owner"], "New donation")
    say("demo: Olivia is told: " + notice["text"].splitlines()[1])


def _wait_member(tg: TelegramControl, chat_id: int, user_id: int) -> str:
    from local.clients import wait_for

    return wait_for(
        "the join approval",
        lambda: (
            tg.member_status(chat_id, user_id) if tg.member_status(chat_id, user_id) == "member" else None
        ),
    )
