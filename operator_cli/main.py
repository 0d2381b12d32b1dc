"""`telepay`: the operator's command line. `telepay --help`, and README's "Operating TelePay"."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from operator_cli import channel_file, failed_tasks, promos, refunds, support
from operator_cli import trials as trials_view
from operator_cli import webhook as telegram_webhook
from operator_cli.context import Operator
from operator_cli.output import Failed, emit, fields, plain, table
from shared_schemas.config import MissingSettingError
from shared_schemas.documents import AnnouncementDoc, ChannelDoc, EntryState, GiftDoc, PayoutDoc
from shared_schemas.queries import (
    ALL_CHANNELS,
    ANNOUNCEMENTS_OF_CHANNEL,
    FAILED_TASKS_BY_TIME,
    FAILED_UPDATES_BY_TIME,
    GIFTS_OF_BUYER,
    GIFTS_REDEEMED_BY,
    LEDGER_OF_CHANNEL,
    ORDERS_OF_USER,
    SUBSCRIPTIONS_OF_USER,
    SUPPORT_ACTIONS_OF_USER,
    SUPPORT_THREADS_OF_BUYER,
)
from telepay.channels import count_rebuild, wallet_hold
from telepay.channels.minimums import check_prices
from telepay.channels.price_rules import PriceCheck
from telepay.channels.settings import CURRENCY, DAYS_MAX, DAYS_MIN
from telepay.core.errors import TelePayError
from telepay.core.users import speaking_to
from telepay.owners import announcements as announcement_flow
from telepay.owners import promos as owner_promos
from telepay.owners import texts as owner_texts
from telepay.owners import wallet_change
from telepay.payouts import ledger
from telepay.payouts.balance import list_payouts, retry_payout, show_payout
from telepay.subscriptions.membership import move_members


class OperatorGroup(click.Group):
    """Errors of TelePay's own (the store unavailable, ...) end the command with exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except channel_file.ChannelFileError as error:
            raise Failed(str(error), [str(p) for p in error.problems]) from None
        except support.SupportRefused as error:
            raise Failed(str(error)) from None
        except (TelePayError, MissingSettingError) as error:
            raise Failed(f"{type(error).__name__}: {error}") from None


pass_op = click.make_pass_decorator(Operator)


@click.group(cls=OperatorGroup)
@click.option(
    "--endpoints",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The local stack's .local/endpoints.json (its emulators, project and stand-ins).",
)
@click.option("--project", help="Google Cloud project (default: GOOGLE_CLOUD_PROJECT or the gcloud/ADC one).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON instead of tables.")
@click.option("--operator", help="Who you are, recorded with support actions (default: gcloud account).")
@click.pass_context
def cli(
    ctx: click.Context, endpoints: Path | None, project: str | None, as_json: bool, operator: str | None
) -> None:
    """Operate TelePay: channels, users, support access, the Telegram webhook, dead letters."""
    op = ctx.obj if isinstance(ctx.obj, Operator) else None
    if op is None:
        op = Operator.from_endpoints(endpoints) if endpoints else Operator()
    if project:
        op.project_ = project
    op.as_json = op.as_json or as_json
    op.operator = operator or op.operator
    ctx.obj = op


# -- channels --------------------------------------------------------------------------------------
@cli.group()
def channels() -> None:
    """Register, change, list and show channels."""


def _tiers(channel: ChannelDoc) -> str:
    """`5.00 USD/30d`, and `5.00 USD or 300 XTR/30d` for a tier with a Star price of its own."""
    return ", ".join(
        f"{t.price} {channel.currency}{f' or {t.stars} XTR' if t.stars is not None else ''}/{t.days}d"
        for t in channel.tiers
    )


def _channel_fields(channel: ChannelDoc) -> str:
    return fields(
        {
            "token": channel.token,
            "title": channel.title,
            "status": channel.status,
            "owner": channel.owner_user_id,
            "open channel": channel.open_channel_id,
            "closed channel": channel.closed_channel_id,
            "posts in": channel.language,
            "tiers": _tiers(channel),
            "donations": f"{channel.donation_min} to {channel.donation_max} {channel.currency}",
            "grace period": f"{channel.grace_period_minutes} min",
            "payout": " ".join(
                str(v) for v in (channel.payout_currency, channel.payout_network, channel.payout_wallet) if v
            ),
            "payout strategy": channel.payout_strategy,
            "rights problem": channel.bot_rights_problem,
            "created": channel.created_at,
            "updated": channel.updated_at,
        }
    )


