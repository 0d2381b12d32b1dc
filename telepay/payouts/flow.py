"""The payout function's logic: plan payouts from the ledger, then drive each one to its end.

    settled payment ─▶ ledger entry (available; a Stars one only once `held_until` has passed)
    plan_channel: instant / threshold (payout_rules.plan), at most MAX_PAYOUT_ENTRIES entries a payout
                  ─▶ reserve entries + payouts/<id> (one transaction per payout)
    advance: RESERVED ─▶ create at NowPayments (unique_external_id = payout id) ─▶ CREATED
             CREATED  ─▶ verify with a TOTP code ─▶ VERIFIED
             VERIFIED/SENDING ─▶ poll (and payout IPNs, `observe_withdrawal`) ─▶ FINISHED | FAILED

Crash safety: every step first looks at what NowPayments already has. Before a RESERVED payout is
created, the attempt is recorded on it (`create_attempted_at`, with its `unique_external_id`): the
first attempt creates at once, and only a later attempt (the answer of the earlier one was lost, or
the process died after NowPayments created it and before that was recorded) searches NowPayments by
the external id before creating. A CREATED one is read back first and verified only while
NowPayments still has it WAITING (and "already verified" counts as done). So a retry resumes the
same payout and never creates a second one.

Failures: NowPayments down → the payout waits (`payout_rules.backoff`) and the every-minute run
resumes it. NowPayments refuses the create → FAILED (nothing was sent); a refused search after a
lost answer holds the payout with `attention` instead (the withdrawal may exist). FAILED/REJECTED
→ its entries go back to the balance (not planned again for `RETRY_AFTER_FAILURE`), the owner is
told, and the operator sees `payout failed:` (alerted). A 2FA code refused → the payout stays
CREATED with `attention` set (NowPayments holds the withdrawal unverified, so releasing its entries
could pay them twice); the operator fixes the secret and retries it
(`telepay.payouts.balance.retry_payout`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared_schemas.config import PayoutSettings
from shared_schemas.documents import (
    PAYOUT_TERMINAL,
    ChannelDoc,
    EntryState,
    LedgerEntryDoc,
    PayoutDoc,
    PayoutState,
    PayoutStrategy,
)
from shared_schemas.messages import Envelope, EventType, PaymentEvent
from shared_schemas.money import round_payout
from shared_schemas.names import ClaimPurpose
from shared_schemas.nowpayments import Withdrawal
from shared_schemas.queries import AVAILABLE_LEDGER, LEDGER_OF_CHANNEL, PAYOUT_NOTICES, PAYOUTS_DUE
from telepay.adapters.nowpayments_api import NowPaymentsRejected
from telepay.adapters.nowpayments_payouts import VerificationRefused
from telepay.channels import wallet_hold, wallets
from telepay.channels.lookup import load_channel
from telepay.channels.notices import notify_owner_once
from telepay.core.clock import Clock
from telepay.core.errors import ClaimBusy, Permanent, Transient
from telepay.core.i18n import money, t
from telepay.core.logs import get_logger
from telepay.core.store import Store, Tx
from telepay.core.users import speaking_to
from telepay.payouts import rules as payout_rules
from telepay.runtime import Runtime

log = get_logger("telepay.payouts")
Rt = Runtime[PayoutSettings]
RETRY_AFTER_FAILURE = timedelta(hours=6)
NEEDS_OPERATOR = datetime(9000, 1, 1, tzinfo=UTC)  # not resumed by the every-minute run


# ------------------------------------------------------------------------------------- planning
def available_entries(store: Store, channel_token: str, now: datetime) -> list[LedgerEntryDoc]:
    entries = [
        stored.doc
        for page in store.ledger.pages(
            LEDGER_OF_CHANNEL, channel_token=channel_token, state=EntryState.AVAILABLE.value
        )
        for stored in page
    ]
    return [e for e in entries if _plannable(e, now)]


def _plannable(entry: LedgerEntryDoc, now: datetime) -> bool:
    """Not waiting after a failed payout, and not Stars Telegram still holds (`held_until`). A
    refund's offset is a debt and always counts: no sale is paid around it."""
    if entry.retry_after is not None and entry.retry_after > now:
        return False
    return entry.reverses is not None or entry.held_until is None or entry.held_until <= now


