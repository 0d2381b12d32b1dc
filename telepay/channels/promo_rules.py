"""Promo codes' rules (pure: plain values in, plain values out), shared by the bot's `/promo`, the
owner app, create_invoice and the operator CLI.

- A code is 4 to 32 letters and digits, case-insensitive (stored upper-cased), unique per channel
  (`shared_schemas.ids.is_valid_promo_code`).
- A discount is a percentage (1 to 100: `20%`) or a fixed USD amount (`5`, `$5`, `4.99`). The
  discounted price has two decimals, rounded half up; a fixed amount never takes it below zero.
- In Telegram Stars the price is the Star price times what is left of the USD price, rounded up to
  a whole Star (a discount never rounds a Star price down to less than it costs).
- A price of zero (a 100 % code, or a fixed amount as large as the price) is free access: granted
  without an invoice.
- Whether a code applies (`refusal`): its status, its dates, its tiers, its limits (total and per
  buyer, counting settled orders and free grants) and "new subscribers only" (refused to a buyer
  whose access is active).
- NowPayments' minimum payment: a crypto invoice is never below the least a coin takes
  (`invoice_price`); the owner is told when a code takes a tier below it (`minimum_notes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from shared_schemas.documents import ChannelDoc, PromoCodeDoc, PromoStatus, Tier
from shared_schemas.ids import is_valid_promo_code, normal_promo_code
from shared_schemas.money import CENT
from telepay.channels.settings import CURRENCY, FieldError, Invalid, parse_amount
from telepay.core.i18n import N_, money, t, when

MAX_USES = 1_000_000
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Discount:
    percent_off: int | None = None
    amount_off: Decimal | None = None


# -- what an owner types ----------------------------------------------------------------------------
def parse_code(value: object) -> str | Invalid:
    text = "" if value is None else str(value).strip()
    if not is_valid_promo_code(text):
        return Invalid(t("A code is 4 to 32 letters and digits (A-Z, 0-9), e.g. SUMMER20."))
    return normal_promo_code(text)


def parse_discount(value: object) -> Discount | Invalid:
    """`20%` (a percentage from 1 to 100) or an amount in USD (`5`, `$5`, `4.99`)."""
    text = ("" if value is None else str(value)).strip().replace(" ", "")
    if text.endswith("%"):
        number = text[:-1]
        if not re.fullmatch(r"[0-9]{1,3}", number) or not 1 <= int(number) <= 100:
            return Invalid(t("A percentage is a whole number from 1 to 100, e.g. 20%."))
        return Discount(percent_off=int(number))
    if not re.fullmatch(r"\$?[0-9]{1,9}([.,][0-9]{1,9})?(\$|USD|usd)?", text):
        return Invalid(t("Send the discount as a percentage (e.g. 20%) or an amount in USD (e.g. 5)."))
    amount = parse_amount(text, "amount")
    if isinstance(amount, Invalid):
        return amount
    return Discount(amount_off=amount)


def parse_date(value: object, now: datetime, what: str = "end") -> datetime | Invalid | None:
    """A day as `YYYY-MM-DD` (UTC), or nothing (empty): an end date is the end of that day, a start
    date its beginning. An end date in the past is refused."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    found = DATE_RE.fullmatch(text)
    if found is None:
        return Invalid(t("Send the date as YYYY-MM-DD, e.g. 2027-01-31."))
    try:
        day = datetime(int(found[1]), int(found[2]), int(found[3]), tzinfo=UTC)
    except ValueError:
        return Invalid(t("That date does not exist. Send it as YYYY-MM-DD, e.g. 2027-01-31."))
    if what == "start":
        return day
    ends = day + timedelta(days=1)
    if ends <= now:
        return Invalid(t("That day is over already. Send a later date."))
    return ends


def parse_limit(value: object, what: str = "uses") -> int | Invalid | None:
    """A number of uses (1 to a million), or nothing (empty: no limit)."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= MAX_USES:
        if what == "per buyer":
            return Invalid(t("Send the uses per buyer as a whole number from 1, e.g. 1."))
        return Invalid(t("Send the number of uses as a whole number from 1, e.g. 100."))
    return int(text)


def parse_tier_ids(value: object, channel: ChannelDoc) -> list[str] | Invalid:
    """The channel's tier ids a code is for (empty: all of them)."""
    items = [] if value in (None, "", "all") else value
    if isinstance(items, str):
        items = [part for part in re.split(r"[,\s]+", items) if part]
    if not isinstance(items, list | tuple) or any(channel.tier(str(i)) is None for i in items):
        return Invalid(t("Pick the tiers with the buttons."))
    return sorted({str(i) for i in items})


