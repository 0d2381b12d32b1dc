"""The configuration contract: one settings model per function, read from the environment.

`docs/config.md` is generated from these models and Terraform sets exactly these variables (tests
check both). A field typed `SecretStr` is a secret: Terraform takes it from Secret Manager, and
logs never print it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared_schemas.names import Function


class MissingSettingError(RuntimeError):
    """A required setting is missing or invalid; the message names it."""


class CommonSettings(BaseSettings):
    # Built on first use: a function loads every settings class but uses one.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, defer_build=True)

    google_cloud_project: str = Field(description="Google Cloud project id (Firestore, Pub/Sub, Tasks).")
    firestore_emulator_host: str | None = Field(
        default=None, description="host:port of the Firestore emulator (local only)."
    )
    log_level: str = Field(default="INFO", description="Minimum log severity.")
    telepay_clock_offset_file: str | None = Field(
        default=None,
        description="File holding a clock offset in seconds, so tests can move time (local only).",
    )


class TelegramSettings(CommonSettings):
    telegram_bot_token: SecretStr = Field(description="Bot token from @BotFather.")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org", description="Bot API base URL (the local stand-in when local)."
    )
    telegram_bot_username: str = Field(description="Bot username without @, for deep links.")


class TasksSettings(CommonSettings):
    tasks_location: str = Field(default="us-central1", description="Cloud Tasks location of the queues.")
    tasks_invoker_service_account: str | None = Field(
        default=None, description="Service account whose OIDC token tasks carry to their target."
    )
    cloud_tasks_emulator_host: str | None = Field(
        default=None, description="host:port of the local Cloud Tasks stand-in (local only)."
    )
    tasks_token_from_queue: bool = Field(
        default=False,
        description="Each queue adds its own OIDC token and pins the target host (queue-level "
        "http_target, as Terraform configures the queues): tasks are created without a token.",
    )

    @model_validator(mode="after")
    def _tasks_need_an_identity(self) -> TasksSettings:
        # Every task target is IAM-protected: without a token the tasks would fail forever.
        if (
            self.cloud_tasks_emulator_host is None
            and not self.tasks_invoker_service_account
            and not self.tasks_token_from_queue
        ):
            raise ValueError(
                "TASKS_INVOKER_SERVICE_ACCOUNT is required outside the local stack "
                "(unless TASKS_TOKEN_FROM_QUEUE: the queues add the token)"
            )
        return self


class TaskTargetSettings(CommonSettings):
    """A function that runs Cloud Tasks (create_invoice, keypad, and the /task paths of
    expire_subscriptions)."""

    task_caller_service_account: str | None = Field(
        default=None,
        description="The identity whose OIDC token every task call must carry (this function's queue; "
        "comma separated when several queues target it); a task call with another identity is "
        "refused with 403.",
    )


class PubSubSettings(CommonSettings):
    pubsub_emulator_host: str | None = Field(
        default=None, description="host:port of the Pub/Sub emulator (local only)."
    )


def _not_blank(value: SecretStr) -> SecretStr:
    # The message never quotes the value: it is a secret.
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


class NowPaymentsSettings(CommonSettings):
    nowpayments_api_key: SecretStr = Field(description="NowPayments API key (`x-api-key`); not empty.")
    nowpayments_api_base_url: str = Field(
        default="https://api.nowpayments.io", description="NowPayments API base URL (sandbox or stand-in)."
    )
    nowpayments_timeout_seconds: float = Field(default=2.0, description="Timeout of each NowPayments call.")

    _api_key_not_blank = field_validator("nowpayments_api_key")(_not_blank)


# Telegram's secret_token alphabet (1-256 characters); TelePay asks for at least 16.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,256}")


class PacedSendSettings(TasksSettings):
    """Whoever queues messages on the paced `telegram-actions` queue: the bot's one budget under
    Telegram's ~30 messages a second, whose target is expire_subscriptions."""

    expire_subscriptions_url: str = Field(
        description="URL of the expire_subscriptions function (the `telegram-actions` queue's target)."
    )


class BroadcastEnqueuerSettings(PacedSendSettings):
    """Whoever queues offer posts (daily_broadcast's daily run, the owner's /broadcast in the
    webhook, the owner app after a change): each post is one task on `telegram-actions`."""


class AnnouncementSettings(PacedSendSettings):
    """-- announcements --: whoever takes an owner's announcement (the bot, the owner app) and
    queues its fan-out on the paced `telegram-actions` queue."""

    announcements_per_day: int = Field(
        default=3,
        ge=1,
        le=50,
        description="Announcements an owner may send per channel and UTC day (the bot and the owner app).",
    )


