# The seven functions, built from the deploy bundles (`python -m scripts.build_bundles` writes
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
  # checkov:skip=CKV_GCP_124:Google admits Cloud Tasks, Scheduler and Pub/Sub push through internal-only ingress via the run.app URL only, and every caller here uses the cloudfunctions.net URL (known before deploy, see locals.tf); IAM is the gate instead (run.invoker for the calling service accounts only), and the two public functions check a secret token or an HMAC.
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = each.value.description
  labels = {
    trigger = each.value.trigger
  }

  build_config {
    runtime         = "python311"
    entry_point     = each.value.entry_point
    service_account = google_service_account.function_builder.id
    # Images go to our repository (with its cleanup policy), not the default gcf-artifacts one.
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.function[each.key].email
    ingress_settings      = "ALLOW_ALL"
    available_memory      = each.value.memory
    available_cpu         = each.value.cpu
    timeout_seconds       = each.value.timeout_seconds
    min_instance_count    = each.value.min_instances
    max_instance_count    = each.value.max_instances
    # One request at a time per instance: the code keeps one runtime (clients, event loop) per process.
    max_instance_request_concurrency = 1
    all_traffic_on_latest_revision   = true

    environment_variables = local.function_env[each.key]

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

    postcondition {
      condition     = self.url == local.function_urls[each.key]
      error_message = "Cloud Functions reports ${self.url} for ${each.key}, not ${local.function_urls[each.key]}: the URLs other functions, queues and jobs were given (local.function_urls) are wrong."
    }
  }

  # A function cannot deploy before its identity may read its secrets and the builder may build.
  depends_on = [
    google_secret_manager_secret_iam_member.accessor,
    google_project_iam_member.function,
    google_project_iam_member.function_builder_logs,
    google_project_iam_member.function_builder_staged_sources,
    google_artifact_registry_repository_iam_member.function_builder_pushes_images,
    google_storage_bucket_iam_member.function_builder_reads_bundles,
  ]
}

# --- Who may invoke them ----------------------------------------------------------------------------
# telegram_webhook and ipn_handler are called by Telegram and NowPayments, which cannot present a
# Google identity; they authenticate each request themselves (secret token, HMAC + state re-read).
resource "google_cloud_run_service_iam_member" "public_invoker" {
  # checkov:skip=CKV_GCP_102:Only telegram_webhook and ipn_handler: Telegram and NowPayments cannot send Google identity tokens; the functions check the webhook secret token and the IPN HMAC themselves.
  for_each = toset([for name, function in local.functions : name if function.public])

  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

locals {
  # "<function>/<caller>" => binding, flattened from local.function_invokers (locals.tf).
  invoker_bindings = merge([
    for function, callers in local.function_invokers : {
      for caller in callers : "${function}/${caller}" => { function = function, caller = caller }
    }
  ]...)
}

# Every other function: only the service accounts whose OIDC tokens its triggers carry.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.invoker_bindings

  location = var.region
  service  = google_cloudfunctions2_function.function[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.caller[each.value.caller].member
}
