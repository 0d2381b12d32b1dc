"""`/announce` in the bot: the `announce` conversation (the owners' conversations of
`telepay.owners.commands`, versioned and deduplicated the same way): the channel (if several),
the message (the owner's next message, kept as Telegram sent it: its text and entities, or the
largest size of a photo with its caption and caption entities), who gets it (buttons, or typed
`ending 14` / `lapsed 60`), an optional button (Renew, or a https link), then a preview (the
message sent to the owner exactly as recipients get it) with the count, and Send or Cancel. The
sending itself is `telepay.owners.announcements`."""

from __future__ import annotations

import json
import re

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import AnnouncementAudience, AnnouncementButton, ConversationDoc
from shared_schemas.telegram import TgMessage
from telepay.adapters.telegram_api import TelegramBadRequest
from telepay.channels.lookup import load_channel
from telepay.channels.settings import Invalid
from telepay.core.i18n import t
from telepay.owners import admins, announcements
from telepay.owners import announce_texts as say_ann
from telepay.owners import texts as say
from telepay.owners.announce_rules import (
    DAYS_MAX,
    DAYS_MIN,
    DEFAULT_DAYS,
    Content,
    content_of,
    parse_url_button,
)
from telepay.owners.conversations import ENDED, Conversations
from telepay.owners.questions import Ask, Data, Result, Step
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
NAME = "announce"
MESSAGE_STEP = "ann_message"
ORDER = ("ann_channel", MESSAGE_STEP, "ann_audience", "ann_button", "ann_confirm")
_KEYS = {"ann_channel": "token", MESSAGE_STEP: "content", "ann_audience": "audience", "ann_button": "button"}
# The owner's message reaches the message question as this prefix and its JSON (no button and no
# typed text can start with a NUL character).
_MESSAGE_PREFIX = "\x00message:"
NO_BUTTON, RENEW = "none", "renew"
_TYPED_AUDIENCE = re.compile(r"^(ending|lapsed)\s+([0-9]{1,3})$", re.IGNORECASE)


# -- the owner's message ---------------------------------------------------------------------------
def answer_of(rt: Rt, user_id: int, message: TgMessage, text: str) -> str:
    """The answer `message` gives: at the message question the whole message (its entities, its
    photo), elsewhere its text."""
    conversation = Conversations(rt.store, rt.clock).latest(user_id)
    if conversation is None or conversation.name != NAME or conversation.step != MESSAGE_STEP:
        return text
    if conversation.step in ENDED:
        return text
    raw = message.model_dump(include={"text", "entities", "caption", "caption_entities", "photo"})
    return _MESSAGE_PREFIX + json.dumps(raw)