def plan_channel(rt: Rt, channel_token: str) -> list[str]:
    """Reserve the payouts this channel's available entries call for; their ids. One planner per
    channel at a time (a released claim): the every-minute run and each settled payment's event
    would otherwise all read and reserve the same entries at once, and on contention none gets
    through. A planner that finds one at work returns at once: that one plans every available
    entry, and the next run or event plans what came after."""
    try:
        with rt.claims.hold(
            ClaimPurpose.PAYOUT, f"plan:{channel_token}", lease=timedelta(seconds=60)
        ) as claim:
            claim.release()  # a lock, not once-only work: the next planner may plan again
            return _plan_channel(rt, channel_token)
    except ClaimBusy:
        log.info(
            "payouts of this channel are being planned elsewhere", extra={"channel_token": channel_token}
        )
        return []


def _plan_channel(rt: Rt, channel_token: str) -> list[str]:
    channel = load_channel(rt.store, channel_token)
    if channel is None or not (channel.payout_wallet and channel.payout_currency):
        return []  # no wallet yet: the balance waits
    payout_currency = wallets.payout_ticker(channel.payout_currency, channel.payout_network)
    if payout_currency is None:  # the channel rules allow no such pair: nothing is sent anywhere
        log.error(
            "payout held: %s on %s is not a currency TelePay pays out in",
            channel.payout_currency,
            channel.payout_network,
            extra={"channel_token": channel_token},
        )
        return []
    now = rt.clock.now()
    held = wallet_hold.held_until(channel, now)
    if held is not None:  # the wallet changed: nothing leaves before the owner could cancel it
        log.info(
            "payouts held until %s: the wallet changed",
            held.isoformat(),
            extra={"channel_token": channel_token},
        )
        return []
    by_currency: dict[str, list[LedgerEntryDoc]] = defaultdict(list)
    available = available_entries(rt.store, channel_token, now)
    for entry in available:
        by_currency[entry.settled_currency].append(entry)
    # The threshold is on everything available (crypto of any coin and released Stars together).
    usd = _usd_value(rt, available) if channel.payout_strategy is PayoutStrategy.THRESHOLD else Decimal(0)
    reserved = []
    api = rt.payouts_api
    for currency, entries in by_currency.items():
        minimum = api.min_amount(payout_currency)
        if currency != payout_currency:
            minimum = api.estimate(minimum, payout_currency, currency)
        planned = payout_rules.plan_payouts(
            channel.payout_strategy, entries, minimum, channel.payout_threshold, usd
        )
        if planned.stuck_offset is not None:
            log.error(
                "payout failed: channel %s held: refund offset %s cannot be netted in a payout of at "
                "most %d entries",
                channel_token,
                planned.stuck_offset.entry_id,
                payout_rules.MAX_PAYOUT_ENTRIES,
                extra={"channel_token": channel_token},
            )
        for group in planned.groups:
            payout = _payout(rt, channel, group, currency, payout_currency, now)
            if reserve(rt.store, payout):
                reserved.append(payout.payout_id)
                log.info(
                    "payout reserved", extra={"payout_id": payout.payout_id, "channel_token": channel_token}
                )
    if channel.payout_problem:  # NowPayments took this plan: the channel is no longer held
        rt.store.channels.update(channel_token, {"payout_problem": None})
    return reserved


def _usd_value(rt: Rt, entries: list[LedgerEntryDoc]) -> Decimal:
    """What the entries are worth in USD (the threshold is in USD): the net price of those priced in
    USD; Stars (`xtr`, which NowPayments does not know) by the USD value they were booked with; any
    other price currency estimated by NowPayments."""
    usd = Decimal(0)
    others: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        if e.gross_currency == "usd":
            usd += e.net_amount
        elif e.settled_currency == "usd":
            usd += e.settled_net
        else:
            others[e.gross_currency] += e.net_amount
    for currency, amount in others.items():
        usd += rt.payouts_api.estimate(amount, currency, "usd")
    return usd


