# What the system is made of, mirroring shared_schemas (names.py, config.py, documents.py) table by
# table. tests/infra/test_terraform.py compares every table here with shared_schemas, so a change
# there fails the tests until it is made here too. Resources iterate over these tables.

locals {
  # --- shared_schemas/names.py FUNCTIONS --------------------------------------------------------
  # Every function is deployed as an HTTP function (notify too: Pub/Sub pushes to it through an
  # explicit subscription, see pubsub.tf). `concurrency` is REQUEST_CONCURRENCY of names.py (8)
  # requests at once per instance, served by that many gunicorn threads around one runtime per
  # process (README.md, "Why it looks like this"); Cloud Run serves more than one request at once
  # only on a whole CPU, so those functions have cpu = "1". max_instances of a task target still
  # covers its queue's max_concurrent_dispatches alone, and telegram_webhook's covers the
  # max_connections given to setWebhook. timeout_seconds matches the
  # caller's own deadline: the scheduler job's attempt deadline, the subscription's ack deadline,
  # Telegram's 60 s read timeout.
  functions = {
    telegram_webhook = {
      entry_point     = "telegram_webhook"
      trigger         = "http-public"
      public          = true
      description     = "Every Telegram update enters here (secret-token checked)."
      timeout_seconds = 60
      memory          = "512M"
      cpu             = "1" # a whole CPU: imports and the first update run fast on a fresh instance
      min_instances   = var.public_min_instances
      max_instances   = 40
      concurrency     = 8
    }
    ipn_handler = {
      entry_point     = "ipn_handler"
      trigger         = "http-public"
      public          = true
      description     = "NowPayments IPN callbacks (HMAC checked, state re-read from the API)."
      timeout_seconds = 30
      memory          = "512M"
      cpu             = "1" # NowPayments gives up after 3000 ms
      min_instances   = var.public_min_instances
      max_instances   = 10
      concurrency     = 8
    }
    create_invoice = {
      entry_point     = "create_invoice"
      trigger         = "task"
      public          = false
      description     = "Writes an order, creates the NowPayments invoice, sends the Pay button."
      timeout_seconds = 60
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 50
      concurrency     = 8
    }
    keypad = {
      entry_point     = "keypad"
      trigger         = "task"
      public          = false
      description     = "Donation amount keypad; state in Firestore."
      timeout_seconds = 30
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 100
      concurrency     = 8
    }
    notify = {
      entry_point     = "notify"
      trigger         = "pubsub-push"
      public          = false
      description     = "Payment events: access link and receipt to the buyer, notice to the owner."
      timeout_seconds = 60
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 20
      concurrency     = 8
    }
    expire_subscriptions = {
      entry_point     = "expire_subscriptions"
      trigger         = "scheduler"
      public          = false
      description     = "Every minute: reminders and removals, enqueued as paced tasks; also runs those tasks."
      timeout_seconds = 180
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 40 # its two queues' concurrency (29 + 2), the sweep and reconciliation
      concurrency     = 8
    }
    daily_broadcast = {
      entry_point     = "daily_broadcast"
      trigger         = "scheduler"
      public          = false
      description     = "Daily: posts each channel's offer to its open channel, as paced tasks."
      timeout_seconds = 180
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 30
      concurrency     = 8
    }
    # Few instances: payouts are rare, and each one is driven under a claim (one step at a time).
    payout = {
      entry_point     = "payout"
      trigger         = "scheduler"
      public          = false
      description     = "Owner payouts: plans them from the ledger (after each settled payment, pushed from payment-events, and every minute), then creates, verifies (TOTP) and follows each one."
      timeout_seconds = 180
      memory          = "512M"
      cpu             = null
      min_instances   = 0
      max_instances   = 5
      concurrency     = 1
    }
    # Owners open it from the bot; a few calls per screen, each a handful of Firestore reads.
    owner_app = {
      entry_point     = "owner_app"
      trigger         = "http-public"
      public          = true
      description     = "Owners' Mini App: its page and a JSON API (Telegram initData checked on every call)."
      timeout_seconds = 30
      memory          = "512M"
      cpu             = "1" # concurrency above 1 needs a whole CPU
      min_instances   = 0
      max_instances   = 10
      concurrency     = 8
    }
  }

  # The Cloud Run service of each function (2nd gen functions run on Cloud Run): the function's
  # name with "_" as "-" (a postcondition in functions.tf checks it).
  run_services = { for name in keys(local.functions) : name => replace(name, "_", "-") }

  # The URL of each function, known before the function exists: Cloud Run's deterministic URL
  # https://<service>-<project number>.<region>.run.app. Functions read each other's URLs (and
  # expire_subscriptions its own, as its tasks' target) from the
  # environment, which the function resource's own attributes could not give without a cycle.
  # Queues, scheduler jobs and the push subscription call these URLs and name them as the OIDC
  # audience: a run.app URL is both what internal-only ingress admits from Cloud Tasks, Cloud
  # Scheduler and Pub/Sub, and an audience Cloud Run accepts (README.md, "Why it looks like this").
  function_hosts = {
    for name, service in local.run_services : name => "${service}-${data.google_project.this.number}.${var.region}.run.app"
  }
  function_urls = { for name, host in local.function_hosts : name => "https://${host}" }

  # --- shared_schemas/config.py FUNCTION_SETTINGS ------------------------------------------------
  # The plain environment of each function: every required setting of its settings model, plus the
  # optional ones production must not leave at their local defaults. Emulator hosts and
  # TELEPAY_CLOCK_OFFSET_FILE are local only and never set here.
  function_env = {
    telegram_webhook = {
      GOOGLE_CLOUD_PROJECT          = var.project_id
      LOG_LEVEL                     = var.log_level
      TELEGRAM_BOT_USERNAME         = var.telegram_bot_username
      TASKS_LOCATION                = var.region
      TASKS_TOKEN_FROM_QUEUE        = "true" # the queue adds the token (tasks.tf)
      CREATE_INVOICE_URL            = local.function_urls["create_invoice"]
      KEYPAD_URL                    = local.function_urls["keypad"]
      OWNER_APP_URL                 = local.function_urls["owner_app"]       # the owners' app button
      EXPIRE_SUBSCRIPTIONS_URL      = local.function_urls["expire_subscriptions"] # owners' /broadcast and -- announcements --: telegram-actions' target
      NOWPAYMENTS_API_BASE_URL      = var.nowpayments_api_base_url           # minimum payments, as owners set prices
      # Telegram Stars: the bot settles successful_payment like an IPN (the same settlement settings)
      # and shows and checks Star prices at the same rate as create_invoice, keypad and the app.
      PLATFORM_FEE_PERCENT = var.platform_fee_percent
      STARS_ENABLED        = var.stars_enabled
      STARS_USD_PRICE      = var.stars_usd_price
      STARS_PAYOUT_USD     = var.stars_payout_usd
      STARS_HOLD_DAYS      = var.stars_hold_days
    }
    # The settlement settings (SettlementSettings) are the same here and in expire_subscriptions,
    # whose reconciliation settles payments whose IPN never came (a test checks it).
    ipn_handler = {
      GOOGLE_CLOUD_PROJECT     = var.project_id
      LOG_LEVEL                = var.log_level
      NOWPAYMENTS_API_BASE_URL = var.nowpayments_api_base_url
      PLATFORM_FEE_PERCENT     = var.platform_fee_percent
    }
    create_invoice = {
      GOOGLE_CLOUD_PROJECT     = var.project_id
      LOG_LEVEL                = var.log_level
      TELEGRAM_BOT_USERNAME    = var.telegram_bot_username
      NOWPAYMENTS_API_BASE_URL = var.nowpayments_api_base_url
      IPN_CALLBACK_URL         = local.function_urls["ipn_handler"]
      # The attempt that tells the user the invoice failed must be the queue's last one.
      INVOICE_MAX_ATTEMPTS = tostring(local.queues["create-invoice"].max_attempts)
      STARS_ENABLED        = var.stars_enabled # a Stars order's price, at the rate the offer showed
      STARS_USD_PRICE      = var.stars_usd_price
      TASK_CALLER_SERVICE_ACCOUNT   = google_service_account.queue["create-invoice"].email # only its queue may call /task
    }
    keypad = {
      GOOGLE_CLOUD_PROJECT          = var.project_id
      LOG_LEVEL                     = var.log_level
      TELEGRAM_BOT_USERNAME         = var.telegram_bot_username
      TASKS_LOCATION                = var.region
      TASKS_TOKEN_FROM_QUEUE        = "true" # the queue adds the token (tasks.tf)
      CREATE_INVOICE_URL            = local.function_urls["create_invoice"]
      TASK_CALLER_SERVICE_ACCOUNT   = google_service_account.queue["keypad"].email # only its queue may call /task
      STARS_ENABLED                 = var.stars_enabled # a confirmed donation's price in Stars
      STARS_USD_PRICE               = var.stars_usd_price
    }
    notify = {
      GOOGLE_CLOUD_PROJECT  = var.project_id
      LOG_LEVEL             = var.log_level
      TELEGRAM_BOT_USERNAME = var.telegram_bot_username
    }
    expire_subscriptions = {
      GOOGLE_CLOUD_PROJECT          = var.project_id
      LOG_LEVEL                     = var.log_level
      TELEGRAM_BOT_USERNAME         = var.telegram_bot_username
      TASKS_LOCATION                = var.region
      TASKS_TOKEN_FROM_QUEUE        = "true" # the queue adds the token (tasks.tf)
      EXPIRE_SUBSCRIPTIONS_URL      = local.function_urls["expire_subscriptions"]
      TASK_CALLER_SERVICE_ACCOUNT   = join(",", [google_service_account.queue["telegram-actions"].email, google_service_account.queue["fan-out"].email]) # only its queues may call /task
      # Reconciliation re-reads payments and settles them as ipn_handler does, on the same settings.
      NOWPAYMENTS_API_BASE_URL = var.nowpayments_api_base_url
      PLATFORM_FEE_PERCENT     = var.platform_fee_percent
      # and Stars charges found in getStarTransactions, booked as the bot books them.
      STARS_ENABLED    = var.stars_enabled
      STARS_USD_PRICE  = var.stars_usd_price
      STARS_PAYOUT_USD = var.stars_payout_usd
      STARS_HOLD_DAYS  = var.stars_hold_days
    }
    daily_broadcast = {
      GOOGLE_CLOUD_PROJECT     = var.project_id
      LOG_LEVEL                = var.log_level
      TASKS_LOCATION           = var.region
      TASKS_TOKEN_FROM_QUEUE   = "true"                                     # the queue adds the token (tasks.tf)
      EXPIRE_SUBSCRIPTIONS_URL = local.function_urls["expire_subscriptions"] # telegram-actions' target posts the offers
    }
    payout = {
      GOOGLE_CLOUD_PROJECT     = var.project_id
      LOG_LEVEL                = var.log_level
      TELEGRAM_BOT_USERNAME    = var.telegram_bot_username
      NOWPAYMENTS_API_BASE_URL = var.nowpayments_api_base_url
      IPN_CALLBACK_URL         = local.function_urls["ipn_handler"] # payout IPNs
    }
    owner_app = {
      GOOGLE_CLOUD_PROJECT     = var.project_id
      LOG_LEVEL                = var.log_level
      TELEGRAM_BOT_USERNAME    = var.telegram_bot_username
      TASKS_LOCATION           = var.region
      TASKS_TOKEN_FROM_QUEUE   = "true"                                 # the queue adds the token (tasks.tf)
      EXPIRE_SUBSCRIPTIONS_URL = local.function_urls["expire_subscriptions"] # offer and donation posts after a change; -- announcements --
      NOWPAYMENTS_API_BASE_URL = var.nowpayments_api_base_url           # minimum payments, as owners set prices
      STARS_ENABLED            = var.stars_enabled                      # the converted Star prices owners see
      STARS_USD_PRICE          = var.stars_usd_price
    }
  }

  # The SecretStr settings of each function, read from Secret Manager (secrets.tf). Each secret's
  # accessor role goes to exactly the functions listed here.
  function_secrets = {
    telegram_webhook     = ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "NOWPAYMENTS_API_KEY"] # the key: minimum payments as owners set prices
    ipn_handler          = ["NOWPAYMENTS_API_KEY", "NOWPAYMENTS_IPN_SECRET"]
    create_invoice       = ["TELEGRAM_BOT_TOKEN", "NOWPAYMENTS_API_KEY"]
    keypad               = ["TELEGRAM_BOT_TOKEN"]
    notify               = ["TELEGRAM_BOT_TOKEN"]
    expire_subscriptions = ["TELEGRAM_BOT_TOKEN", "NOWPAYMENTS_API_KEY"] # reconciliation re-reads payments
    daily_broadcast      = [] # it only queues the posts
    payout               = ["TELEGRAM_BOT_TOKEN", "NOWPAYMENTS_API_KEY", "NOWPAYMENTS_EMAIL", "NOWPAYMENTS_PASSWORD", "NOWPAYMENTS_2FA_SECRET"]
    owner_app            = ["TELEGRAM_BOT_TOKEN", "NOWPAYMENTS_API_KEY"] # checks initData, asks Telegram who is an admin; minimum payments as prices change
  }

  secrets = {
    TELEGRAM_BOT_TOKEN      = { secret_id = "telegram-bot-token", description = "Bot token from @BotFather." }
    TELEGRAM_WEBHOOK_SECRET = { secret_id = "telegram-webhook-secret", description = "secret_token given to setWebhook; Telegram echoes it in X-Telegram-Bot-Api-Secret-Token." }
    NOWPAYMENTS_API_KEY     = { secret_id = "nowpayments-api-key", description = "NowPayments API key (x-api-key)." }
    NOWPAYMENTS_IPN_SECRET  = { secret_id = "nowpayments-ipn-secret", description = "NowPayments IPN secret (HMAC-SHA512 key of x-nowpayments-sig)." }
    NOWPAYMENTS_EMAIL       = { secret_id = "nowpayments-email", description = "NowPayments account e-mail for /v1/auth (payouts)." }
    NOWPAYMENTS_PASSWORD    = { secret_id = "nowpayments-password", description = "NowPayments account password for /v1/auth (payouts)." }
    NOWPAYMENTS_2FA_SECRET  = { secret_id = "nowpayments-2fa-secret", description = "Base32 TOTP secret of the NowPayments account's 2FA (payout verification)." }
  }

  # --- Identities and who may call whom ------------------------------------------------------------
  # Project-level roles of each function's own service account, with the reason for each. Every
  # other grant is on a single resource: publisher on its topic, enqueuer on its queue, accessor on
  # its secret (see pubsub.tf, tasks.tf, secrets.tf).
  function_project_roles = {
    telegram_webhook     = { "roles/datastore.user" = "Firestore: reads channels, subscriptions, orders (/stats) and the ledger (/payouts); writes channels (owners' /newchannel, /edit, /pause), bot_chats, conversations, subscriptions (join requests), update claims and failed updates." }
    ipn_handler          = { "roles/datastore.user" = "Firestore: settles orders and subscriptions with the outbox in one transaction; writes IPN claims and unknown IPNs." }
    create_invoice       = { "roles/datastore.user" = "Firestore: writes orders and users; reads channels and keypad sessions." }
    keypad               = { "roles/datastore.user" = "Firestore: writes keypad sessions (the keypad's state) and claims; reads channels." }
    notify               = { "roles/datastore.user" = "Firestore: reads orders and channels; writes subscriptions, users and message claims." }
    expire_subscriptions = { "roles/datastore.user" = "Firestore: queries subscriptions due for a reminder or removal and updates them; re-publishes stuck outbox events; reconciliation settles orders and re-sends access; posts the offers (channels' broadcast state, claims); records failed tasks." }
    daily_broadcast      = { "roles/datastore.user" = "Firestore: reads the active channels (it queues their posts)." }
    payout               = { "roles/datastore.user" = "Firestore: reads the ledger and channels; reserves entries and writes payouts in transactions; writes claims." }
    owner_app            = { "roles/datastore.user" = "Firestore: reads channels, subscriptions, orders, the ledger and payouts of the calling owner; writes only channel settings and their channel_changes records (Firestore IAM cannot narrow a role below the database, so the code writes nothing else)." }
  }

  # The service accounts whose OIDC tokens call the scheduled and pushed-to functions. Queue
  # targets are called with their queue's own identity instead (google_service_account.queue).
  callers = {
    scheduler_invoker = "Identity in the OIDC token of every Cloud Scheduler job."
    pubsub_pusher     = "Identity in the OIDC token of every Pub/Sub push subscription."
  }

  # roles/run.invoker from these callers: scheduler job targets get scheduler_invoker, push targets
  # pubsub_pusher (from the tables below). Each queue's target gets that queue's identity
  # (functions.tf, queue_invoker), the public functions allUsers.
  function_invokers = {
    notify               = ["pubsub_pusher"]     # subscription notify-payment-events
    expire_subscriptions = ["scheduler_invoker"] # job every minute
    daily_broadcast      = ["scheduler_invoker"] # daily job
    payout               = ["pubsub_pusher", "scheduler_invoker"] # subscription payout-payment-events, job every minute
  }

  # --- shared_schemas/names.py TOPICS, SUBSCRIPTIONS, DEAD_LETTER_SUBSCRIPTIONS -------------------
  topics = {
    "payment-events"             = { published_by = ["ipn_handler", "expire_subscriptions", "telegram_webhook"] } # the bot: Stars
    "payment-events-dead-letter" = { published_by = [] } # only Pub/Sub dead-lettering writes here
  }

  push_subscriptions = {
    "notify-payment-events" = {
      topic                 = "payment-events"
      push_to               = "notify"
      dead_letter_topic     = "payment-events-dead-letter"
      max_delivery_attempts = 10
      min_backoff_seconds   = 5
      max_backoff_seconds   = 300
      ack_deadline_seconds  = 60
      description           = "Settled, partial, expired and failed payments, to message buyers and owners."
    }
    "payout-payment-events" = {
      topic                 = "payment-events"
      push_to               = "payout"
      dead_letter_topic     = "payment-events-dead-letter"
      max_delivery_attempts = 10
      min_backoff_seconds   = 10
      max_backoff_seconds   = 600
      ack_deadline_seconds  = 180
      description           = "Settled payments: check the channel's payout strategy at once (the ledger entry was booked in the settling transaction; other event types are acknowledged and ignored)."
    }
  }

  # Dead-letter topic => pull subscription that holds its messages for inspection and replay.
  dead_letter_subscriptions = {
    "payment-events-dead-letter" = "payment-events-dead-letter-hold"
  }

  # --- shared_schemas/names.py QUEUES ------------------------------------------------------------
  # Telegram allows about 30 messages/s per bot: every message in bulk (removals, reminders, daily
  # posts, announcements) goes through telegram-actions, whose rate holds across all instances of
  # its target. create-invoice and keypad answer one user action each.
  queues = {
    "create-invoice" = {
      target                    = "create_invoice"
      max_dispatches_per_second = 30
      max_concurrent_dispatches = 30
      max_attempts              = 5
      min_backoff_seconds       = 1
      max_backoff_seconds       = 30
      max_doublings             = 4
      enqueued_by               = ["telegram_webhook", "keypad"]
    }
    "keypad" = {
      target                    = "keypad"
      max_dispatches_per_second = 30
      max_concurrent_dispatches = 30
      max_attempts              = 5
      min_backoff_seconds       = 1
      max_backoff_seconds       = 5
      max_doublings             = 3
      enqueued_by               = ["telegram_webhook"]
    }
    "telegram-actions" = {
      target                    = "expire_subscriptions"
      max_dispatches_per_second = 29.5
      max_concurrent_dispatches = 29
      max_attempts              = 20
      min_backoff_seconds       = 1
      max_backoff_seconds       = 300
      max_doublings             = 5
      enqueued_by               = ["expire_subscriptions", "daily_broadcast", "telegram_webhook", "owner_app"] # posts; -- announcements: the owner's Send --
    }
    # The sweep's and announcements' pages: each queues its items on telegram-actions.
    "fan-out" = {
      target                    = "expire_subscriptions"
      max_dispatches_per_second = 20
      max_concurrent_dispatches = 2
      max_attempts              = 20
      min_backoff_seconds       = 1
      max_backoff_seconds       = 60
      max_doublings             = 4
      enqueued_by               = ["expire_subscriptions"]
    }
  }

  # --- shared_schemas/names.py SCHEDULER_JOBS ----------------------------------------------------
  # retry_count is not in names.py: the every-minute sweep needs no retry (the next run is a minute
  # away); a failed daily broadcast is retried (its tasks are named per channel and day, so a retry
  # never posts twice).
  scheduler_jobs = {
    "expire-subscriptions-every-minute" = {
      schedule                 = "* * * * *"
      time_zone                = "Etc/UTC"
      target                   = "expire_subscriptions"
      attempt_deadline_seconds = 180
      retry_count              = 0
      description              = "Find subscriptions due for a reminder or removal; re-publish stuck outbox events."
      path                     = ""
    }
    "reconcile-every-5-minutes" = {
      schedule                 = "*/5 * * * *"
      time_zone                = "Etc/UTC"
      target                   = "expire_subscriptions"
      attempt_deadline_seconds = 180
      retry_count              = 0 # the next run is five minutes away
      description              = "Reconcile: settle paid orders whose IPN never came, re-send access never sent, remove members past their end, count events that keep failing to publish."
      path                     = "/reconcile"
    }
    "daily-broadcast" = {
      schedule                 = var.daily_broadcast_schedule
      time_zone                = "Etc/UTC"
      target                   = "daily_broadcast"
      attempt_deadline_seconds = 180
      retry_count              = 3
      description              = "Post every active channel's offer to its open channel."
      path                     = ""
    }
    # No retry: the next run is a minute away, and every payout step resumes where it stopped.
    "payouts-every-minute" = {
      schedule                 = "* * * * *"
      time_zone                = "Etc/UTC"
      target                   = "payout"
      attempt_deadline_seconds = 180
      retry_count              = 0
      description              = "Threshold check of every channel with an available balance; resume and poll open payouts; tell owners how their payouts ended."
      path                     = ""
    }
  }

  # --- shared_schemas/documents.py all_composite_indexes() and ttl_field --------------------------
  # One index per query of shared_schemas/queries.py that needs one, keyed
  # "<collection>-<field>-<field>".
  composite_indexes = {
    # stuck_outbox: the sweep re-publishing events whose publish failed
    "outbox-published-created_at" = {
      collection = "outbox"
      fields = [
        { field_path = "published", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    # unhandled_events: reconciliation publishing again the events notify never handled
    "outbox-published-handled-published_at" = {
      collection = "outbox"
      fields = [
        { field_path = "published", order = "ASCENDING" },
        { field_path = "handled", order = "ASCENDING" },
        { field_path = "published_at", order = "ASCENDING" },
      ]
    }
    # orders_to_recheck: reconciliation, unsettled orders of the invoice lifetime, re-read from NowPayments
    "orders-status-updated_at" = {
      collection = "orders"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "updated_at", order = "ASCENDING" },
      ]
    }
    # subscriptions_access_pending: reconciliation, paid subscriptions whose buyer never got their access
    "subscriptions-status-access_sent-renewed_at" = {
      collection = "subscriptions"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "access_sent", order = "ASCENDING" },
        { field_path = "renewed_at", order = "ASCENDING" },
      ]
    }
    # members_past_end: reconciliation, members still in a channel long after their access ended
    "subscriptions-status-in_channel-expires_at" = {
      collection = "subscriptions"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "in_channel", order = "ASCENDING" },
        { field_path = "expires_at", order = "ASCENDING" },
      ]
    }
    # subscriptions_due: the expiry sweep, active subscriptions whose next reminder or removal is due
    "subscriptions-status-next_action_at" = {
      collection = "subscriptions"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "next_action_at", order = "ASCENDING" },
      ]
    }
    # available_ledger: every-minute threshold check, channels with an available balance
    "ledger-state-booked_at" = {
      collection = "ledger"
      fields = [
        { field_path = "state", order = "ASCENDING" },
        { field_path = "booked_at", order = "ASCENDING" },
      ]
    }
    # payouts_due: every-minute run, open payouts to resume or poll
    "payouts-open-next_attempt_at" = {
      collection = "payouts"
      fields = [
        { field_path = "open", order = "ASCENDING" },
        { field_path = "next_attempt_at", order = "ASCENDING" },
      ]
    }
    # payouts_of_owner: an owner's payout history (/payouts) and the operator's list
    "payouts-owner_user_id-created_at" = {
      collection = "payouts"
      fields = [
        { field_path = "owner_user_id", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    # -- dashboard --
    # days_of_channel: /stats and the owner app's dashboard: a channel's counts per day over a period
    "channel_days-channel_token-day" = {
      collection = "channel_days"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "day", order = "ASCENDING" },
      ]
    }
    # foldable_days: the reconciliation, shards of finished days to fold into one document a day
    "channel_days-fold-day" = {
      collection = "channel_days"
      fields = [
        { field_path = "fold", order = "ASCENDING" },
        { field_path = "day", order = "ASCENDING" },
      ]
    }
    # -- owner grants --
    # grants_of_channel: /stats and the owner app, an owner's grants of the last 30 days, apart from sales
    "support_actions-channel_token-source-at" = {
      collection = "support_actions"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "source", order = "ASCENDING" },
        { field_path = "at", order = "ASCENDING" },
      ]
    }
    # -- announcements --
    # subscriptions_of_channel_by_expiry: announcements, a channel's subscribers by the end of their access (the audience and its count)
    "subscriptions-channel_token-status-expires_at" = {
      collection = "subscriptions"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "expires_at", order = "ASCENDING" },
      ]
    }
    # announcements_of_channel: the owner app's Announcements and `telepay announcements list`, a channel's announcements
    "announcements-channel_token-created_at" = {
      collection = "announcements"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    # -- free trials --
    # trials_started_of_channel: operators, `telepay trials list`, a channel's trials, the newest first
    "trials-channel_token-started_at" = {
      collection = "trials"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "started_at", order = "ASCENDING" },
      ]
    }
    # -- exports --
    # ledger_of_channel_by_time: an owner's /export and the owner app's Books, a channel's ledger entries (and sales) of a period
    "ledger-channel_token-booked_at" = {
      collection = "ledger"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "booked_at", order = "ASCENDING" },
      ]
    }
    # -- support --
    # support_threads_of_channel: the owner app's Support, a channel's threads, by their last message
    "support_threads-channel_token-updated_at" = {
      collection = "support_threads"
      fields = [
        { field_path = "channel_token", order = "ASCENDING" },
        { field_path = "updated_at", order = "ASCENDING" },
      ]
    }
  }

  # --- shared_schemas/documents.py all_unindexed_fields() -----------------------------------------
  # "<collection>/<field>" => the field with no single-field index: the timestamps (and the outbox's
  # published envelope) of the collections written at the rate of sales. Nothing queries them alone
  # (their queries use the composite indexes above), and an index on an ever-increasing value takes
  # every write at its end, which Google documents caps a collection near 500 writes a second.
  unindexed_fields = {
    "orders/settled_at"              = { collection = "orders", field = "settled_at" }
    "orders/subscription_expires_at" = { collection = "orders", field = "subscription_expires_at" }
    "orders/created_at"              = { collection = "orders", field = "created_at" }
    "orders/updated_at"              = { collection = "orders", field = "updated_at" }
    "subscriptions/expires_at"       = { collection = "subscriptions", field = "expires_at" }
    "subscriptions/started_at"       = { collection = "subscriptions", field = "started_at" }
    "subscriptions/renewed_at"       = { collection = "subscriptions", field = "renewed_at" }
    "subscriptions/next_action_at"   = { collection = "subscriptions", field = "next_action_at" }
    "subscriptions/removed_at"       = { collection = "subscriptions", field = "removed_at" }
    "subscriptions/trial_ends_at"    = { collection = "subscriptions", field = "trial_ends_at" }
    "subscriptions/updated_at"       = { collection = "subscriptions", field = "updated_at" }
    "outbox/created_at"              = { collection = "outbox", field = "created_at" }
    "outbox/published_at"            = { collection = "outbox", field = "published_at" }
    "outbox/handled_at"              = { collection = "outbox", field = "handled_at" }
    "outbox/envelope"                = { collection = "outbox", field = "envelope" }
    "claims/lease_until"             = { collection = "claims", field = "lease_until" }
    "claims/created_at"              = { collection = "claims", field = "created_at" }
    "ledger/retry_after"             = { collection = "ledger", field = "retry_after" }
    "ledger/held_until"              = { collection = "ledger", field = "held_until" }
    "ledger/booked_at"               = { collection = "ledger", field = "booked_at" }
    "ledger/updated_at"              = { collection = "ledger", field = "updated_at" }
  }

  # Collection => timestamp field after which Firestore deletes the document: the dedupe records,
  # and the records kept only for investigation (lifetimes in documents.py: published outbox events
  # 7 days, unknown IPNs 90 days, failed updates 30 days).
  ttl_fields = {
    outbox          = "expire_at"
    claims          = "expire_at"
    unknown_ipns    = "expire_at"
    failed_updates  = "expire_at"
    keypad_sessions = "expire_at"
    failed_tasks    = "expire_at"
    conversations   = "expire_at"
    promo_applied   = "expire_at"
    promo_entries   = "expire_at"
    support_replies = "expire_at"
  }
}
