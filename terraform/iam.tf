# Identities. Each function runs as its own service account. Each Cloud Tasks queue has its own
# service account, which the queue itself puts in every task's OIDC token (tasks.tf), so a task can
# only ever reach its queue's target. Two more carry the OIDC tokens of Cloud Scheduler and Pub/Sub
# push; one builds the images. Grants on single resources (topics, queues, secrets, functions) sit
# next to those resources.

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
}

# Each role with its reason is in local.function_project_roles (locals.tf): today Firestore only.
resource "google_project_iam_member" "function" {
  for_each = local.function_project_role_grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.function[each.value.function].member
}

# The identity in the OIDC token of every task of one queue, set on the queue (tasks.tf). It may
# invoke that queue's target only (functions.tf). Enqueuers never name it: they need no actAs on
# any service account.
resource "google_service_account" "queue" {
  for_each = local.queues

  account_id   = "tasks-${each.key}"
  display_name = "TelePay tasks of ${each.key}"
  description  = "OIDC identity of the Cloud Tasks queue ${each.key}; may invoke ${each.value.target} only."

  depends_on = [google_project_service.api]
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

# --- Waiting for grants --------------------------------------------------------------------------
# IAM grants take effect some time after the API accepts them (up to a few minutes for a new
# member). Nothing else waits for that, so on a first apply Cloud Build could start building before
# the builder may read the sources or push the image, and a function could deploy before its
# identity may read its secrets: the apply fails once and succeeds when run again. The functions
# wait for this instead; it waits again whenever the set of grants changes.
resource "time_sleep" "grants_propagate" {
  create_duration = "90s"

  triggers = {
    builder = join(",", [
      google_project_iam_member.function_builder_logs.id,
      google_project_iam_member.function_builder_staged_sources.id,
      google_artifact_registry_repository_iam_member.function_builder_pushes_images.id,
      google_storage_bucket_iam_member.function_builder_reads_bundles.id,
    ])
    runtime = join(",", concat(
      sort([for grant in google_project_iam_member.function : grant.id]),
      sort([for grant in google_secret_manager_secret_iam_member.accessor : grant.id]),
    ))
  }
}