def _price_checker(op: Operator) -> channel_file.PriceChecker:
    """Prices checked against NowPayments' minimum payments as the bot checks them; without a
    NowPayments API key (or NowPayments down) they are not checked, and the notes say so."""

    def check(prices: Sequence[tuple[str, Decimal]]) -> list[tuple[str, PriceCheck]]:
        api = op.nowpayments() if prices else None
        if api is None:
            return channel_file.unchecked(prices)
        return check_prices(api, prices, CURRENCY)

    return check


def _notes(notes: list[channel_file.Note]) -> str:
    return "".join(f"\nnote: {note}" for note in notes)


@channels.command("register")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_op
def channels_register(op: Operator, file: Path) -> None:
    """Register a channel from a JSON FILE (see docs/channel.example.json); its prices are checked
    against NowPayments' minimum payments (NOWPAYMENTS_API_KEY, NOWPAYMENTS_API_BASE_URL)."""
    channel, notes = channel_file.register(op.store, op.clock, file, _price_checker(op), _stars_usd_price(op))
    emit(
        op.as_json,
        plain(channel) | {"notes": [n._asdict() for n in notes]},
        lambda: f"registered {channel.token}\n{_channel_fields(channel)}{_notes(notes)}",
    )


@channels.command("update")
@click.argument("token")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_op
def channels_update(op: Operator, token: str, file: Path) -> None:
    """Change the settings of channel TOKEN given in a JSON FILE (the others stay); changed prices
    are checked as `register` checks them."""
    hold_hours = _hold_hours(op)
    channel, changed, notes = channel_file.update(
        op.store, op.clock, token, file, op.who(), _price_checker(op), hold_hours, _stars_usd_price(op)
    )
    if "payout_wallet" in changed or "payout_currency" in changed or "payout_network" in changed:
        _announce_wallet_hold(op, channel)
    if "closed_channel_id" in changed:
        moved = move_members(op.store, op.clock, channel.token, channel.closed_channel_id)
        if not op.as_json:
            click.echo(
                f"{moved} active subscriptions moved to the new closed chat (each member gets a Join button)"
            )
    emit(
        op.as_json,
        {"changed": changed, "channel": channel, "notes": [n._asdict() for n in notes]},
        lambda: f"updated {token}: {', '.join(changed)}\n{_channel_fields(channel)}{_notes(notes)}",
    )


def _stars_usd_price(op: Operator) -> Decimal | None:
    """What a Star costs a buyer as the functions take it (`STARS_USD_PRICE`, 0.02 when unset); None
    when `STARS_ENABLED` switches Stars off (no tier is sold in Stars, so nothing to note)."""
    if op.env.get("STARS_ENABLED", "").strip().lower() in ("false", "f", "0", "no", "n", "off"):
        return None
    raw = op.env.get("STARS_USD_PRICE")
    if raw is None:
        return channel_file.STARS_USD_PRICE
    if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,8})?", raw.strip()) or Decimal(raw) <= 0:
        raise Failed(f"STARS_USD_PRICE must be a price in USD above 0, e.g. 0.02, not {raw!r}")
    return Decimal(raw)


def _hold_hours(op: Operator) -> int:
    """`WALLET_HOLD_HOURS` as the functions take it (0 to 720), 48 when unset."""
    raw = op.env.get("WALLET_HOLD_HOURS")
    if raw is None:
        return channel_file.WALLET_HOLD_HOURS
    if not re.fullmatch(r"[0-9]{1,3}", raw) or int(raw) > 720:
        raise Failed(f"WALLET_HOLD_HOURS must be a whole number of hours from 0 to 720, not {raw!r}")
    return int(raw)


def _announce_wallet_hold(op: Operator, channel: ChannelDoc) -> None:
    """A wallet changed by an operator holds payouts as any change does; the owner is told in the
    bot (with the cancel button), in the owner's language, and the operator sees the hold here."""
    hold = channel.wallet_hold
    if hold is None or wallet_hold.held_until(channel, op.clock.now()) is None:
        return
    if not op.as_json:
        click.echo(
            f"payouts of {channel.token} held until {hold.until:%-d %B %Y, %H:%M} UTC (the wallet changed)"
        )
    with speaking_to(op.store, channel.owner_user_id):
        text, keyboard = wallet_change.notice(channel, hold)
    try:
        telegram_webhook.send_message(op, channel.owner_user_id, text, keyboard)
    except Failed as error:
        click.echo(f"warning: the owner was not told in the bot: {error}", err=True)


