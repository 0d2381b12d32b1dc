# Cloud Scheduler jobs (SCHEDULER_JOBS in shared_schemas/names.py). Each calls its function's run.app
# URL with an OIDC token of scheduler_invoker, which may invoke those functions only (functions.tf).
# Schedules are cron in the job's time zone; "* * * * *" is every minute, the finest Scheduler has.

resource "google_cloud_scheduler_job" "job" {
  for_each = local.scheduler_jobs

  name             = each.key
  region           = var.region
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = each.value.time_zone
  attempt_deadline = "${each.value.attempt_deadline_seconds}s"

  retry_config {
    retry_count          = each.value.retry_count
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    uri         = "${local.function_urls[each.value.target]}${each.value.path}"
    http_method = "POST"
    oidc_token {
      service_account_email = google_service_account.caller["scheduler_invoker"].email
      audience              = local.function_urls[each.value.target]
    }
  }

  # The target must exist (and accept the job's identity) before the first run.
  depends_on = [google_cloud_run_service_iam_member.invoker]
}
