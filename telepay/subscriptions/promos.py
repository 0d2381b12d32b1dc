"""A buyer's promo code: the code applied to a channel's offer (`promo_applied/<token>-<user>`, read
by the tier buttons, whose callback data cannot carry it), the discounted prices the offer shows,
and a free grant (a code that takes a tier to zero) given in one transaction with its use count.

Every check is made again where it matters: the tier button (`for_purchase`), create_invoice (the
price is computed there, from the code and the channel), and the settling transaction counts the
use (`telepay.payments.promo_uses`). The rules are `telepay.channels.promo_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared_schemas.documents import (
    PROMO_APPLIED_LIFETIME,
    ChannelDoc,
    PromoAppliedDoc,
    PromoCodeDoc,
    PromoUseDoc,
    SubscriptionDoc,
    Tier,
)
from shared_schemas.ids import (
    is_valid_promo_code,
    normal_promo_code,
    promo_applied_id,
    promo_code_id,
    promo_enter_callback,
    promo_use_id,
    subscription_id,
)
from shared_schemas.queries import PROMO_CODES_BY_CODE
from shared_schemas.telegram import Button
from telepay.channels import promo_rules
from telepay.channels.day_counts import count_joined, set_subscription
from telepay.channels.lookup import load_subscription
from telepay.channels.promo_rules import Refused
from telepay.channels.star_prices import is_star_subscription
from telepay.core.i18n import N_, in_stars, money, t
from telepay.core.store import Store, Tx
from telepay.runtime import Runtime
from telepay.subscriptions import free_access, texts

ENTER_BUTTON = N_("🏷 I have a code")
ASK_CODE = N_("Send me your code for {title}.")


@dataclass(frozen=True)
class Check:
    """A code looked up for a buyer: the code (None when there is none by that name) and why it
    does not apply, if it does not."""

    code: PromoCodeDoc | None
    refused: Refused | None
    name: str  # as the buyer typed it, upper-cased


def load_code(store: Store, token: str, code: str) -> PromoCodeDoc | None:
    if not is_valid_promo_code(code):
        return None
    return store.promo_codes.get(promo_code_id(token, code))


def buyer_uses(store: Store, token: str, code: str, user_id: int) -> int:
    use = store.promo_uses.get(promo_use_id(token, code, user_id))
    return use.uses if use else 0


def is_member(store: Store, token: str, user_id: int, now: datetime) -> bool:
    return free_access.is_active(load_subscription(store, token, user_id), now)


def check(
    rt: Runtime[Any], channel: ChannelDoc, typed: str, user_id: int, tier_id: str | None = None
) -> Check:
    """The code `typed` for this buyer of this channel (and this tier, when given)."""
    name = normal_promo_code(typed)[:40]
    code = load_code(rt.store, channel.token, name)
    now = rt.clock.now()
    if code is None:
        elsewhere = is_valid_promo_code(name) and rt.store.promo_codes.first(PROMO_CODES_BY_CODE, code=name)
        return Check(None, Refused.WRONG_CHANNEL if elsewhere else Refused.UNKNOWN, name)
    uses = buyer_uses(rt.store, channel.token, code.code, user_id)
    member = code.new_subscribers_only and is_member(rt.store, channel.token, user_id, now)
    return Check(code, promo_rules.refusal(code, now, tier_id, uses, member), code.code)


def remember(rt: Runtime[Any], channel: ChannelDoc, code: PromoCodeDoc, user_id: int) -> None:
    """The code stays applied to this buyer's offer of this channel for a day (or until replaced)."""
    now = rt.clock.now()
    rt.store.promo_applied.set(
        promo_applied_id(channel.token, user_id),
        PromoAppliedDoc(
            channel_token=channel.token,
            user_id=user_id,
            code=code.code,
            applied_at=now,
            expire_at=now + PROMO_APPLIED_LIFETIME,
        ),
    )


def forget(rt: Runtime[Any], token: str, user_id: int) -> None:
    rt.store.promo_applied.delete(promo_applied_id(token, user_id))


def applied(rt: Runtime[Any], channel: ChannelDoc, user_id: int) -> PromoCodeDoc | None:
    """The code this buyer applied to this channel's offer, while it still applies to them."""
    kept = rt.store.promo_applied.get(promo_applied_id(channel.token, user_id))
    if kept is None or kept.expire_at <= rt.clock.now():
        return None
    found = check(rt, channel, kept.code, user_id)
    return found.code if found.refused is None else None


# -- the offer with a code ----------------------------------------------------------------------------
def priced(tier: Tier, code: PromoCodeDoc | None) -> Tier:
    """The tier as the buyer pays for it with the code (its price discounted, when the code is
    for it); the Star price too."""
    if code is None or (code.tier_ids and tier.tier_id not in code.tier_ids):
        return tier
    return tier.model_copy(update={"price": promo_rules.discounted(tier.price, code)})


def stars_with(code: PromoCodeDoc | None, tier: Tier, stars: int | None) -> int | None:
    if stars is None or code is None or (code.tier_ids and tier.tier_id not in code.tier_ids):
        return stars
    return promo_rules.discounted_stars(stars, tier.price, code)


