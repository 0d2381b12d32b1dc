"""The owners' Mini App in a real headless Chromium (Debian's `chromium`, driven by Playwright), on
the whole local stack: the demo owner goes live through the bot, two buyers subscribe and one
donates; the owner opens the app from the bot's button URL with a signed initData and sees those
numbers, filters subscribers, exports them as CSV, changes a price that the next buyer sees in the
bot's offer, and sets a tier's price in Telegram Stars (one Telegram would refuse first); a tampered initData and a stranger see nothing; a Persian-speaking owner's app reads
right to left, its numbers and dates written as Persian writes them. Screenshots (phone-sized,
light, dark and right to left) go to docs/images/, where the README shows them.

Nothing leaves the machine: every request that is not loopback is refused, and Telegram's
`telegram-web-app.js` is served from a local shim (tests/e2e/browser/)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from local.clients import BotChat, NowPaymentsControl, TelegramControl, buttons, wait_for
from local.demo import setup_channel
from telepay.owners.init_data import for_user
from tests.e2e.flows import Channel, donate, subscribe

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).parent / "browser" / "telegram-web-app-shim.js"
SCREENSHOTS = ROOT / "docs" / "images"
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
PHONE = {"width": 390, "height": 844}
LIGHT = {
    "bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999", "link_color": "#2481cc",
    "button_color": "#2481cc", "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3",
}  # fmt: skip
DARK = {
    "bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499", "link_color": "#6ab3f3",
    "button_color": "#5288c1", "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c",
}  # fmt: skip
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (make system-deps installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="telepay-chromium-")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport=PHONE, accept_downloads=True
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def _only_loopback(route: Any) -> None:
    url = route.request.url
    if url.split("?", 1)[0] == TELEGRAM_SCRIPT:
        route.fulfill(status=200, content_type="text/javascript", body=SHIM.read_text())
    elif urlsplit(url).hostname in ("127.0.0.1", "localhost") or url.startswith(("blob:", "data:")):
        route.continue_()
    else:
        route.abort()


def open_app(browser: Any, url: str, init_data: str, theme: dict[str, str], scheme: str = "light") -> Any:
    page = browser.new_page()
    page.route("**/*", _only_loopback)
    page.add_init_script(
        f"window.__tma = {{initData: {_js(init_data)}, themeParams: {_js(theme)}, colorScheme: {_js(scheme)}}};"
    )
    page.goto(url)
    return page


def _js(value: Any) -> str:
    import json

    return json.dumps(value)


@pytest.fixture(scope="module")
def demo(endpoints: dict[str, Any]) -> dict[str, Any]:
    """The demo owner live through the bot, two subscribers (one monthly, one quarterly), a donation."""
    tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
    ids = setup_channel(tg, lambda _: None)
    channel = Channel(ids["token"], ids["owner"], ids["open"], ids["closed"])
    sam, ann, dee = tg.user("Sam"), tg.user("Annabel"), tg.user("Dee")
    subscribe(tg, np, sam, channel, tier_index=0)
    subscribe(tg, np, ann, channel, tier_index=1)
    donate(tg, np, dee, channel.token, "25")
    tg.wait_message(dee, "Thank you for your donation")
    tg.wait_message(ids["owner"], "New donation")  # the owner's notices are in before her commands
    return ids | {"sam": sam, "ann": ann, "tg": tg}


def _button_url(tg: TelegramControl, owner: int, command: str) -> str:
    chat = BotChat(tg, owner)
    reply = chat.send(command, {"/channels": "Night Owls Club — ", "/stats": "Active subscribers:"}[command])
    [app] = [b for b in buttons(reply) if "web_app" in b]
    return str(app["web_app"]["url"])


def _init_data(
    endpoints: dict[str, Any], user_id: int, first_name: str = "Olivia", language_code: str | None = None
) -> str:
    user: dict[str, Any] = {"id": user_id, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code  # the owner's Telegram app language, as Telegram signs it
    return for_user(user, endpoints["telegram_bot_token"], int(time.time()))


def test_the_owner_sees_filters_exports_and_changes_her_channel(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    tg: TelegramControl = demo["tg"]
    url = _button_url(tg, demo["owner"], "/channels")
    assert url == _button_url(tg, demo["owner"], "/stats") == endpoints["functions"]["owner_app"]
    menu = tg.calls("setChatMenuButton")
    assert any(str(demo["owner"]) in str(call) for call in menu), menu
    page = open_app(browser, url, _init_data(endpoints, demo["owner"]), LIGHT)

    # Overview: the numbers the stack made (2 subscriptions, $5.00 + $12.50, a $25 donation).
    page.wait_for_selector("#active")
    assert page.inner_text("#active b") == "2"
    assert page.inner_text("#revenue b") == "$17.50"
    assert page.inner_text("#donations b") == "$25.00"
    # Drawn by the Chart.js the app serves; tapping a day reads its values.
    assert page.evaluate("typeof window.Chart") == "function"
    box = page.locator("#revenue-chart").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for("the day's value", lambda: "$" in page.inner_text("#day-value") or None)
    assert "new subscriber" in page.inner_text("#day-value")
    page.click("#period button[data-days='7']")
    wait_for("the 7-day period", lambda: page.locator("#period button.on[data-days='7']").count() or None)
    assert page.inner_text("#active b") == "2"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "owner-app-light.png"))

    # Subscribers: both listed, search narrows, CSV has both.
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    assert page.locator("tr.sub").count() == 2
    page.fill("#search", "annab")
    assert page.locator("tr.sub").count() == 1
    assert "Annabel" in page.inner_text("tr.sub")
    assert page.evaluate("window.__tmaCalls.some(c => c[0] === 'BackButton' && c[1] === 'show')")
    with page.expect_download() as download:
        page.click("#export")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(r["name"] for r in exported) == ["Annabel", "Sam"]

    # Settings: the monthly price becomes $7; the MainButton saves.
    page.click("nav button[data-tab=settings]")
    page.wait_for_selector("#settings")
    # Each tier's Star price: empty, so its USD price converted at $0.02 a Star, shown in grey.
    assert page.get_attribute("input[name=stars0]", "placeholder") == "⭐250"
    assert page.input_value("input[name=stars0]") == ""
    page.fill("input[name=price0]", "4,99")
    page.evaluate("Telegram.WebApp.MainButton.click()")
    page.wait_for_selector("#message.errors")
    assert "Use a dot for cents" in page.inner_text("#message")
    page.fill("input[name=price0]", "7")
    page.click("#save")
    page.wait_for_selector("#message.ok")
    # Saved, and the owner reads which coins NowPayments' minimum payments leave out at $7.
    assert "Heads-up: NowPayments can't take $7.00 in USDTTRC20" in page.inner_text("#message")
    assert page.get_attribute("input[name=stars0]", "placeholder") == "⭐350"  # follows the new price
    # A Star price Telegram would refuse, then one of her own for the quarterly tier.
    page.fill("input[name=stars1]", "0")
    page.click("#save")
    page.wait_for_selector("#message.errors")
    assert "tiers[1].stars: Telegram takes from 1 to 10,000 Stars" in page.inner_text("#message")
    page.fill("input[name=stars1]", "600")
    page.click("#save")
    page.wait_for_selector("#message.ok")
    assert page.inner_text("#message").startswith("Saved.")
    settings = httpx.get(
        f"{url}/api/channels/{demo['token']}/settings",
        headers={"Authorization": f"tma {_init_data(endpoints, demo['owner'])}"},
    ).json()
    assert [(t["price"], t["stars"]) for t in settings["tiers"]] == [("7.00", None), ("12.50", 600)]
    buyer = tg.user("Max")
    tg.say(buyer, f"/start {demo['token']}")
    offer = tg.wait_message(buyer, "Choose how long")
    assert "$7" in buttons(offer)[0]["text"], buttons(offer)
    page.close()

    # Dark theme, phone-sized.
    dark = open_app(browser, url, _init_data(endpoints, demo["owner"]), DARK, "dark")
    dark.wait_for_selector("#active")
    assert dark.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"
    dark.screenshot(path=str(SCREENSHOTS / "owner-app-dark.png"))
    dark.close()


def test_a_tampered_or_strangers_init_data_sees_nothing(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    url = endpoints["functions"]["owner_app"]
    signed = _init_data(endpoints, demo["owner"])
    tampered = signed.replace(
        quote(f'"id":{demo["owner"]}', safe=""), quote(f'"id":{demo["owner"] + 1}', safe="")
    )
    assert tampered != signed
    page = open_app(browser, url, tampered, LIGHT)
    page.wait_for_selector("#error")
    assert "only opens from the TelePay bot" in page.inner_text("#error")
    assert page.locator("#active").count() == 0
    page.close()

    stranger = _init_data(endpoints, TelegramControl(endpoints).user("Eve"), "Eve")
    page = open_app(browser, url, stranger, LIGHT)
    page.wait_for_selector("#empty")
    assert "no channels" in page.inner_text("#empty")
    page.close()
    api = f"{url}/api/channels/{demo['token']}/overview"
    assert httpx.get(api, headers={"Authorization": f"tma {stranger}"}).status_code == 404
    assert httpx.get(api, headers={"Authorization": f"tma {tampered}"}).status_code == 401
    assert httpx.get(api).status_code == 401


def test_the_owner_app_link_printed_by_make_run_opens(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    from local.stack import owner_app_link

    link = owner_app_link(endpoints, {"id": demo["owner"], "first_name": "Olivia"})
    page = browser.new_page()
    page.route(
        "**/*", lambda route: route.abort() if "telegram.org" in route.request.url else _only_loopback(route)
    )
    page.goto(link)  # outside Telegram: no script, the initData comes from the URL fragment
    page.wait_for_selector("#active")
    wait_for("the overview", lambda: page.inner_text("#active b") == "2" or None)
    page.close()


def test_a_persian_speaking_owner_reads_the_app_right_to_left(
    browser: Any, endpoints: dict[str, Any]
) -> None:
    """Another owner, whose Telegram speaks Persian, goes live through the bot and gets a subscriber;
    her app says `lang=fa dir=rtl`, lays out right to left and writes numbers, amounts and dates
    as Persian does (its texts are English until the Persian catalog has them)."""
    tg, np = TelegramControl(endpoints), NowPaymentsControl(endpoints)
    ids = setup_channel(tg, lambda _: None)
    subscribe(tg, np, tg.user("Sara"), Channel(ids["token"], ids["owner"], ids["open"], ids["closed"]))
    page = open_app(
        browser,
        endpoints["functions"]["owner_app"],
        _init_data(endpoints, ids["owner"], "Shirin", "fa"),
        LIGHT,
    )
    page.wait_for_selector("#active")
    wait_for("the overview", lambda: page.inner_text("#active b") == "۱" or None)  # Persian digits
    root = page.evaluate("[document.documentElement.lang, document.documentElement.dir]")
    assert root == ["fa", "rtl"]
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert "۵" in page.inner_text("#revenue b")  # $5.00 as Persian writes it
    tabs = page.evaluate("[...document.querySelectorAll('nav button')].map(b => b.getBoundingClientRect().x)")
    assert tabs == sorted(tabs, reverse=True)  # Overview rightmost, then leftwards
    page.screenshot(path=str(SCREENSHOTS / "owner-app-rtl.png"))
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    since = page.inner_text("tr.sub td:nth-child(3)")
    assert any("۰" <= c <= "۹" for c in since), since  # a date written out in Persian
    page.close()


# -- promo codes --
def test_the_owner_makes_a_code_and_pauses_it(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    """The Codes tab: a code refused with the bot's reason, then made; listed with its share link;
    a buyer opening the link sees it applied; paused, the next buyer is told it is paused."""
    tg: TelegramControl = demo["tg"]
    page = open_app(browser, endpoints["functions"]["owner_app"], _init_data(endpoints, demo["owner"]), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=codes]")
    page.wait_for_selector("#promo-form")
    assert "No promo codes yet" in page.inner_text("#no-codes")
    page.fill("input[name=code]", "APP20")
    page.fill("input[name=discount]", "120%")
    page.click("#create-code")
    page.wait_for_selector("#promo-message.errors")
    assert "A percentage is a whole number from 1 to 100" in page.inner_text("#promo-message")
    page.fill("input[name=discount]", "20%")
    page.fill("input[name=max_uses]", "10")
    page.click("#create-code")
    page.wait_for_selector("#promo-message.ok")
    row = page.locator("tr.promo[data-code=APP20]")
    assert "20% off · all tiers" in row.inner_text()
    assert row.locator("td.uses").inner_text() == "0 of 10"
    assert row.locator(".tag").inner_text() == "active"
    link = row.locator("a.share").inner_text()
    assert link == f"https://t.me/{endpoints['telegram_bot_username']}?start={demo['token']}_APP20"

    buyer = tg.user("Pia")
    tg.say(buyer, f"/start {demo['token']}_APP20")
    assert "Code APP20 applied: 20% off (all tiers)" in tg.wait_message(buyer, "Code APP20 applied")["text"]

    row.locator("button[data-action=paused]").click()
    page.wait_for_selector("tr.promo[data-code=APP20] .tag.paused")
    assert page.locator("tr.promo[data-code=APP20] button[data-action=active]").count() == 1
    later = tg.user("Quinn")
    tg.say(later, f"/start {demo['token']}_APP20")
    tg.wait_message(later, "The code APP20 is paused by the channel owner")


# -- exports --
def test_the_owner_sends_her_sales_book_to_her_chat(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    """Payouts → Books: Sales of this month sent to her chat with the bot as a CSV document (the
    two subscriptions and the donation of the demo), never a link; a period Telegram's rule refuses."""
    tg: TelegramControl = demo["tg"]
    seen = max((m["message_id"] for m in tg.transcript(demo["owner"])), default=0)
    page = open_app(browser, endpoints["functions"]["owner_app"], _init_data(endpoints, demo["owner"]), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=payouts]")
    page.wait_for_selector("#books-form")
    page.fill("#books-form input[name=from]", "2020-01-01")
    page.click("#books-send")
    page.wait_for_selector("#books-message.errors")
    assert "at most 366 days" in page.inner_text("#books-message")
    page.evaluate(
        "document.querySelector('#books-form input[name=from]').value = new Date().toISOString().slice(0, 8) + '01'"
    )
    page.select_option("#books-form select[name=book]", "sales")
    page.click("#books-send")
    page.wait_for_selector("#books-message.ok")
    assert page.inner_text("#books-message") == "Sent to your chat with the bot."
    document = tg.wait_document(demo["owner"], "Sales of Night Owls Club", after=seen)
    assert document["text"].endswith(": 3 rows")
    data = tg.document_bytes(document["message"]["document"]["file_id"]).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(data.removeprefix("\ufeff"))))
    assert sorted((r["kind"], r["gross"]) for r in rows) == [
        ("donation", "25"),  # the amount the donor typed, exactly as booked
        ("subscription", "12.50"),
        ("subscription", "5.00"),
    ]


