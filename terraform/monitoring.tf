# What an operator sees: log-based metrics, alert policies and the dashboard. The dead-letter alert
# sits with its subscription in pubsub.tf. Every alert goes to var.alert_notification_channels.

locals {
  # --- shared_schemas/names.py LOG_METRICS and the reconciliation contract ------------------------
  # Counters of log lines the functions write today (jsonPayload.message of their JSON logs).
  log_metrics = {
    telepay_payments_settled = {
      function      = "ipn_handler"
      message_regex = "^IPN [a-z_]+: [a-z_]+: payment[.]settled$"
      description   = "Payments settled: an IPN moved an order to paid (ipn_handler's `IPN <status>: <outcome>`)."
    }
    telepay_access_granted = {
      function      = "telegram_webhook"
      message_regex = "^update handled: join approved$"
      description   = "Access granted: a buyer's join request approved."
    }
    telepay_removals = {
      function      = "expire_subscriptions"
      message_regex = "^ExpiryTask: removed$"
      description   = "Removals: an expired member removed from a closed channel."
    }
    telepay_broadcasts_posted = {
      function      = "expire_subscriptions"
      message_regex = "^BroadcastTask: posted$"
      description   = "Broadcasts: an offer posted to an open channel."
    }
    telepay_outbox_stuck = {
      function      = "expire_subscriptions"
      message_regex = "; outbox still has events$"
      description   = "A sweep found payment events it could not publish (older than the sweep's grace)."
    }
    telepay_payouts_failed = {
      function      = "payout"
      message_regex = "^payout failed: "
      description   = "A payout ended FAILED (its entries went back to the owner's balance) or needs the operator (NowPayments refused it, e.g. a wrong 2FA code)."
    }
    telepay_wallet_changes = {
      function      = "telegram_webhook"
      message_regex = "^wallet changed: "
      description   = "An owner changed a channel's payout wallet: its payouts are held (cooling-off) until the logged time."
    }
  }

  # The line each reconciliation run logs (names.py RECONCILIATION_*, telepay/payments/reconcile.py).
  reconciliation = {
    metric  = "telepay_reconciliation_discrepancies"
    message = "reconciliation summary"
    field   = "discrepancies"
  }

  # --- Thresholds ------------------------------------------------------------------------------------
  alerts = {
    # A function answering 5xx to more than this share of its requests over 5 minutes. Some 5xx are
    # by design (a retry asked of Telegram, NowPayments or Cloud Tasks), hence not zero.
    error_ratio = 0.1
    # Payment events still unpublished this many minutes after the sweep first found them stuck:
    # buyers are waiting for their access link.
    outbox_stuck_minutes = 10
  }

  # Log-based metrics are counters over one resource type, all DELTA INT64.
  counter_metric_filters = {
    for name, spec in local.log_metrics : name => "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.run_services[spec.function]}\" AND jsonPayload.message=~\"${spec.message_regex}\""
  }
}

# --- Log-based metrics -----------------------------------------------------------------------------------
resource "google_logging_metric" "counter" {
  for_each = local.log_metrics

  name        = each.key
  description = each.value.description
  filter      = local.counter_metric_filters[each.key]

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.api]
}

# One per reconciliation run that found records disagreeing (any function may run it).
resource "google_logging_metric" "reconciliation_discrepancies" {
  name        = local.reconciliation.metric
  description = "Reconciliation runs whose summary counted discrepancies (non-zero ${local.reconciliation.field})."
  filter      = "resource.type=\"cloud_run_revision\" AND jsonPayload.message=\"${local.reconciliation.message}\" AND jsonPayload.${local.reconciliation.field}>0"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.api]
}

# Cloud Scheduler logs each attempt of a job; a failed attempt (an error answer, a timeout) at
# severity ERROR.
resource "google_logging_metric" "scheduler_job_failures" {
  name        = "telepay_scheduler_job_failures"
  description = "Cloud Scheduler job attempts that failed."
  filter      = "resource.type=\"cloud_scheduler_job\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.api]
}

