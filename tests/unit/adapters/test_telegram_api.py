"""The Telegram adapter against the Telegram stand-in (in process): answers Telepay must not treat
as failures of the work."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from local.background_server import BackgroundServer
from local.telegram_standin import create_app
from telepay.adapters.telegram_api import SendPacer, TelegramApi, TelegramBadRequest

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


def test_the_pacer_hands_out_slots_in_order_spaced_by_the_rate() -> None:
    """Sends asked for at the same moment leave one after another, 1/rate apart; a send asked for
    after a quiet spell goes at once."""
    now = [100.0]
    slept: list[float] = []
    pacer = SendPacer(per_second=20.0, clock=lambda: now[0], sleep=slept.append)
    waits = [pacer.wait() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.05, 0.10, 0.15])
    assert slept == pytest.approx([0.05, 0.10, 0.15])
    now[0] += 5.0
    assert pacer.wait() == 0.0
    with pytest.raises(ValueError, match="positive"):
        SendPacer(per_second=0)


def test_sends_from_many_threads_at_once_stay_under_telegrams_cap() -> None:
    """Found by the expiry benchmark: the paced queue dispatched 29.5 removals a second, but each
    task sent its goodbye after Firestore and Bot API calls of varying length, so some seconds
    held 31 sends and 12 % of goodbyes were answered 429. Sixteen threads sending 45 messages at
    once through one adapter now stay within 30 in any second: none is refused. (The pacer here
    runs at 25 a second, so a loaded test machine's scheduling jitter cannot squeeze 31 sends
    into one second; without a pacer the first second holds all 45.)"""
    app = create_app(TOKEN, "AdapterBot", rate_limits=True)
    with BackgroundServer(app) as telegram, httpx.Client(base_url=telegram.url, trust_env=False) as control:
        users = []
        for i in range(45):
            user = control.post("/_control/users", json={"first_name": f"Member{i}"}).json()["user"]["id"]
            control.post(f"/_control/users/{user}/start").raise_for_status()
            users.append(int(user))
        api = TelegramApi(TOKEN, telegram.url, timeout=5, pacer=SendPacer(per_second=25))
        with ThreadPoolExecutor(max_workers=16) as pool:
            sent = list(pool.map(lambda user: api.send_message(user, "Your access ended."), users))
        assert len(sent) == 45
        stats = control.get("/_control/stats").json()
        assert stats["stats"]["rate_limited"] == 0
