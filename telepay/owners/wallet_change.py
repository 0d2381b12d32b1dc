"""A changed payout wallet, told and undone: the owner's notice with its cancel button, the
operator's alert (`wallet changed:`), and the cancel itself. The hold's rules are
`telepay.channels.wallet_hold`."""

from __future__ import annotations

from shared_schemas.config import TelegramSettings
from shared_schemas.documents import ChannelDoc, WalletHold
from shared_schemas.ids import wallet_cancel_callback
from shared_schemas.names import ClaimPurpose
from shared_schemas.telegram import Button, Keyboard
from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden
from telepay.channels import wallet_hold
from telepay.channels.changes import changed, record
from telepay.channels.lookup import load_channel
from telepay.core.i18n import t
from telepay.core.logs import get_logger
from telepay.core.store import Tx
from telepay.core.users import speaking_to
from telepay.owners import texts as say
from telepay.runtime import Runtime

log = get_logger("telepay.owner_bot")


def notice(channel: ChannelDoc, hold: WalletHold) -> tuple[str, Keyboard]:
    """The owner's notice of the change and its cancel button (the bot and the CLI send it), in the
    current language: made inside `speaking_to(store, channel.owner_user_id)`."""
    text = say.wallet_held(channel.title, channel.payout_wallet, hold.previous_wallet, hold.until)
    button = Button(
        t(say.CANCEL_WALLET_CHANGE),
        callback_data=wallet_cancel_callback(channel.token, wallet_hold.stamp(hold)),
    )
    return text, [[button]]


def alert(channel: ChannelDoc, hold: WalletHold) -> None:
    """The operator's alert (a log-based metric, terraform/monitoring.tf). The address is the
    owner's business: the log names the channel and the hold, not the wallet."""
    log.warning(
        "wallet changed: channel %s payouts held until %s (by %s, %s)",
        channel.token,
        hold.until.isoformat(),
        hold.changed_by,
        hold.source,
        extra={"channel_token": channel.token},
    )


def announce(rt: Runtime[TelegramSettings], channel: ChannelDoc) -> bool:
    """After a change was saved: tell the owner and alert the operator, if the change put a hold
    on the channel's payouts. False when there is no hold to announce."""
    hold = channel.wallet_hold
    if hold is None or wallet_hold.held_until(channel, rt.clock.now()) is None:
        return False
    alert(channel, hold)
    try:
        with speaking_to(rt.store, channel.owner_user_id):
            text, keyboard = notice(channel, hold)
            rt.telegram.send_message(channel.owner_user_id, text, keyboard=keyboard)
    except (TelegramForbidden, TelegramBadRequest) as error:
        log.warning(
            "the owner could not be told of the wallet change: %s",
            error,
            extra={"channel_token": channel.token},
        )
    return True


def cancel(rt: Runtime[TelegramSettings], user_id: int, token: str, hold_stamp: str, update_id: int) -> str:
    """The owner's cancel button: the wallet from before the change, and payouts as before. Only
    the channel's owner, and only the hold the button was sent for (a newer change has its own).
    The press's outcome is kept with the cancel (`claims/wallet-cancel:<update id>`): Telegram
    delivers a press again when the answer could not be sent, and after the cancel was saved that
    press is told it was cancelled, not that the change was already undone."""
    store, now = rt.store, rt.clock.now()

    def work(tx: Tx) -> tuple[str, None]:
        current = tx.get(store.channels, token)
        if current is None or current.owner_user_id != user_id:
            return "not the owner", None
        hold = current.wallet_hold
        if (
            hold is None
            or wallet_hold.stamp(hold) != hold_stamp
            or wallet_hold.held_until(current, now) is None
        ):
            return "stale", None
        fields = wallet_hold.restore(hold)
        before = current.to_firestore()
        tx.update(store.channels, token, fields | {"updated_at": now})
        changes = changed(before, fields, (*wallet_hold.WALLET_FIELDS, "wallet_hold"))
        record(tx, store, token, user_id, "bot", changes, now)
        return "cancelled", None

    with rt.claims.hold(ClaimPurpose.WALLET_CANCEL, str(update_id)) as claim:
        if claim.done_before:
            outcome = claim.previous_result or "stale"
        else:
            outcome, _ = rt.claims.transaction_finishing(claim, work)
            if outcome == "cancelled":
                log.warning(
                    "wallet change cancelled: channel %s pays to its previous wallet again",
                    token,
                    extra={"channel_token": token},
                )
    channel = load_channel(store, token) if outcome == "cancelled" else None
    if channel is not None:
        rt.telegram.send_message(user_id, say.wallet_restored(channel.title, channel.payout_wallet))
    elif outcome == "stale":
        rt.telegram.send_message(user_id, t(say.WALLET_CANCEL_STALE))
    return f"wallet change {outcome}"
