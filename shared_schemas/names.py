"""Names of everything wired between functions: collections, topics, subscriptions, queues, jobs.

Terraform declares exactly these (a test parses `terraform/` and compares), the local stack creates
exactly these, and `docs/messaging.md` is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Function(StrEnum):
    """The deployed functions (one trigger each). The value is the folder under `functions/`."""

    TELEGRAM_WEBHOOK = "telegram_webhook"
    IPN_HANDLER = "ipn_handler"
    CREATE_INVOICE = "create_invoice"
    KEYPAD = "keypad"
    NOTIFY = "notify"
    EXPIRE_SUBSCRIPTIONS = "expire_subscriptions"
    DAILY_BROADCAST = "daily_broadcast"
    PAYOUT = "payout"
    OWNER_APP = "owner_app"


# Requests one instance serves at once: Cloud Run's max_instance_request_concurrency and the
# functions-framework's gunicorn THREADS (one worker process per instance), in Terraform and in the
# local stack alike. 8 is what Google suggests starting from for Python functions; the work is
# waiting on Firestore, Pub/Sub, NowPayments and Telegram, so one CPU serves eight requests at once
# where eight instances would each idle on the network (terraform/README.md, "Why it looks like
# this").
REQUEST_CONCURRENCY = 8


@dataclass(frozen=True)
class FunctionSpec:
    name: Function
    entry_point: str
    trigger: str  # "http-public", "task", "pubsub-push", "scheduler"
    description: str
    public: bool = False
    concurrency: int = REQUEST_CONCURRENCY  # requests at once per instance (1: one at a time)


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        Function.TELEGRAM_WEBHOOK,
        "telegram_webhook",
        "http-public",
        "Every Telegram update enters here (secret-token checked).",
        public=True,
    ),
    FunctionSpec(
        Function.IPN_HANDLER,
        "ipn_handler",
        "http-public",
        "NowPayments IPN callbacks (HMAC checked, state re-read from the API).",
        public=True,
    ),
    FunctionSpec(
        Function.CREATE_INVOICE,
        "create_invoice",
        "task",
        "Writes an order, creates the NowPayments invoice, sends the Pay button.",
    ),
    FunctionSpec(Function.KEYPAD, "keypad", "task", "Donation amount keypad; state in Firestore."),
    FunctionSpec(
        Function.NOTIFY,
        "notify",
        "pubsub-push",
        "Payment events: access link and receipt to the buyer, notice to the owner.",
    ),
    FunctionSpec(
        Function.EXPIRE_SUBSCRIPTIONS,
        "expire_subscriptions",
        "scheduler",
        "Every minute: reminders and removals, enqueued as paced tasks; also runs those tasks.",
    ),
    FunctionSpec(
        Function.DAILY_BROADCAST,
        "daily_broadcast",
        "scheduler",
        "Daily: posts each channel's offer to its open channel, as paced tasks.",
    ),
    FunctionSpec(
        Function.PAYOUT,
        "payout",
        "scheduler",
        "Owner payouts: plans them from the ledger (after each settled payment, pushed from "
        "payment-events, and every minute), then creates, verifies (TOTP) and follows each one.",
        concurrency=1,  # rare, each payout driven under a claim: a fraction of a CPU, one at a time
    ),
    FunctionSpec(
        Function.OWNER_APP,
        "owner_app",
        "http-public",
        "Owners' Mini App: its page and a JSON API (Telegram initData checked on every call).",
        public=True,
    ),
)


class Collection(StrEnum):
    """Firestore collections (top level)."""

    CHANNELS = "channels"
    ORDERS = "orders"
    SUBSCRIPTIONS = "subscriptions"
    OUTBOX = "outbox"
    CLAIMS = "claims"
    UNKNOWN_IPNS = "unknown_ipns"
    FAILED_UPDATES = "failed_updates"
    USERS = "users"
    KEYPAD_SESSIONS = "keypad_sessions"
    FAILED_TASKS = "failed_tasks"
    LEDGER = "ledger"
    PAYOUTS = "payouts"
    BOT_CHATS = "bot_chats"
    CONVERSATIONS = "conversations"
    CHANNEL_CHANGES = "channel_changes"
    SUPPORT_ACTIONS = "support_actions"
    CHAT_OFFERS = "chat_offers"
    STAR_PAYMENTS = "star_payments"
    PAY_SUPPORT = "pay_support"
    RECONCILE_STATE = "reconcile_state"
    QUEUE_HORIZONS = "queue_horizons"
    # -- gifts --
    GIFTS = "gifts"
    # -- promo codes --
    PROMO_CODES = "promo_codes"
    PROMO_USES = "promo_uses"
    PROMO_APPLIED = "promo_applied"
    PROMO_ENTRIES = "promo_entries"
    # -- free trials --
    TRIALS = "trials"
    # -- support --
    SUPPORT_THREADS = "support_threads"
    SUPPORT_REPLIES = "support_replies"
    # -- announcements --
    ANNOUNCEMENTS = "announcements"
    ANNOUNCEMENT_SENDS = "announcement_sends"
    # -- dashboard --
    CHANNEL_DAYS = "channel_days"
    CHANNEL_COUNTS = "channel_counts"


class ClaimPurpose(StrEnum):
    """What a claim (`claims/<purpose>:<key>`) makes happen at most once."""

    UPDATE = "update"  # a Telegram update, by update_id
    IPN = "ipn"  # a payment status from NowPayments, by payment id and status
    INVOICE = "invoice"  # an order's invoice, by order id
    MESSAGE = "msg"  # one payment event's message to one recipient
    SWEEP = "sweep"  # one scheduled expiry sweep, by schedule time
    REMIND = "remind"  # one reminder of one subscription expiry
    EXPIRED_MESSAGE = "expired-msg"  # the goodbye of one subscription expiry
    RIGHTS_NOTICE = "rights-notice"  # the owner's notice that the bot lost its rights
    REMOVAL_PROBLEM = "removal-problem"  # the owner's notice that Telegram refused one removal
    BROADCAST = "broadcast"  # one channel's offer post of one day
    BROADCAST_PAUSED = "broadcast-paused"  # the owner's notice that broadcasting paused
    DONATION_POST_REFUSED = "donation-post-refused"  # the owner's notice that the donation post failed
    RECONCILE = "reconcile"  # one scheduled reconciliation run
    PAYOUT = "payout"  # one step of one payout (create, verify, follow), by payout id
    PAYOUT_NOTICE = "payout-notice"  # the owner's notice of a payout's end, by payout id
    PAYOUT_HELD = "payout-held"  # the owner's notice that a channel's payouts are held, by reason
    JOIN_LINK = "join-link"  # a subscriber's join link, reused for half its lifetime (the link is the result)
    MOVED_INVITE = "moved-invite"  # a member's Join button for the channel's new closed chat, by chat
    WALLET_CANCEL = "wallet-cancel"  # one press of a wallet change's cancel button, by update_id
    STAR_PAYMENT = "star-payment"  # one Telegram Stars charge (or its refund), by charge id
    # -- gifts and owner grants --
    GIFT_MESSAGE = "gift-msg"  # one message about one gift's redemption or one grant, by recipient
    # -- support --
    SUPPORT_MESSAGE = "support-msg"  # one support message passed on, by update id and recipient
    UNREACHABLE_BUYER = "unreachable-buyer"  # the owner's notice that a buyer blocked the bot, by order id
    # -- announcements --
    ANNOUNCEMENT = "announcement"  # one owner's Send (bot update or app form): the announcement made
    ANNOUNCEMENT_SEND = "announcement-send"  # one announcement's message to one recipient


class Topic(StrEnum):
    PAYMENT_EVENTS = "payment-events"
    PAYMENT_EVENTS_DEAD_LETTER = "payment-events-dead-letter"


@dataclass(frozen=True)
class TopicSpec:
    name: Topic
    published_by: tuple[Function, ...]
    description: str


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        Topic.PAYMENT_EVENTS,
        (Function.IPN_HANDLER, Function.EXPIRE_SUBSCRIPTIONS, Function.TELEGRAM_WEBHOOK),
        "Payment outcomes (settled, partially paid, expired, failed), published from the outbox "
        "by ipn_handler (and telegram_webhook, for Telegram Stars) right after its transaction, or "
        "re-published by the every-minute sweep.",
    ),
    TopicSpec(
        Topic.PAYMENT_EVENTS_DEAD_LETTER,
        (),
        "Messages notify could not handle after every attempt (Pub/Sub dead-lettering).",
    ),
)


@dataclass(frozen=True)
class SubscriptionSpec:
    name: str
    topic: Topic
    push_to: Function
    dead_letter_topic: Topic
    max_delivery_attempts: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    ack_deadline_seconds: int = 60
    description: str = ""


SUBSCRIPTIONS: tuple[SubscriptionSpec, ...] = (
    SubscriptionSpec(
        name="notify-payment-events",
        topic=Topic.PAYMENT_EVENTS,
        push_to=Function.NOTIFY,
        dead_letter_topic=Topic.PAYMENT_EVENTS_DEAD_LETTER,
        max_delivery_attempts=10,
        min_backoff_seconds=5,
        max_backoff_seconds=300,
        description="Settled, partial, expired and failed payments, to message buyers and owners.",
    ),
    SubscriptionSpec(
        name="payout-payment-events",
        topic=Topic.PAYMENT_EVENTS,
        push_to=Function.PAYOUT,
        dead_letter_topic=Topic.PAYMENT_EVENTS_DEAD_LETTER,
        max_delivery_attempts=10,
        min_backoff_seconds=10,
        max_backoff_seconds=600,
        ack_deadline_seconds=180,
        description="Settled payments: check the channel's payout strategy at once (the ledger entry "
        "was booked in the settling transaction; other event types are acknowledged and ignored).",
    ),
)

# The dead-letter topic keeps a pull subscription so operators can inspect and replay messages,
# and so the alert on its backlog has something to measure.
DEAD_LETTER_SUBSCRIPTIONS: dict[Topic, str] = {
    Topic.PAYMENT_EVENTS_DEAD_LETTER: "payment-events-dead-letter-hold",
}


class Queue(StrEnum):
    CREATE_INVOICE = "create-invoice"
    KEYPAD = "keypad"
    TELEGRAM_ACTIONS = "telegram-actions"
    FAN_OUT = "fan-out"


@dataclass(frozen=True)
class QueueSpec:
    name: Queue
    target: Function
    max_dispatches_per_second: float
    max_concurrent_dispatches: int
    max_attempts: int
    min_backoff_seconds: float
    max_backoff_seconds: float
    max_doublings: int
    description: str
    enqueued_by: tuple[Function, ...] = ()
    max_burst_size: int = field(default=0)  # 0: let the service choose


QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec(
        Queue.CREATE_INVOICE,
        Function.CREATE_INVOICE,
        # Each task sends one message (the Pay button): at most Telegram's ~30 sends/s per bot.
        max_dispatches_per_second=30,
        max_concurrent_dispatches=30,
        max_attempts=5,
        min_backoff_seconds=1,
        max_backoff_seconds=30,
        max_doublings=4,
        description="Tier or donation confirmed: create the order's invoice. The last attempt tells "
        "the user when NowPayments keeps failing.",
        enqueued_by=(Function.TELEGRAM_WEBHOOK, Function.KEYPAD),
    ),
    QueueSpec(
        Queue.KEYPAD,
        Function.KEYPAD,
        # Each press edits one message: at most Telegram's ~30 sends/s per bot.
        max_dispatches_per_second=30,
        max_concurrent_dispatches=30,
        max_attempts=5,
        min_backoff_seconds=1,
        max_backoff_seconds=5,
        max_doublings=3,
        description="Donation keypad presses and openings.",
        enqueued_by=(Function.TELEGRAM_WEBHOOK,),
    ),
    QueueSpec(
        Queue.TELEGRAM_ACTIONS,
        Function.EXPIRE_SUBSCRIPTIONS,
        # Telegram allows about 30 sends/s per bot and each action sends one message (the
        # Telegram stand-in: 30 in any sliding second). This queue is the bot's one budget for
        # messages in bulk: a queue's rate holds across all instances of its target, so the daily
        # posts, removals, reminders and announcements queued here share it (two queues at 29.5/s
        # each offered 59/s whenever the daily posts overlapped a sweep). 29.5/s is 98 % of the
        # cap: the half a send a second left over absorbs the jitter between a task's dispatch and
        # its send (a second with 31 sends is answered 429). The concurrency is no limit of its
        # own: a removal takes well under a second, so 29 in flight carry the rate. Sends beyond
        # the bot's budget (interactive traffic) get 429 and are rescheduled after retry_after,
        # never dropped.
        max_dispatches_per_second=29.5,
        max_concurrent_dispatches=29,
        max_attempts=20,
        min_backoff_seconds=1,
        max_backoff_seconds=300,
        max_doublings=5,
        description="Expiry reminders and removals, the daily offer posts (one per channel and "
        "day, and the owners' re-posts) and owners' announcements (their audience, one message per "
        "recipient, the tally), paced below Telegram's limits.",
        # -- announcements: the owner's Send (bot or app) queues the fan-out -- the daily run, the
        # owner's /broadcast and an edit in the app queue offer posts.
        enqueued_by=(
            Function.EXPIRE_SUBSCRIPTIONS,
            Function.DAILY_BROADCAST,
            Function.TELEGRAM_WEBHOOK,
            Function.OWNER_APP,
        ),
    ),
    QueueSpec(
        Queue.FAN_OUT,
        Function.EXPIRE_SUBSCRIPTIONS,
        # Pages of work handed out by the sweep and by an announcement's audience: each page task
        # queues its named tasks on telegram-actions and sends nothing itself, so it is not paced
        # for Telegram. Two at a time: they queue a few hundred tasks a second, far ahead of the
        # 30/s the paced tasks run at, and leave those their share of the function.
        max_dispatches_per_second=20,
        max_concurrent_dispatches=2,
        max_attempts=20,
        min_backoff_seconds=1,
        max_backoff_seconds=60,
        max_doublings=4,
        description="Fan-out pages: the every-minute sweep's due reminders and removals, 200 to a page, "
        "and an announcement's recipients, 500 to a page; each page queues one named task per item "
        "on telegram-actions (a retried page queues nothing twice).",
        enqueued_by=(Function.EXPIRE_SUBSCRIPTIONS,),
    ),
)


@dataclass(frozen=True)
class SchedulerJobSpec:
    name: str
    schedule: str  # cron, UTC
    target: Function
    description: str
    time_zone: str = "Etc/UTC"
    attempt_deadline_seconds: int = 180
    path: str = ""  # appended to the target function's URL


SCHEDULER_JOBS: tuple[SchedulerJobSpec, ...] = (
    SchedulerJobSpec(
        "expire-subscriptions-every-minute",
        "* * * * *",
        Function.EXPIRE_SUBSCRIPTIONS,
        "Find subscriptions due for a reminder or removal; re-publish stuck outbox events.",
    ),
    SchedulerJobSpec(
        "reconcile-every-5-minutes",
        "*/5 * * * *",
        Function.EXPIRE_SUBSCRIPTIONS,
        "Reconcile: settle paid orders whose IPN never came, re-send access never sent, remove members "
        "past their end, count events that keep failing to publish.",
        path="/reconcile",
    ),
    SchedulerJobSpec(
        "daily-broadcast",
        "0 9 * * *",
        Function.DAILY_BROADCAST,
        "Post every active channel's offer to its open channel.",
    ),
    SchedulerJobSpec(
        "payouts-every-minute",
        "* * * * *",
        Function.PAYOUT,
        "Threshold check of every channel with an available balance; resume and poll open payouts; "
        "tell owners how their payouts ended.",
    ),
)


def function_spec(name: Function) -> FunctionSpec:
    return next(spec for spec in FUNCTIONS if spec.name == name)


def queue_spec(name: Queue) -> QueueSpec:
    return next(spec for spec in QUEUES if spec.name == name)


# --- Log contract: the lines Terraform's log-based metrics count (terraform/monitoring.tf) --------
# Functions log one JSON object per line (telepay/core/logs.py); Cloud Logging keeps it as jsonPayload, so
# `message` is jsonPayload.message and each extra field is jsonPayload.<field>. Terraform builds its
# metrics from the names below (a test checks it), and a test checks the code still logs them.


@dataclass(frozen=True)
class LogMetricSpec:
    name: str  # the log-based metric: logging.googleapis.com/user/<name>
    function: Function  # whose log lines are counted
    message_regex: str  # RE2 regular expression jsonPayload.message matches (no backslashes)
    description: str


LOG_METRICS: tuple[LogMetricSpec, ...] = (
    LogMetricSpec(
        "telepay_payments_settled",
        Function.IPN_HANDLER,
        "^IPN [a-z_]+: [a-z_]+: payment[.]settled$",
        "Payments settled: an IPN moved an order to paid (ipn_handler's `IPN <status>: <outcome>`).",
    ),
    LogMetricSpec(
        "telepay_access_granted",
        Function.TELEGRAM_WEBHOOK,
        "^update handled: join approved$",
        "Access granted: a buyer's join request approved.",
    ),
    LogMetricSpec(
        "telepay_removals",
        Function.EXPIRE_SUBSCRIPTIONS,
        "^ExpiryTask: removed$",
        "Removals: an expired member removed from a closed channel.",
    ),
    LogMetricSpec(
        "telepay_broadcasts_posted",
        Function.EXPIRE_SUBSCRIPTIONS,  # it posts the offers queued on telegram-actions
        "^BroadcastTask: posted$",
        "Broadcasts: an offer posted to an open channel.",
    ),
    LogMetricSpec(
        "telepay_outbox_stuck",
        Function.EXPIRE_SUBSCRIPTIONS,
        "; outbox still has events$",
        "A sweep found payment events it could not publish (older than the sweep's grace).",
    ),
    LogMetricSpec(
        "telepay_payouts_failed",
        Function.PAYOUT,
        "^payout failed: ",
        "A payout ended FAILED (its entries went back to the owner's balance) or needs the operator "
        "(NowPayments refused it, e.g. a wrong 2FA code).",
    ),
    LogMetricSpec(
        "telepay_wallet_changes",
        Function.TELEGRAM_WEBHOOK,
        "^wallet changed: ",
        "An owner changed a channel's payout wallet: its payouts are held (cooling-off) until the logged time.",
    ),
)

# Reconciliation (not built yet) compares orders, subscriptions and channel membership. Its contract:
# each run logs exactly one line whose message is RECONCILIATION_SUMMARY_MESSAGE, with the integer
# field RECONCILIATION_DISCREPANCIES_FIELD (how many records disagree; 0 when all agree), e.g.
#   log.info(RECONCILIATION_SUMMARY_MESSAGE, extra={"fields": {RECONCILIATION_DISCREPANCIES_FIELD: n}})
# Terraform alerts on any run with a non-zero count.
RECONCILIATION_SUMMARY_MESSAGE = "reconciliation summary"
RECONCILIATION_DISCREPANCIES_FIELD = "discrepancies"
RECONCILIATION_METRIC = "telepay_reconciliation_discrepancies"