class AccessSettings(TelegramSettings):
    """Whoever sends a buyer their access (notify, and reconciliation when that failed)."""

    invite_link_hours: int = Field(default=24, description="Lifetime of a buyer's join-request link.")


class ChannelEditSettings(CommonSettings):
    """Whoever changes a channel's settings (the bot's `/edit`, the owner app, the operator CLI)."""

    wallet_hold_hours: int = Field(
        default=48,
        ge=0,
        le=720,
        description="After a payout wallet changes, that channel's payouts wait this long (0: no hold).",
    )


class SettlementSettings(NowPaymentsSettings, PubSubSettings):
    """Whoever settles payments (ipn_handler, and reconciliation for IPNs that never came)."""

    settle_on_confirmed: bool = Field(
        default=False, description="Also settle on `confirmed` (not only `finished`)."
    )
    payment_tolerance_percent: Decimal = Field(
        default=Decimal("0.5"),
        description="Underpayment accepted as paid, in percent of the expected crypto amount.",
    )
    platform_fee_percent: Decimal = Field(
        default=Decimal("3"),
        ge=0,
        lt=100,
        description="Platform fee booked on each settled payment, in percent (each ledger entry "
        "keeps the rate it was booked with).",
    )


class StarsPriceSettings(CommonSettings):
    """Telegram Stars, the second way to pay: whether it is offered and what a Star costs a buyer
    (every function that shows, checks or invoices a Star price reads the same rate)."""

    stars_enabled: bool = Field(
        default=True, description="Offer Telegram Stars beside crypto (false: crypto only, as before)."
    )
    stars_usd_price: Decimal = Field(
        default=Decimal("0.02"),
        gt=0,
        description="What a Star costs a buyer, in USD: a tier without a Star price of its own, and a "
        "donation, cost their USD amount divided by this, rounded up to a whole Star.",
    )


class StarsSettings(StarsPriceSettings):
    """Whoever books Stars payments (the bot, and reconciliation): what a Star earned is worth to
    an owner, and when it reaches the payout balance."""

    stars_payout_usd: Decimal = Field(
        default=Decimal("0.013"),
        gt=0,
        description="What a Star earned is worth in the owner's payout balance, in USD (what the "
        "operator gets for Stars withdrawn from Telegram).",
    )
    stars_hold_days: int = Field(
        default=21,
        ge=0,
        le=90,
        description="Stars earned reach the owner's payout balance this many days after the payment "
        "(Telegram holds Stars before they can be withdrawn).",
    )


class TelegramWebhookSettings(
    AccessSettings,
    BroadcastEnqueuerSettings,
    AnnouncementSettings,  # -- announcements --
    SettlementSettings,
    ChannelEditSettings,
    StarsSettings,
):
    """The bot: buyers' and owners' updates. NowPayments is asked only for the least a payment may
    be in each coin, when an owner sets a price."""

    telegram_webhook_secret: SecretStr = Field(
        description=(
            "Secret token set with setWebhook; Telegram sends it in X-Telegram-Bot-Api-Secret-Token. "
            "16-256 characters of A-Z, a-z, 0-9, `_` and `-`."
        )
    )
    create_invoice_url: str = Field(description="URL of the create_invoice function (task target).")
    keypad_url: str = Field(description="URL of the keypad function (task target).")
    broadcast_manual_cooldown_minutes: int = Field(
        default=60, description="Cooldown of the owner's /broadcast."
    )
    update_dedupe_hours: int = Field(default=48, description="How long a handled update_id is remembered.")
    owner_app_url: str | None = Field(
        default=None,
        description="URL of the owner_app function (the owners' Mini App); unset: the bot offers no app button.",
    )

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_is_telegrams(cls, value: SecretStr) -> SecretStr:
        if not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 16-256 characters of A-Z, a-z, 0-9, _ and -")
        return value


class CreateInvoiceSettings(TelegramSettings, NowPaymentsSettings, TaskTargetSettings, StarsPriceSettings):
    ipn_callback_url: str = Field(description="Public URL of ipn_handler, given to NowPayments per invoice.")
    invoice_max_attempts: int = Field(
        default=5, description="Attempts before the user is told the invoice failed (the queue's max)."
    )


class IpnHandlerSettings(SettlementSettings):
    nowpayments_ipn_secret: SecretStr = Field(
        description="IPN secret: HMAC-SHA512 key of x-nowpayments-sig; not empty."
    )

    _ipn_secret_not_blank = field_validator("nowpayments_ipn_secret")(_not_blank)


