"""The donation keypad's rules, pure: what each key does to the amount typed, what the keypad
shows, and what one press does to a session (`decide_press`). No I/O; the flow is
`telepay.donations.keypad`.

Input rules: digits, at most one decimal point, at most two decimals, no leading zeros (a digit
typed after a lone 0 replaces it), at most four digits before the point; confirm only between the
channel's minimum and maximum.

Texts are made in the current language (the keypad function speaks the donor's). The amount line
the donor sees is what a Confirm carries back (`shown_amount`), so `is_amount_line` finds it in the
message in any language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_decimal_symbol

from shared_schemas.documents import ChannelDoc, KeypadSessionDoc, KeypadStatus
from shared_schemas.ids import donation_order_id, keypad_callback
from shared_schemas.money import cents
from shared_schemas.telegram import Button
from telepay.core.i18n import N_, current, money, t

MAX_INTEGER_DIGITS = 4
KEEP_PRESS_IDS = 100
DIGITS = tuple("0123456789")
KEY_POINT, KEY_BACK, KEY_CLEAR, KEY_CONFIRM, KEY_CANCEL = ".", "bs", "clr", "ok", "x"
KEYS = (*DIGITS, KEY_POINT, KEY_BACK, KEY_CLEAR, KEY_CONFIRM, KEY_CANCEL)
AMOUNT_LINE = N_("Amount: {amount}")
AMOUNT_CHANGED = N_("The amount changed while you typed: check it and tap Confirm again.")
# A Donate button or link of a channel that is gone or paused (the same words as the offer's).
NO_DONATIONS = N_("Sorry, I can't find that offer. Please check the link with the channel owner.")
PREPARING_INVOICE = N_("Preparing your invoice…")
DONATION_CANCELLED = N_("Donation cancelled")
TYPE_AN_AMOUNT = N_("Type an amount first")
VALID_TEXT = re.compile(r"^(0|[1-9]\d{0,3})?(\.\d{0,2})?$")


def apply_key(text: str, key: str) -> tuple[str, str | None]:
    """The amount text after an editing key, and the reason when the key is refused."""
    if key == KEY_CLEAR:
        return "", None if text else t("Nothing to clear")
    if key == KEY_BACK:
        return (text[:-1], None) if text else (text, t("Nothing to delete"))
    if key == KEY_POINT:
        if "." in text:
            return text, t("Only one decimal point")
        return (text or "0") + ".", None
    if key in DIGITS:
        whole, point, decimals = text.partition(".")
        if point:
            if len(decimals) >= 2:
                return text, t("Two decimals at most")
            return text + key, None
        if whole == "0":
            return key, None  # no leading zeros: the digit replaces the lone 0
        if len(whole) >= MAX_INTEGER_DIGITS:
            return text, t("That's the longest amount I take")
        return text + key, None
    return text, t("Unknown key")


def amount_of(text: str) -> Decimal | None:
    if not text or not VALID_TEXT.match(text) or text == ".":
        return None
    try:
        return Decimal(text.rstrip(".") or "0")
    except InvalidOperation:
        return None


def confirm_refusal(text: str, channel: ChannelDoc) -> str | None:
    amount = amount_of(text)
    if amount is None or amount == 0:
        return t(TYPE_AN_AMOUNT)
    if amount < channel.donation_min:
        return t("The minimum is {amount}", amount=money(channel.donation_min, channel.currency))
    if amount > channel.donation_max:
        return t("The maximum is {amount}", amount=money(channel.donation_max, channel.currency))
    return None


ZERO = re.compile(r"0(?:[^0-9]0+)?")  # the number in an amount of zero: `0.00`, `0,00`, `0`


def shown(text: str, currency: str) -> str:
    """The amount as typed (`12.` while the cents are still to come), written the way the current
    language writes an amount in `currency`: `$12.5`, `12,5 $`."""
    zero = money(Decimal(0), currency)
    if amount_of(text) is None:
        return zero
    typed = text.replace(".", get_decimal_symbol(locale=current()))
    return ZERO.sub(lambda _: typed, zero, count=1)


def amount_line(channel: ChannelDoc, text: str) -> str:
    return t(AMOUNT_LINE, amount=shown(text, channel.currency))


def is_amount_line(line: str) -> bool:
    """Whether a line of the keypad message is its amount line (in the current language)."""
    before, _, after = t(AMOUNT_LINE).partition("{amount}")
    return (
        bool(before or after)
        and len(line) > len(before) + len(after)
        and line.startswith(before)
        and line.endswith(after)
    )


def keypad_text(channel: ChannelDoc, text: str) -> str:
    return t(
        "💝 Donate to {title}\n\n{amount_line}\n\nFrom {minimum} to {maximum}.",
        title=channel.title,
        amount_line=amount_line(channel, text),
        minimum=money(channel.donation_min, channel.currency),
        maximum=money(channel.donation_max, channel.currency),
    )


def keypad_keyboard(session_id: str) -> list[list[Button]]:
    def b(label: str, key: str) -> Button:
        return Button(label, callback_data=keypad_callback(session_id, key))

    return [
        [b("1", "1"), b("2", "2"), b("3", "3")],
        [b("4", "4"), b("5", "5"), b("6", "6")],
        [b("7", "7"), b("8", "8"), b("9", "9")],
        [b(".", KEY_POINT), b("0", "0"), b("⌫", KEY_BACK)],
        [b(t("Clear"), KEY_CLEAR), b(t("✖ Cancel"), KEY_CANCEL)],
        [b(t("✅ Confirm"), KEY_CONFIRM)],
    ]


# -- one press, decided (pure) --------------------------------------------------------------------
@dataclass
class PressResult:
    outcome: str
    answer: str | None = None
    alert: bool = False


@dataclass(frozen=True)
class PressDecision:
    result: PressResult
    updates: dict[str, Any]  # the session's field updates; empty when nothing is written
    session: KeypadSessionDoc | None = None  # the session after the press, when there is work after it


def typed(
    base: str, presses: list[str], key: str, order: int | None
) -> tuple[str, list[str], str, str | None]:
    """The amount after one more editing key, applied in the order the donor typed (Telegram's update
    ids), whatever order the presses arrive in: (amount, presses, base, the key's refusal)."""
    entries = [(int(seq), pressed) for seq, _, pressed in (p.partition(":") for p in presses)]
    seq = order if order is not None else max((s for s, _ in entries), default=0) + 1
    position = sum(1 for s, _ in entries if s <= seq)  # after every press typed before it
    entries.insert(position, (seq, key))
    text, refusal = base, None
    for index, (_, pressed) in enumerate(entries):
        text, refused = apply_key(text, pressed)
        if index == position:
            refusal = refused
    if refusal:
        return text, presses, base, refusal  # nothing changes; the refused key is not kept
    if len(entries) > KEEP_PRESS_IDS:  # the oldest half folded into the base
        half = len(entries) // 2
        for _, pressed in entries[:half]:
            base, _ = apply_key(base, pressed)
        entries = entries[half:]
    return text, [f"{s}:{k}" for s, k in entries], base, None


def decide_press(
    session: KeypadSessionDoc | None,
    channel: ChannelDoc | None,
    user_id: int,
    key: str,
    query_id: str,
    now: datetime,
    order: int | None = None,
    shown_amount: str | None = None,
) -> PressDecision:
    """What one press does to a keypad session: applied at most once per callback query. `order`:
    the press's update id (presses count in that order); `shown_amount`: the amount line the donor
    saw when confirming (a confirm of an amount the session no longer holds is refused)."""
    if session is None:
        return PressDecision(PressResult("no session", t("This keypad has expired. Tap Donate again.")), {})
    if session.user_id != user_id:
        return PressDecision(PressResult("not the owner", t("This keypad belongs to someone else.")), {})
    if query_id in session.applied_presses:
        # Applied before, but the work after the commit may not have finished (a 429 on the edit
        # makes Cloud Tasks retry): finish it from the stored state.
        again = {
            KeypadStatus.CONFIRMED: t(PREPARING_INVOICE),
            KeypadStatus.CANCELLED: t(DONATION_CANCELLED),
        }
        return PressDecision(PressResult("duplicate press", again.get(session.status)), {}, session)
    if session.status is not KeypadStatus.OPEN:
        return PressDecision(
            PressResult("closed keypad", t("This keypad is closed. Tap Donate to start again.")), {}
        )
    if channel is None:
        return PressDecision(PressResult("channel gone", t("This channel no longer takes donations.")), {})
    presses = [*session.applied_presses, query_id][-KEEP_PRESS_IDS:]
    recorded: dict[str, Any] = {"applied_presses": presses}
    updates: dict[str, Any] = {**recorded, "updated_at": now}
    if key == KEY_CANCEL:
        updates["status"] = KeypadStatus.CANCELLED
        result = PressResult("cancelled", t(DONATION_CANCELLED))
    elif key == KEY_CONFIRM:
        if shown_amount is not None and shown_amount != amount_line(channel, session.amount_text):
            return PressDecision(PressResult("refused", t(AMOUNT_CHANGED), alert=True), recorded)
        refusal = confirm_refusal(session.amount_text, channel)
        amount = amount_of(session.amount_text)
        if refusal or amount is None:
            return PressDecision(PressResult("refused", refusal or t(TYPE_AN_AMOUNT), alert=True), recorded)
        order_id = donation_order_id(channel.token, session.user_id, cents(amount))
        updates |= {"status": KeypadStatus.CONFIRMED, "order_id": order_id}
        result = PressResult("confirmed", t(PREPARING_INVOICE))
    else:
        text, typed_presses, base, refusal = typed(session.presses_base, session.presses, key, order)
        if refusal:
            return PressDecision(PressResult("refused", refusal), recorded)
        updates |= {"amount_text": text, "presses": typed_presses, "presses_base": base}
        result = PressResult("applied")
    merged = session.model_copy(
        update={k: v for k, v in updates.items() if k in KeypadSessionDoc.model_fields}
    )
    return PressDecision(result, updates, merged)


def keypad_message(session: KeypadSessionDoc, channel: ChannelDoc) -> tuple[str, list[list[Button]] | None]:
    """What the keypad message shows for a session: the keypad while open, then a closing line."""
    if session.status is KeypadStatus.CANCELLED:
        return t("Donation to {title} cancelled. No worries!", title=channel.title), None
    if session.status is KeypadStatus.CONFIRMED:
        amount = amount_of(session.amount_text) or Decimal(0)
        text = t(
            "💝 Donation of {amount} to {title}: preparing your invoice…",
            amount=money(amount, channel.currency),
            title=channel.title,
        )
        return text, None
    return keypad_text(channel, session.amount_text), keypad_keyboard(session.session_id)
