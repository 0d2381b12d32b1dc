"""Channel files: a JSON object of a channel's settings, checked by the bot's own rules
(`telepay.channels.settings`), every problem named by its field's path.

    {"owner_user_id": 5001, "open_channel_id": -1001000000001, "closed_channel_id": -1001000000002,
     "title": "Night Owls Club", "tiers": [{"price": "5.00", "days": 30, "label": "Monthly"}], ...}

`register` takes `owner_user_id`, an optional `token` and every setting the bot asks an owner for
(`telepay.channels.settings.SETTING_FIELDS`); `update` takes any of those (the channel's current values fill
in the rest, and the whole is checked again) and records what changed in `channel_changes`.

A tier's `"stars"` is its price in Telegram Stars (1 to 10,000), or absent, empty or `"auto"`
for its USD price converted at `STARS_USD_PRICE`; a converted price beyond Telegram's limit is a
note (the tier is sold in crypto only), not a problem.

Both check the prices they set (all of them for a new channel, the changed ones for an update)
against NowPayments' minimum payments, as the bot does (`telepay.channels.price_rules`): a price
no coin buyers can use takes is a problem of its field; the coins a low price leaves out come back
as notes (`Note`), and so does a check that could not be made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from shared_schemas.config import ChannelEditSettings, StarsSettings
from shared_schemas.documents import ChannelDoc, ChannelStatus
from shared_schemas.ids import is_valid_channel_token, new_channel_token
from shared_schemas.queries import CHANNEL_BY_CLOSED_CHAT
from telepay.channels import chat_offers, wallet_hold
from telepay.channels.changes import change_id, change_record, changed, record
from telepay.channels.price_rules import PriceCheck, check_price, new_prices
from telepay.channels.settings import CURRENCY, SETTING_FIELDS, FieldError, star_notes, validate_channel
from telepay.core.clock import Clock
from telepay.core.store import Store, Tx

FILE_FIELDS = ("token", "owner_user_id", *SETTING_FIELDS)
WALLET_HOLD_HOURS: int = ChannelEditSettings.model_fields["wallet_hold_hours"].default
STARS_USD_PRICE: Decimal = StarsSettings.model_fields["stars_usd_price"].default
# (field, price) pairs → each one's check against NowPayments' minimums (`channels.minimums.check_prices`).
PriceChecker = Callable[[Sequence[tuple[str, Decimal]]], list[tuple[str, PriceCheck]]]


def unchecked(prices: Sequence[tuple[str, Decimal]]) -> list[tuple[str, PriceCheck]]:
    """The prices as the CLI takes them without NowPayments (no key, or down): saved, with a note
    that they were not checked against its minimums."""
    return [(name, check_price(price, None, CURRENCY)) for name, price in prices]


class Note(NamedTuple):
    field: str
    note: str

    def __str__(self) -> str:
        return f"{self.field}: {self.note}"


class ChannelFileError(Exception):
    def __init__(self, message: str, problems: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ChannelFileError(f"{path}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise ChannelFileError(
            f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ChannelFileError(f"{path}: a channel file holds one JSON object")
    unknown = [FieldError(name, "not a channel setting") for name in data if name not in FILE_FIELDS]
    if unknown:
        raise ChannelFileError(f"{path}: not a valid channel", unknown)
    return data


def _checked(path: Path, values: dict[str, Any]) -> ChannelDoc:
    channel = validate_channel(values)
    if isinstance(channel, list):
        raise ChannelFileError(f"{path}: not a valid channel", channel)
    return channel


def _price_notes(
    path: Path, check: PriceChecker, before: ChannelDoc | None, after: ChannelDoc, stars: Decimal | None
) -> list[Note]:
    """The new prices checked: refused (every such price named) or the notes about them; with
    `stars` (what a Star costs, None when Stars are switched off) a note on each new tier whose
    converted Star price is beyond Telegram's limit (sold in crypto only)."""
    checks = check(new_prices(before, after))
    refused = [FieldError(name, c.refusal) for name, c in checks if c.refusal]
    if refused:
        raise ChannelFileError(f"{path}: not a valid channel", refused)
    notes = [Note(name, c.note) for name, c in checks if c.note]
    if stars is not None:
        notes += [Note(name, note) for name, note in star_notes(before, after, stars)]
    return notes


def _closed_chat_taken(store: Store, channel: ChannelDoc) -> list[FieldError]:
    other = store.channels.first(CHANNEL_BY_CLOSED_CHAT, closed_channel_id=channel.closed_channel_id)
    if other is None or other.token == channel.token:
        return []
    return [FieldError("closed_channel_id", f"already the closed channel of {other.token}")]