@channels.command("transfer")
@click.argument("token")
@click.option("--to", "new_owner", type=int, required=True, help="Telegram user id of the new owner.")
@click.option("--reason", required=True, help="The support case (recorded with the change).")
@click.option(
    "--clear-wallet",
    is_flag=True,
    help="Forget the payout wallet too: payouts wait for the new owner's wallet (held as any change).",
)
@pass_op
def channels_transfer(op: Operator, token: str, new_owner: int, reason: str, clear_wallet: bool) -> None:
    """Move channel TOKEN to another Telegram account, as a recorded support action. Telegram must
    say the new owner is the creator of both chats (transfer them in Telegram first); both
    accounts are told in the bot, each in their language."""
    channel = op.store.channels.get(token)
    if channel is None:
        raise Failed(f"no channel {token}")
    for chat_id in (channel.open_channel_id, channel.closed_channel_id):
        status = telegram_webhook.chat_member_status(op, chat_id, new_owner)
        if status != "creator":
            raise Failed(
                f"Telegram says {new_owner} is {status} of chat {chat_id}, not its creator: "
                "the channel's creator must transfer it in Telegram first"
            )
    before, after = channel_file.transfer(
        op.store, op.clock, token, new_owner, reason, op.who(), clear_wallet
    )
    for user_id in (new_owner, before.owner_user_id):
        with speaking_to(op.store, user_id):
            if user_id == new_owner:
                text = owner_texts.transferred_to_you(after.title, clear_wallet)
            else:
                text = owner_texts.transferred_away(after.title)
        try:
            telegram_webhook.send_message(op, user_id, text)
        except Failed as error:
            click.echo(f"warning: {user_id} was not told in the bot: {error}", err=True)
    emit(
        op.as_json,
        {"channel": after, "previous_owner": before.owner_user_id},
        lambda: (
            f"{token} now belongs to {new_owner} (was {before.owner_user_id})"
            + ("; payouts wait for the new owner's wallet" if clear_wallet else "; the payout wallet stays")
        ),
    )


@channels.command("list")
@pass_op
def channels_list(op: Operator) -> None:
    """Every channel."""
    found = [s.doc for page in op.store.channels.pages(ALL_CHANNELS) for s in page]
    rows = [
        {
            "token": c.token,
            "title": c.title,
            "status": c.status,
            "owner": c.owner_user_id,
            "closed_channel": c.closed_channel_id,
            "tiers": _tiers(c),
            "problem": c.bot_rights_problem,
        }
        for c in found
    ]
    emit(op.as_json, found, lambda: table(rows, list(rows[0]) if rows else []))


def _channel(op: Operator, token: str) -> ChannelDoc:
    channel = op.store.channels.get(token)
    if channel is None:
        raise Failed(f"no channel {token}")
    return channel


@channels.command("show")
@click.argument("token")
@pass_op
def channels_show(op: Operator, token: str) -> None:
    """One channel's settings and state."""
    channel = _channel(op, token)
    emit(op.as_json, channel, lambda: _channel_fields(channel))


# -- payouts ---------------------------------------------------------------------------------------
@cli.group()
def payouts() -> None:
    """Owner payouts: the open ones, one in detail, and a retry once its problem is fixed."""


def _payout_row(p: PayoutDoc) -> dict[str, Any]:
    return {
        "payout": p.payout_id,
        "channel": p.channel_token,
        "owner": p.owner_user_id,
        "amount": f"{p.amount.normalize():f} {p.currency.upper()}",
        "state": p.state,
        "attention": p.attention or p.failure_reason,
        "next_attempt": p.next_attempt_at,
    }


def _held_because(channel: ChannelDoc, now: datetime) -> list[str]:
    reasons = [channel.payout_problem] if channel.payout_problem else []
    until = wallet_hold.held_until(channel, now)
    if until is not None:
        reasons.append(f"the wallet changed: held until {until:%-d %B %Y, %H:%M} UTC")
    return reasons


