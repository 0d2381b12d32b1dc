# Firestore (native mode): the (default) database the code's client opens, the composite indexes
# its queries need (all_composite_indexes() in shared_schemas/documents.py) and TTL on the dedupe
# records (documents whose model sets ttl_field), and no single-field index on the timestamps of the
# collections written at the rate of sales (unindexed_fields).

resource "google_firestore_database" "database" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED" # 7 days of history to undo a bad deploy
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON" # `terraform destroy` never deletes the data

  depends_on = [google_project_service.api]
}

resource "google_firestore_index" "composite" {
  for_each = local.composite_indexes

  database    = google_firestore_database.database.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# Firestore deletes a claim or keypad session some time (typically within a day) after its
# expire_at; the code never relies on that for correctness, only to bound storage.
resource "google_firestore_field" "ttl" {
  for_each = local.ttl_fields

  database   = google_firestore_database.database.name
  collection = each.key
  field      = each.value

  ttl_config {}

  # No single-field index on the TTL timestamp: nothing queries it, and an index on an always
  # increasing value would cap the collection's write rate.
  index_config {}
}

# Single-field index exemptions (docs/schema.md, "Write rates and hotspots"): the timestamps of the
# collections written at the rate of sales. Their queries use the composite indexes above, which
# an exemption does not touch.
resource "google_firestore_field" "unindexed" {
  for_each = local.unindexed_fields

  database   = google_firestore_database.database.name
  collection = each.value.collection
  field      = each.value.field

  index_config {} # empty: no ascending, descending or array-contains index on this field
}
