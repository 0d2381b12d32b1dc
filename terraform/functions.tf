# The functions, built from the deploy bundles (`python -m scripts.build_bundles` writes
# build/bundles/<function>/: main.py, telepay/, shared_schemas/, a pinned requirements.txt).

locals {
  bundles_dir = abspath("${path.module}/../build/bundles")
}

# --- Source bundles ---------------------------------------------------------------------------------
resource "google_storage_bucket" "function_sources" {
  # checkov:skip=CKV_GCP_62:Holds only the function bundles, written by Terraform and read by Cloud Build; an access-log bucket would record nothing worth its upkeep.
  # checkov:skip=CKV_GCP_78:Objects are named by their content hash and never overwritten, so versioning would keep nothing more.
  name     = "${var.project_id}-telepay-function-sources"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # only bundles that the next apply re-uploads

  depends_on = [google_project_service.api]
}

data "archive_file" "bundle" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${local.bundles_dir}/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
  excludes    = ["**/__pycache__/**", "**/*.pyc"]
  # Same bytes on every machine, so the same bundle keeps the same name and no redeploy happens.
  output_file_mode = "0644"

  lifecycle {
    precondition {
      condition     = fileexists("${local.bundles_dir}/${each.key}/main.py")
      error_message = "No bundle for ${each.key}: run `python -m scripts.build_bundles` at the repository root first."
    }
  }
}

resource "google_storage_bucket_object" "bundle" {
  for_each = local.functions

  # Named by content: a changed bundle is a new object, which makes Terraform redeploy the function;
  # an unchanged one keeps its name and nothing is redeployed.
  name   = "${each.key}-${data.archive_file.bundle[each.key].output_md5}.zip"
  bucket = google_storage_bucket.function_sources.name
  source = data.archive_file.bundle[each.key].output_path
}

# --- Images -------------------------------------------------------------------------------------------
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:The images contain the same code as the bundles; Google-managed encryption, no KMS key to operate.
  location      = var.region
  repository_id = "telepay-functions"
  description   = "Images Cloud Build makes from the function bundles."
  format        = "DOCKER"

  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days; the recent ones above are kept whatever their age
    }
  }

  depends_on = [google_project_service.api]
}

# Pushes the images it builds (this repository only).
resource "google_artifact_registry_repository_iam_member" "function_builder_pushes_images" {
  repository = google_artifact_registry_repository.functions.name
  location   = google_artifact_registry_repository.functions.location
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.function_builder.member
}

# Reads the uploaded bundles (this bucket only).
resource "google_storage_bucket_iam_member" "function_builder_reads_bundles" {
  bucket = google_storage_bucket.function_sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function_builder.member
}

