output "telegram_webhook_url" {
  description = "Public URL of telegram_webhook, given to Telegram with setWebhook."
  value       = local.function_urls["telegram_webhook"]
}

output "ipn_handler_url" {
  description = "Public URL of ipn_handler; create_invoice gives it to NowPayments with every invoice (IPN_CALLBACK_URL)."
  value       = local.function_urls["ipn_handler"]
}

locals {
  # shared_schemas/telegram.py ALLOWED_UPDATES: the updates telegram_webhook handles.
  telegram_allowed_updates = ["message", "pre_checkout_query", "callback_query", "chat_join_request", "my_chat_member", "chat_member"]
}

locals {
  # The Secret Manager version the functions read, as set_webhook_command must read the same one.
  webhook_secret_versions = {
    for name in ["TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"] : name => lookup(var.secret_versions, name, "latest")
  }
}

output "set_webhook_command" {
  description = "Run once after the first apply, and after rotating the bot token or webhook secret. Reads both secrets from Secret Manager at the versions the functions read (secret_versions) and hands them to curl as a config on standard input, so neither is ever on a command line or in Terraform."
  value = join(" ", [
    "{",
    "printf 'url = \"https://api.telegram.org/bot%s/setWebhook\"\\n'",
    "\"$(gcloud secrets versions access ${local.webhook_secret_versions["TELEGRAM_BOT_TOKEN"]} --project=${var.project_id} --secret=${google_secret_manager_secret.secret["TELEGRAM_BOT_TOKEN"].secret_id})\";",
    "printf 'data-urlencode = \"secret_token=%s\"\\n'",
    "\"$(gcloud secrets versions access ${local.webhook_secret_versions["TELEGRAM_WEBHOOK_SECRET"]} --project=${var.project_id} --secret=${google_secret_manager_secret.secret["TELEGRAM_WEBHOOK_SECRET"].secret_id})\";",
    "} | curl --fail --silent --show-error --config -",
    "--data-urlencode \"url=${local.function_urls["telegram_webhook"]}\"",
    "--data-urlencode 'allowed_updates=${jsonencode(local.telegram_allowed_updates)}'",
    # One request per instance: more connections than instances would only queue at the front door.
    "--data-urlencode \"max_connections=${local.functions["telegram_webhook"].max_instances}\"",
  ])
}
