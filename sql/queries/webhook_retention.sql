-- name: prune_webhook_messages
-- Deletes up to :batch messages older than :before whose deliveries are all final
-- (delivered or failed): their deliveries and attempts go with them (ON DELETE CASCADE).
-- A message with a delivery still pending or being sent is kept until that one ends.
WITH doomed AS (
    SELECT m.id
    FROM webhook_messages m
    WHERE m.created_at < :before
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries d
          WHERE d.message_id = m.id AND d.state IN ('pending', 'sending')
      )
    ORDER BY m.created_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
)
DELETE FROM webhook_messages m USING doomed WHERE m.id = doomed.id;

-- name: prune_webhook_events
-- Deletes up to :batch outbox events older than :before that the dispatcher has passed.
DELETE FROM webhook_events e
WHERE (e.xid, e.id) IN (
    SELECT o.xid, o.id
    FROM webhook_events o, webhook_dispatch_cursor c
    WHERE c.name = 'events' AND (o.xid, o.id) < (c.xid, c.id) AND o.occurred_at < :before
    ORDER BY o.xid, o.id
    LIMIT :batch
);
