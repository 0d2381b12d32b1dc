terraform {
  # 1.5: data-source preconditions and resource postconditions are used below.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The offline schema check (tests/infra/fixtures/provider_schema.json) was extracted from 6.50.0.
      version = ">= 6.50.0, < 7.0.0"
    }
    # Only for google_project_service_identity (apis.tf), which 6.x ships in the beta provider only.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.50.0, < 7.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.7.0, < 3.0.0"
    }
    # time_sleep: waits for new IAM grants to propagate (iam.tf, apis.tf).
    time = {
      source  = "hashicorp/time"
      version = ">= 0.13.1, < 1.0.0"
    }
  }

  # State lives in a bucket the operator creates once per environment (README.md, "Prerequisites"):
  #   terraform init -backend-config="bucket=<state bucket>" -backend-config="prefix=telepay/<environment>"
  backend "gcs" {}

  # No .terraform.lock.hcl is committed: it can only be written where the providers can be
  # downloaded. The first operator writes it with `terraform providers lock` (README.md) and commits it.
}

# Ready for user credentials (`gcloud auth application-default login`): APIs that bill the caller's
# quota project (Service Usage, Resource Manager, Monitoring) are billed to this project instead of
# failing with "requires a quota project".
provider "google" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id

  default_labels = {
    app = "telepay"
  }
}

provider "google-beta" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id

  default_labels = {
    app = "telepay"
  }
}
