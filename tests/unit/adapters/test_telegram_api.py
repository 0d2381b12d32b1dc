"""The Telegram adapter against the Telegram stand-in (in process): answers Telepay must not treat
as failures of the work."""

from __future__ import annotations

import httpx
import pytest

from local.background_server import BackgroundServer
from local.telegram_standin import create_app
from telepay.adapters.telegram_api import TelegramApi, TelegramBadRequest

TOKEN = "7000000009:adapter-test-token"


def test_a_button_answered_too_late_is_not_an_error() -> None:
    """Found by the Telegram drill: a press re-delivered after a 502 storm was answered after
    Telegram's 15 s, the answer was refused ("query is too old") and the whole update, whose
    invoice was already queued, was recorded in failed_updates as if it could not succeed."""
    with BackgroundServer(create_app(TOKEN, "AdapterBot", rate_limits=False)) as telegram:
        api = TelegramApi(TOKEN, telegram.url, timeout=5)
        api.answer_callback_query("a-query-long-expired", "Preparing your invoice…")


def test_a_menu_is_set_for_a_language_as_telegram_takes_it() -> None:
    """setMyCommands with `language_code` (two lowercase letters): the menu of the users of that
    language, beside the one for every other; a code Telegram refuses is a bad request."""
    with BackgroundServer(create_app(TOKEN, "AdapterBot", rate_limits=False)) as telegram:
        api = TelegramApi(TOKEN, telegram.url, timeout=5)
        api.set_my_commands([("start", "Open a channel's offer")])
        api.set_my_commands([("start", "Открыть предложение канала")], language_code="ru")
        api.set_my_commands([("stats", "Подписчики и продажи")], chat_id=77, language_code="ru")
        [bot] = httpx.get(f"{telegram.url}/_control/bots").json()["bots"]
        assert bot["commands"] == [{"command": "start", "description": "Open a channel's offer"}]
        assert bot["language_commands"]["ru"]["default"][0]["description"] == "Открыть предложение канала"
        assert bot["language_commands"]["ru"]["chat:77"][0]["command"] == "stats"
        with pytest.raises(TelegramBadRequest, match="Invalid language code"):
            api.set_my_commands([("start", "Abrir")], language_code="pt_BR")
