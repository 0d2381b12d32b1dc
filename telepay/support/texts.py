"""What the bot says in support threads, to buyers and to owners: short and friendly; amounts with
their currency, dates written out in UTC. Module-level texts are marked `N_` and translated where
they are used."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared_schemas.documents import OrderStatus
from telepay.core.i18n import N_, money, t, tn, when

CLOSE_BUTTON = N_("✖️ Close")
WHICH_CHANNEL = N_("💬 Which channel is it about?")
NO_CHANNELS = N_(
    "💬 I don't see a subscription or an order of yours yet, so there's no owner to pass a message "
    "to. If you paid and something went wrong, send /paysupport with what happened."
)
PAYSUPPORT_NO_CHANNELS = N_(
    "🧾 Thank you. The operator has your message and will answer here. "
    "Refunds of Telegram Stars are made by the operator."
)
PAYSUPPORT_HOW = N_(
    "🧾 Payment support: tell me what happened (the channel, the date and the amount help). "
    "Refunds of Telegram Stars are made by the operator."
)
CANCELLED = N_("OK, nothing was sent.")
EXPIRED = N_("That took a while, so I stopped waiting. Send /support to write to the owner.")
SENT = N_("✅ Sent.")
THREAD_CLOSED = N_("This conversation is closed: /support to start a new one.")
ALREADY_CLOSED = N_("This conversation is closed already.")
NOT_YOURS = N_("This button isn't for you.")
TEXT_ONLY = N_("Please write it as a text message.")
REPLY_HINT = N_("Reply to this message to answer.")
NO_SUBSCRIPTION = N_("No subscription")


def ask_text(title: str) -> str:
    return t(
        "💬 Write what went wrong with {title}, in one message; I'll pass it to the owner. /cancel stops.",
        title=title,
    )


def sent_to_owner(title: str) -> str:
    return t(
        "✅ Sent to the owner of {title}. Their answer comes here; reply to it (or to this message) "
        "to write more.",
        title=title,
    )


def owner_unreachable(title: str) -> str:
    return t(
        "I couldn't reach the owner of {title} right now; your message is kept and the operator can see it.",
        title=title,
    )


def other_side_unreachable() -> str:
    return t("I couldn't deliver that one: they can't be reached by the bot right now.")


def owner_reply(title: str, text: str) -> str:
    return t("💬 Reply from the owner of {title}:\n\n{text}", title=title, text=text) + "\n\n" + t(REPLY_HINT)


def buyer_wrote(name: str, title: str, text: str) -> str:
    return (
        t("💬 {name} writes about {title}:\n\n{text}", name=name, title=title, text=text)
        + "\n\n"
        + t(REPLY_HINT)
    )


def buyer_label(name: str, user_id: int) -> str:
    return t("{name} (id {user_id})", name=name, user_id=user_id)


def subscription_line(tier: str, until: datetime, status: str) -> str:
    return t("Subscription: {tier}, until {until} ({status})", tier=tier, until=when(until), status=status)


def days_tier(days: int) -> str:
    return tn("{count} day", "{count} days", days, count=days)


# An order's state on the owner's card, in the owner's words (not the stored value).
ORDER_STATES: dict[OrderStatus, str] = {
    OrderStatus.CREATING: N_("being made"),
    OrderStatus.INVOICED: N_("invoice sent, not paid"),
    OrderStatus.PARTIALLY_PAID: N_("partly paid"),
    OrderStatus.SETTLED: N_("paid"),
    OrderStatus.EXPIRED: N_("invoice expired"),
    OrderStatus.FAILED: N_("payment failed"),
    OrderStatus.INVOICE_FAILED: N_("invoice failed"),
    OrderStatus.REFUNDED: N_("refunded"),
}


def order_line(order_id: str, amount: Decimal, currency: str, status: OrderStatus, at: datetime) -> str:
    return t(
        "• {order_id} · {amount} · {status} · {date}",
        order_id=order_id,
        amount=money(amount, currency),
        status=t(ORDER_STATES[status]),
        date=when(at),
    )


def card(name: str, title: str, subscription: str, orders: list[str], text: str) -> str:
    """The owner's card of a new thread: who, their subscription and last orders, what they wrote."""
    lines = [t("💬 Support request about {title}", title=title), t("From: {name}", name=name), subscription]
    lines.append(t("Last orders:") if orders else t("No orders."))
    lines.extend(orders)
    body = "\n".join(lines)
    return f"{body}\n\n{text}\n\n{t(REPLY_HINT)}"


def closed_by_you(title: str) -> str:
    return t("Closed the conversation about {title}.", title=title)


def closed_by_buyer(name: str, title: str) -> str:
    return t("{name} closed the conversation about {title}.", name=name, title=title)


def closed_by_owner(title: str) -> str:
    return t("The owner of {title} closed this conversation. /support to start a new one.", title=title)


def buyer_unreachable(name: str, title: str, order_id: str, amount: Decimal, currency: str, tier: str) -> str:
    return t(
        "⚠️ {name} paid {amount} for {tier} of {title} (order {order_id}) but has blocked the bot, so "
        "I couldn't send their access. Please reach them yourself: once they unblock the bot, "
        "/subscriptions gives them their way in.",
        name=name,
        amount=money(amount, currency),
        tier=tier,
        title=title,
        order_id=order_id,
    )
