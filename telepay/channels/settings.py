"""Channel settings: one set of rules for what an owner may set, shared by the bot's `/newchannel`
and `/edit` steps and the operator CLI.

Each field has a parser taking what a person typed (or a JSON value) and returning either the
value to store or an `Invalid` with a short, friendly reason that says what to send instead:

    price = parse_price("4,99")
    if isinstance(price, Invalid):
        reply(price.reason)          # "Use a dot for cents, e.g. 4.99."

`validate_channel(data)` checks a whole channel (a dict of raw values, as the CLI reads it from a
file or flags) and returns the `ChannelDoc` or every problem as a `FieldError` naming the field's
path (`tiers[1].price`, `payout_address`).

A tier's price in Telegram Stars is the owner's own or derived from its USD price
(`parse_star_price`: empty or `auto` is derived); a derived price beyond Telegram's limit is no
refusal, the tier is sold in crypto only, and `star_note` says so to the owner.

Payouts go to the networks of `telepay.channels.wallets` only (its `NETWORKS`, with the coins paid
out on each and the format of its addresses).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError

from shared_schemas.documents import ChannelDoc, PayoutStrategy, Tier
from shared_schemas.money import CENT
from telepay.channels.star_prices import STARS_MAX, STARS_MIN, stars_for
from telepay.channels.wallets import PAYOUT_CURRENCIES, network, networks_for
from telepay.core.i18n import LANGUAGES, N_, SOURCE, STARS, money, number, t

T = TypeVar("T")

TITLE_MAX = 128
DESCRIPTION_MAX = 1024
LABEL_MAX = 40
DONATION_MESSAGE_MAX = 500
TIERS_MIN, TIERS_MAX = 1, 3
DAYS_MIN, DAYS_MAX = 1, 3650
PRICE_MAX = Decimal("99999.99")
# The donation keypad takes at most four digits before the point (keypad_logic.MAX_INTEGER_DIGITS).
DONATION_CEILING = Decimal("9999.99")
GRACE_MAX_MINUTES = 7 * 24 * 60
CURRENCY = "USD"


@dataclass(frozen=True)
class Invalid:
    """Why a value was refused, in words for the person who typed it."""

    reason: str


@dataclass(frozen=True)
class FieldError:
    field: str  # a path: `title`, `tiers[1].price`, `payout_address`
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


# -- text -----------------------------------------------------------------------------------------
def parse_title(value: object) -> str | Invalid:
    text = " ".join(_text(value).split())
    if not text:
        return Invalid(t("The title can't be empty. Send the name buyers will see, e.g. Night Owls Club."))
    if len(text) > TITLE_MAX:
        return Invalid(
            t(
                "That's {length} characters; the title can have at most {most}.",
                length=len(text),
                most=TITLE_MAX,
            )
        )
    return text


def parse_description(value: object) -> str | Invalid:
    text = _text(value)
    if len(text) > DESCRIPTION_MAX:
        return Invalid(
            t(
                "That's {length} characters; the description can have at most {most}.",
                length=len(text),
                most=DESCRIPTION_MAX,
            )
        )
    return text


def parse_label(value: object) -> str | Invalid | None:
    """A tier's optional name; empty means none."""
    text = " ".join(_text(value).split())
    if len(text) > LABEL_MAX:
        return Invalid(
            t(
                "That's {length} characters; a label can have at most {most}, e.g. Monthly.",
                length=len(text),
                most=LABEL_MAX,
            )
        )
    return text or None


def parse_donation_message(value: object) -> str | Invalid | None:
    """The optional text of the donation post in the closed channel; empty means the default."""
    text = _text(value)
    if len(text) > DONATION_MESSAGE_MAX:
        return Invalid(
            t(
                "That's {length} characters; the donation message can have at most {most}.",
                length=len(text),
                most=DONATION_MESSAGE_MAX,
            )
        )
    return text or None


def parse_language(value: object) -> str | Invalid:
    """The language of the channel's posts: one TelePay speaks (a catalog name, e.g. `pt_BR`)."""
    code = _text(value) or SOURCE
    if code not in LANGUAGES:
        return Invalid(
            t("Choose one of the languages TelePay speaks: {languages}.", languages=", ".join(LANGUAGES))
        )
    return code