def test_a_double_tap_on_give_days_gives_them_once(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    """The owner picks Sam in Subscribers, asks for 7 days and taps "Give days" twice in a row: Sam
    is told once, his access moves 7 days, and the overview counts one grant."""
    tg: TelegramControl = demo["tg"]
    url = endpoints["functions"]["owner_app"]
    headers = {"Authorization": f"tma {_init_data(endpoints, demo['owner'])}"}
    api = f"{url}/api/channels/{demo['token']}"
    before = httpx.get(f"{api}/overview", headers=headers).json()["grants_30d"]
    [sam_before] = [
        r
        for r in httpx.get(f"{api}/subscribers", headers=headers).json()["subscribers"]
        if r["user_id"] == demo["sam"]
    ]
    page = open_app(browser, url, _init_data(endpoints, demo["owner"]), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    page.locator("tr.sub", has_text="Sam").locator("button.grant").click()
    page.fill("#grant-form input[name=days]", "7")
    page.dblclick("#grant-form button[value=give]")
    page.wait_for_selector("#grant-message.ok")
    page.wait_for_load_state("networkidle")
    gift = "🎁 The owner of Night Owls Club gave you 7 days"
    tg.wait_message(demo["sam"], gift)
    time.sleep(2)  # a second message, if one were made, would be queued by now
    assert sum(gift in (m.get("text") or "") for m in tg.transcript(demo["sam"])) == 1
    assert httpx.get(f"{api}/overview", headers=headers).json()["grants_30d"] == before + 1
    [sam] = [
        r
        for r in httpx.get(f"{api}/subscribers", headers=headers).json()["subscribers"]
        if r["user_id"] == demo["sam"]
    ]
    moved = datetime.fromisoformat(sam["until"]) - datetime.fromisoformat(sam_before["until"])
    assert moved == timedelta(days=7)
    page.close()


# -- support --
def test_the_owner_reads_a_buyers_support_thread_in_the_app(
    browser: Any, endpoints: dict[str, Any], demo: dict[str, Any]
) -> None:
    """Annabel writes to the owner with /support and the owner answers by replying in the bot; the
    app's Support tab shows the thread, open, with both messages."""
    tg: TelegramControl = demo["tg"]
    ann = demo["ann"]
    tg.say(ann, "/support")
    asked = tg.wait_message(ann, "Write what went wrong with")
    tg.say(ann, "Is there a post today?")
    card = tg.wait_message(demo["owner"], "Support request about")
    tg.say(demo["owner"], "Yes, at nine", reply_to=card["message_id"])
    tg.wait_message(ann, "Reply from the owner of", after=asked["message_id"])

    page = open_app(browser, endpoints["functions"]["owner_app"], _init_data(endpoints, demo["owner"]), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=support]")
    page.wait_for_selector("section.thread.open")
    thread = page.inner_text("section.thread.open")
    assert "Annabel" in thread and "open" in thread
    assert "Is there a post today?" in thread and "Yes, at nine" in thread and "UTC" in thread
    page.close()
