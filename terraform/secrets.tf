# The SecretStr settings of shared_schemas/config.py, one Secret Manager secret each. Terraform
# creates the secrets and who may read them, never their values: those are added with
# `gcloud secrets versions add` (README.md), so they never enter the Terraform state or plan.

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value.secret_id
  # `terraform destroy` (or a removed line) must not delete a secret and every version of it.
  deletion_protection = true
  labels = {
    env_var = lower(each.key)
  }
  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

locals {
  # "<function>/<ENV_VAR>" => grant, flattened from local.function_secrets (locals.tf).
  secret_accessors = merge([
    for function, env_vars in local.function_secrets : {
      for env_var in env_vars : "${function}/${env_var}" => { function = function, secret = env_var }
    }
  ]...)
}

# Each function reads exactly the secrets its settings model declares.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_accessors

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}