# Cloud Tasks logs every attempt of the queues (stackdriver_logging_config, tasks.tf). An attempt that
# failed with no retry scheduled was the task's last: the task is dropped.
resource "google_logging_metric" "tasks_exhausted" {
  name        = "telepay_tasks_exhausted"
  description = "Cloud Tasks tasks whose last allowed attempt failed (dropped without success)."
  filter      = "resource.type=\"cloud_tasks_queue\" AND jsonPayload.attemptResponseLog.status:* AND jsonPayload.attemptResponseLog.status!=\"OK\" AND NOT jsonPayload.attemptResponseLog.retryTime:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.api]
}

# --- Alerts ------------------------------------------------------------------------------------------------
resource "google_monitoring_alert_policy" "function_errors" {
  for_each = local.functions

  display_name          = "TelePay: ${each.key} answers 5xx"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${each.key}: over ${local.alerts.error_ratio * 100}% of requests answered 5xx for 5 minutes"
    condition_threshold {
      filter             = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.run_services[each.key]}\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.run_services[each.key]}\" AND metric.type = \"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = local.alerts.error_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${each.key} is failing. Read its errors: `gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.run_services[each.key]}\" AND severity>=WARNING' --limit=50`. See terraform/README.md, \"Alerts\"."
  }
}

# Alerts on the log-based metrics above: any count above 0 (for `duration`) alerts.
locals {
  log_metric_alerts = {
    scheduler_job_failures = {
      display_name  = "TelePay: a scheduled job failed"
      condition     = "Cloud Scheduler job attempts failed"
      resource_type = "cloud_scheduler_job"
      metric        = google_logging_metric.scheduler_job_failures.name
      duration      = "0s"
      group_by      = ["resource.label.job_id"]
      documentation = "A Cloud Scheduler job (every-minute expiry sweep or daily broadcast) did not get a 2xx. The sweep answers 503 while payment events stay unpublished."
    }
    tasks_exhausted = {
      display_name  = "TelePay: tasks dropped after their last attempt"
      condition     = "A Cloud Tasks task used up its attempts"
      resource_type = "cloud_tasks_queue"
      metric        = google_logging_metric.tasks_exhausted.name
      duration      = "0s"
      group_by      = ["resource.label.queue_id"]
      documentation = "A task failed on every attempt and was dropped: an invoice, a keypad press, a reminder or removal, or a broadcast post did not happen."
    }
    outbox_stuck = {
      display_name  = "TelePay: payment events not published"
      condition     = "Payment events unpublished for ${local.alerts.outbox_stuck_minutes} minutes"
      resource_type = "cloud_run_revision"
      metric        = google_logging_metric.counter["telepay_outbox_stuck"].name
      # Every sweep (one a minute) for this long found unpublished events.
      duration      = "${local.alerts.outbox_stuck_minutes * 60}s"
      group_by      = []
      documentation = "Settled payments wait in the Firestore `outbox`: buyers have not got their access link. Publishing to `payment-events` keeps failing."
    }
    reconciliation_discrepancies = {
      display_name  = "TelePay: reconciliation found discrepancies"
      condition     = "A reconciliation run counted records that disagree"
      resource_type = "cloud_run_revision"
      metric        = google_logging_metric.reconciliation_discrepancies.name
      duration      = "0s"
      group_by      = []
      documentation = "Orders, subscriptions, channel membership or Telegram Stars disagree. The run's `${local.reconciliation.message}` log line has the counts: `stars_settled_late` (a Stars payment whose update was lost, now settled), `stars_refunds_applied` (a Stars refund whose update was lost, now applied), `stars_unknown` (a Stars payment for no TelePay order: in `unknown_ipns` as `stars-<id>`; refund it with `telepay payments refund <id> --reason ...`)."
    }
    payouts_failed = {
      display_name  = "TelePay: a payout failed or needs the operator"
      condition     = "payout logged `payout failed:`"
      resource_type = "cloud_run_revision"
      metric        = google_logging_metric.counter["telepay_payouts_failed"].name
      duration      = "0s"
      group_by      = []
      documentation = "An owner's payout ended FAILED (entries back in the balance, owner told) or is held with `attention` (2FA code or a step refused). Inspect the `payouts` document named in the log line; after fixing the cause, retry it (`telepay payouts retry <id>`)."
    }
    wallet_changed = {
      display_name  = "TelePay: a payout wallet changed"
      condition     = "telegram_webhook logged `wallet changed:`"
      resource_type = "cloud_run_revision"
      metric        = google_logging_metric.counter["telepay_wallet_changes"].name
      duration      = "0s"
      group_by      = []
      documentation = "An owner changed a channel's payout wallet; that channel's payouts wait until the logged time (WALLET_HOLD_HOURS) and the owner was told with a button to cancel. If the owner reports they did not make it, check `telepay channels show <token>` and `channel_changes`; the owner's cancel restores the wallet from before."
    }
  }
}

