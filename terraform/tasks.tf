# Cloud Tasks queues (QUEUES in shared_schemas/names.py). The enqueuing function creates HTTP tasks
# without a token (TASKS_TOKEN_FROM_QUEUE); the queue's own routing decides where and as whom every
# task goes: its host is forced to the queue's target function (whatever URL the enqueuer wrote; the
# path, "/" or "/task", is kept), and its OIDC token is the queue's own service account, which may
# invoke that one function only (functions.tf). An enqueuer can therefore reach its queues'
# targets and nothing else, and needs no actAs on any service account.

locals {
  # "<queue>/<function>" => grant, flattened from local.queues (locals.tf).
  queue_enqueuers = merge([
    for queue, spec in local.queues : {
      for function in spec.enqueued_by : "${queue}/${function}" => { queue = queue, function = function }
    }
  ]...)
}

resource "google_cloud_tasks_queue" "queue" {
  for_each = local.queues

  name     = each.key
  location = var.region

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts  = each.value.max_attempts
    min_backoff   = "${each.value.min_backoff_seconds}s"
    max_backoff   = "${each.value.max_backoff_seconds}s"
    max_doublings = each.value.max_doublings
  }

  # Queue-level routing: overrides every task's own (ALWAYS), for tasks already queued too.
  http_target {
    http_method = "POST"
    uri_override {
      scheme                    = "HTTPS"
      host                      = local.function_hosts[each.value.target]
      uri_override_enforce_mode = "ALWAYS"
    }
    oidc_token {
      service_account_email = google_service_account.queue[each.key].email
      audience              = local.function_urls[each.value.target]
    }
  }

  # Every attempt is logged: the alert on tasks that used up their attempts reads these logs
  # (monitoring.tf).
  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.api]
}

# Enqueuers, each on the queues it uses only.
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.queue_enqueuers

  name     = google_cloud_tasks_queue.queue[each.value.queue].name
  location = var.region
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function[each.value.function].member
}
