-- name: lock_dispatch_cursor
-- The dispatcher's position in the outbox, locked for this run (another dispatcher that
-- holds it makes this one skip: one fan-out at a time).
SELECT xid, id FROM webhook_dispatch_cursor WHERE name = 'events' FOR UPDATE SKIP LOCKED;

-- fragment: webhook_key_may_deliver
-- The key that created the endpoint (api_keys k) and its partner (partners p, LEFT JOINed) as
-- they are now: the key is not revoked, still holds webhooks:manage and signals:read (every
-- event carries what only a reader may see: a card, a briefing) or admin, and the partner is
-- not disabled. Every fan-out and every attempt checks it, as well as the key's current topic
-- restriction against the event's topics and the event's supplier (written where each query
-- has them).
AND k.revoked_at IS NULL
AND ('admin' = ANY (k.scopes) OR k.scopes @> ARRAY['webhooks:manage', 'signals:read']::text[])
AND p.disabled_at IS NULL

-- name: pending_webhook_events
-- The next events of the outbox whose transactions have all ended, in (xid, id) order, each
-- with the endpoints that subscribe to it: enabled, event type and topics match, created
-- before the event, and the endpoint's key may still deliver it (not revoked, partner not
-- disabled, the event within the key's topic restriction as it is now). A supplied signal's
-- events go only to endpoints of its supplier's keys (service/keys/suppliers.py).
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
             -- an event without topics (a general briefing) reaches unrestricted keys only,
             -- as GET /v1/digests shows a restricted key topic briefings only
             AND (k.topic_ids IS NULL OR k.topic_ids && e.topic_ids)
             AND (e.supplier_id IS NULL OR e.supplier_id = coalesce(k.partner_id, k.id))
             AND w.created_at <= e.occurred_at
             -- include: webhook_key_may_deliver
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
-- Stores the bodies of events that have subscribers, once each, with the event's topics and
-- supplier (every attempt checks them against the endpoint key's restriction and supplier).
INSERT INTO webhook_messages (id, event_id, type, body, topic_ids, supplier_id)
SELECT m.id, m.event_id, m.type, m.body, e.topic_ids, e.supplier_id
FROM unnest(:ids::text[], :event_xids::text[], :event_ids::bigint[], :types::text[], :bodies::text[])
     AS m (id, event_xid, event_id, type, body)
-- the outbox row is still there: it goes when the dispatcher's position moves past it
JOIN webhook_events e ON (e.xid, e.id) = (m.event_xid::xid8, m.event_id);

-- name: insert_webhook_deliveries
-- One delivery per endpoint and message (a repeat is ignored), due now.
INSERT INTO webhook_deliveries (webhook_id, message_id, next_attempt_at)
SELECT webhook_id, message_id, now()
FROM unnest(:webhook_ids::uuid[], :message_ids::text[]) AS t (webhook_id, message_id)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: claim_delivery
-- Takes a delivery for one attempt: pending (or sending with a lapsed lease, its worker died)
-- to an enabled endpoint whose key may still deliver the message (a retry may come hours
-- after the fan-out, the key revoked or narrowed since). Returns what the attempt needs;
-- nothing when it is not ours to send.
UPDATE webhook_deliveries d
SET state = 'sending', attempts = d.attempts + 1, updated_at = now(),
    lease_until = now() + make_interval(secs => :lease_seconds)
FROM webhooks w
     JOIN api_keys k ON k.id = w.api_key_id
     LEFT JOIN partners p ON p.id = w.partner_id,
     webhook_messages m
WHERE d.id = :id AND w.id = d.webhook_id AND m.id = d.message_id
  AND w.disabled_at IS NULL
  -- include: webhook_key_may_deliver
  -- a message stored before its topics were kept (NULL) is not checked on topics
  AND (k.topic_ids IS NULL OR m.topic_ids IS NULL OR k.topic_ids && m.topic_ids)
  AND (m.supplier_id IS NULL OR m.supplier_id = coalesce(k.partner_id, k.id))
  AND (d.state = 'pending' OR (d.state = 'sending' AND d.lease_until < now()))
RETURNING d.id, d.attempts, w.id AS webhook_id, w.url, w.secret_ciphertext,
          w.previous_secret_ciphertext, w.previous_secret_expires_at, m.id AS message_id, m.body;

-- name: delivery_state
-- Where a delivery stands (why it could not be claimed), and why its endpoint's key may no
-- longer deliver it, if so (the negation of claim_delivery's key conditions, one reason).
SELECT d.state, d.lease_until, d.lease_until - now() AS lease_left, w.disabled_at,
       CASE
           WHEN k.revoked_at IS NOT NULL THEN 'the key that owns the endpoint was revoked'
           WHEN p.disabled_at IS NOT NULL THEN 'the endpoint''s partner is disabled'
           WHEN NOT ('admin' = ANY (k.scopes) OR k.scopes @> ARRAY['webhooks:manage', 'signals:read']::text[])
               THEN 'the key that owns the endpoint may no longer manage webhooks or read signals'
           WHEN k.topic_ids IS NOT NULL AND m.topic_ids IS NOT NULL AND NOT k.topic_ids && m.topic_ids
               THEN 'the event is outside the topics of the key that owns the endpoint'
           WHEN m.supplier_id IS NOT NULL AND m.supplier_id <> coalesce(k.partner_id, k.id)
               THEN 'the event is about content another supplier sent'
       END AS out_of_reach
FROM webhook_deliveries d
JOIN webhooks w ON w.id = d.webhook_id
JOIN webhook_messages m ON m.id = d.message_id
JOIN api_keys k ON k.id = w.api_key_id
LEFT JOIN partners p ON p.id = w.partner_id
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
-- A delivery that may not be sent any more (its endpoint disabled, its key revoked or narrowed
-- meanwhile) ends as failed with the reason: pending, or left sending by a worker that died.
UPDATE webhook_deliveries
SET state = 'failed', last_error = :error, next_attempt_at = NULL, lease_until = NULL, updated_at = now()
WHERE id = :id AND (state = 'pending' OR (state = 'sending' AND lease_until < now()))
RETURNING id;

-- name: disable_webhook
-- Stops an endpoint (the receiver answered 410 Gone).
UPDATE webhooks SET disabled_at = now(), disabled_reason = :reason, updated_at = now()
WHERE id = :id AND disabled_at IS NULL;

-- name: insert_webhook_event
-- Records an event in the caller's transaction; the dispatcher fans it out once that commits.
INSERT INTO webhook_events (type, data, topic_ids) VALUES (:type, :data::jsonb, :topic_ids::bigint[]);