# -- numbers --------------------------------------------------------------------------------------
# What an amount's refusals say, per amount (one whole sentence each, for the translators):
# not a number, not more than zero, more than two decimals, over its maximum.
AMOUNT_REFUSALS: dict[str, tuple[str, str, str, str]] = {
    "amount": (
        N_("Send the amount in USD as a number, e.g. 4.99."),
        N_("The amount must be more than zero."),
        N_("The amount can have at most two decimals (cents), e.g. 4.99."),
        N_("The amount can be at most {maximum}."),
    ),
    "price": (
        N_("Send the price in USD as a number, e.g. 4.99."),
        N_("The price must be more than zero."),
        N_("The price can have at most two decimals (cents), e.g. 4.99."),
        N_("The price can be at most {maximum}."),
    ),
    "minimum donation": (
        N_("Send the minimum donation in USD as a number, e.g. 4.99."),
        N_("The minimum donation must be more than zero."),
        N_("The minimum donation can have at most two decimals (cents), e.g. 4.99."),
        N_("The minimum donation can be at most {maximum}."),
    ),
    "maximum donation": (
        N_("Send the maximum donation in USD as a number, e.g. 4.99."),
        N_("The maximum donation must be more than zero."),
        N_("The maximum donation can have at most two decimals (cents), e.g. 4.99."),
        N_("The maximum donation can be at most {maximum}."),
    ),
    "payout threshold": (
        N_("Send the payout threshold in USD as a number, e.g. 4.99."),
        N_("The payout threshold must be more than zero."),
        N_("The payout threshold can have at most two decimals (cents), e.g. 4.99."),
        N_("The payout threshold can be at most {maximum}."),
    ),
}


def parse_amount(value: object, what: str = "amount", maximum: Decimal = PRICE_MAX) -> Decimal | Invalid:
    """An amount in USD: more than zero, at most two decimals (`5`, `4.99`, `$4.99`, `4.99 USD`)."""
    not_a_number, not_positive, cents, too_much = AMOUNT_REFUSALS[what]
    if isinstance(value, bool):
        return Invalid(t(not_a_number))
    if isinstance(value, float):
        value = repr(value)
    text = _text(value).replace(" ", "")
    text = text.removeprefix("$").removesuffix("$")
    if text.upper().endswith(CURRENCY):
        text = text[: -len(CURRENCY)]
    if re.fullmatch(r"\d{1,9},\d{1,2}", text):  # bounded: the hint shows it back
        return Invalid(t("Use a dot for cents, e.g. {example}.", example=text.replace(",", ".")))
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        return Invalid(t(not_a_number))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return Invalid(t(not_a_number))
    if amount <= 0:
        return Invalid(t(not_positive))
    if amount != amount.quantize(CENT):
        return Invalid(t(cents))
    if amount > maximum:
        return Invalid(t(too_much, maximum=money(maximum, CURRENCY)))
    return amount.quantize(CENT)


def parse_price(value: object) -> Decimal | Invalid:
    return parse_amount(value, "price")


# A whole number's refusals, per number: not a whole number, out of range.
NUMBER_REFUSALS: dict[str, tuple[str, str]] = {
    "number of days": (
        N_("Send the number of days as a whole number, e.g. {example}."),
        N_("The number of days must be from {low} to {high}."),
    ),
    "grace period in minutes": (
        N_("Send the grace period in minutes as a whole number, e.g. {example}."),
        N_("The grace period in minutes must be from {low} to {high}."),
    ),
    "number of tiers": (
        N_("Send the number of tiers as a whole number, e.g. {example}."),
        N_("The number of tiers must be from {low} to {high}."),
    ),
    # -- free trials --
    "free trial in days": (
        N_("Send the free trial's length as a whole number of days, e.g. {example}, or off for no trial."),
        N_("A free trial lasts from {low} to {high} days (or send off for no trial)."),
    ),
}


