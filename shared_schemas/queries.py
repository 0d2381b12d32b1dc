"""Every Firestore query the code runs, declared once. The composite indexes Terraform creates are
derived from these (`all_composite_indexes`), and a test checks that the code builds its queries
only from here, so no query can ship without its index."""

from __future__ import annotations

from dataclasses import dataclass

from shared_schemas.names import Collection, Function


@dataclass(frozen=True)
class QuerySpec:
    name: str
    collection: Collection
    used_by: tuple[Function, ...]
    equals: tuple[str, ...] = ()
    range_field: str | None = None  # also the order of the results
    purpose: str = ""

    @property
    def needs_composite_index(self) -> bool:
        """Firestore serves equality-only queries from single-field indexes; an equality filter
        combined with a range (or an ordering) on another field needs a composite index."""
        return bool(self.equals) and self.range_field is not None

    @property
    def index_fields(self) -> tuple[str, ...]:
        return (*self.equals, *((self.range_field,) if self.range_field else ()))


CHANNEL_BY_CLOSED_CHAT = QuerySpec(
    "channel_by_closed_chat",
    Collection.CHANNELS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("closed_channel_id",),
    purpose="join requests: which channel a closed chat belongs to",
)
ACTIVE_CHANNELS = QuerySpec(
    "active_channels",
    Collection.CHANNELS,
    (Function.DAILY_BROADCAST,),
    equals=("status",),
    purpose="daily broadcast: every active channel",
)
CHANNELS_OF_OWNER = QuerySpec(
    "channels_of_owner",
    Collection.CHANNELS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("owner_user_id",),
    purpose="an owner's /broadcast, /channels, /stats and the owner app: their channels",
)
ORDER_OUTBOX = QuerySpec(
    "order_outbox",
    Collection.OUTBOX,
    (Function.IPN_HANDLER,),
    equals=("order_id", "published"),
    purpose="ipn_handler publishing one order's unpublished events",
)
STUCK_OUTBOX = QuerySpec(
    "stuck_outbox",
    Collection.OUTBOX,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("published",),
    range_field="created_at",
    purpose="sweep re-publishing events whose publish failed",
)
UNHANDLED_EVENTS = QuerySpec(
    "unhandled_events",
    Collection.OUTBOX,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("published", "handled"),
    range_field="published_at",
    purpose="reconciliation publishing again the events notify never handled",
)
SUBSCRIPTIONS_DUE = QuerySpec(
    "subscriptions_due",
    Collection.SUBSCRIPTIONS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("status",),
    range_field="next_action_at",
    purpose="expiry sweep: active subscriptions whose next reminder or removal is due",
)
CHANNEL_BY_OPEN_CHAT = QuerySpec(
    "channel_by_open_chat",
    Collection.CHANNELS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("open_channel_id",),
    purpose="the bot's rights changed in a chat: which offer posts there",
)
BOT_CHATS_ADDED_BY = QuerySpec(
    "bot_chats_added_by",
    Collection.BOT_CHATS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("added_by",),
    purpose="/newchannel: the chats an owner made the bot an admin of",
)
SUBSCRIPTIONS_OF_CHANNEL = QuerySpec(
    "subscriptions_of_channel",
    Collection.SUBSCRIPTIONS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token", "status"),
    purpose="/stats and the owner app: a channel's subscribers and their expiries",
)
ORDERS_TO_RECHECK = QuerySpec(
    "orders_to_recheck",
    Collection.ORDERS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("status",),
    range_field="updated_at",
    purpose="reconciliation: unsettled orders of the invoice lifetime, re-read from NowPayments",
)
SUBSCRIPTIONS_ACCESS_PENDING = QuerySpec(
    "subscriptions_access_pending",
    Collection.SUBSCRIPTIONS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("status", "access_sent"),
    range_field="renewed_at",
    purpose="reconciliation: paid subscriptions whose buyer never got their access",
)
MEMBERS_PAST_END = QuerySpec(
    "members_past_end",
    Collection.SUBSCRIPTIONS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("status", "in_channel"),
    range_field="expires_at",
    purpose="reconciliation: members still in a channel long after their access ended",
)
LEDGER_OF_CHANNEL = QuerySpec(
    "ledger_of_channel",
    Collection.LEDGER,
    (Function.PAYOUT,),
    equals=("channel_token", "state"),
    purpose="payout planning: a channel's available entries",
)
LEDGER_OF_OWNER = QuerySpec(
    "ledger_of_owner",
    Collection.LEDGER,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("owner_user_id", "state"),
    purpose="an owner's balance (/payouts, the owner app): sums of entries by state",
)
AVAILABLE_LEDGER = QuerySpec(
    "available_ledger",
    Collection.LEDGER,
    (Function.PAYOUT,),
    equals=("state",),
    range_field="booked_at",
    purpose="every-minute threshold check: channels with an available balance",
)
PAYOUTS_DUE = QuerySpec(
    "payouts_due",
    Collection.PAYOUTS,
    (Function.PAYOUT,),
    equals=("open",),
    range_field="next_attempt_at",
    purpose="every-minute run: open payouts to resume or poll",
)
PAYOUT_NOTICES = QuerySpec(
    "payout_notices",
    Collection.PAYOUTS,
    (Function.PAYOUT,),
    equals=("notice_pending",),
    purpose="every-minute run: ended payouts whose owner was not told yet",
)
PAYOUTS_OF_OWNER = QuerySpec(
    "payouts_of_owner",
    Collection.PAYOUTS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("owner_user_id",),
    range_field="created_at",
    purpose="an owner's payout history (/payouts) and the operator's list",
)

