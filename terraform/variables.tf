variable "project_id" {
  description = "Google Cloud project id that holds the whole system."
  type        = string
}

variable "region" {
  description = "Region of the functions, queues, scheduler jobs, bucket and Firestore database."
  type        = string
  default     = "us-central1"
}

variable "telegram_bot_username" {
  description = "Bot username without @ (TELEGRAM_BOT_USERNAME), used in deep links."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{4,31}$", var.telegram_bot_username))
    error_message = "A Telegram bot username without the leading @ (5-32 letters, digits, underscores)."
  }
}

variable "daily_broadcast_schedule" {
  description = "Cron (in Etc/UTC) of the daily offer posts; shared_schemas/names.py holds the default."
  type        = string
  default     = "0 9 * * *"
}

variable "public_min_instances" {
  description = "Warm instances of telegram_webhook and ipn_handler, so a cold start never eats NowPayments' 3 s or Telegram's budget. Production keeps the default 1; 0 is for a development project (cheaper, first requests slower; README.md, \"Environments\")."
  type        = number
  default     = 1

  validation {
    condition     = var.public_min_instances >= 0 && var.public_min_instances == floor(var.public_min_instances)
    error_message = "A whole number of instances: 1 or more in production, 0 allowed for development."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "One of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "nowpayments_api_base_url" {
  description = "NOWPAYMENTS_API_BASE_URL: the production API, or the NowPayments sandbox for a test deployment."
  type        = string
  default     = "https://api.nowpayments.io"
}

variable "platform_fee_percent" {
  description = "PLATFORM_FEE_PERCENT: the platform fee booked on each settled payment (each ledger entry keeps its rate)."
  type        = string
  default     = "3"
}

variable "stars_enabled" {
  description = "STARS_ENABLED: offer Telegram Stars beside crypto."
  type        = string
  default     = "true"
}

variable "stars_usd_price" {
  description = "STARS_USD_PRICE: what a Star costs a buyer, in USD (a tier without its own Star price costs its USD price divided by this, rounded up)."
  type        = string
  default     = "0.02"
}

variable "stars_payout_usd" {
  description = "STARS_PAYOUT_USD: what a Star earned is worth in an owner's payout balance, in USD."
  type        = string
  default     = "0.013"
}

variable "stars_hold_days" {
  description = "STARS_HOLD_DAYS: days before Stars earned reach the owner's payout balance (Telegram holds Stars before withdrawal)."
  type        = string
  default     = "21"
}

variable "secret_versions" {
  description = "Secret Manager version each function reads, by setting name (e.g. { TELEGRAM_BOT_TOKEN = \"3\" }); unlisted ones read \"latest\". Changing one redeploys the functions that read that secret (README.md, \"Rotating secrets\")."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for version in values(var.secret_versions) : can(regex("^(latest|[1-9][0-9]*)$", version))])
    error_message = "Each version is \"latest\" or a version number."
  }
}

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/<p>/notificationChannels/<id>) every alert goes to; at least one (README.md, \"Alerts\", makes an e-mail channel)."
  type        = list(string)

  validation {
    condition     = length(var.alert_notification_channels) >= 1
    error_message = "Name at least one notification channel: an alert nobody receives is no alert."
  }
  validation {
    condition     = alltrue([for channel in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", channel))])
    error_message = "Each channel is a full id: projects/<project>/notificationChannels/<number>."
  }
}
