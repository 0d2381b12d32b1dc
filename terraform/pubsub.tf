# Topics, the push subscription that delivers payment events to notify, dead-lettering and its
# alert. notify is an HTTP function with an explicit push subscription rather than an Eventarc
# trigger, because an Eventarc-managed subscription cannot carry our dead-letter policy.

locals {
  # The Pub/Sub service agent moves undeliverable messages to the dead-letter topic (made to exist
  # by google_project_service_identity.pubsub, apis.tf).
  pubsub_service_agent = google_project_service_identity.pubsub.member

  # "<topic>/<function>" => grant, flattened from local.topics (locals.tf).
  topic_publishers = merge([
    for topic, spec in local.topics : {
      for function in spec.published_by : "${topic}/${function}" => { topic = topic, function = function }
    }
  ]...)
}

resource "google_pubsub_topic" "topic" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption; events carry order ids and amounts, no credentials, and a customer-managed key would add a KMS key to operate.
  for_each = local.topics

  name = each.key

  depends_on = [google_project_service.api]
}

# Publishers: ipn_handler, expire_subscriptions and telegram_webhook (Stars) through the outbox, on payment-events only.
resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  topic  = google_pubsub_topic.topic[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.ack_deadline_seconds
  labels = {
    push_to = each.value.push_to
  }

  push_config {
    push_endpoint = local.function_urls[each.value.push_to]
    oidc_token {
      service_account_email = google_service_account.caller["pubsub_pusher"].email
      audience              = local.function_urls[each.value.push_to]
    }
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_seconds}s"
    maximum_backoff = "${each.value.max_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic[each.value.dead_letter_topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  # Never delete the subscription for inactivity (the default is after 31 quiet days).
  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_service_iam_member.invoker]
}

# Authenticated push: the Pub/Sub service agent mints pubsub-pusher's OIDC token for every push.
# Projects created before April 8, 2021 need this grant (newer ones have it through the agent's
# own role); it sits on the push identity only, never project-wide.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.caller["pubsub_pusher"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [time_sleep.service_agent_exists]
}

# Dead-lettering: the Pub/Sub service agent publishes what a subscriber never acknowledged to the
# dead-letter topic. One grant per dead-letter topic (local.dead_letter_subscriptions is keyed by
# them), not per subscription: several subscriptions share a topic, and destroying one of two
# identical grants would remove the binding the other still needs.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_subscriptions

  topic  = google_pubsub_topic.topic[each.key].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent

  depends_on = [time_sleep.service_agent_exists]
}

# ...and acknowledges it on each source subscription (dead-lettering needs both grants).
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.push_subscriptions

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [time_sleep.service_agent_exists]
}

# Holds dead letters for inspection and replay (README.md), and gives the alert a backlog to watch.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = local.dead_letter_subscriptions

  name                       = each.value
  topic                      = google_pubsub_topic.topic[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "2678400s" # 31 days, the longest Pub/Sub keeps messages

  expiration_policy {
    ttl = ""
  }
}

resource "google_monitoring_alert_policy" "dead_letter_backlog" {
  for_each = local.dead_letter_subscriptions

  display_name          = "TelePay: messages in ${each.key}"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${each.value} has undelivered messages"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter_hold[each.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s" # one dead letter is one buyer or owner who was not told
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "notify gave up on a payment event after every delivery attempt; it waits in the subscription `${each.value}`. See terraform/README.md, \"Dead letters\", to inspect and replay it."
  }

  depends_on = [google_project_service.api]
}