# -- a whole code (the owner app, the operator CLI, and the end of `/promo`) -----------------------------
def validate_code(
    data: Mapping[str, Any], channel: ChannelDoc, created_by: int, now: datetime
) -> PromoCodeDoc | list[FieldError]:
    """A new code from raw values (`code`, `discount` or `percent_off`/`amount_off`, `tier_ids`,
    `starts_at`, `ends_at`, `max_uses`, `max_uses_per_buyer`, `new_subscribers_only`), or every
    problem, each naming its field."""
    errors: list[FieldError] = []

    def take(name: str, parsed: Any) -> Any:
        if isinstance(parsed, Invalid):
            errors.append(FieldError(name, parsed.reason))
            return None
        return parsed

    code = take("code", parse_code(data.get("code")))
    if data.get("discount") is not None:
        discount = take("discount", parse_discount(data.get("discount")))
    elif data.get("percent_off") not in (None, ""):
        discount = take("discount", parse_discount(f"{data.get('percent_off')}%"))
    else:
        discount = take("discount", parse_discount(data.get("amount_off")))
    tiers = take("tier_ids", parse_tier_ids(data.get("tier_ids"), channel))
    starts = take("starts_at", _date_of(data.get("starts_at"), now, "start"))
    ends = take("ends_at", _date_of(data.get("ends_at"), now, "end"))
    max_uses = take("max_uses", parse_limit(data.get("max_uses")))
    per_buyer = take("max_uses_per_buyer", parse_limit(data.get("max_uses_per_buyer"), "per buyer"))
    new_only = data.get("new_subscribers_only", False)
    if not isinstance(new_only, bool):
        errors.append(FieldError("new_subscribers_only", t("Answer yes or no.")))
    if starts is not None and ends is not None and ends <= starts:
        errors.append(FieldError("ends_at", t("The code must end after it starts.")))
    if errors:
        return errors
    assert code is not None and discount is not None
    return PromoCodeDoc(
        code=code,
        channel_token=channel.token,
        percent_off=discount.percent_off,
        amount_off=discount.amount_off,
        tier_ids=tiers or [],
        starts_at=starts,
        ends_at=ends,
        max_uses=max_uses,
        max_uses_per_buyer=per_buyer,
        new_subscribers_only=bool(new_only),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )


def _date_of(value: object, now: datetime, what: str) -> datetime | Invalid | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = "" if value is None else str(value).strip()
    return parse_date(text[:10] if "T" in text else text, now, what)


# -- prices ---------------------------------------------------------------------------------------------
def discounted(price: Decimal, code: PromoCodeDoc) -> Decimal:
    """The price with the code: two decimals, half up; never below zero."""
    if code.percent_off is not None:
        cut = price * Decimal(100 - code.percent_off) / 100
    else:
        cut = price - (code.amount_off or Decimal(0))
    return max(Decimal(0), cut).quantize(CENT, rounding=ROUND_HALF_UP)


def discounted_stars(stars: int, price: Decimal, code: PromoCodeDoc) -> int:
    """The Star price with the code: the part of the USD price left, rounded up to a whole Star."""
    if code.percent_off is not None:
        left = Decimal(stars) * Decimal(100 - code.percent_off) / 100
    else:
        left = Decimal(stars) * discounted(price, code) / price
    return int(left.to_integral_value(rounding=ROUND_CEILING))


def is_free(tier: Tier, code: PromoCodeDoc) -> bool:
    return discounted(tier.price, code) == 0


def least_minimum(minimums: Mapping[str, Decimal] | None) -> Decimal | None:
    """The least NowPayments takes in any coin (rounded up to the cent); None when unknown."""
    if not minimums:
        return None
    return min(value.quantize(CENT, rounding=ROUND_CEILING) for value in minimums.values())


def invoice_price(full: Decimal, cut: Decimal, minimums: Mapping[str, Decimal] | None) -> Decimal:
    """What a crypto invoice with the code charges: the discounted price, raised to the least any
    coin takes (never above the full price)."""
    least = least_minimum(minimums)
    if least is None or cut >= least:
        return cut
    return min(full, least)


