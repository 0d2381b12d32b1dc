"""Money and access are never silently lost, end to end through the stand-ins: a re-check that
NowPayments rate-limits is retried until the buyer gets access; a removal refused while the bot
lacks rights happens within two minutes of the rights coming back."""

from __future__ import annotations

from typing import Any

import pytest

from local.clients import NowPaymentsControl, TelegramControl, buttons, wait_for
from local.fixtures import CLOSED_RIGHTS
from tests.e2e.flows import join, new_channel, open_invoice, subscribe, texts_in
from tests.e2e.test_expiry import sweep

pytestmark = pytest.mark.e2e
DAY = 86400


def test_a_rate_limited_recheck_is_retried_until_access_is_granted(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str
) -> None:
    new_channel(endpoints, tg, token)
    ada = tg.user("Ada")
    pay_message = open_invoice(tg, ada, token)
    payment = np.invoice_by_url(buttons(pay_message)[0]["url"])
    payment_id = np.pay(payment["id"])
    np.fail(status=429, path=f"/v1/payment/{payment_id}", method="GET")
    [ipn] = np.steps(payment_id, [{"status": "finished"}])
    assert ipn["response_status"] == 503  # not "unknown payment": NowPayments sends it again
    assert texts_in(tg, ada, "Payment received") == []
    [again] = np.replay(ipn["ipn_id"])
    assert again["response_status"] == 200
    tg.wait_message(ada, "Payment received")


def test_a_removal_refused_for_lost_rights_happens_once_the_rights_are_back(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str, clock: Any
) -> None:
    # A day pass: moving the clock one day makes this test's subscription due and not the shared
    # stack's 30-day ones (moved to 30 days, every earlier test's reminders and removals queued
    # ahead of the retried removal on the paced queue, and a CI run waited past two minutes).
    channel = new_channel(endpoints, tg, token, tiers=[{"price": "5.00", "days": 1, "label": "Day pass"}])
    ivy = tg.user("Ivy")
    join(tg, ivy, channel, subscribe(tg, np, ivy, channel))
    tg.make_bot_admin(channel.closed, [r for r in CLOSED_RIGHTS if r != "can_restrict_members"])

    clock.set(DAY + 60)
    sweep(endpoints, f"{token}-a")
    tg.wait_message(channel.owner, "couldn't remove an expired subscriber", timeout=30)
    assert tg.member_status(channel.closed, ivy) == "member"

    tg.make_bot_admin(channel.closed, CLOSED_RIGHTS)  # the owner restores the rights
    # The refused removal is due again a minute after Telegram refused it (the stack's clock runs
    # on from each set): sweep each minute until it is queued.
    for minute in (2, 3, 4):
        clock.set(DAY + 60 * minute + 5)
        sweep(endpoints, f"{token}-{minute}")
    wait_for("the removal", lambda: tg.member_status(channel.closed, ivy) != "member", timeout=60, every=0.5)
    tg.wait_message(ivy, "ended on", timeout=60)


def test_a_member_who_left_gets_back_in_with_a_fresh_join_button(
    endpoints: dict[str, Any], tg: TelegramControl, np: NowPaymentsControl, token: str
) -> None:
    channel = new_channel(endpoints, tg, token)
    una = tg.user("Una")
    join(tg, una, channel, subscribe(tg, np, una, channel))
    tg.leave(una, channel.closed)
    assert tg.member_status(channel.closed, una) != "member"

    def links_made() -> int:
        calls = tg.calls("createChatInviteLink")
        return sum(str(c["params"].get("chat_id")) == str(channel.closed) for c in calls)

    made = links_made()

    def join_offered() -> dict[str, Any] | None:
        # Telegram tells the bot she left by an update of its own: ask until it has arrived.
        before = max((m["message_id"] for m in tg.transcript(una)), default=0)
        tg.say(una, f"/start {token}")
        status = tg.wait_message(una, "You're subscribed to Night Owls Club", after=before)
        return status if buttons(status) else None

    status = wait_for("a Join button for Una", join_offered, timeout=30, every=1)
    tg.say(una, "/subscriptions")
    listing = tg.wait_message(una, "Your subscriptions:", after=status["message_id"])
    offered = [b["callback_data"] for b in buttons(status) + buttons(listing)]
    assert offered == [f"join:{token}", f"join:{token}"]
    assert links_made() == made  # showing her subscription made no link

    tg.press(una, listing["message_id"], f"join:{token}")
    link = tg.wait_message(una, "Here's your way into Night Owls Club", after=listing["message_id"])
    assert links_made() == made + 1  # tapping Join made one
    assert tg.join(una, buttons(link)[0]["url"])["result"] == "requested"
    wait_for("Una back in", lambda: tg.member_status(channel.closed, una) == "member")
