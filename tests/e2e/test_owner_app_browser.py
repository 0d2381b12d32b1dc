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
import hashlib
import io
import json
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
from local.demo import SECOND_TITLE, play, setup_channel
from telepay.core.clock import system_clock
from telepay.owners.init_data import for_user
from tests.e2e.conftest import StackClock
from tests.e2e.flows import Channel, donate, new_channel, subscribe

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


def open_app(
    browser: Any,
    url: str,
    init_data: str,
    theme: dict[str, str],
    scheme: str = "light",
    requests: list[str] | None = None,
) -> Any:
    """The app as Telegram opens it; every request the page makes is added to `requests`."""
    page = browser.new_page()
    if requests is not None:
        page.on("request", lambda request: requests.append(request.url))
    page.route("**/*", _only_loopback)
    page.add_init_script(
        f"window.__tma = {{initData: {_js(init_data)}, themeParams: {_js(theme)}, colorScheme: {_js(scheme)}}};"
    )
    page.goto(url)
    return page


def _js(value: Any) -> str:
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
    # Signed at the stack's time (a test may have moved its clock forward), as Telegram signs it now.
    now = system_clock(endpoints["clock_offset_file"]).now()
    return for_user(user, endpoints["telegram_bot_token"], int(now.timestamp()))


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
    # Drawn by the Chart.js the app serves; tapping a day reads its values (the chart is below the
    # cards on a phone: the click scrolls to it, as the owner does).
    assert page.evaluate("typeof window.Chart") == "function"
    page.locator("#revenue-chart").click()
    wait_for("the day's value", lambda: "$" in page.inner_text("#day-value") or None)
    assert "new subscriber" in page.inner_text("#day-value")
    page.click("#period button[data-days='7']")
    wait_for("the 7-day period", lambda: page.locator("#period button.on[data-days='7']").count() or None)
    assert page.inner_text("#active b") == "2"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"

    # Subscribers: both listed, search narrows, CSV has both.
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    assert page.locator("tr.sub").count() == 2
    assert page.locator("#more").is_hidden()  # one page: nothing more to show
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
    dark.close()