def _whole_number(value: object, what: str, low: int, high: int, example: str) -> int | Invalid:
    not_whole, out_of_range = NUMBER_REFUSALS[what]
    if isinstance(value, bool):
        return Invalid(t(not_whole, example=example))
    text = _text(value)
    if not re.fullmatch(r"-?[0-9]{1,9}", text):  # ASCII digits, bounded: int() of any length is not cheap
        return Invalid(t(not_whole, example=example))
    number = int(text)
    if not low <= number <= high:
        return Invalid(t(out_of_range, low=low, high=high))
    return number


def parse_days(value: object) -> int | Invalid:
    return _whole_number(value, "number of days", DAYS_MIN, DAYS_MAX, "30")


def parse_grace_minutes(value: object) -> int | Invalid:
    """Extra minutes a subscriber keeps access after expiry (0 to 7 days)."""
    return _whole_number(value, "grace period in minutes", 0, GRACE_MAX_MINUTES, "60")


def parse_tier_count(value: object) -> int | Invalid:
    return _whole_number(value, "number of tiers", TIERS_MIN, TIERS_MAX, "2")


# -- free trials --
TRIAL_DAYS_MIN, TRIAL_DAYS_MAX = 1, 30
TRIAL_OFF = "off"  # what an owner types (or a file holds, or the bot's "No trial" button sends) for none


def parse_trial_days(value: object) -> int | Invalid | None:
    """A channel's free trial: None (absent, empty or `off`) for none, else 1 to 30 whole days."""
    if value is None or _text(value).lower() in ("", TRIAL_OFF):
        return None
    return _whole_number(value, "free trial in days", TRIAL_DAYS_MIN, TRIAL_DAYS_MAX, "7")


def parse_donation_limits(minimum: object, maximum: object) -> tuple[Decimal, Decimal] | list[FieldError]:
    low = parse_amount(minimum, "minimum donation", DONATION_CEILING)
    high = parse_amount(maximum, "maximum donation", DONATION_CEILING)
    errors = [
        FieldError(name, result.reason)
        for name, result in (("donation_min", low), ("donation_max", high))
        if isinstance(result, Invalid)
    ]
    if errors:
        return errors
    assert isinstance(low, Decimal) and isinstance(high, Decimal)
    if low > high:
        return [FieldError("donation_max", t("The maximum donation can't be less than the minimum."))]
    return low, high


def check_donation_max(minimum: Decimal, value: object) -> Decimal | Invalid:
    """The maximum donation, once the minimum is known (the bot asks them one after the other)."""
    limits = parse_donation_limits(minimum, value)
    return Invalid(limits[0].reason) if isinstance(limits, list) else limits[1]


# -- Telegram Stars -------------------------------------------------------------------------------
# What an owner types (or a file holds) for "derive it from the USD price"; the bot's button sends it.
STARS_AUTO = "auto"
STARS_NOT_WHOLE = N_("Send the price in Stars as a whole number, e.g. 250, or auto to convert the USD price.")


def parse_star_price(value: object) -> int | Invalid | None:
    """A tier's price in Stars: empty, absent or `auto` → None (its USD price converted at the
    configured rate); else a whole number from 1 to 10,000 (Telegram's limit for one payment in
    Stars, Bot API `sendInvoice`), written `250` or `⭐250`."""
    if isinstance(value, bool):
        return Invalid(t(STARS_NOT_WHOLE))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _text(value).replace(" ", "").removeprefix("⭐")
    if text.lower() in ("", STARS_AUTO):
        return None
    if not re.fullmatch(r"-?[0-9]{1,9}", text):  # ASCII digits, bounded, as a number of days
        return Invalid(t(STARS_NOT_WHOLE))
    stars = int(text)
    if not STARS_MIN <= stars <= STARS_MAX:
        return Invalid(
            t(
                "Telegram takes from {low} to {high} Stars for one payment; send a number in that range.",
                low=number(STARS_MIN),
                high=number(STARS_MAX),
            )
        )
    return stars