def tier_button(tier: Tier, currency: str, stars: int | None, code: PromoCodeDoc | None) -> str:
    """A tier's button: with a code for it, `Monthly · $4.00 (was $5.00) · 1 month`."""
    cut = priced(tier, code)
    if cut is tier:
        return texts.tier_button(tier, currency, stars)
    was = money(tier.price, currency)
    length = texts.duration(tier.days)
    if cut.price == 0:
        price = t("free")
    elif stars is not None:
        price = t(
            "{price} or {stars}",
            price=money(cut.price, currency),
            stars=in_stars(stars_with(code, tier, stars) or 0),
        )
    else:
        price = money(cut.price, currency)
    name = tier.label or length
    return t("{label} · {price} (was {was}) · {duration}", label=name, price=price, was=was, duration=length)


def offer_text(channel: ChannelDoc, code: PromoCodeDoc, trial_days: int | None = None) -> str:
    head = t(
        "🏷 Code {code} applied: {discount} ({tiers}).",
        code=code.code,
        discount=promo_rules.discount_text(code),
        tiers=promo_rules.tiers_text(code, channel),
    )
    return f"{head}\n\n{texts.offer(channel, trial_days)}"


def enter_row(channel: ChannelDoc) -> list[Button]:
    return [Button(t(ENTER_BUTTON), callback_data=promo_enter_callback(channel.token))]


# -- buying with a code --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Purchase:
    """What the applied code does to a tier a buyer chose."""

    code: PromoCodeDoc | None = None  # None: no code for this tier (full price)
    refused: Refused | None = None  # the code stopped applying since the offer (say so)
    name: str = ""

    def free(self, tier: Tier) -> bool:
        return self.code is not None and promo_rules.is_free(tier, self.code)

    def tier(self, tier: Tier) -> Tier:
        return priced(tier, self.code)

    def star_subscription(self, tier: Tier) -> bool:
        """A discounted 30-day tier is sold in Stars as a one-time payment: a Star subscription would
        renew at the discounted price for ever."""
        return is_star_subscription(tier) and self.code is None


def for_purchase(rt: Runtime[Any], channel: ChannelDoc, tier: Tier, user_id: int) -> Purchase:
    kept = rt.store.promo_applied.get(promo_applied_id(channel.token, user_id))
    if kept is None or kept.expire_at <= rt.clock.now():
        return Purchase()
    found = check(rt, channel, kept.code, user_id, tier.tier_id)
    if found.refused is Refused.NOT_FOR_TIER:
        return Purchase()
    if found.refused is not None:
        return Purchase(refused=found.refused, name=found.name)
    return Purchase(code=found.code, name=found.name)


# -- a free grant -----------------------------------------------------------------------------------------
FREE_ONCE = N_("You have used the code {code} already.")


def grant_free(
    rt: Runtime[Any], channel: ChannelDoc, tier: Tier, code: PromoCodeDoc, user_id: int, chat_id: int
) -> str:
    """The tier's days for free, in one transaction with the code's use: checked again inside it (the
    last use goes to one buyer only) and given once per buyer (a double tap grants once)."""
    store, now = rt.store, rt.clock.now()
    sub_id = subscription_id(channel.token, user_id)
    use_id = promo_use_id(channel.token, code.code, user_id)
    code_id = promo_code_id(channel.token, code.code)

    def work(tx: Tx) -> tuple[Refused | str | None, SubscriptionDoc | None]:
        current_code = tx.get(store.promo_codes, code_id)
        use = tx.get(store.promo_uses, use_id)
        current = tx.get(store.subscriptions, sub_id)
        if use is not None and any(ref.startswith("free-") for ref in use.order_ids):
            return "again", current
        member = free_access.is_active(current, now)
        why = promo_rules.refusal(current_code, now, tier.tier_id, use.uses if use else 0, member)
        if why is not None or current_code is None:
            return why, None
        ref = f"free-{code.code}"
        sub = free_access.with_days_added(channel, current, user_id, tier.days, now, ref)
        set_subscription(tx, store, sub_id, current, sub)
        count_joined(tx, store, current, sub, now)
        tx.update(store.promo_codes, code_id, {"uses": current_code.uses + 1, "updated_at": now})
        counted = PromoUseDoc(
            channel_token=channel.token,
            code=code.code,
            user_id=user_id,
            uses=(use.uses if use else 0) + 1,
            order_ids=[*(use.order_ids if use else []), ref],
            updated_at=now,
        )
        tx.set(store.promo_uses, use_id, counted)
        return None, sub

    why, sub = store.transaction(work)
    if why == "again":
        rt.telegram.send_message(chat_id, t(FREE_ONCE, code=code.code))
        return "free code used before"
    if isinstance(why, Refused):
        rt.telegram.send_message(chat_id, promo_rules.refusal_text(why, code.code, channel.title))
        return f"promo refused: {why.value}"
    assert sub is not None
    text = t(
        "🎉 Code {code}: {duration} of {title}, free. Access until {until}.",
        code=code.code,
        duration=texts.duration(tier.days),
        title=channel.title,
        until=texts.when(sub.expires_at),
    )
    keyboard = free_access.join_keyboard(channel, sub, texts.join_button(channel.title))
    rt.telegram.send_message(chat_id, text, keyboard=keyboard)
    return "free access granted"