def minimum_notes(
    channel: ChannelDoc, code: PromoCodeDoc, minimums: Mapping[str, Decimal] | None
) -> list[str]:
    """What the owner should know when the code takes a tier below NowPayments' minimum."""
    least = least_minimum(minimums)
    if least is None:
        return []
    notes = []
    for tier in channel.tiers:
        if code.tier_ids and tier.tier_id not in code.tier_ids:
            continue
        cut = discounted(tier.price, code)
        if 0 < cut < least:
            notes.append(
                t(
                    "Heads-up: with this code {tier} would cost {price}, below the least NowPayments takes "
                    "({least}), so crypto invoices for it are made at {charged}.",
                    tier=tier.label or tier.tier_id,
                    price=money(cut, CURRENCY),
                    least=money(least, CURRENCY),
                    charged=money(min(tier.price, least), CURRENCY),
                )
            )
    return notes


def discount_text(code: PromoCodeDoc) -> str:
    if code.percent_off is not None:
        return t("{percent}% off", percent=code.percent_off)
    return t("{amount} off", amount=money(code.amount_off or Decimal(0), CURRENCY))


# -- whether a code applies -------------------------------------------------------------------------------
class Refused(StrEnum):
    UNKNOWN = "unknown"
    WRONG_CHANNEL = "wrong channel"
    NOT_STARTED = "not started"
    EXPIRED = "expired"
    PAUSED = "paused"
    ENDED = "ended"
    USED_UP = "used up"
    BUYER_USED_UP = "used up by this buyer"
    NOT_FOR_TIER = "not for this tier"
    NEW_ONLY = "new subscribers only"


def refusal(
    code: PromoCodeDoc | None,
    now: datetime,
    tier_id: str | None = None,
    buyer_uses: int = 0,
    member: bool = False,
) -> Refused | None:
    """Why the code does not apply (to this tier, when given), or None when it does."""
    if code is None:
        return Refused.UNKNOWN
    if code.status is PromoStatus.ENDED:
        return Refused.ENDED
    if code.status is PromoStatus.PAUSED:
        return Refused.PAUSED
    if code.starts_at is not None and now < code.starts_at:
        return Refused.NOT_STARTED
    if code.ends_at is not None and now >= code.ends_at:
        return Refused.EXPIRED
    if code.max_uses is not None and code.uses >= code.max_uses:
        return Refused.USED_UP
    if code.max_uses_per_buyer is not None and buyer_uses >= code.max_uses_per_buyer:
        return Refused.BUYER_USED_UP
    if code.new_subscribers_only and member:
        return Refused.NEW_ONLY
    if tier_id is not None and code.tier_ids and tier_id not in code.tier_ids:
        return Refused.NOT_FOR_TIER
    return None


REFUSALS: dict[Refused, str] = {
    Refused.UNKNOWN: N_("Sorry, {code} isn't a code of {title}. Please check it with the channel owner."),
    Refused.WRONG_CHANNEL: N_("{code} is a code of another channel, not of {title}."),
    Refused.NOT_STARTED: N_("The code {code} isn't valid yet. Please try again later."),
    Refused.EXPIRED: N_("Sorry, the code {code} has expired."),
    Refused.PAUSED: N_("The code {code} is paused by the channel owner right now."),
    Refused.ENDED: N_("Sorry, the code {code} has ended."),
    Refused.USED_UP: N_("Sorry, the code {code} has been used up."),
    Refused.BUYER_USED_UP: N_("You have used the code {code} as many times as it allows."),
    Refused.NOT_FOR_TIER: N_("The code {code} isn't valid for this option."),
    Refused.NEW_ONLY: N_("The code {code} is for new subscribers only, and you have access already."),
}


def refusal_text(why: Refused, code: str, title: str) -> str:
    return t(REFUSALS[why], code=code, title=title)


def until_text(code: PromoCodeDoc) -> str | None:
    return t("valid until {until}", until=when(code.ends_at)) if code.ends_at else None


def tiers_text(code: PromoCodeDoc, channel: ChannelDoc) -> str:
    if not code.tier_ids:
        return t("all tiers")
    names: Sequence[str] = [
        (tier.label or tier.tier_id) for tier in channel.tiers if tier.tier_id in code.tier_ids
    ]
    return ", ".join(names) or t("no current tier")
