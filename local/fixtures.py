"""A channel written straight into Firestore, skipping the owner's conversation with the bot: for
benchmarks and tests that need a channel with a known token quickly. Owners go live through the
bot (`/newchannel`, as `local/demo.py` plays it)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from local.clients import TelegramControl, store
from shared_schemas.documents import ChannelDoc, Tier
from telepay.channels.lookup import save_channel
from telepay.channels.settings import validate_channel

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


def setup_channel(endpoints: dict[str, Any], tg: TelegramControl, token: str) -> dict[str, int]:
    owner = tg.user("Olivia", username=f"olivia_{token.lower()}")
    tg.say(owner, "/start")  # the owner talks to the bot once, so it may message her
    open_id = tg.channel("Night Owls Club", owner, username=f"nightowls_{token.lower()}")
    closed_id = tg.channel("Night Owls Club · Members", owner)
    tg.make_bot_admin(open_id, OPEN_RIGHTS)
    tg.make_bot_admin(closed_id, CLOSED_RIGHTS)
    channel = ChannelDoc(
        token=token,
        owner_user_id=owner,
        title="Night Owls Club",
        description="Late-night market notes, every day.",
        open_channel_id=open_id,
        closed_channel_id=closed_id,
        tiers=[
            Tier(tier_id="t1", price=Decimal("5.00"), days=30, label="Monthly"),
            Tier(tier_id="t2", price=Decimal("12.50"), days=90, label="Quarterly"),
        ],
        created_at=datetime.now(UTC),
    )
    checked = validate_channel(channel.model_dump())  # the rules the bot and the CLI apply
    if isinstance(checked, list):
        raise ValueError("; ".join(str(error) for error in checked))
    save_channel(store(endpoints), channel)
    return {"owner": owner, "open": open_id, "closed": closed_id}