def register(
    store: Store, clock: Clock, path: Path, check: PriceChecker, stars: Decimal | None = STARS_USD_PRICE
) -> tuple[ChannelDoc, list[Note]]:
    data = read(path)
    token = data.get("token")
    if token is not None and not (isinstance(token, str) and is_valid_channel_token(token)):
        raise ChannelFileError(
            f"{path}: not a valid channel", [FieldError("token", "6 to 24 letters and digits")]
        )
    now = clock.now()
    values = data | {
        "token": token or new_channel_token(),
        "status": ChannelStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
    }
    channel = _checked(path, values)
    taken = _closed_chat_taken(store, channel)
    if taken:
        raise ChannelFileError(f"{path}: not a valid channel", taken)
    notes = _price_notes(path, check, None, channel, stars)

    def work(tx: Tx) -> ChannelDoc:
        if tx.get(store.channels, channel.token) is not None:
            raise ChannelFileError(f"channel {channel.token} exists already (use `telepay channels update`)")
        _claim(path, tx, store, channel, now)
        tx.set(store.channels, channel.token, channel)
        return channel

    return store.transaction(work), notes


def _claim(path: Path, tx: Tx, store: Store, channel: ChannelDoc, now: datetime) -> None:
    """The closed chat, inside the transaction that writes the channel (`chat_offers`)."""
    try:
        chat_offers.claim(tx, store, channel, now, roles=("closed",))
    except chat_offers.ChatInUse as error:
        reason = f"already the closed channel of {error.other.token}"
        raise ChannelFileError(
            f"{path}: not a valid channel", [FieldError("closed_channel_id", reason)]
        ) from None


def update(
    store: Store,
    clock: Clock,
    token: str,
    path: Path,
    operator: str,
    check: PriceChecker,
    hold_hours: int = WALLET_HOLD_HOURS,
    stars: Decimal | None = STARS_USD_PRICE,
) -> tuple[ChannelDoc, list[str], list[Note]]:
    """The channel after the change, the names of the fields the file set, the notes on its prices."""
    data = read(path)
    if "token" in data and data["token"] != token:
        raise ChannelFileError(f"{path}: not a valid channel", [FieldError("token", f"is not {token}")])
    given = [name for name in data if name != "token"]
    if not given:
        raise ChannelFileError(f"{path}: no setting to change")
    current = store.channels.get(token)
    if current is None:
        raise ChannelFileError(f"no channel {token}")
    candidate = _checked(path, current.model_dump() | data | {"token": token})
    taken = _closed_chat_taken(store, candidate)
    if taken:
        raise ChannelFileError(f"{path}: not a valid channel", taken)
    notes = _price_notes(path, check, current, candidate, stars)
    now = clock.now()

    def work(tx: Tx) -> ChannelDoc:
        current = tx.get(store.channels, token)
        if current is None:
            raise ChannelFileError(f"no channel {token}")
        channel = _checked(path, current.model_dump() | data | {"token": token, "updated_at": now})
        if channel.closed_channel_id != current.closed_channel_id:
            _claim(path, tx, store, channel, now)
        stored = channel.to_firestore()
        hold = wallet_hold.after_change(current, stored, now, hold_hours, 0, f"operator {operator}")
        tx.update(store.channels, token, {name: stored[name] for name in given} | hold | {"updated_at": now})
        changes = changed(current.to_firestore(), stored, given)
        record(tx, store, token, 0, f"operator {operator}", changes, now)
        return channel

    channel = store.transaction(work)
    return store.channels.get(token) or channel, given, notes


def transfer(
    store: Store,
    clock: Clock,
    token: str,
    new_owner: int,
    reason: str,
    operator: str,
    clear_wallet: bool = False,
) -> tuple[ChannelDoc, ChannelDoc]:
    """A support action: the channel moves to another Telegram account (the one Telegram now says
    is the creator of both chats; the caller asks). Recorded in `channel_changes` with the reason.
    The wallet stays (it is the owner's, not the account's) unless `clear_wallet`: then payouts
    wait for the new owner's wallet, which comes with the usual hold. (before, after)."""
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise ChannelFileError("give the support case as --reason (1 to 500 characters)")
    now = clock.now()

    def work(tx: Tx) -> tuple[ChannelDoc, ChannelDoc]:
        current = tx.get(store.channels, token)
        if current is None:
            raise ChannelFileError(f"no channel {token}")
        if current.owner_user_id == new_owner:
            raise ChannelFileError(f"{token} already belongs to {new_owner}")
        fields: dict[str, Any] = {"owner_user_id": new_owner}
        if clear_wallet:
            fields |= {
                "payout_wallet": None,
                "payout_currency": None,
                "payout_network": None,
                "wallet_hold": None,
            }
        before = current.to_firestore()
        tx.update(store.channels, token, fields | {"updated_at": now})
        doc = change_record(token, 0, f"operator {operator}", changed(before, fields, list(fields)), now)
        tx.set(store.channel_changes, change_id(doc), doc.model_copy(update={"reason": reason}))
        return current, current.model_copy(update=fields)

    return store.transaction(work)
