"""The owners' Mini App: a JSON API over the store, scoped to the channels the caller owns.

Every call carries Telegram's `initData` (`Authorization: tma <initData>`), validated by
`telepay.owners.init_data`; without a valid one the answer is 401. A channel the caller does not own is
404, as one that does not exist. Settings are checked by `telepay.channels.settings` with the rules
of the bot's `/edit`: only the owner who is the creator of both channels may change them, a new
price applies to new invoices only (orders keep the price they were made with) and is checked
against NowPayments' minimum payments as the bot checks it (`telepay.channels.price_rules`: no coin
takes it → 422; the coins it leaves out → the answer's `notes`), a tier's Star price by the bot's
rule (`parse_star_price`; a converted one beyond Telegram's limit → a note), the donation post is refreshed,
`resume` queues today's offer post, and every change is recorded (`telepay.channels.changes`).

The app speaks the owner's language: their /language choice, else their Telegram app's (initData's
`user.language_code`, remembered as the bot remembers it). `GET /api/texts` gives the page its
texts in that language (`APP_TEXTS`, the English sources, each translated) with the direction to
write them in; what the API says to people (refusals, notes) is in it too. Amounts and dates are
values: the page formats them for the language.

`handle(rt, method, path, authorization, body)` is the whole API; the entry point only reads the
request and serves the static page.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared_schemas.config import OwnerAppSettings
from shared_schemas.documents import (
    ChannelDoc,
    ChannelStatus,
    PromoCodeDoc,
    PromoStatus,
    SubscriptionDoc,
    SubscriptionStatus,
)
from shared_schemas.ids import normal_promo_code
from shared_schemas.queries import SUBSCRIPTIONS_OF_CHANNEL
from shared_schemas.telegram import TgUser
from telepay.channels import promo_rules, wallet_hold
from telepay.channels import settings as cs
from telepay.channels.changes import changed, record
from telepay.channels.lookup import load_channel
from telepay.channels.minimums import check_prices, coin_minimums
from telepay.channels.price_rules import new_prices
from telepay.channels.star_prices import tier_in_stars
from telepay.core import i18n
from telepay.core.i18n import N_, Nn_, t, tn
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.core.users import remember_language
from telepay.owners import admins, app_announcements, dashboard, grant_rules, grants
from telepay.owners import books as books  # -- exports --
from telepay.owners import books_rules as books_rules  # -- exports --
from telepay.owners import promos as owner_promos
from telepay.owners.init_data import InvalidInitData, WebAppUser, validate
from telepay.payouts.balance import owner_balance, payout_history
from telepay.runtime import Runtime
from telepay.subscriptions.broadcast import queue_donation_post, queue_todays_post
from telepay.subscriptions.trials import trial_figures
from telepay.support import reads as support_reads  # -- support --

Rt = Runtime[OwnerAppSettings]
log = get_logger("owner_app")
OVERVIEW_DAYS = 30
# What the app may change: the settings of `/edit` an owner changes from a phone. Channels and the
# payout destination stay in the bot, where they are checked against Telegram and the network.
EDITABLE = tuple(f for f in cs.SETTING_FIELDS if not f.startswith(("open_", "closed_", "payout_")))
SUBSCRIBER_COLUMNS = ("name", "user_id", "tier", "since", "until", "status", "in_channel")
_CHANNEL_PATH = re.compile(
    r"^/api/channels/([A-Za-z0-9_-]{1,64})/(subscribers|subscribers\.csv|settings|status|grants|promos|promo_status)$"
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, body: Any) -> Reply:
    return Reply(status, body)


def authenticate(rt: Rt, authorization: str | None) -> WebAppUser | None:
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "tma" or not raw:
        return None
    try:
        verified = validate(
            raw.strip(),
            rt.settings.telegram_bot_token.get_secret_value(),
            rt.clock.now(),
            rt.settings.init_data_max_age_seconds,
        )
    except InvalidInitData as error:
        log.info("initData refused: %s", error)
        return None
    return verified.user


def handle(
    rt: Rt,
    method: str,
    path: str,
    authorization: str | None,
    body: dict[str, Any] | None,
    query: Mapping[str, str] | None = None,
) -> Reply:
    """One API call; `query`: the URL's query parameters (the Subscribers list's page)."""
    user = authenticate(rt, authorization)
    if user is None:
        return _json(401, {"error": "unauthorized"})
    seen = TgUser(id=user.id, first_name=user.first_name, language_code=user.language_code)
    with i18n.speaking(remember_language(rt.store, seen)) as language:
        return _route(rt, method, path, user, body, language, query or {})


def _route(
    rt: Rt,
    method: str,
    path: str,
    user: WebAppUser,
    body: dict[str, Any] | None,
    language: str,
    query: Mapping[str, str],
) -> Reply:
    if path == "/api/texts" and method == "GET":
        return _json(200, texts(language))
    if path == "/api/me" and method == "GET":
        return _json(200, me(rt, user))
    if path == "/api/payouts" and method == "GET":
        return _json(200, payouts(rt, user.id))
    announced = _ANNOUNCEMENTS_PATH.match(path)  # -- announcements --
    if announced is not None:
        return owner_announcements(rt, method, user.id, announced[1], body or {})
    exported = _EXPORTS_PATH.match(path)  # -- exports --
    if exported is not None:
        return owner_export(rt, method, user.id, exported[1], body or {})
    supported = _SUPPORT_PATH.match(path)  # -- support --
    if supported is not None:
        return owner_support(rt, method, user.id, supported[1])
    viewed = _OVERVIEW_PATH.match(path)  # -- dashboard --
    if viewed is not None:
        return owner_overview(rt, method, user.id, viewed[1], int(viewed[2] or OVERVIEW_DAYS))
    match = _CHANNEL_PATH.match(path)
    if match is None:
        return _json(404, {"error": "not found"})
    token, what = match.groups()
    channel = load_channel(rt.store, token)
    if channel is None or channel.owner_user_id != user.id:
        return _json(404, {"error": "not found"})
    route: dict[tuple[str, str], Callable[[], Reply]] = {
        ("GET", "subscribers"): lambda: subscribers_page(rt, channel, query),
        ("GET", "subscribers.csv"): lambda: subscribers_csv(rt, channel),
        ("GET", "settings"): lambda: _json(200, settings_of(rt, channel)),
        ("POST", "settings"): lambda: save_settings(rt, user.id, channel, body or {}),
        ("POST", "status"): lambda: set_status(rt, user.id, channel, (body or {}).get("status")),
        # -- owner grants --
        ("POST", "grants"): lambda: owner_grant(rt, user.id, channel, body or {}),
        # -- promo codes --
        ("GET", "promos"): lambda: _json(200, promo_codes(rt, channel)),
        ("POST", "promos"): lambda: create_promo(rt, user.id, channel, body or {}),
        ("POST", "promo_status"): lambda: set_promo_status(rt, user.id, channel, body or {}),
    }
    answer = route.get((method, what))
    return answer() if answer else _json(405, {"error": "method not allowed"})


# Every text of the page (functions/owner_app/static), in English: `tr("...")` there looks each up
# in `texts()` (a text missing here reads English). `{name}` placeholders are filled by the page.
APP_TEXTS: tuple[str, ...] = (
    N_("TelePay · Owner"),
    N_("Channel"),
    N_("Overview"),
    N_("Subscribers"),
    N_("Payouts"),
    N_("Settings"),
    N_("Loading…"),
    N_("This page only opens from the TelePay bot in Telegram."),
    N_("Something went wrong."),
    N_("You have no channels yet. Send /newchannel to the bot."),
    N_("{title} (paused)"),
    N_("active subscribers"),
    N_("expire in 7 days"),
    N_("Sales are paused (Settings → Resume)."),
    N_("No subscribers yet. Share your link to get the first one."),
    N_("Search by name, tier or status"),
    N_("No subscriber matches."),
    N_("Show more"),
    N_("Name"),
    N_("Tier"),
    N_("Since"),
    N_("Until"),
    N_("Status"),
    N_("In"),
    N_("active"),
    N_("expired"),
    N_("CSV"),
    N_("No payouts yet: they start with your first sale."),
    N_("🔒 {title}: payouts held until {until} (the payout wallet changed)."),
    N_("{date}, {time} UTC"),
    N_("balance"),
    N_("pending"),
    N_("History"),
    N_("No payout sent yet."),
    N_("Stars earnings: {stars} (≈ {usd}), held until {day}"),
    N_("Stars earnings: {stars} (≈ {usd}), held until {first} to {last}"),
    N_("Stars released: {stars} (≈ {usd}), counted above"),
    N_("reserved"),
    N_("created"),
    N_("verified"),
    N_("sending"),
    N_("finished"),
    N_("failed"),
    N_("Title"),
    N_("Description"),
    N_("Language of the posts"),
    N_("Prices (USD), days, label"),
    N_("Prices (USD), days, Stars, label"),
    N_("Price {number}"),
    N_("Days {number}"),
    N_("Stars {number}"),
    N_("crypto only"),
    N_("Leave Stars empty to convert the USD price (shown in grey); Telegram takes {low} to {high} Stars."),
    N_("Label {number}"),
    N_("Smallest donation (USD)"),
    N_("Largest donation (USD)"),
    N_("Donation post message"),
    N_("Grace period (minutes)"),
    N_("A new price applies to new invoices; invoices already sent keep theirs."),
    N_("Save"),
    N_("Saving…"),
    N_("Saved."),
    N_("Nothing changed."),
    N_("Sales"),
    N_("Resume sales"),
    N_("Pause sales"),
    N_("Save settings"),
    # -- owner grants --
    N_("Give days"),
    N_("Take days off"),
    N_("End access"),
    N_("Days"),
    N_("Note (optional)"),
    N_("Grant to user id"),
    N_("User id"),
    N_("grants, 30 days"),
    N_("days given"),
    # -- promo codes --
    N_("Codes"),
    N_("No promo codes yet: make one below (or send /promo to the bot)."),
    N_("Code"),
    N_("Discount"),
    N_("Uses"),
    N_("Revenue"),
    N_("{percent}% off"),
    N_("{amount} off"),
    N_("{uses} of {limit}"),
    N_("all tiers"),
    N_("until {until}"),
    N_("new subscribers only"),
    N_("paused"),
    N_("ended"),
    N_("Pause"),
    N_("Resume"),
    N_("End"),
    N_("New code"),
    N_("Code (4 to 32 letters and digits)"),
    N_("Discount: 20% or an amount in USD"),
    N_("Tiers"),
    N_("All tiers"),
    N_("First day (optional, UTC)"),
    N_("Last day (optional, UTC)"),
    N_("Uses in all (optional)"),
    N_("Uses per buyer (optional)"),
    N_("New subscribers only"),
    N_("Create code"),
    N_("Created."),
    # -- free trials --
    N_("Free trial (days, 1 to 30; empty: none)"),
    N_("on a free trial"),
    N_("free trials started, 30 days"),
    N_("trials converted to a purchase, 30 days"),
    # -- exports --
    N_("Books"),
    N_("Book"),
    N_("Ledger"),
    N_("From"),
    N_("To"),
    N_("Send to chat"),
    N_("Sent to your chat with the bot."),
    N_("Nothing in that period."),
    # -- support --
    N_("Support"),
    N_("No support conversations yet. Buyers reach you with /support or the Help button."),
    N_("open"),
    N_("closed"),
    N_("Closed by {who}"),
    N_("buyer"),
    N_("owner"),
    N_("Answer in the bot: reply to the buyer's message there."),
    # -- announcements --
    N_("Announcements"),
    N_("Sent on"),
    N_("Sent"),
    N_("Blocked"),
    N_("Failed"),
    N_("Message"),
    N_("Who gets it"),
    N_("All active subscribers"),
    N_("Ending within (days)"),
    N_("Lapsed in the last (days)"),
    N_("Members on a free trial"),
    N_("Button"),
    N_("No button"),
    N_("Renew"),
    N_("Link"),
    N_("Link (https://…)"),
    N_("Send announcement"),
    N_("Sending to {count} subscribers…"),
    N_("sending"),
    N_("done"),
    N_("stopped"),
    N_("draft"),
)


# -- dashboard --
# The page's plural texts (singular, plural): `trn(singular, n)` there picks the language's form.
APP_PLURALS = (
    Nn_("{n} new subscriber", "{n} new subscribers"),
    Nn_("{n} renewal", "{n} renewals"),
    Nn_("{n} expiry", "{n} expiries"),
    Nn_("{n} sale", "{n} sales"),
    Nn_("{n} donation", "{n} donations"),
    Nn_("{n} active member", "{n} active members"),
    Nn_("Last {n} day", "Last {n} days"),
    Nn_(
        "No sales, members or donations in the last {n} day.",
        "No sales, members or donations in the last {n} days.",
    ),
)
APP_TEXTS += (
    N_("All channels"),
    N_("Revenue per day"),
    N_("Members per day"),
    N_("Crypto"),
    N_("Telegram Stars (≈ USD)"),
    N_("Active members"),
    N_("New"),
    N_("Renewals"),
    N_("Expiries"),
    N_("revenue"),
    N_("sales"),
    N_("new subscribers"),
    N_("renewals"),
    N_("expiries"),
    N_("donations"),
    N_("renewal rate"),
    N_("churn"),
    N_("{change} against the {n} days before"),
    N_("nothing the {n} days before"),
    N_("Per tier"),
    N_("Tap a day, or use the arrow keys, to read it."),
    N_("{day}: {crypto} crypto, {stars} in Stars (≈ {usd})"),
    N_("Share your link to get the first subscriber."),
    N_("{count} channels together"),
)


def texts(language: str) -> dict[str, Any]:
    """The page's texts in `language` (the current one), the direction to write them in, and the
    languages a channel's posts may be in (each in its own name)."""
    return {
        "lang": language.replace("_", "-"),
        "dir": "rtl" if i18n.is_rtl(language) else "ltr",
        "texts": {source: t(source) for source in APP_TEXTS},
        # -- dashboard: the plural texts by CLDR category, the page picks one with Intl.PluralRules --
        "plurals": {singular: i18n.plural_forms(singular, plural) for singular, plural in APP_PLURALS},
        "languages": i18n.LANGUAGES,
    }