def _stars_held(op: Operator, token: str, owner: int, now: datetime) -> dict[str, Any] | None:
    """A channel's Stars earnings still held by Telegram (not paid out before `held_until`)."""
    entries = [
        stored.doc
        for page in op.store.ledger.pages(
            LEDGER_OF_CHANNEL, channel_token=token, state=EntryState.AVAILABLE.value
        )
        for stored in page
    ]
    earned = ledger.balance(entries, now).stars
    if not earned.held or earned.held_first_until is None or earned.held_last_until is None:
        return None
    first, last = (f"{moment:%-d %B %Y}" for moment in (earned.held_first_until, earned.held_last_until))
    return {
        "channel": token,
        "owner": owner,
        "Stars earnings": f"⭐{earned.held.normalize():f} (≈ ${earned.held_usd.quantize(Decimal('0.01'))})",
        "held until": first if first == last else f"{first} to {last}",
    }


@payouts.command("list")
@pass_op
def payouts_list(op: Operator) -> None:
    """Open payouts (not finished or failed), the next due first; then channels whose payouts are
    held, and why; then the Stars earnings Telegram still holds, per channel, and until when
    (`--json`: the open payouts)."""
    found = list_payouts(op.store)
    rows = [_payout_row(p) for p in found]
    now = op.clock.now()
    channels = [stored.doc for page in op.store.channels.pages(ALL_CHANNELS) for stored in page]
    held = [
        {"channel": c.token, "owner": c.owner_user_id, "held because": reason}
        for c in channels
        for reason in _held_because(c, now)
    ]
    stars = [row for c in channels if (row := _stars_held(op, c.token, c.owner_user_id, now))]

    def human() -> str:
        text = table(rows, list(rows[0]) if rows else []) or "no open payouts"
        if held:
            text += "\n\nchannels whose payouts are held:\n" + table(held, list(held[0]))
        if stars:
            text += "\n\nStars earnings Telegram still holds (paid out as each hold ends):\n"
            text += table(stars, list(stars[0]))
        return text

    emit(op.as_json, found, human)


@payouts.command("show")
@click.argument("payout_id")
@pass_op
def payouts_show(op: Operator, payout_id: str) -> None:
    """One payout and the ledger entries it covers."""
    detail = show_payout(op.store, payout_id)
    if detail is None:
        raise Failed(f"no payout {payout_id}")
    entries = [
        {"entry": e.entry_id, "order": e.order_id, "net": f"{e.settled_net.normalize():f}", "state": e.state}
        for e in detail.entries
    ]
    emit(
        op.as_json,
        {"payout": detail.payout, "entries": detail.entries},
        lambda: (
            table([_payout_row(detail.payout)], list(_payout_row(detail.payout)))
            + "\n\n"
            + table(entries, list(entries[0]) if entries else [])
        ),
    )


@payouts.command("retry")
@click.argument("payout_id")
@pass_op
def payouts_retry(op: Operator, payout_id: str) -> None:
    """Resume an open payout now (after fixing what held it), or let a failed one's entries be paid
    in a new payout now."""
    outcome = retry_payout(op.store, payout_id, op.clock.now())
    if outcome == "unknown payout":
        raise Failed(f"no payout {payout_id}")
    emit(op.as_json, {"payout": payout_id, "outcome": outcome}, lambda: f"{payout_id}: {outcome}")


# -- payments --------------------------------------------------------------------------------------
@cli.group()
def payments() -> None:
    """Buyers' payments: refunds of Telegram Stars."""


@payments.command("refund")
@click.argument("order_or_charge_id")
@click.option("--reason", required=True, help="Why: the support case, recorded on the charge.")
@pass_op
def payments_refund(op: Operator, order_or_charge_id: str, reason: str) -> None:
    """Give a buyer their Telegram Stars back: ORDER_OR_CHARGE_ID is the order paid in Stars, or
    Telegram's charge id (a renewed Star subscription: the charge of the period to refund). The days
    it bought come off and the owner's earnings from it are taken back; buyer and owner are told.
    Crypto is refunded in NowPayments' dashboard, not here."""
    done = refunds.refund(op, order_or_charge_id, reason)
    emit(
        op.as_json,
        dataclasses.asdict(done),
        lambda: (
            f"{done.outcome}: ⭐{done.stars} back to user {done.user_id} (charge {done.charge_id}"
            + (f", order {done.order_id}" if done.order_id else "")
            + f"); recorded as operator {done.operator}: {done.reason}"
        ),
    )


# -- users -----------------------------------------------------------------------------------------
@cli.group()
def users() -> None:
    """What TelePay knows of one user."""


