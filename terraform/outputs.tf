output "telegram_webhook_url" {
  description = "Public URL of telegram_webhook, to give Telegram with setWebhook."
  value       = google_cloudfunctions2_function.function["telegram_webhook"].url
}

output "ipn_handler_url" {
  description = "Public URL of ipn_handler; create_invoice gives it to NowPayments with every invoice (IPN_CALLBACK_URL)."
  value       = google_cloudfunctions2_function.function["ipn_handler"].url
}

locals {
  # shared_schemas/telegram.py ALLOWED_UPDATES: the updates telegram_webhook handles.
  telegram_allowed_updates = ["message", "callback_query", "chat_join_request"]
}

output "set_webhook_command" {
  description = "Run once after the first apply, and after rotating the bot token or webhook secret. Reads both secrets from Secret Manager; nothing secret is stored in Terraform."
  value = join(" ", [
    "curl --fail --silent --show-error",
    "--url \"https://api.telegram.org/bot$(gcloud secrets versions access latest --project=${var.project_id} --secret=${google_secret_manager_secret.secret["TELEGRAM_BOT_TOKEN"].secret_id})/setWebhook\"",
    "--data-urlencode \"url=${google_cloudfunctions2_function.function["telegram_webhook"].url}\"",
    "--data-urlencode \"secret_token=$(gcloud secrets versions access latest --project=${var.project_id} --secret=${google_secret_manager_secret.secret["TELEGRAM_WEBHOOK_SECRET"].secret_id})\"",
    "--data-urlencode 'allowed_updates=${jsonencode(local.telegram_allowed_updates)}'",
    # One request per instance: more connections than instances would only queue at the front door.
    "--data-urlencode \"max_connections=${local.functions["telegram_webhook"].max_instances}\"",
  ])
}
