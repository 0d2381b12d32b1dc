"""Channels for tests, drills and benchmarks, made the ways people make them: an owner through the bot
(`/newchannel`, as `local/demo.py` plays it), or an operator with `telepay channels register <file>`
(`register_channel`: the settings written to a channel file and registered by the CLI's own code, so
every rule the bot applies to an owner's answers applies to the fixture too). `change_channel` is
`telepay channels update`. Nothing else writes a channel: tests/repo/test_fixture_channels.py finds
a test or script that writes one around these, and checks every channel the fixtures register."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.clients import TelegramControl, store
from operator_cli import channel_file
from shared_schemas.documents import ChannelDoc
from telepay.core.clock import Clock, system_clock
from telepay.core.store import Store

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def tron_address(seed: str) -> str:
    """A well-formed Tron address (Base58Check, version 0x41) made from `seed`: a distinct payout
    wallet per test owner that the bot's address check and NowPayments' both accept."""
    raw = b"\x41" + hashlib.sha256(seed.encode()).digest()[:20]
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return text


OPEN_RIGHTS = ["can_post_messages", "can_edit_messages", "can_delete_messages"]
# Posting and editing in the closed channel are for its donation post.
CLOSED_RIGHTS = [
    "can_invite_users",
    "can_restrict_members",
    "can_delete_messages",
    "can_post_messages",
    "can_edit_messages",
]


def night_owls(owner: int, open_id: int, closed_id: int, **settings: Any) -> dict[str, Any]:
    """The channel file of the fixtures' channel (two tiers, as the demo's owner answers /newchannel);
    `settings` add to it or replace its values (`token`, payouts, ...), as JSON values."""
    return {
        "owner_user_id": owner,
        "open_channel_id": open_id,
        "closed_channel_id": closed_id,
        "title": "Night Owls Club",
        "description": "Late-night market notes, every day.",
        "tiers": [
            {"price": "5.00", "days": 30, "label": "Monthly"},
            {"price": "12.50", "days": 90, "label": "Quarterly"},
        ],
    } | settings


def instant_payouts(wallet: str) -> dict[str, Any]:
    """Each payment paid out on its own, in USDT on Tron (the bot's values for the owner's choice)."""
    return {
        "payout_currency": "usdt",
        "payout_network": "trx",
        "payout_wallet": wallet,
        "payout_strategy": "instant",
    }


def threshold_payouts(wallet: str, threshold: str) -> dict[str, Any]:
    """Paid out in USDT on Tron once the owner's balance is worth `threshold` USD."""
    return instant_payouts(wallet) | {"payout_strategy": "threshold", "payout_threshold": threshold}


def _channel_file(folder: str, settings: Mapping[str, Any]) -> Path:
    path = Path(folder) / "channel.json"
    path.write_text(json.dumps(settings), encoding="utf-8")  # a value no file could hold fails here
    return path


def register_channel(target: Store, settings: Mapping[str, Any], clock: Clock | None = None) -> ChannelDoc:
    """`telepay channels register` with a file of these settings: refused (ChannelFileError, each
    problem named by its field) as the CLI refuses it."""
    with tempfile.TemporaryDirectory(prefix="telepay-channel-") as folder:
        path = _channel_file(folder, settings)
        return channel_file.register(target, clock or Clock(), path, channel_file.unchecked)[0]


def change_channel(
    target: Store, token: str, settings: Mapping[str, Any], clock: Clock | None = None
) -> ChannelDoc:
    """`telepay channels update <token>` with a file of these settings (recorded in channel_changes)."""
    with tempfile.TemporaryDirectory(prefix="telepay-channel-") as folder:
        path = _channel_file(folder, settings)
        return channel_file.update(target, clock or Clock(), token, path, "fixtures", channel_file.unchecked)[
            0
        ]


def setup_channel(
    endpoints: dict[str, Any], tg: TelegramControl, token: str, **settings: Any
) -> dict[str, int]:
    """Olivia's two channels in the Telegram stand-in, the bot an admin of both, and her channel
    registered by an operator (`telepay channels register`) with `settings` (payouts, ...)."""
    owner = tg.user("Olivia", username=f"olivia_{token.lower()}")
    tg.say(owner, "/start")  # the owner talks to the bot once, so it may message her
    open_id = tg.channel("Night Owls Club", owner, username=f"nightowls_{token.lower()}")
    closed_id = tg.channel("Night Owls Club · Members", owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, CLOSED_RIGHTS)
    register_channel(
        store(endpoints),
        night_owls(owner, open_id, closed_id, token=token, **settings),
        system_clock(endpoints.get("clock_offset_file")),
    )
    return {"owner": owner, "open": open_id, "closed": closed_id}
