# Cloud Tasks queues (QUEUES in shared_schemas/names.py). Tasks are HTTP tasks the enqueuing
# function creates with an OIDC token of tasks_invoker (TASKS_INVOKER_SERVICE_ACCOUNT), which may
# invoke the queue's target function and nothing else (functions.tf).

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