# --- Functions ------------------------------------------------------------------------------------------
resource "google_cloudfunctions2_function" "function" {
  # checkov:skip=CKV_GCP_124:Only telegram_webhook, ipn_handler and owner_app accept all ingress: Telegram, NowPayments and owners' phones call them from the internet without a Google identity. The private functions take internal traffic only (ingress_settings below).
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = each.value.description
  labels = {
    trigger = each.value.trigger
  }

  build_config {
    # python311 until the bundles, the local .venv and this line move together (README.md, "Runtime").
    runtime         = "python311"
    entry_point     = each.value.entry_point
    service_account = google_service_account.function_builder.id
    # Images go to our repository (with its cleanup policy), not the default gcf-artifacts one.
    docker_repository = google_artifact_registry_repository.functions.id

    # Set explicitly: Google rebuilds the image on the runtime's security patches (OS and language
    # patch releases) without a deploy; the runtime's minor version only changes here.
    automatic_update_policy {}

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.function[each.key].email
    # The private functions are called only by Cloud Tasks, Cloud Scheduler and Pub/Sub push, at
    # their run.app URL (local.function_urls): Cloud Run counts those as internal traffic when they
    # are in the same project (README.md, "Why it looks like this"). IAM still gates every call.
    ingress_settings                 = each.value.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    # Requests at once per instance (names.py REQUEST_CONCURRENCY): one runtime per process, its
    # clients shared by the threads, and as many gunicorn threads as requests (THREADS below).
    max_instance_request_concurrency = each.value.concurrency
    all_traffic_on_latest_revision   = true

    # functions-framework's gunicorn serves THREADS requests at once in its one worker process
    # (by default 4 per CPU it sees), so the threads match the concurrency Cloud Run sends.
    environment_variables = merge(local.function_env[each.key], { THREADS = tostring(each.value.concurrency) })

    dynamic "secret_environment_variables" {
      for_each = toset(local.function_secrets[each.key])
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        # Resolved when an instance starts; pin a version to roll a rotation out (README.md).
        version = lookup(var.secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  lifecycle {
    # Cloud Functions adds LOG_EXECUTION_ID=true to every function's environment by itself.
    ignore_changes = [service_config[0].environment_variables["LOG_EXECUTION_ID"]]

    # Cloud Run gives a service its deterministic URL only while "<service>-<project number>" fits
    # in one 63-character DNS label.
    precondition {
      condition     = length("${local.run_services[each.key]}-${data.google_project.this.number}") <= 63
      error_message = "${each.key}: \"${local.run_services[each.key]}-${data.google_project.this.number}\" is longer than a DNS label, so Cloud Run gives it no deterministic run.app URL."
    }
    # The URLs queues, jobs and the push subscription were given (local.function_urls) name the
    # Cloud Run service by the function's name with "_" as "-"; fail loudly if Google names it otherwise.
    postcondition {
      condition     = endswith(self.service_config[0].service, "/services/${local.run_services[each.key]}") || self.service_config[0].service == local.run_services[each.key]
      error_message = "Cloud Functions put ${each.key} on the Cloud Run service ${self.service_config[0].service}, not ${local.run_services[each.key]}: local.function_urls are wrong."
    }
  }

  # A function cannot deploy before its identity may read its secrets and the builder may build,
  # and those grants need time to take effect (time_sleep.grants_propagate, iam.tf).
  depends_on = [time_sleep.grants_propagate]
}

# --- Who may invoke them ----------------------------------------------------------------------------
# Invoker grants live on the function's Cloud Run service: if a function is ever replaced (deleted
# and created again), the new service starts without them, so each grant is replaced with it.

# telegram_webhook, ipn_handler and owner_app are called by Telegram, NowPayments and owners' Mini App
# (in Telegram on their phones), which cannot present a Google identity; they authenticate each
# request themselves (secret token, HMAC + state re-read, Telegram's signed initData).
resource "google_cloud_run_service_iam_member" "public_invoker" {
  # checkov:skip=CKV_GCP_102:Only telegram_webhook, ipn_handler and owner_app: Telegram, NowPayments and the Mini App in an owner's Telegram cannot send Google identity tokens; the functions check the webhook secret token, the IPN HMAC and the signed initData themselves.
  for_each = toset([for name, function in local.functions : name if function.public])

  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.function[each.key].id]
  }
}

locals {
  # "<function>/<caller>" => binding, flattened from local.function_invokers (locals.tf).
  invoker_bindings = merge([
    for function, callers in local.function_invokers : {
      for caller in callers : "${function}/${caller}" => { function = function, caller = caller }
    }
  ]...)
}

# Scheduled and pushed-to functions: only the service account whose OIDC token the job or the push
# subscription carries.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.invoker_bindings

  location = var.region
  service  = google_cloudfunctions2_function.function[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.caller[each.value.caller].member

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.function[each.value.function].id]
  }
}

# Queue targets: only their own queue's identity (tasks.tf puts it in every task of the queue).
resource "google_cloud_run_service_iam_member" "queue_invoker" {
  for_each = local.queues

  location = var.region
  service  = google_cloudfunctions2_function.function[each.value.target].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.queue[each.key].member

  lifecycle {
    replace_triggered_by = [google_cloudfunctions2_function.function[each.value.target].id]
  }
}