# -- dashboard --
def test_the_demo_owner_reads_her_dashboard_by_period_channel_and_day(
    browser: Any, endpoints: dict[str, Any], clock: StackClock
) -> None:
    """The demo as `make run` plays it (sales on several days, a renewal, a trial that ends, a second
    channel with no sale): its owner switches the period, taps a day and moves with the arrow keys
    to read days, switches to her empty channel and to all channels. The page and its chart library
    come from the app itself, and no request it makes leaves loopback. The light and dark
    screenshots of the README are taken here."""
    played = play(endpoints, lambda _: None)
    owner, token = played["user"]["id"], played["token"]
    url = endpoints["functions"]["owner_app"]
    auth = {"Authorization": f"tma {_init_data(endpoints, owner)}"}

    def figures(path: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{url}/api/{path}", headers=auth).json()
        return body

    requests: list[str] = []
    page = open_app(browser, url, _init_data(endpoints, owner), LIGHT, requests=requests)
    _night_owls(page, token)
    # The last 30 days: Sam, Stella (in Stars), Pat (with a code), then Ben, Cleo, Dan, Gus; Sam renews.
    cards = {
        k: page.inner_text(f"#{k} b") for k in ("sales", "new", "renewed", "expired", "revenue", "active")
    }
    assert cards == {
        "sales": "8", "new": "7", "renewed": "1", "expired": "1", "revenue": "$54.00", "active": "7",
    }  # fmt: skip
    assert page.inner_text("#renewal-rate b") == "50%"  # Sam renewed, Tara's trial ended
    assert page.inner_text("#donations b") == "$25.00"
    assert page.evaluate("Chart.getChart('revenue-chart').data.labels.length") == 30

    # Tap the day Gus bought: the day's figures under the charts, and in the chart's tooltip.
    month = figures(f"channels/{token}/overview/30")["series"]
    gus = max(i for i, d in enumerate(month) if d["crypto"] == "12.50")
    x, y = page.evaluate(
        f"(() => {{ const c = Chart.getChart('revenue-chart'); const bar = c.getDatasetMeta(0).data[{gus}];"
        " return [bar.x, (bar.y + bar.base) / 2]; })()"
    )
    page.locator("#revenue-chart").click(position={"x": x, "y": y})
    wait_for(
        "the tapped day", lambda: page.get_attribute("#day-value", "data-day") == month[gus]["day"] or None
    )
    read = page.inner_text("#day-value")
    assert "$12.50 crypto" in read and "1 new subscriber ·" in read, read  # one subscriber, singular
    assert page.evaluate("Chart.getChart('revenue-chart').tooltip.opacity") > 0
    _screenshot(page, "owner-app-light.png")
    # The keyboard (the tap focused the chart): End is today, when the sweep removed Tara; Home the
    # first day, before the demo's.
    page.keyboard.press("End")
    wait_for("today", lambda: page.get_attribute("#day-value", "data-day") == month[-1]["day"] or None)
    assert "1 expiry" in page.inner_text("#day-value")
    page.keyboard.press("Home")
    wait_for("the first day", lambda: page.get_attribute("#day-value", "data-day") == month[0]["day"] or None)
    assert "0 new subscribers" in page.inner_text("#day-value")

    # The periods: each shows the read model's figures, as many days as it has.
    for days in (7, 90):
        page.click(f"#period button[data-days='{days}']")
        page.wait_for_selector(f"#period button.on[data-days='{days}']")
        assert page.evaluate("Chart.getChart('revenue-chart').data.labels.length") == days
        period = figures(f"channels/{token}/overview/{days}")["current"]
        assert page.inner_text("#sales b") == str(period["sales"])
        assert page.inner_text("#new b") == str(period["new"])
    assert period["sales"] == 8  # 90 days hold them all

    # Her second channel has sold nothing: the empty state says so; all channels add both.
    page.select_option("#channel", played["second_token"])
    page.wait_for_selector("#empty-state")
    assert page.inner_text("#empty-state").startswith("No sales, members or donations in the last 90 days.")
    assert page.inner_text("#sales b") == "0"
    page.select_option("#channel", "all")
    wait_for("all channels", lambda: "2 channels together" in page.inner_text("#view") or None)
    assert page.inner_text("#sales b") == "8" and page.locator("#empty-state").count() == 0
    assert SECOND_TITLE in page.inner_text("#tiers")

    # Everything came from loopback: the page, its scripts (Chart.js from the app itself, the
    # pinned file byte for byte) and the API; Telegram's script is the local shim, never fetched.
    library = httpx.get(f"{url}/chart.umd.min.js")
    vendored = json.loads((ROOT / "functions" / "owner_app" / "npm" / "vendored.json").read_text())
    assert hashlib.sha256(library.content).hexdigest() == vendored["chart.umd.min.js"]["sha256"]
    assert f"{url}/chart.umd.min.js" in requests
    outside = [
        r for r in requests if urlsplit(r).hostname not in ("127.0.0.1", "localhost") and r != TELEGRAM_SCRIPT
    ]
    assert outside == [], outside
    page.close()

    dark = open_app(browser, url, _init_data(endpoints, owner), DARK, "dark")
    _night_owls(dark, token)
    assert dark.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"
    dark.locator("#revenue-chart").focus()
    dark.keyboard.press("End")
    wait_for("today", lambda: dark.get_attribute("#day-value", "data-day") == month[-1]["day"] or None)
    _screenshot(dark, "owner-app-dark.png")
    dark.close()


def _night_owls(page: Any, token: str) -> None:
    """Her channels are listed in the app's order (either may come first): she picks Night Owls Club."""
    page.wait_for_selector("#revenue-chart")
    if page.input_value("#channel") != token:
        page.select_option("#channel", token)
        wait_for("Night Owls Club", lambda: page.locator("#renewal-rate b").inner_text() != "—" or None)


def _screenshot(page: Any, name: str) -> None:
    """A phone-sized screenshot for the README, scrolled to show the last cards and both charts."""
    page.evaluate(
        "window.scrollTo(0, document.getElementById('revenue-chart').getBoundingClientRect().top + window.scrollY - 260)"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


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


# -- subscribers, page by page --
MEMBERS = 53  # a page of 50 and 3 more
ENDED = 3


def test_the_owner_pages_through_more_than_fifty_subscribers(
    browser: Any, endpoints: dict[str, Any], tg: TelegramControl, token: str
) -> None:
    """An owner of her own channel (registered by an operator: no grace period) gives days to 53
    people who opened its link in the bot (the app's grant form, by user id, through its API):
    Subscribers shows 50, "Show more" (tapped twice in a row) the other 3, nobody twice, then no
    button. She ends 3 members' access with the form; once the sweep has removed them the active
    list is exactly one page, with no "Show more", and the ended list has those 3."""
    owner = new_channel(endpoints, tg, token).owner
    members = [tg.user(f"Member{i}") for i in range(MEMBERS)]
    for member in members:
        tg.say(member, f"/start {token}")
    for member in members:
        tg.wait_message(member, "Choose how long")
    url = endpoints["functions"]["owner_app"]
    headers = {"Authorization": f"tma {_init_data(endpoints, owner)}"}
    for i, member in enumerate(members):  # 10 days and more: no reminder is due yet
        grant = {
            "user_id": member,
            "days": 10 + i,
            "take": False,
            "reason": "",
            "request_id": f"give-{i:08d}",
        }
        answer = httpx.post(f"{url}/api/channels/{token}/grants", headers=headers, json=grant, timeout=30)
        assert answer.status_code == 200, answer.text
    everyone = {f"user {m}" for m in members}  # no order of theirs: the app names them by their id

    page = open_app(browser, url, _init_data(endpoints, owner), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    first = page.locator("tr.sub td:first-child").all_inner_texts()
    assert len(first) == 50 and len(set(first)) == 50 and set(first) <= everyone, first
    assert page.locator("#more").is_visible()
    page.dblclick("#more")  # an impatient owner: the next page is fetched once
    wait_for("the next page", lambda: page.locator("tr.sub").count() > 50 or None)
    page.wait_for_load_state("networkidle")
    shown = page.locator("tr.sub td:first-child").all_inner_texts()
    assert shown[:50] == first  # the first page stays where it was, the next one below it
    assert len(shown) == MEMBERS and set(shown) == everyone, shown  # each once, the 51st and on
    assert page.locator("#more").is_hidden()  # the last page: nothing more to show

    # She ends the access of 3 of the rows "Show more" brought, with the form under the list.
    ended = []
    for row in range(50, 50 + ENDED):
        page.locator("tr.sub").nth(row).locator("button.grant").click()
        ended.append(f"user {page.input_value('#grant-form input[name=user_id]')}")
        with page.expect_response(lambda r: r.url.endswith("/grants")) as saved:
            page.click("#grant-form button[value=end]")
        assert saved.value.status == 200
        page.wait_for_selector("#grant-message.ok")
    assert set(ended) <= everyone and len(set(ended)) == ENDED

    response = httpx.post(
        endpoints["functions"]["expire_subscriptions"],
        headers={"X-CloudScheduler-ScheduleTime": f"{token}-ended"},  # the scheduler's run, now
        content=b"{}",
        timeout=120,
    )
    assert response.status_code == 200, response.text

    def ended_count() -> int | None:
        listed = httpx.get(f"{url}/api/channels/{token}/subscribers?status=expired", headers=headers).json()
        return len(listed["subscribers"]) == ENDED or None

    wait_for("the 3 removed", ended_count, timeout=60)

    page.click("nav button[data-tab=overview]")
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    active = page.locator("tr.sub td:first-child").all_inner_texts()
    assert len(active) == 50 and set(active) == everyone - set(ended), active
    assert page.locator("#more").is_hidden()  # exactly one page: no empty next page to show
    page.click("#sub-status button[data-status=expired]")
    page.wait_for_selector("#sub-status button.on[data-status=expired]")
    page.wait_for_selector("tr.sub")
    assert sorted(page.locator("tr.sub td:first-child").all_inner_texts()) == sorted(ended)
    assert page.locator("tr.sub .tag.expired").count() == ENDED
    assert page.locator("#more").is_hidden()
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


def test_the_owner_pages_through_more_subscribers_than_one_page_shows(
    browser: Any, endpoints: dict[str, Any]
) -> None:
    """An owner with 57 members (given days from the app's form, as she gives them) sees the first
    50 in Subscribers, presses "Show more" for the other 7, each member once, and the button goes
    away when there is nothing more; the search then finds a member of the second page."""
    tg = TelegramControl(endpoints)
    ids = setup_channel(tg, lambda _: None)
    url = endpoints["functions"]["owner_app"]
    headers = {"Authorization": f"tma {_init_data(endpoints, ids['owner'])}"}
    members = [tg.user(f"Reader {n:02d}") for n in range(57)]
    with httpx.Client(timeout=30, headers=headers) as client:
        for n, member in enumerate(members):
            reply = client.post(
                f"{url}/api/channels/{ids['token']}/grants",
                json={"user_id": member, "days": 10 + n, "take": False},
            )
            assert reply.status_code == 200, reply.text
    page = open_app(browser, url, _init_data(endpoints, ids["owner"]), LIGHT)
    page.wait_for_selector("#active")
    page.click("nav button[data-tab=subscribers]")
    page.wait_for_selector("tr.sub")
    assert page.locator("tr.sub").count() == 50
    assert page.locator("#more").is_visible()
    page.click("#more")
    page.locator("tr.sub").nth(50).wait_for()  # the page's CSP allows no eval: wait on the row itself
    assert page.locator("tr.sub").count() == 57
    assert page.locator("#more").is_hidden()
    names = page.locator("tr.sub td:first-child").all_inner_texts()
    assert sorted(names) == sorted(f"user {member}" for member in members)  # every member once
    last = max(members, key=str)  # the list is in id order: the last one came with "Show more"
    page.fill("#search", str(last))
    assert page.locator("tr.sub").count() == 1
    page.close()
