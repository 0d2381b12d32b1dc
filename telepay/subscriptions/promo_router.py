"""A buyer applies a promo code: from its link (`/start <token>_<CODE>`), or by tapping "🏷 I have a
code" under an offer and typing it (the next text message within 15 minutes,
`promo_entries/<user>`). A code that applies is kept for the buyer's offer of that channel
(`telepay.subscriptions.promos`) and the offer is shown with its prices; one that does not is
refused with the reason, and the offer is shown at its prices.
"""

from __future__ import annotations

from collections.abc import Callable

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.documents import PROMO_ENTRY_LIFETIME, ChannelStatus, PromoEntryDoc
from shared_schemas.ids import CALLBACK_PROMO_ENTER, StartLink
from shared_schemas.telegram import TgCallbackQuery, TgMessage
from telepay.channels import promo_rules
from telepay.channels.lookup import load_channel
from telepay.core.i18n import t
from telepay.runtime import Runtime
from telepay.subscriptions import promos, texts
from telepay.subscriptions.router import show_offer

Rt = Runtime[TelegramWebhookSettings]


def on_start(link: StartLink, message: TgMessage, rt: Rt) -> str:
    """`/start <token>_<CODE>`: the offer with the code applied (or the reason it is not)."""
    assert message.from_user is not None
    return apply(rt, link.channel_token, link.code or "", message.from_user.id, message.chat.id)


def apply(rt: Rt, token: str, typed: str, user_id: int, chat_id: int) -> str:
    channel = load_channel(rt.store, token)
    if channel is None or channel.status is not ChannelStatus.ACTIVE:
        return show_offer(token, chat_id, rt)  # says the offer is unknown or paused
    found = promos.check(rt, channel, typed, user_id)
    if found.refused is not None or found.code is None:
        promos.forget(rt, token, user_id)
        why = found.refused or promo_rules.Refused.UNKNOWN
        rt.telegram.send_message(chat_id, promo_rules.refusal_text(why, found.name, channel.title))
        return f"promo refused ({why}); {show_offer(token, chat_id, rt)}"
    promos.remember(rt, channel, found.code, user_id)
    return show_offer(token, chat_id, rt)


def _on_enter(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    """ "🏷 I have a code": the buyer's next text is the code."""
    [token] = parts
    channel = load_channel(rt.store, token)
    if channel is None:
        rt.telegram.answer_callback_query(query.id, t(texts.BUTTON_GONE))
        return "unknown button"
    now = rt.clock.now()
    user_id = query.from_user.id
    entry = PromoEntryDoc(
        user_id=user_id, channel_token=token, asked_at=now, expire_at=now + PROMO_ENTRY_LIFETIME
    )
    rt.store.promo_entries.set(str(user_id), entry)
    rt.telegram.answer_callback_query(query.id)
    chat_id = query.message.chat.id if query.message else user_id
    rt.telegram.send_message(chat_id, t(promos.ASK_CODE, title=channel.title))
    return "code asked"


def on_text(message: TgMessage, rt: Rt) -> str | None:
    """A buyer's text after "🏷 I have a code": the code (None when no code was asked for)."""
    assert message.from_user is not None
    user_id = message.from_user.id
    entry = rt.store.promo_entries.get(str(user_id))
    if entry is None:
        return None
    rt.store.promo_entries.delete(str(user_id))
    if entry.expire_at <= rt.clock.now():
        return None
    typed = (message.text or "").strip()
    return apply(rt, entry.channel_token, typed, user_id, message.chat.id)


CALLBACKS: dict[str, tuple[int, Callable[[TgCallbackQuery, list[str], int, Rt], str]]] = {
    CALLBACK_PROMO_ENTER: (1, _on_enter),
}