class PayoutSettings(TelegramSettings, NowPaymentsSettings):
    nowpayments_email: SecretStr = Field(description="NowPayments account e-mail for `/v1/auth` (payouts).")
    nowpayments_password: SecretStr = Field(description="NowPayments account password for `/v1/auth`.")
    nowpayments_2fa_secret: SecretStr = Field(
        description="Base32 TOTP secret of the NowPayments account's 2FA: payouts are verified with it."
    )
    ipn_callback_url: str = Field(
        description="Public URL of ipn_handler, given to NowPayments per withdrawal (payout IPNs)."
    )
    payout_poll_seconds: int = Field(
        default=60, description="How long a sent payout waits before its status is polled again."
    )
    payout_max_backoff_seconds: int = Field(
        default=1800, description="Longest wait between attempts of a payout NowPayments keeps failing."
    )

    _payout_secrets_not_blank = field_validator(
        "nowpayments_email", "nowpayments_password", "nowpayments_2fa_secret"
    )(_not_blank)


class NotifySettings(AccessSettings):
    pass


class KeypadSettings(TelegramSettings, TasksSettings, TaskTargetSettings, StarsPriceSettings):
    create_invoice_url: str = Field(description="URL of the create_invoice function (task target).")


class BroadcastPosterSettings(TelegramSettings, BroadcastEnqueuerSettings, StarsPriceSettings):
    """Whoever posts the offers (expire_subscriptions, serving `telegram-actions`)."""

    broadcast_pause_after_failures: int = Field(
        default=3, description="Consecutive permanent failures before a channel's broadcast pauses."
    )


class ExpireSubscriptionsSettings(
    AccessSettings, BroadcastPosterSettings, SettlementSettings, TaskTargetSettings, StarsSettings
):
    expire_subscriptions_url: str = Field(description="This function's own URL (its tasks' target).")
    invoice_lifetime_hours: int = Field(
        default=48, description="Reconciliation re-reads unsettled orders updated within this time."
    )
    reminder_offsets_hours: str = Field(
        default="72,24", description="Reminders before expiry, in hours, comma separated."
    )
    event_redelivery_after_seconds: int = Field(
        default=900,
        gt=0,
        description="Reconciliation publishes a payment event again when notify has not handled it "
        "this long after it was published (Pub/Sub's own retries come first).",
    )


class DailyBroadcastSettings(BroadcastEnqueuerSettings):
    """The daily run reads the active channels and queues each one's post (it sends nothing)."""


class OwnerAppSettings(
    TelegramSettings,
    BroadcastEnqueuerSettings,
    NowPaymentsSettings,
    ChannelEditSettings,
    StarsPriceSettings,
    AnnouncementSettings,  # -- announcements --
):
    """The owner app checks initData with the bot token, asks Telegram whether the owner is still
    an admin, queues the offer and donation posts after a change (as `/edit` and `/resume` do),
    and asks NowPayments the least a payment may be in each coin when a price changes."""

    init_data_max_age_seconds: int = Field(
        default=3600,
        gt=0,
        description="Oldest Mini App initData (its auth_date) the owner app accepts, in seconds.",
    )


FUNCTION_SETTINGS: dict[Function, type[CommonSettings]] = {
    Function.TELEGRAM_WEBHOOK: TelegramWebhookSettings,
    Function.IPN_HANDLER: IpnHandlerSettings,
    Function.CREATE_INVOICE: CreateInvoiceSettings,
    Function.KEYPAD: KeypadSettings,
    Function.NOTIFY: NotifySettings,
    Function.EXPIRE_SUBSCRIPTIONS: ExpireSubscriptionsSettings,
    Function.DAILY_BROADCAST: DailyBroadcastSettings,
    Function.PAYOUT: PayoutSettings,
    Function.OWNER_APP: OwnerAppSettings,
}


S = TypeVar("S", bound=CommonSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment; a missing one fails with a message naming it."""
    try:
        return cls()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            if not item["loc"]:  # a rule across settings: its message names them
                problems.append(str(item["msg"]).removeprefix("Value error, "))
                continue
            name = str(item["loc"][0]).upper()
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{name} ({'missing' if item['type'] == 'missing' else message})")
        raise MissingSettingError(
            f"{cls.__name__}: required setting(s) not usable: {', '.join(problems)}"
        ) from None


def is_secret(cls: type[CommonSettings], field_name: str) -> bool:
    return cls.model_fields[field_name].annotation is SecretStr
