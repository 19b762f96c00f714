-- name: lock_dispatch_cursor
-- The dispatcher's position in the outbox, locked for this run (another dispatcher that
-- holds it makes this one skip: one fan-out at a time).
SELECT xid, id FROM webhook_dispatch_cursor WHERE name = 'events' FOR UPDATE SKIP LOCKED;

-- name: pending_webhook_events
-- The next events of the outbox whose transactions have all ended, in (xid, id) order, each
-- with the endpoints that subscribe to it (enabled, event type and topics match, created
-- before the event, owner key not revoked and partner not disabled).
WITH horizon AS MATERIALIZED (
    -- every transaction with a smaller xid has committed or rolled back
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
)
SELECT e.id, e.xid, e.type, e.signal_id, e.data, e.occurred_at,
       ARRAY(
           SELECT w.id
           FROM webhooks w
           JOIN api_keys k ON k.id = w.api_key_id
           LEFT JOIN partners p ON p.id = w.partner_id
           WHERE w.disabled_at IS NULL
             AND e.type = ANY (w.event_types)
             AND (w.topic_ids IS NULL OR w.topic_ids && e.topic_ids)
             AND w.created_at <= e.occurred_at
             AND (w.partner_id IS NOT NULL OR k.revoked_at IS NULL)
             AND p.disabled_at IS NULL
           ORDER BY w.id
       ) AS subscribers
FROM webhook_events e
WHERE (e.xid, e.id) > (:after_xid::xid8, :after_id::bigint)
  AND e.xid < (SELECT xmin FROM horizon)
ORDER BY e.xid, e.id
LIMIT :limit;

-- name: advance_dispatch_cursor
-- Moves the dispatcher past the events it handled (in the same transaction as their deliveries).
WITH dispatched AS (
    -- handled events are not needed any more (their messages hold what was sent)
    DELETE FROM webhook_events WHERE (xid, id) <= (:xid::xid8, :id::bigint)
)
UPDATE webhook_dispatch_cursor SET xid = :xid::xid8, id = :id, updated_at = now() WHERE name = 'events';

-- name: insert_webhook_messages
-- Stores the bodies of events that have subscribers, once each.
INSERT INTO webhook_messages (id, event_id, type, body)
SELECT * FROM unnest(:ids::text[], :event_ids::bigint[], :types::text[], :bodies::text[]);

-- name: insert_webhook_deliveries
-- One delivery per endpoint and message (a repeat is ignored), due now.
INSERT INTO webhook_deliveries (webhook_id, message_id, next_attempt_at)
SELECT webhook_id, message_id, now()
FROM unnest(:webhook_ids::uuid[], :message_ids::text[]) AS t (webhook_id, message_id)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: claim_delivery
-- Takes a delivery for one attempt: pending (or sending with a lapsed lease, its worker died)
-- to an enabled endpoint. Returns what the attempt needs; nothing when it is not ours to send.
UPDATE webhook_deliveries d
SET state = 'sending', attempts = d.attempts + 1, updated_at = now(),
    lease_until = now() + make_interval(secs => :lease_seconds)
FROM webhooks w, webhook_messages m
WHERE d.id = :id AND w.id = d.webhook_id AND m.id = d.message_id
  AND w.disabled_at IS NULL
  AND (d.state = 'pending' OR (d.state = 'sending' AND d.lease_until < now()))
RETURNING d.id, d.attempts, w.id AS webhook_id, w.url, w.secret_ciphertext,
          w.previous_secret_ciphertext, w.previous_secret_expires_at, m.id AS message_id, m.body;

-- name: delivery_state
-- Where a delivery stands (why it could not be claimed).
SELECT d.state, d.lease_until, d.lease_until - now() AS lease_left, w.disabled_at
FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
WHERE d.id = :id;

-- name: finish_attempt
-- Records one attempt and the outcome of the attempt that holds the delivery (delivered,
-- failed, or pending again), in one statement. Nothing changes on the delivery when another
-- attempt took it over meanwhile (its lease lapsed): the attempt is still recorded.
WITH attempt AS (
    -- an attempt number is claimed once, so a repeat is ignored
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, next_retry_at)
    VALUES (:id, :attempt, :started_at, :duration_ms, :status_code, :error, :next_attempt_at)
    ON CONFLICT DO NOTHING
)
UPDATE webhook_deliveries
SET state = :state, last_status_code = :status_code, last_error = :error,
    next_attempt_at = :next_attempt_at, lease_until = NULL, updated_at = now(),
    delivered_at = CASE WHEN :state = 'delivered' THEN now() END
WHERE id = :id AND attempts = :attempt AND state = 'sending'
RETURNING id;

-- name: fail_undeliverable
-- A pending delivery whose endpoint was disabled meanwhile ends as failed.
UPDATE webhook_deliveries
SET state = 'failed', last_error = :error, next_attempt_at = NULL, updated_at = now()
WHERE id = :id AND state = 'pending'
RETURNING id;

-- name: disable_webhook
-- Stops an endpoint (the receiver answered 410 Gone).
UPDATE webhooks SET disabled_at = now(), disabled_reason = :reason, updated_at = now()
WHERE id = :id AND disabled_at IS NULL;

-- name: insert_webhook_event
-- Records an event in the caller's transaction; the dispatcher fans it out once that commits.
INSERT INTO webhook_events (type, data, topic_ids) VALUES (:type, :data::jsonb, :topic_ids::bigint[]);