def _take_message(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if not answer.startswith(_MESSAGE_PREFIX):
        return Invalid(t(say_ann.ASK_MESSAGE))
    message = TgMessage.model_validate(
        {"message_id": 0, "chat": {"id": user_id, "type": "private"}}
        | json.loads(answer[len(_MESSAGE_PREFIX) :])
    )
    content = content_of(message)
    return content if isinstance(content, Invalid) else {"content": content.as_data()}


# -- the questions -------------------------------------------------------------------------------
def _take_channel(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    channel = load_channel(rt.store, answer)
    if channel is None or channel.owner_user_id != user_id:
        return Invalid(t(say.USE_BUTTONS))
    refusal = _limit_refusal(rt, channel.token, channel.title)
    if refusal:
        return Invalid(refusal)
    return {"token": channel.token, "title": channel.title, "trials": channel.trial_days is not None}


def _ask_audience(rt: Rt, user_id: int, data: Data) -> Ask:
    choices = [
        (t(say_ann.AUDIENCES[AnnouncementAudience.ACTIVE]), AnnouncementAudience.ACTIVE.value),
        (t(say_ann.AUDIENCES[AnnouncementAudience.ENDING]), "ending 7"),
        (t(say_ann.AUDIENCES[AnnouncementAudience.LAPSED]), "lapsed 30"),
    ]
    if data.get("trials"):
        choices.append((t(say_ann.AUDIENCES[AnnouncementAudience.TRIAL]), AnnouncementAudience.TRIAL.value))
    text = (
        t(say_ann.ASK_AUDIENCE)
        + "\n"
        + t(
            "Other day counts: type ending 14 or lapsed 60 ({low} to {high} days).",
            low=DAYS_MIN,
            high=DAYS_MAX,
        )
    )
    return Ask(text, tuple(choices))


def _take_audience(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    answer = answer.strip()
    days: int | None = None
    typed = _TYPED_AUDIENCE.fullmatch(answer)
    if typed:
        audience = AnnouncementAudience(typed.group(1).lower())
        days = int(typed.group(2))
        if not DAYS_MIN <= days <= DAYS_MAX:
            return Invalid(t("Send a number of days from {low} to {high}.", low=DAYS_MIN, high=DAYS_MAX))
    elif answer in (AnnouncementAudience.ACTIVE.value, AnnouncementAudience.TRIAL.value):
        audience = AnnouncementAudience(answer)
        if audience is AnnouncementAudience.TRIAL and not data.get("trials"):
            return Invalid(t(say.USE_BUTTONS))
    else:
        return Invalid(t(say.USE_BUTTONS))
    if audience in DEFAULT_DAYS and days is None:
        days = DEFAULT_DAYS[audience]
    count = announcements.audience_count(rt.store, str(data["token"]), audience, days, rt.clock.now())
    if count == 0:
        return Invalid(t(say_ann.NOBODY))
    return {"audience": audience.value, "days": days}


def _take_button(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer == NO_BUTTON:
        return {"button": None}
    if answer == RENEW:
        button = announcements.renew_button(rt.settings.telegram_bot_username, str(data["token"]))
        return {"button": button.model_dump(mode="json")}
    parsed = parse_url_button(answer)
    return parsed if isinstance(parsed, Invalid) else {"button": parsed.model_dump(mode="json")}


def _button_of(data: Data) -> AnnouncementButton | None:
    raw = data.get("button")
    return AnnouncementButton.model_validate(raw) if raw else None


def _audience_of(data: Data) -> tuple[AnnouncementAudience, int | None]:
    return AnnouncementAudience(str(data["audience"])), data.get("days")


def _ask_confirm(rt: Rt, user_id: int, data: Data) -> Ask:
    """The preview (the message exactly as recipients get it), then the count and the choice."""
    audience, days = _audience_of(data)
    count = announcements.audience_count(rt.store, str(data["token"]), audience, days, rt.clock.now())
    rt.telegram.send_message(user_id, t(say_ann.PREVIEW_ABOVE))
    try:
        announcements.deliver(rt, user_id, Content.of(data["content"]), _button_of(data))
    except TelegramBadRequest as error:  # kept safe: the entities came from Telegram itself
        rt.telegram.send_message(user_id, str(error))
    text = say_ann.confirm(str(data.get("title")), count, audience, days)
    return Ask(text, ((t(say_ann.SEND), "yes"), (t(say_ann.CANCEL), "no")))


def _take_confirm(rt: Rt, user_id: int, data: Data, answer: str) -> Result:
    if answer not in ("yes", "no"):
        return Invalid(t(say.USE_BUTTONS))
    return {"confirmed": answer == "yes"}


STEPS: dict[str, Step] = {
    "ann_channel": Step(
        lambda rt, u, d: Ask(
            t(say.WHICH_CHANNEL), tuple((c.title, c.token) for c in admins.owned(rt.store, u))
        ),
        _take_channel,
    ),
    MESSAGE_STEP: Step(lambda rt, u, d: Ask(t(say_ann.ASK_MESSAGE)), _take_message),
    "ann_audience": Step(_ask_audience, _take_audience),
    "ann_button": Step(
        lambda rt, u, d: Ask(
            t(say_ann.ASK_BUTTON), ((t(say_ann.RENEW), RENEW), (t(say_ann.NO_BUTTON), NO_BUTTON))
        ),
        _take_button,
    ),
    "ann_confirm": Step(_ask_confirm, _take_confirm),
}


def next_step(step: str, data: Data) -> str:
    """The next question not answered yet; `done` once Send is pressed, `cancelled` on Cancel."""
    if step == "ann_confirm":
        return "done" if data.get("confirmed") else "cancelled"
    for name in ORDER[ORDER.index(step) + 1 :]:
        if name == "ann_confirm" or _KEYS[name] not in data:
            return name
    return "ann_confirm"


def _limit_refusal(rt: Rt, token: str, title: str) -> str | None:
    """Today's slots all taken: said before the owner writes anything (Send checks again)."""
    from telepay.owners.announce_rules import slot_ids

    slots = slot_ids(token, rt.clock.now(), rt.settings.announcements_per_day)
    if all(rt.store.announcements.get(slot) is not None for slot in slots):
        return say_ann.limit_reached(title, rt.settings.announcements_per_day)
    return None


# -- the command and the end ---------------------------------------------------------------------
def start(rt: Rt, user_id: int, chat_id: int, update_id: int) -> str | ConversationDoc:
    """`/announce`: the conversation (its channel already chosen with one channel)."""
    owned = admins.owned(rt.store, user_id)
    if not owned:
        rt.telegram.send_message(chat_id, t(say.NO_CHANNELS))
        return "no channels"
    data: Data = {}
    if len(owned) == 1:
        refusal = _limit_refusal(rt, owned[0].token, owned[0].title)
        if refusal:
            rt.telegram.send_message(chat_id, refusal)
            return "announcement refused (limit)"
        data |= {"token": owned[0].token, "title": owned[0].title, "trials": owned[0].trial_days is not None}
    step = "ann_channel" if "token" not in data else next_step("ann_channel", data)
    _, conversation = Conversations(rt.store, rt.clock).start(user_id, NAME, step, data, update_id)
    return conversation


def finish(rt: Rt, chat_id: int, conversation: ConversationDoc) -> str:
    """Send pressed: the announcement made once (by the update that pressed it) and queued."""
    data = conversation.data
    channel = load_channel(rt.store, str(data.get("token")))
    if channel is None or channel.owner_user_id != conversation.user_id:
        rt.telegram.send_message(chat_id, t(say.NOT_OWNER))
        return "not the owner"
    audience, days = _audience_of(data)
    made = announcements.make(
        rt,
        conversation.user_id,
        channel,
        Content.of(data["content"]),
        audience,
        days,
        _button_of(data),
        f"bot-{conversation.user_id}-{conversation.last_update_id}",
        "bot",
    )
    if isinstance(made, str):
        rt.telegram.send_message(chat_id, made)
        return "announcement refused (limit)"
    count = announcements.audience_count(rt.store, channel.token, audience, days, rt.clock.now())
    rt.telegram.send_message(chat_id, say_ann.sending(count))
    return f"announcement {made.announcement_id} queued"