@users.command("show")
@click.argument("user_id", type=int)
@pass_op
def users_show(op: Operator, user_id: int) -> None:
    """Subscriptions, free trials, orders and payments, support actions and support threads of USER_ID."""
    store = op.store
    subs = store.subscriptions.find(SUBSCRIPTIONS_OF_USER, user_id=user_id)
    orders = sorted(store.orders.find(ORDERS_OF_USER, user_id=user_id), key=lambda o: o.created_at)
    actions = sorted(store.support_actions.find(SUPPORT_ACTIONS_OF_USER, user_id=user_id), key=lambda a: a.at)
    user = store.users.get(str(user_id))
    # -- gifts: bought by the user, and redeemed by them --
    bought = sorted(store.gifts.find(GIFTS_OF_BUYER, buyer_user_id=user_id), key=lambda g: g.created_at)
    redeemed = sorted(store.gifts.find(GIFTS_REDEEMED_BY, redeemed_by=user_id), key=lambda g: g.created_at)
    promo_uses = promos.uses_of(store, user_id)  # -- promo codes --
    trials = trials_view.of_user(store, user_id)
    # -- support: the threads the user opened with channels' owners --
    threads = sorted(
        store.support_threads.find(SUPPORT_THREADS_OF_BUYER, buyer_user_id=user_id),
        key=lambda th: th.created_at,
    )
    payload = {
        "user_id": user_id,
        "user": user,
        "subscriptions": subs,
        "orders": orders,
        "support_actions": actions,
        "gifts_bought": bought,
        "gifts_redeemed": redeemed,
        "promo_uses": promo_uses,
        "trials": trials,  # -- free trials --
        "support_threads": threads,  # -- support --
    }

    def human() -> str:
        sub_rows = [
            {
                "channel": s.channel_token,
                "status": s.status,
                "expires": s.expires_at,
                "in_channel": s.in_channel,
                "tier": s.tier_id,
                "next_action": s.next_action_at,
                "problem": s.removal_problem or s.access_problem,
            }
            for s in subs
        ]
        order_rows = [
            {
                "order": o.order_id,
                "kind": o.kind,
                "price": f"{o.price_amount} {o.price_currency}",
                "status": o.status,
                "payment": o.payment_id,
                "payment_status": o.payment_status,
                "paid": f"{o.actually_paid} {o.pay_currency}" if o.actually_paid is not None else None,
                "created": o.created_at,
                "settled": o.settled_at,
            }
            for o in orders
        ]
        action_rows = [
            {
                "at": a.at,
                "action": a.action,
                "channel": a.channel_token,
                "days": a.days,
                "operator": a.operator,
                "source": a.source,
                "expires_after": a.expires_after,
                "reason": a.reason,
            }
            for a in actions
        ]
        trial_rows = trials_view.rows(trials)  # -- free trials --
        thread_rows = [  # -- support --
            {
                "thread": th.thread_id,
                "channel": th.channel_token,
                "status": th.status,
                "opened": th.created_at,
                "last": th.updated_at,
                "closed_by": th.closed_by,
                "messages": th.message_count,
                "first_message": th.messages[0].text[:60] if th.messages else "",
            }
            for th in threads
        ]
        blocked = " (blocked the bot)" if user and user.blocked_bot else ""
        return "\n\n".join(
            [
                f"user {user_id}{blocked}",
                "Subscriptions\n" + table(sub_rows, list(sub_rows[0]) if sub_rows else []),
                "Orders and payments\n" + table(order_rows, list(order_rows[0]) if order_rows else []),
                "Support actions and owner grants\n"
                + table(action_rows, list(action_rows[0]) if action_rows else []),
                "Gifts bought\n" + table(gift_rows(bought), GIFT_COLUMNS),
                "Gifts redeemed\n" + table(gift_rows(redeemed), GIFT_COLUMNS),
                "Promo codes used\n" + table(promos.use_rows(promo_uses), promos.USE_COLUMNS),
                "Free trials\n" + table(trial_rows, trials_view.COLUMNS),
                "Support threads\n" + table(thread_rows, list(thread_rows[0]) if thread_rows else []),
            ]
        )

    emit(op.as_json, payload, human)


# -- gifts --
GIFT_COLUMNS = ["code", "channel", "days", "state", "order", "buyer", "redeemed_by", "redeemed_at"]


