"""The Telegram adapter against the Telegram stand-in (in process): answers Telepay must not treat
as failures of the work."""

from __future__ import annotations

from local.background_server import BackgroundServer
from local.telegram_standin import create_app
from telepay.adapters.telegram_api import TelegramApi

TOKEN = "7000000009:adapter-test-token"


def test_a_button_answered_too_late_is_not_an_error() -> None:
    """Found by the Telegram drill: a press re-delivered after a 502 storm was answered after
    Telegram's 15 s, the answer was refused ("query is too old") and the whole update, whose
    invoice was already queued, was recorded in failed_updates as if it could not succeed."""
    with BackgroundServer(create_app(TOKEN, "AdapterBot", rate_limits=False)) as telegram:
        api = TelegramApi(TOKEN, telegram.url, timeout=5)
        api.answer_callback_query("a-query-long-expired", "Preparing your invoice…")
