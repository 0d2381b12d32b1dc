terraform {
  # 1.5: data-source preconditions and resource postconditions are used below.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The offline schema check (tests/unit/fixtures/provider_schema.json) was extracted from 6.50.0.
      version = ">= 6.50.0, < 7.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.7.0, < 3.0.0"
    }
  }

  # State lives in a bucket the operator creates once (see README.md, "Prerequisites"):
  #   terraform init -backend-config="bucket=<state bucket>" -backend-config="prefix=telepay"
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app = "telepay"
  }
}