def gift_rows(gifts: list[GiftDoc]) -> list[dict[str, object]]:
    return [
        {
            "code": g.code,
            "channel": g.channel_token,
            "days": g.days,
            "state": g.state,
            "order": g.order_id,
            "buyer": g.buyer_user_id,
            "redeemed_by": g.redeemed_by,
            "redeemed_at": g.redeemed_at,
        }
        for g in gifts
    ]


# -- promo codes ----------------------------------------------------------------------------------
@cli.group("promos")
def promo_codes() -> None:
    """Promo codes: a channel's codes, their uses and revenue."""


@promo_codes.command("list")
@click.argument("token")
@pass_op
def promos_list(op: Operator, token: str) -> None:
    """TOKEN's codes, the newest first: discount, tiers, dates, limits, uses, revenue, state."""
    channel = _channel(op, token)
    codes = owner_promos.codes_of(op.store, token)
    emit(op.as_json, codes, lambda: table(promos.code_rows(codes, channel), promos.CODE_COLUMNS))


# -- free trials ---------------------------------------------------------------------------------
@cli.group("trials")
def free_trials() -> None:
    """Free trials: a channel's trial length, its figures and each trial."""


@free_trials.command("list")
@click.argument("token")
@pass_op
def trials_list(op: Operator, token: str) -> None:
    """TOKEN's free trial (its length, members on a trial now, trials started and converted in the
    last 7 and 30 days, as /stats counts them) and each trial, the newest first."""
    channel = _channel(op, token)
    found = trials_view.of_channel(op.store, token)
    payload = trials_view.summary(op.store, channel, op.clock.now()) | {"trials": found}

    def human() -> str:
        head = {k: ("off" if v is None else v) for k, v in payload.items() if k != "trials"}
        return fields(head) + "\n\n" + table(trials_view.rows(found), trials_view.COLUMNS)

    emit(op.as_json, payload, human)


# -- the dashboard's running totals ------------------------------------------------------------------
@cli.group("counts")
def running_counts() -> None:
    """The dashboard's running totals: members active now and each day's members ending, checked
    against (or rebuilt from) the subscriptions."""


def _counted_channels(op: Operator, tokens: Sequence[str]) -> list[str]:
    if tokens:
        return [_channel(op, token).token for token in tokens]
    return [stored.id for page in op.store.channels.pages(ALL_CHANNELS) for stored in page]


def _drift_row(drift: count_rebuild.Drift) -> dict[str, object]:
    return {
        "channel": drift.channel_token,
        "active_kept": drift.active_kept,
        "active_counted": drift.active_counted,
        "days_wrong": len(drift.wrong_days) + len(drift.wrong_trial_days),
        "subscriptions_read": drift.subscriptions_read,
        "seconds": round(drift.seconds, 1),
        "state": "right" if drift.fine else ("rebuilt" if drift.written else "wrong"),
    }


DRIFT_COLUMNS = [
    "channel",
    "active_kept",
    "active_counted",
    "days_wrong",
    "subscriptions_read",
    "seconds",
    "state",
]


@running_counts.command("check")
@click.argument("tokens", nargs=-1)
@pass_op
def counts_check(op: Operator, tokens: tuple[str, ...]) -> None:
    """Count TOKENS' (default: every channel's) active members and their end days from the
    subscriptions and compare them with the totals kept; exit 1 when any differs."""
    rows = [_drift_row(count_rebuild.measure(op.store, token)) for token in _counted_channels(op, tokens)]
    emit(op.as_json, rows, lambda: table(rows, DRIFT_COLUMNS))
    wrong = [row["channel"] for row in rows if row["state"] != "right"]
    if wrong:
        raise Failed(
            f"the totals of {', '.join(map(str, wrong))} differ: `telepay counts rebuild` puts them right"
        )


@running_counts.command("rebuild")
@click.argument("tokens", nargs=-1)
@pass_op
def counts_rebuild(op: Operator, tokens: tuple[str, ...]) -> None:
    """Set TOKENS' (default: every channel's) totals to what their subscriptions say (only what
    differs is written; safe to run again)."""
    rows = [_drift_row(count_rebuild.rebuild(op.store, token)) for token in _counted_channels(op, tokens)]
    emit(op.as_json, rows, lambda: table(rows, DRIFT_COLUMNS))


# -- access (support cases) -------------------------------------------------------------------------
@cli.group()
def access() -> None:
    """Grant or revoke access for a support case (recorded with who, when and why)."""


