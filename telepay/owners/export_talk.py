"""`/export` in the bot: the `export` conversation (the owners' conversations of
`telepay.owners.commands`, versioned and deduplicated the same way): the channel (if several), the
book (Sales, Ledger, Payouts), the period (This month, Last month, Last 30 days, or two typed
dates); then the book is sent as a CSV document in the owner's chat (`telepay.owners.books`)."""

from __future__ import annotations

from datetime import date

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import ConversationDoc
from telepay.channels.lookup import load_channel
from telepay.channels.settings import Invalid
from telepay.core.i18n import t
from telepay.owners import admins, books
from telepay.owners import books_texts as say_books
from telepay.owners import texts as say
from telepay.owners.books_rules import Book, Period, Preset, check_period, parse_period, preset
from telepay.owners.conversations import Conversations
from telepay.owners.questions import Ask, Data, Result, Step
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
NAME = "export"
ORDER = ("export_channel", "export_book", "export_period")
_KEYS = {"export_channel": "token", "export_book": "book", "export_period": "first"}
_PRESETS = (
    (say_books.THIS_MONTH, Preset.THIS_MONTH),
    (say_books.LAST_MONTH, Preset.LAST_MONTH),
    (say_books.LAST_30_DAYS, Preset.LAST_30_DAYS),
)


def _today(rt: Rt) -> date:
    return rt.clock.now().date()


def _take_channel(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(t(say.USE_BUTTONS))
    return {"token": channel.token, "title": channel.title}


def _take_book(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in {book.value for book in Book}:
        return Invalid(t(say.USE_BUTTONS))
    return {"book": answer}


def _take_period(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    today = _today(rt)
    chosen: Period | Invalid
    if answer in {p.value for p in Preset}:
        chosen = preset(Preset(answer), today)
    else:
        chosen = parse_period(answer, today)
    if isinstance(chosen, Invalid):
        return chosen
    return {"first": chosen.first.isoformat(), "last": chosen.last.isoformat()}


STEPS: dict[str, Step] = {
    "export_channel": Step(
        lambda rt, u, d: Ask(
            t(say.WHICH_CHANNEL), tuple((c.title, c.token) for c in admins.owned(rt.store, u))
        ),
        _take_channel,
    ),
    "export_book": Step(
        lambda rt, u, d: Ask(t(say_books.ASK_BOOK), tuple((say_books.book_name(b), b.value) for b in Book)),
        _take_book,
    ),
    "export_period": Step(
        lambda rt, u, d: Ask(t(say_books.ASK_PERIOD), tuple((t(label), p.value) for label, p in _PRESETS)),
        _take_period,
    ),
}


def next_step(step: str, data: Data) -> str:
    """The next question not answered yet; `done` once the period is known."""
    for name in ORDER[ORDER.index(step) + 1 :]:
        if _KEYS[name] not in data:
            return name
    return "done"


def start(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str | ConversationDoc:
    """`/export`: the conversation (its channel already chosen with one channel)."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    data: Data = {}
    if len(owned) == 1:
        data |= {"token": owned[0].token, "title": owned[0].title}
    step = "export_channel" if "token" not in data else next_step("export_channel", data)
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, NAME, step, data, update_id)
    return conversation


def finish(rt: Rt, chat_id: int, conversation: ConversationDoc) -> str:
    """The period chosen: the book sent to the owner's private chat (a re-delivered update sends
    it again: a file twice is harmless, none would not be)."""
    data = conversation.data
    channel = load_channel(rt.store, str(data.get("token")))
    if channel is None or channel.owner_user_id != conversation.user_id:
        rt.telegram.send_message(chat_id, t(say_books.OWNER_ONLY))
        return "not the owner"
    period = check_period(data.get("first"), data.get("last"), _today(rt))
    if isinstance(period, Invalid):  # a day passed since it was chosen cannot make it invalid; kept safe
        rt.telegram.send_message(chat_id, period.reason)
        return "export refused (period)"
    result = books.send(rt, conversation.user_id, channel, Book(str(data["book"])), period)
    if isinstance(result, str):
        rt.telegram.send_message(chat_id, result)
        return "export refused"
    return f"export sent, {result.rows} rows" if result.rows else "export empty"
