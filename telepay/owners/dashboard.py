"""The owners' read model: one channel's (or several channels' together) figures over a period,
computed here for `/stats` and the owner app alike, so both say the same numbers.

A period is the last 7, 30 or 90 UTC days, today included; the previous period is the as many
days before it. Everything is read from the channels' day counts (`channel_days`, added to by
the transactions that make them happen: `telepay.channels.day_counts`) and the channel's running
totals (`channel_counts`): members active now, and those whose access ends today or in the 6 days
after (each day's `ending`). Per channel: the period's days, the period before and the next 6,
a finished day as one document (folded by the reconciliation), today and the days ahead in up to
32 shards, and 32 shards of totals, however many members it has; no subscription is read or
counted.

Definitions (docs/flows.md, "The owners' dashboard"):
- new: paid subscriptions whose days run from the payment (the buyer had no days left); renewed:
  paid subscriptions that extended days still left (a Star subscription's renewal too); gifts sold
  are counted apart; a refund takes its sale and revenue off the day it was sold.
- revenue: crypto in the channel's currency (USD), Stars in Stars and, to stack them, in USD at
  `STARS_USD_PRICE` (what a Star costs buyers: how a tier's Star price is worked out).
- joined / expired: members who became active (a sale, a trial, a gift, a free code, a grant) /
  whose access ended (removed by the sweep); active members at the end of each day follow from
  today's count going back through them.
- renewal rate: renewed ÷ (renewed + expired): of the members whose access came to its end in the
  period, the share who paid to go on; churn: expired ÷ members active when the period began.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared_schemas.documents import ChannelDayDoc, ChannelDoc
from shared_schemas.queries import (
    COUNTS_OF_CHANNEL,
    DAYS_OF_CHANNEL,
)
from telepay.core.store import Store

PERIODS = (7, 30, 90)
EXPIRING_DAYS = 7  # "ending soon": today and the 6 days after
CENT = Decimal("0.01")


@dataclass
class Counts:
    """What happened on a day, or summed over a period."""

    new: int = 0
    renewed: int = 0
    gifts: int = 0
    crypto_sales: int = 0
    crypto_cents: int = 0
    stars_sales: int = 0
    stars: int = 0
    donations: int = 0
    donation_cents: int = 0
    donation_stars: int = 0
    joined: int = 0
    expired: int = 0

    def add(self, other: Counts | ChannelDayDoc) -> None:
        for f in fields(Counts):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def sales(self) -> int:
        return self.crypto_sales + self.stars_sales


@dataclass
class TierFigures:
    tier_id: str
    label: str
    days: int
    sales: int = 0
    cents: int = 0
    stars: int = 0
    channel_title: str | None = None


@dataclass
class Day:
    day: date
    counts: Counts
    active: int = 0  # members active at the end of the day


@dataclass
class Overview:
    days: int
    first_day: date
    last_day: date
    active: int
    expiring: int
    current: Counts
    previous: Counts
    active_at_start: int
    series: list[Day]
    tiers: list[TierFigures] = field(default_factory=list)

    @property
    def renewal_rate(self) -> Decimal | None:
        ended = self.current.renewed + self.current.expired
        return _share(self.current.renewed, ended)

    @property
    def churn(self) -> Decimal | None:
        return _share(self.current.expired, self.active_at_start)

    @property
    def empty(self) -> bool:
        """Nothing sold, given or donated in the period, and no member now."""
        counts = self.current
        return not (self.active or counts.sales or counts.donations or counts.joined or counts.expired)


def _share(part: int, whole: int) -> Decimal | None:
    """part ÷ whole in percent, one decimal (None when there is no whole)."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def change(now: int | Decimal, before: int | Decimal) -> Decimal | None:
    """The change against the previous period, in percent (None when it had nothing)."""
    if not before:
        return None
    return ((Decimal(now) - Decimal(before)) * 100 / Decimal(before)).quantize(Decimal("1"), ROUND_HALF_UP)


def cents_to_money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def stars_in_usd(stars: int, stars_usd_price: Decimal) -> Decimal:
    return (Decimal(stars) * stars_usd_price).quantize(CENT, ROUND_HALF_UP)


def overview(store: Store, channels: Sequence[ChannelDoc], now: datetime, days: int) -> Overview:
    """The figures of `channels` together (one channel, or all of an owner's) over the last `days`
    UTC days and the `days` before them."""
    if days not in PERIODS:
        raise ValueError(f"a period is one of {PERIODS} days, not {days}")
    today = now.date()
    first = today - timedelta(days=days - 1)
    previous_first = first - timedelta(days=days)
    by_day: dict[date, Counts] = {today - timedelta(days=n): Counts() for n in range(2 * days)}
    tiers: dict[tuple[str, str], TierFigures] = {}
    active = expiring = 0
    for channel in channels:
        for page in store.channel_days.pages(
            DAYS_OF_CHANNEL,
            channel_token=channel.token,
            above=previous_first.isoformat(),
            below=(today + timedelta(days=EXPIRING_DAYS - 1)).isoformat(),
        ):
            for stored in page:
                doc = stored.doc
                moment = date.fromisoformat(doc.day)
                if moment >= today:
                    expiring += doc.ending
                if moment > today:
                    continue
                by_day[moment].add(doc)
                if moment >= first:
                    _add_tiers(tiers, channel, doc)
        active += sum(
            stored.doc.active
            for page in store.channel_counts.pages(COUNTS_OF_CHANNEL, channel_token=channel.token)
            for stored in page
        )
        for tier in channel.tiers:  # every tier listed, sold or not
            tiers.setdefault((channel.token, tier.tier_id), _tier(channel, tier.tier_id))
    if len(channels) > 1:  # across channels a tier is named with its channel
        for (token, _), figures in tiers.items():
            figures.channel_title = next(c.title for c in channels if c.token == token)
    current, previous = Counts(), Counts()
    series: list[Day] = []
    members = max(active, 0)
    for moment in sorted(by_day, reverse=True):  # back from today: the day's end, then before it
        counts = by_day[moment]
        if moment >= first:
            current.add(counts)
            series.append(Day(moment, counts, max(members, 0)))
        else:
            previous.add(counts)
        members -= counts.joined - counts.expired
        if moment == first:
            active_at_start = max(members, 0)
    series.reverse()
    return Overview(
        days=days,
        first_day=first,
        last_day=today,
        active=max(active, 0),
        expiring=max(expiring, 0),
        current=current,
        previous=previous,
        active_at_start=active_at_start,
        series=series,
        tiers=sorted(tiers.values(), key=lambda t: (-t.cents - t.stars, t.label)),
    )


def _tier(channel: ChannelDoc, tier_id: str) -> TierFigures:
    tier = next((t for t in channel.tiers if t.tier_id == tier_id), None)
    return TierFigures(tier_id, (tier.label or "") if tier else "", tier.days if tier else 0)


def _add_tiers(tiers: dict[tuple[str, str], TierFigures], channel: ChannelDoc, doc: ChannelDayDoc) -> None:
    for tier_id, sold in doc.tiers.items():
        figures = tiers.setdefault((channel.token, tier_id), _tier(channel, tier_id))
        figures.sales += sold.sales
        figures.cents += sold.cents
        figures.stars += sold.stars