def star_note(price: Decimal, stars: int | None, usd_price: Decimal) -> str | None:
    """What the owner should know about a tier's Star price: a derived one beyond Telegram's limit
    means the tier is sold in crypto only (not refused: the owner may set a Star price of their own)."""
    if stars is not None or stars_for(price, usd_price) <= STARS_MAX:
        return None
    return t(
        "Heads-up: {price} is more than {most} at {rate} a Star, Telegram's limit, so this tier is sold "
        "in crypto only. Set a price in Stars of your own to sell it in Stars too.",
        price=money(price, CURRENCY),
        most=money(Decimal(STARS_MAX), STARS),
        rate=money(usd_price, CURRENCY),
    )


def star_notes(before: ChannelDoc | None, after: ChannelDoc, usd_price: Decimal) -> list[tuple[str, str]]:
    """The notes on the tiers of `after` whose price (USD and Stars) `before` did not have, each
    named by its field's path (`tiers[1].stars`)."""
    old = {(tier.price, tier.stars) for tier in before.tiers} if before is not None else set()
    notes = []
    for index, tier in enumerate(after.tiers):
        note = None if (tier.price, tier.stars) in old else star_note(tier.price, tier.stars, usd_price)
        if note:
            notes.append((f"tiers[{index}].stars", note))
    return notes


# -- tiers ----------------------------------------------------------------------------------------
def tier_id(index: int) -> str:
    """Tier ids are positional (`t1`..`t3`): callback data and deep links carry them."""
    return f"t{index + 1}"


def parse_tier(
    price: object, days: object, label: object = None, index: int = 0, stars: object = None
) -> Tier | list[FieldError]:
    path = f"tiers[{index}]"
    results: dict[str, Any] = {
        "price": parse_price(price),
        "days": parse_days(days),
        "label": parse_label(label),
        "stars": parse_star_price(stars),
    }
    errors = [FieldError(f"{path}.{k}", v.reason) for k, v in results.items() if isinstance(v, Invalid)]
    if errors:
        return errors
    return Tier(tier_id=tier_id(index), **results)


def parse_tiers(items: object) -> list[Tier] | list[FieldError]:
    """A list of 1 to 3 tiers, each a mapping with `price`, `days`, an optional `label` and an
    optional `stars` (the price in Telegram Stars; absent or `auto`: derived)."""
    if not isinstance(items, list | tuple) or not TIERS_MIN <= len(items) <= TIERS_MAX:
        return [FieldError("tiers", t("Give from {low} to {high} tiers.", low=TIERS_MIN, high=TIERS_MAX))]
    tiers: list[Tier] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors.append(FieldError(f"tiers[{index}]", t("A tier needs a price and a number of days.")))
            continue
        tier = parse_tier(item.get("price"), item.get("days"), item.get("label"), index, item.get("stars"))
        if isinstance(tier, list):
            errors += tier
        else:
            tiers.append(tier)
    return errors or tiers


# -- payouts --------------------------------------------------------------------------------------
def parse_payout_currency(value: object) -> str | Invalid:
    code = _text(value).lower()
    if code not in PAYOUT_CURRENCIES:
        offered = ", ".join(c.upper() for c in PAYOUT_CURRENCIES)
        return Invalid(t("I can pay out in {offered}. Choose one of those.", offered=offered))
    return code


def parse_payout_network(currency: str, value: object) -> str | Invalid:
    code = _text(value).lower()
    choices = networks_for(currency)
    if code not in {n.code for n in choices}:
        if not choices:
            return Invalid(t("I pay out in none of those. Choose the coin again."))
        offered = ", ".join(n.name for n in choices)
        return Invalid(
            t("{coin} is paid out on {offered}. Choose one of those.", coin=currency.upper(), offered=offered)
        )
    return code


def parse_wallet_address(network_code: str, value: object) -> str | Invalid:
    text = _text(value)
    net = network(network_code)
    if net is None:
        return Invalid(t("Choose the payout network first."))
    if not text:
        return Invalid(t("Send your {network} wallet address.", network=net.name))
    if not net.is_address(text):
        return Invalid(
            t(
                "That doesn't look like a {network} address ({format}). Please copy it again from your wallet.",
                network=net.name,
                format=t(net.address_format),
            )
        )
    return text