def _payout(
    rt: Rt,
    channel: ChannelDoc,
    group: list[LedgerEntryDoc],
    currency: str,
    payout_currency: str,
    now: datetime,
) -> PayoutDoc:
    """`currency`: what the entries settled in; `payout_currency`: NowPayments' code of the owner's
    coin on their network (both as NowPayments names them)."""
    assert channel.payout_wallet
    settled = sum((e.settled_net for e in group), Decimal(0))
    amount = settled
    if currency != payout_currency:
        converted = rt.payouts_api.estimate(settled, currency, payout_currency)
        amount = round_payout(converted, payout_currency)
    payout_id = payout_rules.payout_id(channel.token, group)
    return PayoutDoc(
        payout_id=payout_id,
        channel_token=channel.token,
        owner_user_id=channel.owner_user_id,
        entry_ids=sorted(e.entry_id for e in group),
        settled_currency=currency,
        settled_amount=settled,
        net_price_amount=sum((e.net_amount for e in group), Decimal(0)),
        price_currency=group[0].gross_currency,
        address=channel.payout_wallet,
        currency=payout_currency,
        network=channel.payout_network,
        amount=amount,
        strategy=channel.payout_strategy,
        unique_external_id=payout_id,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def reserve(store: Store, payout: PayoutDoc) -> bool:
    """One transaction: every entry still available → reserved by this payout, and the payout
    written. False when the payout exists or an entry was taken (a concurrent planner won)."""

    def work(tx: Tx) -> bool:
        if tx.get(store.payouts, payout.payout_id) is not None:
            return False
        entries = [tx.get(store.ledger, entry_id) for entry_id in payout.entry_ids]
        if any(e is None or e.state is not EntryState.AVAILABLE for e in entries):
            return False
        for entry_id in payout.entry_ids:
            tx.update(
                store.ledger,
                entry_id,
                {
                    "state": EntryState.RESERVED,
                    "payout_id": payout.payout_id,
                    "updated_at": payout.created_at,
                },
            )
        tx.set(store.payouts, payout.payout_id, payout)
        return True

    return store.transaction(work)


# ------------------------------------------------------------------------------------- one payout
def advance(rt: Rt, payout_id: str) -> str:
    """Drive one payout as far as it goes now. Transient trouble is recorded as a backoff (the
    every-minute run resumes it) and answered as an outcome, not raised."""
    try:
        with rt.claims.hold(ClaimPurpose.PAYOUT, payout_id, lease=timedelta(minutes=2)) as claim:
            claim.release()  # a lock, not a dedupe: the next step may run at once
            return _advance(rt, payout_id)
    except ClaimBusy:
        return "busy elsewhere"


def _advance(rt: Rt, payout_id: str) -> str:
    store, api, now = rt.store, rt.payouts_api, rt.clock.now()
    payout = store.payouts.get(payout_id)
    if payout is None:
        return "unknown payout"
    if payout.state in PAYOUT_TERMINAL:
        return f"already {payout.state.value}"
    if payout.attention and payout.next_attempt_at > now:
        return f"waits for the operator: {payout.attention}"
    ids = {"payout_id": payout_id, "channel_token": payout.channel_token}
    creating = False  # only a refused create ends the payout: a refused search may hide a withdrawal
    try:
        if payout.state is PayoutState.RESERVED:
            found = _created_before(rt, payout)
            if found is None:
                creating = True
                found = api.create_payout(
                    address=payout.address,
                    currency=payout.currency,
                    amount=payout.amount,
                    unique_external_id=payout.unique_external_id or payout_id,
                    ipn_callback_url=rt.settings.ipn_callback_url,
                    extra_id=None,
                    description=f"TelePay {payout.channel_token}",
                )
                creating = False
                log.info("payout created at NowPayments", extra=ids)
            payout = observe_withdrawal(store, rt.clock, payout_id, found)
        if payout.state is PayoutState.CREATED:
            assert payout.withdrawal_id and payout.batch_id
            current = api.get_withdrawal(payout.withdrawal_id)
            if current.status.upper() in ("CREATING", "WAITING"):
                api.verify(payout.batch_id)
                log.info("payout verified", extra=ids)
                current = current.model_copy(update={"status": "PROCESSING"})
            payout = observe_withdrawal(store, rt.clock, payout_id, current)
        if payout.state in (PayoutState.VERIFIED, PayoutState.SENDING):
            assert payout.withdrawal_id
            payout = observe_withdrawal(store, rt.clock, payout_id, api.get_withdrawal(payout.withdrawal_id))
    except VerificationRefused as error:
        _needs_operator(store, now, payout_id, f"2FA code refused: {error}")
        log.error("payout failed: %s needs the operator: 2FA code refused", payout_id, extra=ids)
        return "verification refused"
    except Transient as error:
        _wait(rt, payout_id, payout.attempts + 1, f"{type(error).__name__}: {error}")
        log.warning("payout %s waits: %s", payout_id, error, extra=ids)
        return "waits for NowPayments"
    except (NowPaymentsRejected, Permanent) as error:
        if creating:
            # NowPayments refused to create it (a wrong address, currency or amount): nothing left.
            ended = fail(store, now, payout_id, f"refused by NowPayments: {error}")
            log.error("payout failed: %s refused: %s", payout_id, error, extra=ids)
            return f"ended {ended.state.value}"
        _needs_operator(store, now, payout_id, f"NowPayments refused a step: {error}")
        log.error("payout failed: %s needs the operator: %s", payout_id, error, extra=ids)
        return "needs the operator"
    if payout.state not in PAYOUT_TERMINAL:
        store.payouts.update(
            payout_id,
            {"next_attempt_at": now + timedelta(seconds=rt.settings.payout_poll_seconds), "attempts": 0},
        )
    return payout.state.value


def _created_before(rt: Rt, payout: PayoutDoc) -> Withdrawal | None:
    """The withdrawal an earlier attempt created for this reserved payout, if any. Each attempt is
    recorded before NowPayments is asked to create (`create_attempted_at`), so the first one has
    nothing to look for and creates at once; only after an attempt whose answer was lost (recorded,
    no withdrawal id) is NowPayments' list of withdrawals searched by the external id."""
    earlier = record_create_attempt(rt.store, rt.clock.now(), payout.payout_id)
    if earlier is None:
        return None
    return rt.payouts_api.find_by_external_id(
        payout.unique_external_id or payout.payout_id, since=earlier - timedelta(days=1)
    )


def record_create_attempt(store: Store, now: datetime, payout_id: str) -> datetime | None:
    """Record that NowPayments is about to be asked to create this payout. None on the first attempt;
    otherwise since when an earlier one may have created it (a payout reserved before attempts were
    recorded: since its reservation)."""

    def work(tx: Tx) -> datetime | None:
        payout = tx.get(store.payouts, payout_id)
        if payout is None:
            raise Permanent(f"payout {payout_id} does not exist")
        if payout.create_attempted_at is not None:
            return payout.create_attempted_at
        tx.update(
            store.payouts,
            payout_id,
            {
                "create_attempted_at": now,
                "unique_external_id": payout.unique_external_id or payout_id,
                "updated_at": now,
            },
        )
        return None if payout.unique_external_id else payout.created_at

    return store.transaction(work)


def _wait(rt: Rt, payout_id: str, attempts: int, reason: str) -> None:
    wait = payout_rules.backoff(attempts, timedelta(seconds=rt.settings.payout_max_backoff_seconds))
    rt.store.payouts.update(
        payout_id,
        {"attempts": attempts, "next_attempt_at": rt.clock.now() + wait, "failure_reason": reason[:500]},
    )


def _needs_operator(store: Store, now: datetime, payout_id: str, reason: str) -> None:
    store.payouts.update(
        payout_id, {"attention": reason[:500], "next_attempt_at": NEEDS_OPERATOR, "updated_at": now}
    )


def observe_withdrawal(store: Store, clock: Clock, payout_id: str, withdrawal: Withdrawal) -> PayoutDoc:
    """Record what NowPayments reports about a payout's withdrawal, in one transaction: the state
    only moves forward; FINISHED pays its entries, FAILED/REJECTED releases them. Used by the
    payout function (creation, verification, polling) and by ipn_handler (payout IPNs)."""
    now = clock.now()

    def work(tx: Tx) -> PayoutDoc:
        payout = tx.get(store.payouts, payout_id)
        if payout is None:
            raise Permanent(f"payout {payout_id} does not exist")
        new = payout_rules.observe(payout.state, withdrawal.status)
        if payout.state in PAYOUT_TERMINAL:
            return payout
        updates: dict[str, Any] = {
            "nowpayments_status": withdrawal.status.upper(),
            "withdrawal_id": payout.withdrawal_id or withdrawal.id,
            "batch_id": payout.batch_id or withdrawal.batch_withdrawal_id,
            "updated_at": now,
        }
        if withdrawal.hash:
            updates["hash"] = withdrawal.hash
        if new in PAYOUT_TERMINAL:
            entries = _read_entries(tx, store, payout)
            updates |= _ending(tx, store, entries, new, withdrawal.error or withdrawal.status, now)
        if new is not None:
            updates["state"] = new
        tx.update(store.payouts, payout_id, updates)
        return payout.model_copy(update=updates)

    return store.transaction(work)


def _read_entries(tx: Tx, store: Store, payout: PayoutDoc) -> dict[str, LedgerEntryDoc]:
    """The payout's entries, read before any write of the transaction."""
    entries = {}
    for entry_id in payout.entry_ids:
        entry = tx.get(store.ledger, entry_id)
        if entry is not None and entry.payout_id == payout.payout_id:
            entries[entry_id] = entry
    return entries


def _ending(
    tx: Tx,
    store: Store,
    entries: dict[str, LedgerEntryDoc],
    new: PayoutState | None,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    for entry_id, entry in entries.items():
        if new is PayoutState.FINISHED:
            tx.update(store.ledger, entry_id, {"state": EntryState.PAID, "updated_at": now})
        else:
            tx.update(
                store.ledger,
                entry_id,
                {
                    "state": EntryState.AVAILABLE,
                    "payout_id": None,
                    "releases": entry.releases + 1,
                    "retry_after": now + RETRY_AFTER_FAILURE,
                    "updated_at": now,
                },
            )
    fields: dict[str, Any] = {"open": False, "ended_at": now, "notice_pending": True, "attention": None}
    if new is PayoutState.FAILED:
        fields["failure_reason"] = reason[:500]
    return fields


def fail(store: Store, now: datetime, payout_id: str, reason: str) -> PayoutDoc:
    """End a payout that NowPayments never accepted: FAILED, its entries back to the balance."""

    def work(tx: Tx) -> PayoutDoc:
        payout = tx.get(store.payouts, payout_id)
        if payout is None:
            raise Permanent(f"payout {payout_id} does not exist")
        if payout.state in PAYOUT_TERMINAL:
            return payout
        entries = _read_entries(tx, store, payout)
        updates = _ending(tx, store, entries, PayoutState.FAILED, reason, now) | {
            "state": PayoutState.FAILED,
            "updated_at": now,
        }
        tx.update(store.payouts, payout_id, updates)
        return payout.model_copy(update=updates)

    return store.transaction(work)


# ------------------------------------------------------------------------------------- triggers
def handle_event(envelope: Envelope[PaymentEvent], rt: Rt) -> list[str]:
    """A payment event: after a settlement, plan the channel's payouts and drive the new ones."""
    if envelope.type is not EventType.PAYMENT_SETTLED:
        return [f"ignored {envelope.type.value}"]
    reserved = _plan_or_hold(rt, envelope.data.channel_token)
    if reserved is None:
        return ["held"]
    return [f"{payout_id}: {advance(rt, payout_id)}" for payout_id in reserved] or ["nothing to pay yet"]


def _plan_or_hold(rt: Rt, token: str) -> list[str] | None:
    """`plan_channel`, or None when NowPayments refuses what planning asks for this channel (a 4xx
    for its currency or estimate): the channel's payouts are held and the reason recorded on it,
    its owner told once, the operator alerted (`payout failed:`). A later run tries again."""
    try:
        reserved = plan_channel(rt, token)
    except Permanent as error:
        reason = f"{type(error).__name__}: {error}"[:300]
        log.error("payout failed: channel %s held: %s", token, reason, extra={"channel_token": token})
        channel = load_channel(rt.store, token)
        if channel is not None:
            if channel.payout_problem != reason:
                rt.store.channels.update(token, {"payout_problem": reason})
            digest = hashlib.sha256(reason.encode()).hexdigest()[:12]
            title = channel.title
            notify_owner_once(
                rt, ClaimPurpose.PAYOUT_HELD, channel, lambda: payouts_held(title), key=f"{token}:{digest}"
            )
        return None
    return reserved


def run_scheduled(rt: Rt) -> dict[str, int]:
    """Every minute: the threshold check of every channel with an available balance, then every
    open payout that is due (resume or poll), then the owners' notices."""
    now = rt.clock.now()
    counts = {"channels": 0, "reserved": 0, "held": 0, "advanced": 0, "notices": 0}
    tokens = {
        stored.doc.channel_token
        for page in rt.store.ledger.pages(AVAILABLE_LEDGER, state=EntryState.AVAILABLE.value, below=now)
        for stored in page
    }
    for token in sorted(tokens):  # one channel's problem holds that channel only
        counts["channels"] += 1
        reserved = _plan_or_hold(rt, token)
        if reserved is None:
            counts["held"] += 1
        else:
            counts["reserved"] += len(reserved)
    for page in rt.store.payouts.pages(PAYOUTS_DUE, open=True, below=now):
        for stored in page:
            advance(rt, stored.id)
            counts["advanced"] += 1
    counts["notices"] = send_notices(rt)
    return counts


def send_notices(rt: Rt) -> int:
    """Tell each owner how their ended payouts went (once each); failures also reach the operator."""
    sent = 0
    for page in rt.store.payouts.pages(PAYOUT_NOTICES, notice_pending=True):
        for stored in page:
            _notice(rt, stored.doc)
            sent += 1
    return sent


def _notice(rt: Rt, payout: PayoutDoc) -> None:
    from telepay.adapters.telegram_api import TelegramBadRequest, TelegramForbidden

    ids = {"payout_id": payout.payout_id, "channel_token": payout.channel_token}
    with rt.claims.hold(ClaimPurpose.PAYOUT_NOTICE, payout.payout_id, lease=timedelta(minutes=2)) as claim:
        if not claim.done_before:
            if payout.state is not PayoutState.FINISHED:
                log.error(
                    "payout failed: %s ended FAILED: %s", payout.payout_id, payout.failure_reason, extra=ids
                )
            try:
                with speaking_to(rt.store, payout.owner_user_id):
                    rt.telegram.send_message(payout.owner_user_id, payout_notice(payout))
            except TelegramForbidden:
                log.warning("owner blocked the bot; payout notice not sent", extra=ids)
            except TelegramBadRequest as error:  # the owner's chat is gone: nothing to retry
                log.warning("payout notice not sent: %s", error, extra=ids)
    rt.store.payouts.update(payout.payout_id, {"notice_pending": False})


# -------------------------------------------------------------------------------- owners' texts
def payouts_held(title: str) -> str:
    return t(
        "⚠️ Payouts for {title} are on hold: NowPayments refused them. Your balance is "
        "safe and we're on it; payouts resume as soon as this is fixed.",
        title=title,
    )


def payout_notice(payout: PayoutDoc) -> str:
    """How an ended payout went, in the current language (the owner's)."""
    amount = money(payout.amount, payout.currency)
    if payout.state is PayoutState.FINISHED:
        return t("💸 Payout sent: {amount} to {address}.", amount=amount, address=payout.address)
    return t(
        "⚠️ Your payout of {amount} to {address} failed ({reason}). "
        "The amount is back in your balance and will be paid again later.",
        amount=amount,
        address=payout.address,
        reason=payout.failure_reason,
    )
