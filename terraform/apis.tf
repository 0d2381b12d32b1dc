locals {
  # The Google APIs the system uses. cloudresourcemanager and serviceusage must already be on for
  # Terraform to read the project and turn the others on (README.md, "Prerequisites").
  apis = [
    "artifactregistry.googleapis.com", # function images
    "cloudbuild.googleapis.com",       # builds the function images from the bundles
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",    # log-based metrics (monitoring.tf)
    "monitoring.googleapis.com", # alerts and the dashboard (monitoring.tf, pubsub.tf)
    "pubsub.googleapis.com",
    "run.googleapis.com", # 2nd gen functions run on Cloud Run
    "secretmanager.googleapis.com",
    "storage.googleapis.com", # bundle uploads
  ]
}

resource "google_project_service" "api" {
  for_each = toset(local.apis)

  project = var.project_id
  service = each.key
  # Leave the APIs on at `terraform destroy`: other things in the project may use them.
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}

# The Pub/Sub service agent (service-<number>@gcp-sa-pubsub) dead-letters undeliverable messages.
# Google creates it lazily, so a fresh project may not have it yet when pubsub.tf grants it roles
# ("Service account ... does not exist"); this makes it exist first.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.api]
}

# A new service agent takes a while before IAM accepts it in a policy.
resource "time_sleep" "service_agent_exists" {
  create_duration = "60s"
  triggers = {
    pubsub = google_project_service_identity.pubsub.email
  }
}
