# Identities. Each function runs as its own service account; three more service accounts carry
# the OIDC tokens of Cloud Tasks, Cloud Scheduler and Pub/Sub push; one builds the images.
# Grants on single resources (topics, queues, secrets, functions) sit next to those resources.

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "fn-${replace(each.key, "_", "-")}"
  display_name = "TelePay ${each.key}"
  description  = "Runtime identity of the ${each.key} function, used by nothing else."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "caller" {
  for_each = local.callers

  account_id   = replace(each.key, "_", "-")
  display_name = "TelePay ${replace(each.key, "_", " ")}"
  description  = each.value

  depends_on = [google_project_service.api]
}

locals {
  # "<function>/<role>" => grant, flattened from local.function_project_roles (locals.tf), where
  # each role carries the reason it is needed.
  function_project_role_grants = merge([
    for function, roles in local.function_project_roles : {
      for role, reason in roles : "${function}/${role}" => { function = function, role = role }
    }
  ]...)

  # Functions that enqueue Cloud Tasks (QUEUES[*].enqueued_by in names.py).
  task_enqueuers = toset(flatten([for queue in local.queues : queue.enqueued_by]))
}

# Each role with its reason is in local.function_project_roles (locals.tf): today Firestore only.
resource "google_project_iam_member" "function" {
  for_each = local.function_project_role_grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.function[each.value.function].member
}

# An enqueuer names tasks_invoker in each task's OIDC token; Cloud Tasks checks that the enqueuer
# may act as that service account (iam.serviceAccounts.actAs), on this one account only.
resource "google_service_account_iam_member" "enqueuer_acts_as_tasks_invoker" {
  for_each = local.task_enqueuers

  service_account_id = google_service_account.caller["tasks_invoker"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.key].member
}

# --- Build ----------------------------------------------------------------------------------------
# Cloud Build builds each function's image as this account instead of the project's default
# compute account (which new projects no longer grant anything).
resource "google_service_account" "function_builder" {
  account_id   = "function-builder"
  display_name = "TelePay function builder"
  description  = "Cloud Build identity that turns the function bundles into images."

  depends_on = [google_project_service.api]
}

# Writes the build logs.
resource "google_project_iam_member" "function_builder_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.function_builder.member
}

# Reads the source Cloud Functions stages in its own bucket (gcf-v2-sources-<number>-<region>)
# before building, which is what Google documents Storage Object Admin for; the condition limits it
# to that bucket.
resource "google_project_iam_member" "function_builder_staged_sources" {
  # checkov:skip=CKV_GCP_42:Storage Object Admin is what Google documents for a custom build service account; the IAM condition confines it to the Cloud Functions staging bucket of this project and region.
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.function_builder.member

  condition {
    title       = "gcf-v2-sources bucket only"
    description = "The bucket where Cloud Functions stages function sources for Cloud Build."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}\")"
  }
}