def parse_payout_strategy(value: object) -> PayoutStrategy | Invalid:
    text = _text(value).lower()
    try:
        return PayoutStrategy(text)
    except ValueError:
        return Invalid(
            t("Choose instant (each payment is paid out) or threshold (paid out once it adds up).")
        )


def parse_payout_threshold(value: object) -> Decimal | Invalid:
    return parse_amount(value, "payout threshold")


# -- a whole channel ------------------------------------------------------------------------------
# What an owner sets (`/newchannel`, `/edit`); the rest of a channel is ids and state.
SETTING_FIELDS = (
    "open_channel_id",
    "closed_channel_id",
    "title",
    "description",
    "language",
    "tiers",
    "donation_min",
    "donation_max",
    "donation_message",
    "grace_period_minutes",
    "payout_currency",
    "payout_network",
    "payout_wallet",
    "payout_strategy",
    "payout_threshold",
    # -- free trials --
    "trial_days",
)
FIELD_PARSERS: dict[str, Callable[[object], Any]] = {
    "title": parse_title,
    "description": parse_description,
    "language": parse_language,
    "donation_message": parse_donation_message,
    "grace_period_minutes": parse_grace_minutes,
    "payout_strategy": parse_payout_strategy,
    # -- free trials --
    "trial_days": parse_trial_days,
}


def validate_channel(data: Mapping[str, Any]) -> ChannelDoc | list[FieldError]:
    """Every owner-set field of a channel checked by the rules above; the ids and state (`token`,
    `owner_user_id`, `open_channel_id`, `closed_channel_id`, `status`, ...) are taken as given and
    checked by `ChannelDoc`. Missing optional fields get the document's defaults."""
    errors: list[FieldError] = []
    values: dict[str, Any] = dict(data)

    def take(name: str, result: T | Invalid) -> None:
        if isinstance(result, Invalid):
            errors.append(FieldError(name, result.reason))
        else:
            values[name] = result

    for name, parse in FIELD_PARSERS.items():
        if name in data or name == "title":
            take(name, parse(data.get(name)))
    tiers = parse_tiers(data.get("tiers"))
    if tiers and isinstance(tiers[0], FieldError):
        errors += [e for e in tiers if isinstance(e, FieldError)]
    else:
        values["tiers"] = tiers
    if "donation_min" in data or "donation_max" in data:
        defaults = ChannelDoc.model_fields
        limits = parse_donation_limits(
            data.get("donation_min", defaults["donation_min"].default),
            data.get("donation_max", defaults["donation_max"].default),
        )
        if isinstance(limits, list):
            errors += limits
        else:
            values["donation_min"], values["donation_max"] = limits
    errors += _payout_errors(data, values)
    if errors:
        return errors
    try:
        return ChannelDoc.model_validate(values)
    except ValidationError as error:
        return [FieldError(".".join(str(p) for p in e["loc"]) or "channel", e["msg"]) for e in error.errors()]


def _payout_errors(data: Mapping[str, Any], values: dict[str, Any]) -> list[FieldError]:
    errors = _payout_destination_errors(data, values)
    if values.get("payout_strategy") is PayoutStrategy.THRESHOLD:
        threshold = parse_payout_threshold(data.get("payout_threshold"))
        if isinstance(threshold, Invalid):
            errors.append(FieldError("payout_threshold", threshold.reason))
        else:
            values["payout_threshold"] = threshold
    return errors


def _payout_destination_errors(data: Mapping[str, Any], values: dict[str, Any]) -> list[FieldError]:
    """Currency, network and address are checked in turn: each depends on the one before."""
    given = [data.get(k) for k in ("payout_currency", "payout_network", "payout_wallet")]
    if all(v in (None, "") for v in given):
        return []
    currency = parse_payout_currency(given[0])
    if isinstance(currency, Invalid):
        return [FieldError("payout_currency", currency.reason)]
    values["payout_currency"] = currency
    net = parse_payout_network(currency, given[1])
    if isinstance(net, Invalid):
        return [FieldError("payout_network", net.reason)]
    values["payout_network"] = net
    address = parse_wallet_address(net, given[2])
    if isinstance(address, Invalid):
        return [FieldError("payout_wallet", address.reason)]
    values["payout_wallet"] = address
    return []
