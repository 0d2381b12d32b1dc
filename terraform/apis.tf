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
    "logging.googleapis.com",
    "monitoring.googleapis.com", # dead-letter alert
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
