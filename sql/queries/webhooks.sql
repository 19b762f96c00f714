-- name: insert_webhook
-- Stores a new endpoint (its secret already encrypted).
INSERT INTO webhooks (partner_id, api_key_id, url, description, event_types, topic_ids, secret_ciphertext)
VALUES (:partner_id, :api_key_id, :url, :description, :event_types, :topic_ids, :secret_ciphertext)
RETURNING id;

-- fragment: webhook_managed_by_caller
-- Endpoints (webhooks w) the caller may see and manage: those its key created, and, when the
-- caller is its partner's admin (:partner_admin: a key of the partner without a topic
-- restriction), every endpoint of the partner. Anything else answers 404.
AND (w.api_key_id = :api_key_id::uuid
     OR (:partner_admin::boolean AND w.partner_id = :partner_id::uuid))

-- name: get_owned_webhook
-- One endpoint, if the caller manages it.
SELECT w.id, w.api_key_id, w.url, w.description, w.event_types, w.topic_ids, w.disabled_at, w.disabled_reason,
       w.created_at, w.updated_at, w.secret_rotated_at, w.previous_secret_expires_at,
       -- slugs of the topics the endpoint filters on, for display
       (SELECT array_agg(t.slug ORDER BY t.slug) FROM topics t WHERE t.id = ANY (w.topic_ids)) AS topic_slugs
FROM webhooks w
WHERE w.id = :id
  -- include: webhook_managed_by_caller
;

-- name: list_owned_webhooks
-- A page of the caller's endpoints, oldest first, after a (created_at, id) position.
SELECT w.id, w.api_key_id, w.url, w.description, w.event_types, w.topic_ids, w.disabled_at, w.disabled_reason,
       w.created_at, w.updated_at, w.secret_rotated_at, w.previous_secret_expires_at,
       (SELECT array_agg(t.slug ORDER BY t.slug) FROM topics t WHERE t.id = ANY (w.topic_ids)) AS topic_slugs
FROM webhooks w
WHERE (:after_created::timestamptz IS NULL OR (w.created_at, w.id) > (:after_created::timestamptz, :after_id::uuid))
  -- include: webhook_managed_by_caller
ORDER BY w.created_at, w.id
LIMIT :limit;

-- name: get_owning_key
-- The key that created an endpoint the caller manages, with its topic restriction as it is now.
SELECT k.id, k.topic_ids
FROM webhooks w
JOIN api_keys k ON k.id = w.api_key_id
WHERE w.id = :id
  -- include: webhook_managed_by_caller
;

-- name: update_owned_webhook
-- Changes the fields whose set_* flag is true; enabling clears the disabled state.
UPDATE webhooks w
SET url = CASE WHEN :set_url THEN :url ELSE w.url END,
    description = CASE WHEN :set_description THEN :description ELSE w.description END,
    event_types = CASE WHEN :set_event_types THEN :event_types::text[] ELSE w.event_types END,
    topic_ids = CASE WHEN :set_topics THEN :topic_ids::bigint[] ELSE w.topic_ids END,
    disabled_at = CASE WHEN :set_enabled THEN (CASE WHEN :enabled THEN NULL ELSE coalesce(w.disabled_at, now()) END)
                       ELSE w.disabled_at END,
    disabled_reason = CASE WHEN :set_enabled THEN (CASE WHEN :enabled THEN NULL ELSE 'disabled by its owner' END)
                           ELSE w.disabled_reason END,
    updated_at = now()
WHERE w.id = :id
  -- include: webhook_managed_by_caller
RETURNING w.id;

-- name: delete_owned_webhook
-- Deletes an endpoint with its deliveries and attempts.
DELETE FROM webhooks w
WHERE w.id = :id
  -- include: webhook_managed_by_caller
RETURNING w.id;

-- name: rotate_owned_webhook_secret
-- Installs a new secret; the current one keeps signing until now + overlap (none when 0).
UPDATE webhooks w
SET previous_secret_ciphertext = CASE WHEN :overlap_seconds > 0 THEN w.secret_ciphertext END,
    previous_secret_expires_at = CASE WHEN :overlap_seconds > 0
                                      THEN now() + make_interval(secs => :overlap_seconds) END,
    secret_ciphertext = :secret_ciphertext,
    secret_rotated_at = now(),
    updated_at = now()
WHERE w.id = :id
  -- include: webhook_managed_by_caller
RETURNING w.id, w.previous_secret_expires_at;

-- name: list_webhook_deliveries
-- A page of one endpoint's deliveries, newest first, each with its attempts in order.
SELECT d.id, d.webhook_id, d.message_id, m.type AS event_type, d.state, d.attempts, d.next_attempt_at,
       d.last_status_code, d.last_error, d.redelivery_of, d.created_at, d.delivered_at,
       coalesce((
           -- every attempt, first to last
           SELECT jsonb_agg(jsonb_build_object(
                      'attempt', a.attempt, 'started_at', a.started_at, 'duration_ms', a.duration_ms,
                      'status_code', a.status_code, 'error', a.error, 'next_retry_at', a.next_retry_at)
                  ORDER BY a.attempt)
           FROM webhook_attempts a WHERE a.delivery_id = d.id
       ), '[]'::jsonb) AS attempt_log
FROM webhook_deliveries d
JOIN webhook_messages m ON m.id = d.message_id
WHERE d.webhook_id = :webhook_id
  AND (:delivery_id::uuid IS NULL OR d.id = :delivery_id)
  AND (:after_created::timestamptz IS NULL OR (d.created_at, d.id) < (:after_created::timestamptz, :after_id::uuid))
ORDER BY d.created_at DESC, d.id DESC
LIMIT :limit;

-- name: insert_redelivery
-- A new delivery of a delivery's message to the same endpoint (the same webhook-id).
INSERT INTO webhook_deliveries (webhook_id, message_id, redelivery_of, next_attempt_at)
SELECT d.webhook_id, d.message_id, d.id, now()
FROM webhook_deliveries d
WHERE d.id = :delivery_id AND d.webhook_id = :webhook_id
RETURNING id;

-- name: topic_slugs_by_id
-- Slugs of topic ids (a webhook's topics as the caller named them).
SELECT id, slug FROM topics WHERE id = ANY (:ids::bigint[]);
