"""The operator's view of promo codes: `telepay promos list TOKEN` (each code of a channel with its
discount, tiers, dates, limits, uses, revenue and state, as the owner's `/promos` counts them) and
the codes a user used, for `telepay users show` (their `promo_uses`)."""

from __future__ import annotations

from shared_schemas.documents import ChannelDoc, PromoCodeDoc, PromoUseDoc
from shared_schemas.queries import PROMO_USES_OF_USER
from telepay.channels import promo_rules
from telepay.channels.settings import CURRENCY
from telepay.core.i18n import in_stars, money
from telepay.core.store import Store

CODE_COLUMNS = [
    "code", "discount", "tiers", "starts", "ends", "max_uses", "per_buyer", "new_only", "uses", "revenue",
    "status", "created_by", "created",
]  # fmt: skip
USE_COLUMNS = ["channel", "code", "uses", "orders", "updated"]


def code_rows(codes: list[PromoCodeDoc], channel: ChannelDoc) -> list[dict[str, object]]:
    return [
        {
            "code": c.code,
            "discount": promo_rules.discount_text(c),
            "tiers": promo_rules.tiers_text(c, channel),
            "starts": c.starts_at,
            "ends": c.ends_at,
            "max_uses": c.max_uses,
            "per_buyer": c.max_uses_per_buyer,
            "new_only": c.new_subscribers_only,
            "uses": c.uses,
            "revenue": money(c.revenue, CURRENCY)
            + (f" + {in_stars(c.revenue_stars)}" if c.revenue_stars else ""),
            "status": c.status,
            "created_by": c.created_by,
            "created": c.created_at,
        }
        for c in codes
    ]


def uses_of(store: Store, user_id: int) -> list[PromoUseDoc]:
    """The codes a user used (settled orders and free grants), the latest first."""
    found = store.promo_uses.find(PROMO_USES_OF_USER, user_id=user_id)
    return sorted(found, key=lambda use: use.updated_at, reverse=True)


def use_rows(uses: list[PromoUseDoc]) -> list[dict[str, object]]:
    return [
        {
            "channel": u.channel_token,
            "code": u.code,
            "uses": u.uses,
            "orders": ", ".join(u.order_ids),
            "updated": u.updated_at,
        }
        for u in uses
    ]
