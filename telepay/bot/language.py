"""`/language`, for anyone (buyers and owners): the languages TelePay speaks as buttons, each in its
own name; the choice is remembered (`telepay.core.users.choose_language`, over the Telegram app's
language), confirmed in the new language, and the person's command menu follows it (an owner's
menu in their chat, a buyer's in theirs).
"""

from __future__ import annotations

import contextlib

from shared_schemas.config import TelegramWebhookSettings
from shared_schemas.ids import language_callback
from shared_schemas.telegram import Button, TgCallbackQuery, TgMessage
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.core import i18n
from telepay.core.i18n import N_, t
from telepay.core.users import choose_language
from telepay.owners import admins
from telepay.owners import commands as owner_commands
from telepay.owners import texts as owner_texts
from telepay.runtime import Runtime

Rt = Runtime[TelegramWebhookSettings]
ASK = N_("Which language should I write to you in?")
CHOSEN = N_("✅ Done: I'll write to you in this language from now on.")
GONE = N_("That language is no longer offered: send /language again.")


def keyboard(current: str) -> list[list[Button]]:
    """One button per language, in its own name; the current one ticked."""
    return [
        [Button(("✓ " if code == current else "") + name, callback_data=language_callback(code))]
        for code, name in i18n.LANGUAGES.items()
    ]


def on_command(message: TgMessage, rt: Rt) -> str:
    rt.telegram.send_message(message.chat.id, t(ASK), keyboard=keyboard(i18n.current()))
    return "asked language"


def on_callback(query: TgCallbackQuery, parts: list[str], update_id: int, rt: Rt) -> str:
    user_id = query.from_user.id
    chosen = parts[0] if len(parts) == 1 else ""
    if chosen not in i18n.LANGUAGES:
        rt.telegram.answer_callback_query(query.id, t(GONE))
        return "unknown language"
    choose_language(rt.store, user_id, chosen)
    with i18n.speaking(chosen):
        rt.telegram.answer_callback_query(query.id)
        chat_id = query.message.chat.id if query.message else user_id
        rt.telegram.send_message(chat_id, t(CHOSEN))
        _follow_menu(rt, user_id, chosen)
    return f"language {chosen}"


def _follow_menu(rt: Rt, user_id: int, chosen: str) -> None:
    """The person's command menu in the chosen language: an owner's own (`owners.commands`), or
    the buyers' commands set for this one chat (it comes before the menus by app language)."""
    with contextlib.suppress(TelegramBadRequest, TelegramForbidden):
        if admins.owned(rt.store, user_id):
            owner_commands.publish_owner_menu(rt, user_id)
        else:
            rt.telegram.set_my_commands(
                owner_commands.menu(owner_texts.BUYER_COMMANDS, chosen), chat_id=user_id
            )
