"""Owners read TelePay in their language (a fake catalog marks each text `[ru] ...`): the whole
/newchannel conversation follows the owner's Telegram language, or the one they chose with
/language; a notice caused by someone else is in the owner's language, not theirs; the command
menus are set for every language; the channel's post language is asked in /newchannel and /edit and
refused when it is not one TelePay speaks, in the app and in a channel file; the operator's notices
reach each owner in theirs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from operator_cli.context import Operator
from operator_cli.main import cli
from shared_schemas.config import OwnerAppSettings, TelegramWebhookSettings
from shared_schemas.queries import CHANNELS_OF_OWNER
from telepay.bot.webhook import handle_update
from telepay.channels.lookup import save_channel
from telepay.core import i18n, users
from telepay.core.clock import FrozenClock
from telepay.owners.app import APP_TEXTS, handle
from telepay.owners.init_data import for_user
from telepay.runtime import Runtime
from tests import updates
from tests.conftest import demo_channel
from tests.harness import NOW, fakes, runtime
from tests.memory_store import MemoryStore
from tests.unit.owners.test_app import rt as app_rt  # noqa: F401 (a fixture)
from tests.unit.owners.test_commands import (
    BOT,
    CLOSED,
    CLOSED_RIGHTS,
    OWNER,
    TRON,
    UPDATE_IDS,
    Owner,
    _live,
    owner_on,
)

pytestmark = pytest.mark.usefixtures("catalogs")
HELPER = 7003
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "channel.example.json"


def speaking(update: dict[str, Any], language_code: str | None) -> dict[str, Any]:
    """The update as a Telegram app in that language sends it."""
    if language_code:
        for part in ("message", "callback_query", "my_chat_member"):
            if part in update:
                update[part]["from"]["language_code"] = language_code
    return update


class SpeakingOwner(Owner):
    """An owner whose Telegram app speaks `language_code`; buttons are pressed by their label
    (marked or not) or their answer."""

    def __init__(self, rt: Runtime[TelegramWebhookSettings], user_id: int, language_code: str | None) -> None:
        super().__init__(rt, user_id)
        self.language_code = language_code

    def say(self, text: str) -> str:
        return handle_update(
            speaking(updates.start(next(self.ids), text, self.user_id), self.language_code), self.rt
        )

    def press(self, label_or_answer: str, message: Any = None) -> str:
        message = message or self.last()
        for row in message.keyboard or []:
            for button in row:
                data = button.callback_data or ""
                labels = (button.text, button.text.split("] ", 1)[-1], data.rsplit(":", 1)[-1])
                if label_or_answer in labels:
                    update = updates.press(next(self.ids), data, self.user_id)
                    return handle_update(speaking(update, self.language_code), self.rt)
        raise AssertionError(f"no button {label_or_answer!r} in {message.text!r}")

    def labels(self) -> list[str]:
        return [b.text for row in self.last().keyboard or [] for b in row]


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def in_russian(owner: SpeakingOwner, expect: str) -> None:
    assert owner.last().text.startswith("[ru] "), owner.last().text
    assert expect in owner.last().text


def test_an_owner_whose_telegram_speaks_russian_sets_up_a_channel_in_russian() -> None:
    owner = SpeakingOwner(owner_on(MemoryStore()).rt, OWNER, "ru")
    owner.telegram.members[(CLOSED, BOT)] = ("administrator", CLOSED_RIGHTS)
    assert owner.say("/newchannel") == "asked open"
    assert owner.telegram.to(OWNER)[-2].text.startswith("[ru] Let's set up your channel.")
    in_russian(owner, "Which channel is the open one")
    assert "[ru] 🔄 Refresh the list" in owner.labels()
    owner.press("Night Owls")
    owner.press("Night Owls Members")
    in_russian(owner, "What's the name buyers will see?")
    owner.say("Night Owls Club")
    assert owner.press("Skip") == "asked language"
    in_russian(owner, "In which language should I write the posts")
    labels = owner.labels()
    assert labels[0] == "Русский"  # the owner's own language first, each in its own name
    assert sorted(labels) == sorted(i18n.LANGUAGES.values())
    assert owner.press("Русский") == "asked tier_count"
    owner.press("1")
    owner.say("5")
    owner.press("30")
    in_russian(owner, "in Telegram Stars: tap below")
    with i18n.speaking("ru"):
        stars = i18n.money(Decimal(250), "XTR")
    assert owner.labels() == [f"[ru] Use {stars} (from the USD price)"]
    owner.press("auto")
    owner.press("Skip")
    in_russian(owner, "Offer newcomers a free trial?")
    assert owner.labels() == ["[ru] No trial", "[ru] 3 days", "[ru] 7 days", "[ru] 14 days"]
    owner.press("off")
    in_russian(owner, "Donations: what's the smallest amount you accept")
    with i18n.speaking("ru"):
        minimum, ceiling = i18n.money(Decimal("4.99"), "USD"), i18n.money(Decimal("9999.99"), "USD")
    assert owner.labels()[0] == minimum  # an amount as Russian writes it: 4,99 $
    assert plain(minimum) == "4,99 $"
    owner.press("4.99")
    in_russian(owner, f"(at most {ceiling})")
    owner.press("9999.99")
    owner.press("Skip")
    assert owner.labels() == ["[ru] None", "[ru] 1 hour", "[ru] 1 day"]
    owner.press("0")
    owner.press("usdt")
    owner.press("trx")
    owner.say(TRON)
    assert owner.labels() == ["[ru] Instant: after every payment", "[ru] Threshold: once they add up"]
    assert owner.press("instant") == "asked confirm"
    summary = owner.last().text
    for line in (
        "[ru] Here's your channel:",
        "[ru] Title: Night Owls Club",
        "[ru] Language of the posts: Русский",
        f"[ru] Donations: {minimum} to {ceiling}",
        "[ru] Grace period: 0 minutes",
        "[ru] Payout strategy: instant",
        "[ru] Shall I put it live?",
    ):
        assert line in summary
    assert owner.labels() == ["[ru] ✅ Go live", "[ru] ✖️ Cancel"]
    assert owner.press("yes") == "channel live"
    in_russian(owner, "Night Owls Club is live!")
    [channel] = owner.rt.store.channels.find(CHANNELS_OF_OWNER, owner_user_id=OWNER)
    assert channel.language == "ru"  # the channel's posts, chosen in the conversation
    owner.say("/channels")
    assert "[ru] 🟢 live" in owner.last().text and "[ru] Link: https://t.me/" in owner.last().text


def test_the_command_menus_are_set_in_every_language_and_english_by_default() -> None:
    owner = SpeakingOwner(owner_on(MemoryStore()).rt, OWNER, None)
    _live(owner)
    menus = owner.telegram.menus
    codes = {"en", "ru", "uk", "es", "pt", "tr", "id", "fa", "ar"}  # Telegram's two letters: pt for pt_BR
    assert {code for chat, code in menus if chat is None and code} == codes
    assert {code for chat, code in menus if chat == OWNER and code} == codes
    for chat in (None, OWNER):
        assert all(not d.startswith("[") for _, d in menus[(chat, None)])  # the default is English
        assert all(not d.startswith("[") for _, d in menus[(chat, "en")])
        assert menus[(chat, "pt")][0][1] == "[pt_BR] Open a channel's offer"
        assert menus[(chat, "fa")][0][1] == "[fa] Open a channel's offer"
    assert [name for name, _ in menus[(None, "ru")]] == [
        "start",
        "subscriptions",
        "paysupport",
        "language",
        "help",
        "support",
    ]
    assert "newchannel" in [name for name, _ in menus[(OWNER, "ru")]]
    assert "language" in [name for name, _ in menus[(OWNER, "ru")]]


def test_language_switches_the_bot_and_is_remembered() -> None:
    store = MemoryStore()
    rt = runtime(TelegramWebhookSettings, store)
    buyer = SpeakingOwner(rt, 4242, "ru")
    assert buyer.say("/language") == "asked language"
    asked = buyer.last()
    assert asked.text == "[ru] Which language should I write to you in?"
    assert buyer.labels()[1] == "✓ Русский" and "English" in buyer.labels()
    assert all(len(data.encode()) <= 64 for data in asked.callbacks())
    assert buyer.press("uk") == "language uk"
    assert buyer.telegram.answers[-1][1] is None  # the press is answered, quietly
    assert buyer.last().text == "[uk] ✅ Done: I'll write to you in this language from now on."
    # The buyer's own menu follows (their chat's, before the menus by app language).
    assert buyer.telegram.menus[(4242, None)][0] == ("start", "[uk] Open a channel's offer")
    # Over the Telegram app's Russian, now and after the remembered languages are forgotten.
    assert buyer.say("/channels") == "no channels"
    assert buyer.last().text.startswith("[uk] You don't have a channel with me yet.")
    users.forget_languages()
    buyer.say("/payouts")
    assert buyer.last().text.startswith("[uk] You don't have a channel with me yet.")
    stored = store.users.get("4242")
    assert stored is not None and (stored.language, stored.language_code) == ("uk", "ru")
    # A button for a language no longer offered changes nothing.
    update = speaking(updates.press(next(UPDATE_IDS), "lng:xx", 4242), "ru")
    assert handle_update(update, rt) == "unknown language"
    assert buyer.telegram.answers[-1][1] == "[uk] That language is no longer offered: send /language again."
    assert store.users.get("4242").language == "uk"  # type: ignore[union-attr]


def test_an_owner_chooses_a_language_and_their_own_menu_follows() -> None:
    base = owner_on(MemoryStore())
    rt = runtime(TelegramWebhookSettings, base.rt.store, owner_app_url="https://app.example.test")
    owner = SpeakingOwner(rt, OWNER, "en")
    owner.telegram.members.update(base.telegram.members)
    _live(owner)
    assert owner.say("/language") == "asked language"
    assert owner.press("fa") == "language fa"
    menus = owner.telegram.menus
    assert all(menus[(OWNER, code)][6][1] == "[fa] Sell access to a channel" for code in ("en", "ru", "fa"))
    assert menus[(OWNER, None)][6][1] == "[fa] Sell access to a channel"
    assert menus[(None, "en")][0][1] == "Open a channel's offer"  # everyone else's unchanged
    assert owner.telegram.menu_buttons[OWNER] == ("[fa] 📊 Open dashboard", "https://app.example.test")
    owner.say("/stats")
    assert owner.last().text.startswith("📊 Night Owls Club\n[fa] Active subscribers: 0")
    assert owner.last().keyboard[-1][0].text == "[fa] 📊 Open dashboard"  # type: ignore[index]


def test_a_notice_caused_by_someone_else_is_in_the_owners_language() -> None:
    store = MemoryStore()
    save_channel(store, demo_channel())
    rt = runtime(TelegramWebhookSettings, store)
    telegram, _, _ = fakes(rt)
    SpeakingOwner(rt, 5001, "uk").say("/start")  # the owner's Telegram speaks Ukrainian
    # A Russian-speaking co-admin takes the ban right away in the closed channel.
    update = updates.my_chat_member(
        next(UPDATE_IDS), -1001000000002, HELPER, "administrator", ("can_invite_users",)
    )
    handle_update(speaking(update, "ru"), rt)
    [told] = telegram.to(HELPER)
    assert told.text.startswith("[ru] 👋 I'm now an admin of")
    notice = telegram.to(5001)[-1].text
    assert notice.startswith("[uk] ⚠️ This affects your live offer Night Owls Club:")
    assert "[uk] In the closed channel I'm missing the right to [uk] ban users." in notice
    # Kept in English, as operators read it too.
    channel = store.channels.get("DemoChannel01")
    assert channel is not None
    assert channel.bot_rights_problem == "In the closed channel I'm missing the right to ban users."


def test_the_post_language_is_an_edit_group() -> None:
    owner = SpeakingOwner(owner_on(MemoryStore()).rt, OWNER, None)
    token = _live(owner)
    owner.say("/edit")
    owner.press(token)
    assert "Language of the posts" in owner.labels()
    assert owner.press("language") == "asked language"
    assert owner.labels()[0] == "English"  # the channel's current one first
    assert owner.say("Klingon") == "invalid language"
    assert "Choose one of the languages TelePay speaks" in owner.last().text
    assert owner.press("فارسی") == "channel saved"
    channel = owner.rt.store.channels.get(token)
    assert channel is not None and channel.language == "fa" and channel.title == "Night Owls Club"


# -- the operator's notices ------------------------------------------------------------------------
def _cli(store: MemoryStore, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[1]
        body = json.loads(request.content)
        if method == "getChatMember":
            return httpx.Response(200, json={"ok": True, "result": {"status": "creator", "user": {"id": 1}}})
        sent.append(body)
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 1}})

    operator = Operator(
        store_=store,
        clock=FrozenClock(NOW),
        operator="ops@example.test",
        env={"TELEGRAM_BOT_TOKEN": "123456:cli-test-token"},
        http_transport=httpx.MockTransport(telegram),
    )
    result = CliRunner().invoke(cli, list(args), obj=operator)
    assert result.exit_code == 0, (result.output, result.exception)
    return result, sent


def test_the_operators_notices_reach_each_owner_in_their_language(tmp_path: Path) -> None:
    store = MemoryStore()
    save_channel(store, demo_channel(payout_currency="usdt", payout_network="trx", payout_wallet=TRON))
    rt = runtime(TelegramWebhookSettings, store)
    SpeakingOwner(rt, 5001, "ru").say("/start")
    SpeakingOwner(rt, 6002, None).say("/language")
    SpeakingOwner(rt, 6002, None).press("es")
    changed = tmp_path / "wallet.json"
    changed.write_text(json.dumps({"payout_wallet": "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"}))
    result, sent = _cli(store, "channels", "update", "DemoChannel01", str(changed))
    [held] = sent
    assert held["chat_id"] == 5001 and held["text"].startswith("[ru] 🔒 The payout wallet of Night Owls Club")
    assert "[ru] ↩️ Cancel this change" in json.dumps(held["reply_markup"], ensure_ascii=False)
    assert "payouts of DemoChannel01 held until" in result.output  # the console stays English
    _, sent = _cli(store, "channels", "transfer", "DemoChannel01", "--to", "6002", "--reason", "case 7")
    assert [(m["chat_id"], m["text"][:5]) for m in sent] == [(6002, "[es] "), (5001, "[ru] ")]


# -- the channel file and the app ------------------------------------------------------------------
def test_a_channel_file_sets_the_post_language_and_refuses_one_telepay_does_not_speak(tmp_path: Path) -> None:
    store = MemoryStore()
    path = tmp_path / "channel.json"
    path.write_text(json.dumps(json.loads(EXAMPLE.read_text()) | {"language": "klingon"}))
    refused = CliRunner().invoke(
        cli, ["channels", "register", str(path)], obj=Operator(store_=store, clock=FrozenClock(NOW))
    )
    assert refused.exit_code == 1 and "language: Choose one of the languages TelePay speaks" in refused.stderr
    assert store.channels.get("NightOwls2026") is None
    path.write_text(json.dumps(json.loads(EXAMPLE.read_text()) | {"language": "pt_BR"}))
    CliRunner().invoke(
        cli, ["channels", "register", str(path)], obj=Operator(store_=store, clock=FrozenClock(NOW))
    )
    channel = store.channels.get("NightOwls2026")
    assert channel is not None and channel.language == "pt_BR"


APP = Path(__file__).resolve().parents[3] / "functions" / "owner_app" / "static" / "app.js"


def app_auth(user_id: int = 5001, language_code: str | None = None) -> str:
    user: dict[str, Any] = {"id": user_id, "first_name": "Olivia"}
    if language_code:
        user["language_code"] = language_code
    return "tma " + for_user(user, "1:test", int(NOW.timestamp()) - 60)


def test_the_app_gets_its_texts_in_the_owners_language(app_rt: Runtime[OwnerAppSettings]) -> None:  # noqa: F811
    persian = handle(app_rt, "GET", "/api/texts", app_auth(language_code="fa"), None).body
    assert (persian["lang"], persian["dir"]) == ("fa", "rtl")
    assert persian["texts"]["Overview"] == "[fa] Overview"
    assert set(persian["texts"]) == set(APP_TEXTS)
    assert persian["languages"]["fa"] == "فارسی"
    brazilian = handle(app_rt, "GET", "/api/texts", app_auth(language_code="pt-br"), None).body
    assert (brazilian["lang"], brazilian["dir"]) == ("pt-BR", "ltr")
    english = handle(app_rt, "GET", "/api/texts", app_auth(5002), None).body
    assert (english["lang"], english["dir"]) == ("en", "ltr")
    assert all(source == text for source, text in english["texts"].items())
    assert handle(app_rt, "GET", "/api/texts", None, None).status == 401
    # The owner's /language choice wins over the app's language, as in the bot.
    users.choose_language(app_rt.store, 5001, "ar")
    assert handle(app_rt, "GET", "/api/texts", app_auth(language_code="fa"), None).body["dir"] == "rtl"
    assert handle(app_rt, "GET", "/api/texts", app_auth(language_code="fa"), None).body["lang"] == "ar"


def test_every_text_of_the_page_is_served_to_it() -> None:
    """Each `tr("...")` of app.js (and the names it translates: tabs, table headers, states) is one
    of APP_TEXTS, so the catalogs and /api/texts have it."""
    script = APP.read_text()
    used = set(re.findall(r'tr\("((?:[^"\\]|\\.)*)"', script))
    used |= set(re.findall(r"TAB_NAMES = \{([^}]*)\}", script)[0].split('"')[3::4])
    used |= set(re.findall(r'\[("Name".*?)\]\.map', script)[0].replace('"', "").split(", "))
    used |= {"active", "expired", "reserved", "created", "verified", "sending", "finished", "failed"}
    assert used - set(APP_TEXTS) == set()
    assert len(used) > 50


def test_the_app_sets_the_post_language_and_refuses_one_telepay_does_not_speak(
    app_rt: Runtime[OwnerAppSettings],  # noqa: F811
) -> None:
    path = "/api/channels/DemoChannel01/settings"
    assert handle(app_rt, "GET", path, app_auth(), None).body["language"] == "en"
    refused = handle(app_rt, "POST", path, app_auth(), {"language": "klingon"})
    assert refused.status == 422 and [e["field"] for e in refused.body["errors"]] == ["language"]
    saved = handle(app_rt, "POST", path, app_auth(), {"language": "uk"})
    assert saved.status == 200 and saved.body["changed"] == ["language"] and saved.body["language"] == "uk"
    assert app_rt.store.channels.get("DemoChannel01").language == "uk"  # type: ignore[union-attr]


def test_what_the_app_says_to_people_is_in_their_language(app_rt: Runtime[OwnerAppSettings]) -> None:  # noqa: F811
    path = "/api/channels/DemoChannel01/settings"
    fakes(app_rt)[1].minimums = {"btc": Decimal("2.5"), "ltc": Decimal("0.3")}
    low = handle(app_rt, "POST", path, app_auth(language_code="ru"), {"donation_min": "1.00"})
    assert low.status == 200
    [note] = low.body["notes"]
    assert note["note"].startswith("[ru] Heads-up: NowPayments can't take")
    assert "[ru] BTC (from" in note["note"]
    status = handle(
        app_rt, "POST", "/api/channels/DemoChannel01/status", app_auth(language_code="ru"), {"status": "x"}
    )
    assert status.body["errors"][0]["reason"] == "[ru] Choose active or paused."
    fakes(app_rt)[0].members[(-1001000000001, 5001)] = ("administrator", ())
    refused = handle(app_rt, "POST", path, app_auth(language_code="ru"), {"title": "Mine"})
    assert refused.status == 403
    assert refused.body["error"] == "[ru] Only the creator of both channels can change this channel."