def me(rt: Rt, user: WebAppUser) -> dict[str, Any]:
    return {
        "user": {"id": user.id, "first_name": user.first_name, "username": user.username},
        "channels": [
            {
                "token": c.token,
                "title": c.title,
                "status": c.status.value,
                "rights_problem": c.bot_rights_problem,
            }
            for c in admins.owned(rt.store, user.id)
        ],
    }


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def overview(rt: Rt, channels: list[ChannelDoc], days: int = OVERVIEW_DAYS) -> dict[str, Any]:
    """The dashboard of one channel, or of all the owner's together (`telepay.owners.dashboard`, the
    figures `/stats` says): the period's totals and the previous period's with their change in
    percent, a day-by-day series (revenue per rail, new, renewed, expired, active members,
    donations), sales per tier, the renewal rate and churn. Every list is bounded (90 days, three
    tiers a channel)."""
    now = rt.clock.now()
    view = dashboard.overview(rt.store, channels, now, days)
    rate = rt.settings.stars_usd_price
    one = channels[0] if len(channels) == 1 else None

    def totals(counts: dashboard.Counts) -> dict[str, Any]:
        stars_usd = dashboard.stars_in_usd(counts.stars, rate)
        revenue = dashboard.cents_to_money(counts.crypto_cents) + stars_usd
        return {
            "revenue": _money(revenue),
            "crypto": _money(dashboard.cents_to_money(counts.crypto_cents)),
            "stars": counts.stars,
            "stars_usd": _money(stars_usd),
            "sales": counts.sales,
            "new": counts.new,
            "renewed": counts.renewed,
            "gifts": counts.gifts,
            "expired": counts.expired,
            "joined": counts.joined,
            "donations": _money(dashboard.cents_to_money(counts.donation_cents)),
            "donation_count": counts.donations,
            "donation_stars": counts.donation_stars,
        }

    current, previous = totals(view.current), totals(view.previous)
    compared = ("revenue", "sales", "new", "renewed", "expired", "donations")
    return {
        "token": one.token if one else None,
        "title": one.title if one else None,
        "status": one.status.value if one else None,
        "channels": len(channels),
        "currency": "USD",
        "days": view.days,
        "first_day": view.first_day.isoformat(),
        "last_day": view.last_day.isoformat(),
        "active": view.active,
        "expiring_7d": view.expiring,
        "active_at_start": view.active_at_start,
        "current": current,
        "previous": previous,
        "change": {
            k: _percent(dashboard.change(Decimal(current[k]), Decimal(previous[k]))) for k in compared
        },
        "renewal_rate": _percent(view.renewal_rate),
        "churn": _percent(view.churn),
        "empty": view.empty,
        "stars_usd_price": str(rate),
        "series": [
            {
                "day": d.day.isoformat(),
                "crypto": _money(dashboard.cents_to_money(d.counts.crypto_cents)),
                "stars": d.counts.stars,
                "stars_usd": _money(dashboard.stars_in_usd(d.counts.stars, rate)),
                "new": d.counts.new,
                "renewed": d.counts.renewed,
                "expired": d.counts.expired,
                "active": d.active,
                "donations": _money(dashboard.cents_to_money(d.counts.donation_cents)),
            }
            for d in view.series
        ],
        "tiers": [
            {
                "channel": tier.channel_title,
                "tier_id": tier.tier_id,
                "label": tier.label or tn("{n} day", "{n} days", tier.days),
                "days": tier.days,
                "sales": tier.sales,
                "revenue": _money(dashboard.cents_to_money(tier.cents)),
                "stars": tier.stars,
            }
            for tier in view.tiers
        ],
    } | (({"trials": _trials(rt, one)} | grants_overview(rt, one)) if one else {})