SUBSCRIPTIONS_OF_USER = QuerySpec(
    "subscriptions_of_user",
    Collection.SUBSCRIPTIONS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("user_id",),
    purpose="a buyer's /subscriptions",
)

# The operator CLI's reads (`telepay ...`; no function runs them).
ALL_CHANNELS = QuerySpec(
    "all_channels",
    Collection.CHANNELS,
    (),
    purpose="operators: `telepay channels list`",
)
ORDERS_OF_USER = QuerySpec(
    "orders_of_user",
    Collection.ORDERS,
    (),
    equals=("user_id",),
    purpose="operators: `telepay users show`, a user's orders and payments",
)
SUPPORT_ACTIONS_OF_USER = QuerySpec(
    "support_actions_of_user",
    Collection.SUPPORT_ACTIONS,
    (),
    equals=("user_id",),
    purpose="operators: `telepay users show`, the access granted or revoked by support",
)
FAILED_UPDATES_BY_TIME = QuerySpec(
    "failed_updates_by_time",
    Collection.FAILED_UPDATES,
    (),
    range_field="recorded_at",
    purpose="operators: `telepay failed-updates list`",
)
FAILED_TASKS_BY_TIME = QuerySpec(
    "failed_tasks_by_time",
    Collection.FAILED_TASKS,
    (),
    range_field="recorded_at",
    purpose="operators: `telepay dead-letters list`",
)

# -- gifts and owner grants --
GIFTS_READY_OF_BUYER = QuerySpec(
    "gifts_ready_of_buyer",
    Collection.GIFTS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("buyer_user_id", "state"),
    purpose="a buyer's /subscriptions: the gifts they bought that nobody redeemed yet",
)
GIFTS_OF_BUYER = QuerySpec(
    "gifts_of_buyer",
    Collection.GIFTS,
    (),
    equals=("buyer_user_id",),
    purpose="operators: `telepay users show`, the gifts a user bought",
)
GIFTS_REDEEMED_BY = QuerySpec(
    "gifts_redeemed_by",
    Collection.GIFTS,
    (),
    equals=("redeemed_by",),
    purpose="operators: `telepay users show`, the gifts a user redeemed",
)
USER_BY_USERNAME = QuerySpec(
    "user_by_username",
    Collection.USERS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("username",),
    purpose="an owner's `/grant @username`: the user the bot has seen with that name",
)
GRANTS_OF_CHANNEL = QuerySpec(
    "grants_of_channel",
    Collection.SUPPORT_ACTIONS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token", "source"),
    range_field="at",
    purpose="/stats and the owner app: an owner's grants of the last 30 days, apart from sales",
)
# -- free trials --
TRIALS_STARTED_OF_CHANNEL = QuerySpec(
    "trials_started_of_channel",
    Collection.TRIALS,
    (),
    equals=("channel_token",),
    range_field="started_at",
    purpose="operators: `telepay trials list`, a channel's trials, the newest first",
)
TRIALS_OF_USER = QuerySpec(
    "trials_of_user",
    Collection.TRIALS,
    (),
    equals=("user_id",),
    purpose="operators: `telepay users show`, the user's free trials",
)

# -- exports --
LEDGER_OF_CHANNEL_BY_TIME = QuerySpec(
    "ledger_of_channel_by_time",
    Collection.LEDGER,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token",),
    range_field="booked_at",
    purpose="an owner's /export and the owner app's Books: a channel's ledger entries (and sales) of a period",
)

# -- support --
ORDERS_OF_BUYER = QuerySpec(
    "orders_of_buyer",
    Collection.ORDERS,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("user_id",),
    purpose="a buyer's /support: the channels they ordered from, and the owner's view of their last orders",
)
SUPPORT_THREADS_OF_CHANNEL = QuerySpec(
    "support_threads_of_channel",
    Collection.SUPPORT_THREADS,
    (Function.OWNER_APP,),
    equals=("channel_token",),
    range_field="updated_at",
    purpose="the owner app's Support: a channel's threads, by their last message",
)
SUPPORT_THREADS_OF_BUYER = QuerySpec(
    "support_threads_of_buyer",
    Collection.SUPPORT_THREADS,
    (),
    equals=("buyer_user_id",),
    purpose="operators: `telepay users show`, the user's support threads",
)
# -- announcements --
SUBSCRIPTIONS_OF_CHANNEL_BY_EXPIRY = QuerySpec(
    "subscriptions_of_channel_by_expiry",
    Collection.SUBSCRIPTIONS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP, Function.EXPIRE_SUBSCRIPTIONS),
    equals=("channel_token", "status"),
    range_field="expires_at",
    purpose="announcements: a channel's subscribers by the end of their access (the audience and its count)",
)
ANNOUNCEMENTS_OF_CHANNEL = QuerySpec(
    "announcements_of_channel",
    Collection.ANNOUNCEMENTS,
    (Function.OWNER_APP,),
    equals=("channel_token",),
    range_field="created_at",
    purpose="the owner app's Announcements and `telepay announcements list`: a channel's announcements",
)
SENDS_OF_ANNOUNCEMENT = QuerySpec(
    "sends_of_announcement",
    Collection.ANNOUNCEMENT_SENDS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("announcement_id", "state"),
    purpose="an announcement's tally: its recipients by outcome",
)