# A log-based metric is not at once a metric Cloud Monitoring knows: an alert policy on it created
# seconds later is refused with 404 "Cannot find metric(s) that match type ... could take up to 10
# minutes" (hashicorp/terraform-provider-google#11102). The policies wait for this, which waits
# again whenever a log-based metric is added or replaced; the functions take longer to deploy, so
# a first apply is not slower for it. README.md says what to do if an apply still meets the 404.
resource "time_sleep" "log_metrics_exist" {
  create_duration = "180s"

  triggers = {
    metrics = join(",", concat(
      sort([for metric in google_logging_metric.counter : metric.id]),
      [
        google_logging_metric.reconciliation_discrepancies.id,
        google_logging_metric.scheduler_job_failures.id,
        google_logging_metric.tasks_exhausted.id,
      ],
    ))
  }
}

resource "google_monitoring_alert_policy" "log_metric" {
  for_each = local.log_metric_alerts

  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = each.value.condition
    condition_threshold {
      filter          = "resource.type = \"${each.value.resource_type}\" AND metric.type = \"logging.googleapis.com/user/${each.value.metric}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = each.value.duration
      aggregations {
        # One-minute buckets, so `duration` counts consecutive sweeps for the outbox.
        alignment_period     = each.value.duration == "0s" ? "300s" : "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = each.value.group_by
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${each.value.documentation} See terraform/README.md, \"Alerts\"."
  }

  depends_on = [time_sleep.log_metrics_exist]
}

# --- Dashboard ---------------------------------------------------------------------------------------------
locals {
  # One chart: a title and the time series it draws.
  dashboard_charts = [
    { title = "Payments settled (per hour)", filter = "metric.type=\"logging.googleapis.com/user/telepay_payments_settled\" resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", period = "3600s", group_by = [] },
    { title = "Access granted (per hour)", filter = "metric.type=\"logging.googleapis.com/user/telepay_access_granted\" resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", period = "3600s", group_by = [] },
    { title = "Removals (per hour)", filter = "metric.type=\"logging.googleapis.com/user/telepay_removals\" resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", period = "3600s", group_by = [] },
    { title = "Broadcast posts (per hour)", filter = "metric.type=\"logging.googleapis.com/user/telepay_broadcasts_posted\" resource.type=\"cloud_run_revision\"", aligner = "ALIGN_SUM", period = "3600s", group_by = [] },
    { title = "telegram_webhook latency, p95", filter = "metric.type=\"run.googleapis.com/request_latencies\" resource.type=\"cloud_run_revision\" resource.label.service_name=\"${local.run_services["telegram_webhook"]}\"", aligner = "ALIGN_PERCENTILE_95", period = "60s", group_by = [] },
    { title = "ipn_handler latency, p95 (NowPayments waits 3 s)", filter = "metric.type=\"run.googleapis.com/request_latencies\" resource.type=\"cloud_run_revision\" resource.label.service_name=\"${local.run_services["ipn_handler"]}\"", aligner = "ALIGN_PERCENTILE_95", period = "60s", group_by = [] },
    { title = "5xx answers by function (per minute)", filter = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" metric.label.response_code_class=\"5xx\"", aligner = "ALIGN_SUM", period = "60s", group_by = ["resource.label.service_name"] },
    { title = "Dead letters waiting", filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\"", aligner = "ALIGN_MAX", period = "60s", group_by = ["resource.label.subscription_id"] },
  ]
}

resource "google_monitoring_dashboard" "operations" {
  dashboard_json = jsonencode({
    displayName = "TelePay"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, chart in local.dashboard_charts : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = chart.filter
                    aggregation = {
                      alignmentPeriod    = chart.period
                      perSeriesAligner   = chart.aligner
                      # Percentiles stay per series; counts are summed (per group_by, if any).
                      crossSeriesReducer = startswith(chart.aligner, "ALIGN_PERCENTILE") ? "REDUCE_NONE" : "REDUCE_SUM"
                      groupByFields      = chart.group_by
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })

  depends_on = [google_logging_metric.counter]
}