def _percent(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _tier_names(channel: ChannelDoc) -> dict[str, str]:
    return {tier.tier_id: tier.label or tn("{n} day", "{n} days", tier.days) for tier in channel.tiers}


def _trials(rt: Rt, channel: ChannelDoc) -> dict[str, Any]:
    """The free trials (the figures of `/stats`): the channel's trial length (null: none), members on a
    trial now, trials started and converted to a purchase in the last 30 days."""
    figures = trial_figures(rt.store, channel.token, rt.clock.now(), (OVERVIEW_DAYS,))
    return {
        "days": channel.trial_days,
        "running": figures.running,
        "started_30d": figures.started[OVERVIEW_DAYS],
        "converted_30d": figures.converted[OVERVIEW_DAYS],
    }


SUBSCRIBERS_PAGE = 50  # rows per Subscribers page: a channel of 100,000 members is read a page at a time


def subscribers_page(rt: Rt, channel: ChannelDoc, query: Mapping[str, str]) -> Reply:
    """`GET …/subscribers?status=active|expired&after=<id>`: one page of the channel's subscribers
    with that status (active by default), and `next`, the `after` of the next page (null: the last)."""
    status = query.get("status") or SubscriptionStatus.ACTIVE.value
    if status not in {s.value for s in SubscriptionStatus}:
        return _json(422, {"errors": [{"field": "status", "reason": t("Unknown status.")}]})
    after = query.get("after") or None
    if after is not None and not after.startswith(f"{channel.token}-"):
        return _json(422, {"errors": [{"field": "after", "reason": t("Not a page of this channel.")}]})
    page, following = rt.store.subscriptions.page_after(
        SUBSCRIPTIONS_OF_CHANNEL,
        limit=SUBSCRIBERS_PAGE,
        after=after,
        channel_token=channel.token,
        status=SubscriptionStatus(status),
    )
    tiers = _tier_names(channel)
    rows = sorted((_subscriber_row(rt, s.doc, tiers) for s in page), key=lambda r: r["until"])
    return _json(200, {"subscribers": rows, "status": status, "next": following})


def subscribers(rt: Rt, channel: ChannelDoc) -> list[dict[str, Any]]:
    """Every subscriber of the channel (the CSV export), active first, soonest to end first."""
    tiers = _tier_names(channel)
    rows = [
        _subscriber_row(rt, stored.doc, tiers)
        for status in SubscriptionStatus
        for page in rt.store.subscriptions.pages(
            SUBSCRIPTIONS_OF_CHANNEL, channel_token=channel.token, status=status
        )
        for stored in page
    ]
    return sorted(rows, key=lambda r: (r["status"] != "active", r["until"]))


def _subscriber_row(rt: Rt, sub: SubscriptionDoc, tiers: dict[str, str]) -> dict[str, Any]:
    order = rt.store.orders.get(sub.last_order_id)
    return {
        "name": (order.buyer_name if order else "") or t("user {id}", id=sub.user_id),
        "user_id": sub.user_id,
        "tier": tiers.get(sub.tier_id or "", sub.tier_id or ""),
        "since": sub.started_at.isoformat(),
        "until": sub.expires_at.isoformat(),
        "status": sub.status.value,
        "in_channel": sub.in_channel,
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text (OWASP's CSV injection rule): one starting with =, +,
    -, @, a tab or a carriage return gets a leading quote."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def subscribers_csv(rt: Rt, channel: ChannelDoc) -> Reply:
    out = io.StringIO()
    writer = csv.DictWriter(out, SUBSCRIBER_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in subscribers(rt, channel):
        writer.writerow({column: _cell(value) for column, value in row.items()})
    filename = f"subscribers-{channel.token}.csv"
    return Reply(
        200,
        out.getvalue(),
        "text/csv; charset=utf-8",
        {"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def payouts(rt: Rt, owner_id: int) -> dict[str, Any]:
    """The balance (available, pending, paid), Stars Telegram still holds apart (`stars`: net Stars,
    their USD value, the first and last hold's end; and those released, counted in the balance),
    the wallet holds and the payout history."""
    now = rt.clock.now()
    balance = owner_balance(rt.store, owner_id, now)
    history = payout_history(rt.store, owner_id)
    earned = balance.stars
    held = [
        {"token": c.token, "title": c.title, "until": until.isoformat(), "why": "wallet changed"}
        for c in admins.owned(rt.store, owner_id)
        if (until := wallet_hold.held_until(c, now)) is not None
    ]
    return {
        "held": held,
        "available": {k: _money(v) for k, v in balance.available.items()},
        "pending": {k: _money(v) for k, v in balance.reserved.items()},
        "paid": {k: _money(v) for k, v in balance.paid.items()},
        "stars": {
            "held": f"{earned.held.normalize():f}",
            "held_usd": _money(earned.held_usd),
            "held_first_until": earned.held_first_until.isoformat() if earned.held_first_until else None,
            "held_last_until": earned.held_last_until.isoformat() if earned.held_last_until else None,
            "released": f"{earned.released.normalize():f}",
            "released_usd": _money(earned.released_usd),
        },
        "history": [
            {
                "payout_id": p.payout_id,
                "channel_token": p.channel_token,
                "amount": str(p.amount),
                "currency": p.currency,
                "state": p.state.value,
                "created_at": p.created_at.isoformat(),
                "ended_at": p.ended_at.isoformat() if p.ended_at else None,
                "hash": p.hash,
            }
            for p in history
        ],
    }


def settings_of(rt: Rt, channel: ChannelDoc) -> dict[str, Any]:
    """The settings the page shows. Each tier's `stars` is the owner's Star price (null: converted
    from the USD price), `stars_auto` the converted one (null when beyond Telegram's limit, so sold in
    crypto only); `stars_enabled` false when the operator switched Telegram Stars off."""
    rate = rt.settings.stars_usd_price
    return {
        "token": channel.token,
        "title": channel.title,
        "description": channel.description,
        "language": channel.language,
        "stars_enabled": rt.settings.stars_enabled,
        "tiers": [
            {
                "price": str(tier.price),
                "days": tier.days,
                "label": tier.label or "",
                "stars": tier.stars,
                "stars_auto": tier_in_stars(tier.model_copy(update={"stars": None}), rate),
            }
            for tier in channel.tiers
        ],
        "donation_min": str(channel.donation_min),
        "donation_max": str(channel.donation_max),
        "donation_message": channel.donation_message or "",
        "grace_period_minutes": channel.grace_period_minutes,
        "trial_days": channel.trial_days,  # -- free trials --
        "status": channel.status.value,
    }


def _admin_problem(rt: Rt, user_id: int, channel: ChannelDoc) -> str | None:
    """The bot's rule (`telepay.owners.admins`): only an owner who is the creator of both channels."""
    chats = (channel.open_channel_id, channel.closed_channel_id)
    if admins.change_refusal(rt, user_id, chats, channel=channel) is None:
        return None
    return t("Only the creator of both channels can change this channel.")


def save_settings(rt: Rt, user_id: int, channel: ChannelDoc, body: dict[str, Any]) -> Reply:
    given = {name: body[name] for name in EDITABLE if name in body}
    if not given:
        return _json(400, {"error": "nothing to change", "errors": []})
    checked = cs.validate_channel(channel.model_dump() | given)
    if isinstance(checked, list):
        return _json(422, {"errors": [{"field": e.field, "reason": e.reason} for e in checked]})
    problem = _admin_problem(rt, user_id, channel)
    if problem:
        return _json(403, {"error": problem})
    # A new price no coin buyers can use takes is refused; the coins a low one leaves out are said.
    prices = check_prices(rt.nowpayments, new_prices(channel, checked), checked.currency)
    refused = [{"field": name, "reason": c.refusal} for name, c in prices if c.refusal]
    if refused:
        return _json(422, {"errors": refused})
    notes = [{"field": name, "note": c.note} for name, c in prices if c.note]
    if rt.settings.stars_enabled:
        stars = cs.star_notes(channel, checked, rt.settings.stars_usd_price)
        notes += [{"field": name, "note": note} for name, note in stars]
    token, now = channel.token, rt.clock.now()
    names = EDITABLE

    def save(tx: Tx) -> dict[str, Any]:
        current = tx.get(rt.store.channels, token)
        if current is None or current.owner_user_id != user_id:
            return {}
        again = cs.validate_channel(current.model_dump() | given)
        if isinstance(again, list):  # checked above against an earlier read; a concurrent edit
            return {}
        before, after = current.to_firestore(), again.to_firestore()
        changes = changed(before, after, names)
        if changes:
            tx.update(rt.store.channels, token, {name: after[name] for name in changes} | {"updated_at": now})
            record(tx, rt.store, token, user_id, "owner_app", changes, now)
        return changes

    changes = rt.store.transaction(save)
    saved = load_channel(rt.store, token) or checked
    if changes:
        log.info("settings changed: %s", ", ".join(sorted(changes)), extra={"channel_token": token})
        queue_donation_post(rt, saved)
    return _json(200, settings_of(rt, saved) | {"changed": sorted(changes), "notes": notes})


def set_status(rt: Rt, user_id: int, channel: ChannelDoc, wanted: object) -> Reply:
    if wanted not in (ChannelStatus.ACTIVE.value, ChannelStatus.PAUSED.value):
        return _json(422, {"errors": [{"field": "status", "reason": t("Choose active or paused.")}]})
    problem = _admin_problem(rt, user_id, channel)
    if problem:
        return _json(403, {"error": problem})
    status, now = ChannelStatus(wanted), rt.clock.now()
    if channel.status is not status:
        with rt.store.batch() as batch:
            batch.update(rt.store.channels, channel.token, {"status": status, "updated_at": now})
            changes = {"status": {"before": channel.status.value, "after": status.value}}
            record(batch, rt.store, channel.token, user_id, "owner_app", changes, now)
    if status is ChannelStatus.ACTIVE:
        queue_todays_post(rt, channel.token)
    return _json(200, {"status": status.value})


def dumps(reply: Reply) -> str:
    return reply.body if isinstance(reply.body, str) else json.dumps(reply.body)


# -- owner grants --
def owner_grant(rt: Rt, user_id: int, channel: ChannelDoc, body: dict[str, Any]) -> Reply:
    """The Subscribers view's form: days given to (or taken off) one member, with the bot's rules
    (`telepay.owners.grant_rules`, `telepay.owners.grants`)."""
    checked = grant_rules.check_form(
        body.get("user_id"), body.get("days"), body.get("take"), body.get("reason"), body.get("request_id")
    )
    if isinstance(checked, list):
        return _json(422, {"errors": checked})
    member_id, days, take, reason, request = checked
    problem = grants.refusal(rt, user_id, channel)
    if problem:
        return _json(403, {"error": problem})
    change = grants.Change(member_id, days, take, reason, "owner_app")
    # The form's request id: sent twice (a double tap, a retry), the same action, made once.
    action_id = (
        f"{member_id}-{channel.token}-app-{request}"
        if request
        else grants.new_action_id(member_id, channel.token, rt.clock.now())
    )
    result = grants.apply(rt, user_id, channel, change, action_id)
    if isinstance(result, str):
        return _json(422, {"errors": [{"field": "user_id", "reason": result}]})
    return _json(
        200,
        {
            "user_id": member_id,
            "action": result.record.action.value,
            "days": days,
            "until": result.subscription.expires_at.isoformat(),
        },
    )


def grants_overview(rt: Rt, channel: ChannelDoc) -> dict[str, Any]:
    """The overview's grants, apart from sales: how many in 30 days, and the days they gave."""
    [(_, count, given)] = grants.grant_windows(rt, channel.token, rt.clock.now(), (OVERVIEW_DAYS,))
    return {"grants_30d": count, "granted_days_30d": given}


# -- promo codes --
def promo_codes(rt: Rt, channel: ChannelDoc) -> dict[str, Any]:
    """The Codes view: the channel's codes, the newest first (as `/promos` lists them), each with its
    settings, uses, revenue, state and share link; and the tiers a new code may be for."""
    return {
        "currency": channel.currency,
        "tiers": [{"tier_id": tier_id, "label": label} for tier_id, label in _tier_names(channel).items()],
        "codes": [_promo_json(rt, code, channel) for code in owner_promos.codes_of(rt.store, channel.token)],
    }


def _promo_json(rt: Rt, code: PromoCodeDoc, channel: ChannelDoc) -> dict[str, Any]:
    labels = _tier_names(channel)
    return {
        "code": code.code,
        "percent_off": code.percent_off,
        "amount_off": _money(code.amount_off) if code.amount_off is not None else None,
        "tiers": [labels.get(tier_id, tier_id) for tier_id in code.tier_ids],
        "starts_at": code.starts_at.isoformat() if code.starts_at else None,
        "ends_at": code.ends_at.isoformat() if code.ends_at else None,
        "max_uses": code.max_uses,
        "max_uses_per_buyer": code.max_uses_per_buyer,
        "new_subscribers_only": code.new_subscribers_only,
        "uses": code.uses,
        "revenue": _money(code.revenue),
        "revenue_stars": code.revenue_stars,
        "status": code.status.value,
        "link": owner_promos.share_link(rt, channel.token, code.code),
    }


PROMO_FIELDS = (
    "code", "discount", "tier_ids", "starts_at", "ends_at", "max_uses", "max_uses_per_buyer", "new_subscribers_only",
)  # fmt: skip


def create_promo(rt: Rt, user_id: int, channel: ChannelDoc, body: dict[str, Any]) -> Reply:
    """The Codes view's form: a new code checked by the bot's rules (`promo_rules.validate_code`),
    only by the channel's owner who is the creator of both chats, written unless the channel has one
    of that name; the notes say when it takes a tier below NowPayments' minimum (as `/promo` does)."""
    values = {name: body[name] for name in PROMO_FIELDS if body.get(name) is not None}  # the rest: defaults
    checked = promo_rules.validate_code(values, channel, user_id, rt.clock.now())
    if isinstance(checked, list):
        return _json(422, {"errors": [{"field": e.field, "reason": e.reason} for e in checked]})
    problem = owner_promos.refusal(rt, user_id, channel)
    if problem:
        return _json(403, {"error": problem})
    try:
        rt.store.transaction(owner_promos.creating(rt, checked))
    except owner_promos.CodeTaken:
        reason = owner_promos.taken(channel.title, checked.code)
        return _json(422, {"errors": [{"field": "code", "reason": reason}]})
    log.info("promo code %s created", checked.code, extra={"channel_token": channel.token})
    notes = promo_rules.minimum_notes(channel, checked, coin_minimums(rt.nowpayments, cs.CURRENCY))
    return _json(200, {"code": _promo_json(rt, checked, channel), "notes": notes})


def set_promo_status(rt: Rt, user_id: int, channel: ChannelDoc, body: dict[str, Any]) -> Reply:
    """Pause, resume or end a code (`{"code": ..., "status": "paused" | "active" | "ended"}`), as the
    `/promos` buttons do (`owner_promos.set_status`: an ended code stays ended)."""
    wanted, name = body.get("status"), body.get("code")
    if wanted not in {status.value for status in PromoStatus} or not isinstance(name, str):
        return _json(422, {"errors": [{"field": "status", "reason": t("Choose active, paused or ended.")}]})
    problem = owner_promos.refusal(rt, user_id, channel)
    if problem:
        return _json(403, {"error": problem})
    done = owner_promos.set_status(
        rt, channel.token, normal_promo_code(name), PromoStatus(wanted), rt.clock.now()
    )
    if done == "gone":
        return _json(404, {"error": "not found"})
    if isinstance(done, str):
        return _json(422, {"errors": [{"field": "status", "reason": t(owner_promos.ENDED_FOR_GOOD)}]})
    log.info("promo code %s %s", done.code, done.status.value, extra={"channel_token": channel.token})
    return _json(200, {"code": _promo_json(rt, done, channel)})


# -- exports --
_EXPORTS_PATH = re.compile(r"^/api/channels/([A-Za-z0-9_-]{1,64})/exports$")


def owner_export(rt: Rt, method: str, user_id: int, token: str, body: dict[str, Any]) -> Reply:
    """The Books form: the book of a period sent to the owner's chat with the bot, as `/export`
    sends it (`telepay.owners.books`); never a link. {sent, rows}, or 422 with each field's reason."""
    channel = load_channel(rt.store, token)
    if channel is None or channel.owner_user_id != user_id:
        return _json(404, {"error": "not found"})
    if method != "POST":
        return _json(405, {"error": "method not allowed"})
    checked = books_rules.check_form(
        body.get("book"), body.get("from"), body.get("to"), rt.clock.now().date()
    )
    if isinstance(checked, list):
        return _json(422, {"errors": checked})
    book, period = checked
    result = books.send(rt, user_id, channel, book, period)
    if isinstance(result, str):
        return _json(409, {"error": result})
    return _json(200, {"sent": result.rows > 0, "rows": result.rows})


# -- support --
_SUPPORT_PATH = re.compile(r"^/api/channels/([A-Za-z0-9_-]{1,64})/support$")


def owner_support(rt: Rt, method: str, user_id: int, token: str) -> Reply:
    """The Support tab: the channel's threads (open ones first) with their messages."""
    channel = load_channel(rt.store, token)
    if channel is None or channel.owner_user_id != user_id:
        return _json(404, {"error": "not found"})
    if method != "GET":
        return _json(405, {"error": "method not allowed"})
    threads = support_reads.threads_of_channel(rt.store, channel.token)
    return _json(200, {"threads": [support_reads.thread_json(thread) for thread in threads]})


# -- announcements --
_ANNOUNCEMENTS_PATH = re.compile(r"^/api/channels/([A-Za-z0-9_-]{1,64})/announcements$")


def owner_announcements(rt: Rt, method: str, user_id: int, token: str, body: dict[str, Any]) -> Reply:
    """The Announcements section: the list (GET), the compose form (POST): `app_announcements`."""
    channel = load_channel(rt.store, token)
    if channel is None or channel.owner_user_id != user_id:
        return _json(404, {"error": "not found"})
    if method == "GET":
        return _json(*app_announcements.listed(rt, channel))
    if method == "POST":
        return _json(*app_announcements.compose(rt, user_id, channel, body))
    return _json(405, {"error": "method not allowed"})


# -- dashboard --
_OVERVIEW_PATH = re.compile(r"^/api/(?:channels/([A-Za-z0-9_-]{1,64})/)?overview(?:/(7|30|90))?$")


def owner_overview(rt: Rt, method: str, user_id: int, token: str | None, days: int) -> Reply:
    """`/api/channels/<token>/overview/<7|30|90>`: one channel's dashboard; `/api/overview/<days>`:
    all the owner's channels together."""
    if method != "GET":
        return _json(405, {"error": "method not allowed"})
    if token is None:
        owned = admins.owned(rt.store, user_id)
        if not owned:
            return _json(404, {"error": "not found"})
        return _json(200, overview(rt, owned, days))
    channel = load_channel(rt.store, token)
    if channel is None or channel.owner_user_id != user_id:
        return _json(404, {"error": "not found"})
    return _json(200, overview(rt, [channel], days))