def _done(op: Operator, done: support.Done) -> None:
    record = done.record
    emit(
        op.as_json,
        {"id": done.action_id, "action": record, "subscription": done.subscription},
        lambda: (
            f"{record.action.value}: user {record.user_id} on {record.channel_token}, access now ends "
            f"{record.expires_after:%Y-%m-%d %H:%M UTC} (recorded as {done.action_id} by {record.operator})"
        ),
    )


REASON = click.option("--reason", required=True, help="Why: the support case, shown in `users show`.")


@access.command("grant")
@click.argument("token")
@click.argument("user_id", type=int)
@click.option("--days", required=True, type=click.IntRange(DAYS_MIN, DAYS_MAX), help="Days of access added.")
@REASON
@pass_op
def access_grant(op: Operator, token: str, user_id: int, days: int, reason: str) -> None:
    """Give USER_ID --days more access to channel TOKEN, from max(now, current expiry)."""
    if not reason.strip():
        raise Failed("--reason must not be empty")
    _done(op, support.grant(op.store, op.clock, support.Case(token, user_id, reason.strip(), op.who()), days))


@access.command("revoke")
@click.argument("token")
@click.argument("user_id", type=int)
@REASON
@pass_op
def access_revoke(op: Operator, token: str, user_id: int, reason: str) -> None:
    """End USER_ID's access to channel TOKEN now; the expiry sweep removes them from the channel."""
    if not reason.strip():
        raise Failed("--reason must not be empty")
    _done(op, support.revoke(op.store, op.clock, support.Case(token, user_id, reason.strip(), op.who())))


# -- webhook ---------------------------------------------------------------------------------------
@cli.group()
def webhook() -> None:
    """The bot's Telegram webhook."""


@webhook.command("set")
@click.option("--url", help="telegram_webhook's public URL (default: TELEGRAM_WEBHOOK_URL, or the stack's).")
@click.option("--max-connections", type=click.IntRange(1, 100), help="Telegram's max_connections.")
@pass_op
def webhook_set(op: Operator, url: str | None, max_connections: int | None) -> None:
    """setWebhook: URL, secret token and allowed updates from the configuration."""
    result = telegram_webhook.set_webhook(op, url, max_connections)
    emit(op.as_json, result, lambda: "webhook set\n" + fields(result))


@webhook.command("info")
@pass_op
def webhook_info(op: Operator) -> None:
    """getWebhookInfo: URL, pending updates, last error, allowed updates."""
    info = telegram_webhook.webhook_info(op)
    emit(op.as_json, info, lambda: fields(info))


# -- dead letters and failures ------------------------------------------------------------------------
@cli.group("dead-letters")
def dead_letters() -> None:
    """Payment events Pub/Sub gave up on, and Cloud Tasks recorded in failed_tasks."""


def _hold(op: Operator) -> Any:
    from operator_cli.dead_letters import DeadLetters

    return DeadLetters(op.project)


@dead_letters.command("list")
@click.option("--max", "max_messages", default=100, show_default=True, help="Messages pulled at most.")
@pass_op
def dead_letters_list(op: Operator, max_messages: int) -> None:
    """Dead-lettered events (left in place) and failed tasks."""
    hold = _hold(op)
    letters = hold.pull(max_messages)
    hold.release(letters)
    tasks = [s for page in op.store.failed_tasks.pages(FAILED_TASKS_BY_TIME) for s in page]
    events = [letter.summary() for letter in letters]
    payload = {"events": events, "failed_tasks": [{"id": s.id, **s.doc.model_dump()} for s in tasks]}

    def human() -> str:
        event_rows = [
            {k: e[k] for k in ("message_id", "hold", "type", "event_id", "order_id", "published_at")}
            for e in events
        ]
        task_rows = [
            {
                "id": s.id,
                "function": s.doc.function,
                "queue": s.doc.queue,
                "path": s.doc.path,
                "attempt": s.doc.attempt,
                "recorded": s.doc.recorded_at,
                "reason": s.doc.reason,
            }
            for s in tasks
        ]
        return (
            "Dead-lettered events\n"
            + table(event_rows, list(event_rows[0]) if event_rows else [])
            + "\n\nFailed tasks\n"
            + table(task_rows, list(task_rows[0]) if task_rows else [])
        )

    emit(op.as_json, payload, human)