QUERIES: tuple[QuerySpec, ...] = (
    CHANNEL_BY_CLOSED_CHAT,
    ACTIVE_CHANNELS,
    CHANNELS_OF_OWNER,
    ORDER_OUTBOX,
    STUCK_OUTBOX,
    UNHANDLED_EVENTS,
    SUBSCRIPTIONS_DUE,
    SUBSCRIPTIONS_OF_USER,
    ORDERS_TO_RECHECK,
    SUBSCRIPTIONS_ACCESS_PENDING,
    MEMBERS_PAST_END,
    LEDGER_OF_CHANNEL,
    LEDGER_OF_OWNER,
    AVAILABLE_LEDGER,
    PAYOUTS_DUE,
    PAYOUT_NOTICES,
    PAYOUTS_OF_OWNER,
    CHANNEL_BY_OPEN_CHAT,
    BOT_CHATS_ADDED_BY,
    SUBSCRIPTIONS_OF_CHANNEL,
    ALL_CHANNELS,
    ORDERS_OF_USER,
    SUPPORT_ACTIONS_OF_USER,
    FAILED_UPDATES_BY_TIME,
    FAILED_TASKS_BY_TIME,
    # -- gifts and owner grants --
    GIFTS_READY_OF_BUYER,
    GIFTS_OF_BUYER,
    GIFTS_REDEEMED_BY,
    USER_BY_USERNAME,
    GRANTS_OF_CHANNEL,
    # -- free trials --
    TRIALS_STARTED_OF_CHANNEL,
    TRIALS_OF_USER,
    # -- exports --
    LEDGER_OF_CHANNEL_BY_TIME,
    # -- support --
    ORDERS_OF_BUYER,
    SUPPORT_THREADS_OF_CHANNEL,
    SUPPORT_THREADS_OF_BUYER,
    # -- announcements --
    SUBSCRIPTIONS_OF_CHANNEL_BY_EXPIRY,
    ANNOUNCEMENTS_OF_CHANNEL,
    SENDS_OF_ANNOUNCEMENT,
)

# -- promo codes --
PROMO_CODES_OF_CHANNEL = QuerySpec(
    "promo_codes_of_channel",
    Collection.PROMO_CODES,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token",),
    purpose="an owner's /promos and the owner app's codes; operators: `telepay promos list`",
)
PROMO_USES_OF_USER = QuerySpec(
    "promo_uses_of_user",
    Collection.PROMO_USES,
    (),
    equals=("user_id",),
    purpose="operators: `telepay users show`, the promo codes a user used",
)
PROMO_CODES_BY_CODE = QuerySpec(
    "promo_codes_by_code",
    Collection.PROMO_CODES,
    (Function.TELEGRAM_WEBHOOK,),
    equals=("code",),
    purpose="a buyer's code not of this channel: whether it is another channel's (said so)",
)
QUERIES = (*QUERIES, PROMO_CODES_OF_CHANNEL, PROMO_USES_OF_USER, PROMO_CODES_BY_CODE)

# -- dashboard --
DAYS_OF_CHANNEL = QuerySpec(
    "days_of_channel",
    Collection.CHANNEL_DAYS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token",),
    range_field="day",
    purpose="/stats and the owner app's dashboard: a channel's counts per day over a period (and the"
    " members ending in the days ahead)",
)
COUNTS_OF_CHANNEL = QuerySpec(
    "counts_of_channel",
    Collection.CHANNEL_COUNTS,
    (Function.TELEGRAM_WEBHOOK, Function.OWNER_APP),
    equals=("channel_token",),
    purpose="/stats and the owner app's dashboard: the shards of a channel's running totals (members active now)",
)
FOLDABLE_DAYS = QuerySpec(
    "foldable_days",
    Collection.CHANNEL_DAYS,
    (Function.EXPIRE_SUBSCRIPTIONS,),
    equals=("fold",),
    range_field="day",
    purpose="the reconciliation: shards of finished days, to fold into one document a day",
)
QUERIES = (*QUERIES, DAYS_OF_CHANNEL, COUNTS_OF_CHANNEL, FOLDABLE_DAYS)