@dead_letters.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead-lettered event and failed task.")
@click.option("--max", "max_messages", default=100, show_default=True, help="Messages pulled at most.")
@pass_op
def dead_letters_replay(op: Operator, ids: tuple[str, ...], replay_all: bool, max_messages: int) -> None:
    """Replay IDS (failed task ids and event message ids from `dead-letters list`), or --all: a task
    is queued again, an event published again to its topic; then each is dropped."""
    if not ids and not replay_all:
        raise Failed("name the ids to replay (from `dead-letters list`), or give --all")
    if replay_all:
        tasks = [s for page in op.store.failed_tasks.pages(FAILED_TASKS_BY_TIME) for s in page]
    else:
        tasks = [s for s in map(op.store.failed_tasks.get_stored, ids) if s is not None]
    replayed = [failed_tasks.replay(op, stored) for stored in tasks]
    wanted = set(ids) - {stored.id for stored in tasks}
    if replay_all or wanted:
        hold = _hold(op)
        letters = hold.pull(max_messages)
        chosen = [letter for letter in letters if replay_all or letter.message_id in wanted]
        hold.release([letter for letter in letters if letter not in chosen])
        for letter in chosen:
            replayed.append(
                {"id": letter.message_id, "topic": letter.source_topic.value, "new_id": hold.replay(letter)}
            )
            wanted.discard(letter.message_id)
    missing = sorted(wanted)
    emit(
        op.as_json,
        {"replayed": replayed, "not_found": missing},
        lambda: table(replayed, ["id", "queue", "path", "topic", "task_name", "new_id"]),
    )
    if missing:
        raise Failed(f"not among the dead letters: {', '.join(missing)}")


@cli.group("failed-updates")
def failed_updates() -> None:
    """Telegram updates that failed for good."""


def _update_kind(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "?")


@failed_updates.command("list")
@click.option("--limit", default=50, show_default=True, help="The newest this many.")
@pass_op
def failed_updates_list(op: Operator, limit: int) -> None:
    """The newest failed updates: id, time, kind and reason."""
    found = [s.doc for page in op.store.failed_updates.pages(FAILED_UPDATES_BY_TIME) for s in page]
    newest = sorted(found, key=lambda d: d.recorded_at, reverse=True)[:limit]
    rows = [
        {
            "update_id": d.update_id,
            "recorded": d.recorded_at,
            "kind": _update_kind(d.update),
            "reason": d.reason,
        }
        for d in newest
    ]
    emit(op.as_json, newest, lambda: table(rows, ["update_id", "recorded", "kind", "reason"]))


# -- announcements --
@cli.group()
def announcements() -> None:
    """Owners' announcements to their subscribers."""


def _announcement_row(a: AnnouncementDoc) -> dict[str, Any]:
    return {
        "id": a.announcement_id,
        "created": a.created_at,
        "status": a.status,
        "audience": f"{a.audience.value} {a.audience_days}" if a.audience_days else a.audience.value,
        "total": a.total,
        "sent": a.sent,
        "blocked": a.blocked,
        "failed": a.failed,
        "via": a.via,
    }


@announcements.command("list")
@click.argument("token")
@pass_op
def announcements_list(op: Operator, token: str) -> None:
    """A channel's announcements, newest first: status and counts (as of the last tally)."""
    _channel(op, token)
    found = [
        s.doc
        for page in op.store.announcements.pages(ANNOUNCEMENTS_OF_CHANNEL, channel_token=token)
        for s in page
    ]
    newest = sorted(found, key=lambda a: a.created_at, reverse=True)
    rows = [_announcement_row(a) for a in newest]
    columns = ["id", "created", "status", "audience", "total", "sent", "blocked", "failed", "via"]
    emit(op.as_json, newest, lambda: table(rows, columns))


@announcements.command("stop")
@click.argument("announcement_id")
@pass_op
def announcements_stop(op: Operator, announcement_id: str) -> None:
    """Stop a running announcement: its recipients' tasks send nothing more."""
    stopped = announcement_flow.stop(op.store, announcement_id, op.clock.now())
    if stopped is None:
        raise Failed(f"no announcement {announcement_id}")
    emit(
        op.as_json,
        stopped,
        lambda: f"{stopped.announcement_id}: {stopped.status.value} ({stopped.sent} sent so far)",
    )


def main() -> None:
    cli(prog_name="telepay")
