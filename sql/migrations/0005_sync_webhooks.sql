-- Incremental sync (a change log of signals) and webhooks (endpoints, an event outbox,
-- messages, deliveries and every attempt). Never edit this file once released: add a new
-- numbered migration instead.
--
-- Ordering: every change and event row is stamped with the writing transaction's id (xid8)
-- and a per-table identity. Readers take only rows whose xid is below the xmin of their
-- snapshot (every transaction that could still add a row there has ended) and order them by
-- (xid, id); a position (xid, id) is therefore final once handed out, whatever commits later.

-- Signals may now be deleted (DELETE /v1/signals/{id}). A job that produced a deleted signal
-- stays "done" with signal_id NULL (the foreign key sets it), so 0001's "done needs a
-- signal" check goes; the pipeline still always writes the signal with "done".
DO $$
DECLARE
    name text;
BEGIN
    SELECT conname INTO name FROM pg_constraint
    WHERE conrelid = 'jobs'::regclass AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%status <> ''done''%signal_id IS NOT NULL%';
    IF name IS NOT NULL THEN
        EXECUTE format('ALTER TABLE jobs DROP CONSTRAINT %I', name);
    END IF;
END;
$$;

-- One row per signal created, re-analysed (a newer version of the same article: 'updated',
-- carrying the version it replaces) or deleted (a tombstone that outlives the signal).
CREATE TABLE signal_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY,
    xid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind       text NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    signal_id  uuid NOT NULL,
    replaces   uuid,
    -- the signal's topics when it changed: topic-restricted keys see tombstones of their topics
    topic_ids  bigint[] NOT NULL DEFAULT '{}',
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (xid, id)
);

-- Every signal stored before this migration, as if it had just been created: a first sync
-- (no cursor) returns all of them, older versions of an article before newer ones.
INSERT INTO signal_changes (kind, signal_id, replaces, topic_ids, changed_at)
SELECT CASE WHEN previous IS NULL THEN 'created' ELSE 'updated' END, id, previous, topic_ids, created_at
FROM (
    -- the version each signal followed, if any
    SELECT id, topic_ids, created_at,
           lag(id) OVER (PARTITION BY article_id ORDER BY created_at, id) AS previous
    FROM signals
) history
ORDER BY created_at, id;

-- Logs a new signal when its transaction commits (a deferred trigger), so the row is read
-- as committed: topics and entities are linked after the INSERT in the same transaction.
CREATE FUNCTION signals_log_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stored record;
    previous uuid;
BEGIN
    SELECT id, article_id, topic_ids, created_at INTO stored FROM signals WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;  -- deleted before its own commit: nobody ever saw it
    END IF;
    SELECT id INTO previous FROM signals
    WHERE article_id = stored.article_id AND id <> stored.id
      AND (created_at, id) < (stored.created_at, stored.id)
    ORDER BY created_at DESC, id DESC
    LIMIT 1;
    INSERT INTO signal_changes (kind, signal_id, replaces, topic_ids)
    VALUES (CASE WHEN previous IS NULL THEN 'created' ELSE 'updated' END, stored.id, previous, stored.topic_ids);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER signals_log_insert
    AFTER INSERT ON signals
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION signals_log_insert();

-- A deleted signal leaves a tombstone (articles deleted with their signals too).
CREATE FUNCTION signals_log_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signal_changes (kind, signal_id, topic_ids) VALUES ('deleted', OLD.id, OLD.topic_ids);
    RETURN NULL;
END;
$$;

CREATE TRIGGER signals_log_delete
    AFTER DELETE ON signals
    FOR EACH ROW EXECUTE FUNCTION signals_log_delete();

-- An older version that becomes current again (its newer version was deleted) is news too.
CREATE FUNCTION signals_log_restore() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signal_changes (kind, signal_id, topic_ids) VALUES ('updated', NEW.id, NEW.topic_ids);
    RETURN NULL;
END;
$$;

CREATE TRIGGER signals_log_restore
    AFTER UPDATE OF is_current ON signals
    FOR EACH ROW
    WHEN (NEW.is_current AND NOT OLD.is_current)
    EXECUTE FUNCTION signals_log_restore();

-- --- webhooks ------------------------------------------------------------------------------------

-- An endpoint. It belongs to the creating key's partner (every key of the partner manages it)
-- or, for a key without a partner, to that key alone.
CREATE TABLE webhooks (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id                  uuid REFERENCES partners (id) ON DELETE CASCADE,
    api_key_id                  uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    url                         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description                 text CHECK (length(description) <= 500),
    event_types                 text[] NOT NULL CHECK (
        cardinality(event_types) > 0
        AND event_types <@ ARRAY['signal.created', 'signal.updated', 'digest.published']
    ),
    -- NULL: every topic; otherwise events must carry one of these topics
    topic_ids                   bigint[] CHECK (topic_ids IS NULL OR cardinality(topic_ids) > 0),
    -- Fernet tokens (SIGNALS_SECRET_KEY); the plain secret is shown once, at creation or rotation
    secret_ciphertext           text NOT NULL,
    previous_secret_ciphertext  text,
    previous_secret_expires_at  timestamptz,
    secret_rotated_at           timestamptz,
    disabled_at                 timestamptz,
    disabled_reason             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_expires_at IS NULL))
);
CREATE INDEX webhooks_partner_idx ON webhooks (partner_id, created_at, id);
CREATE INDEX webhooks_key_idx ON webhooks (api_key_id, created_at, id);

-- The outbox: one row per event to announce, written in the transaction that caused it
-- (signal events by the trigger below, others through service/webhooks/events.publish_event).
CREATE TABLE webhook_events (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    type        text NOT NULL CHECK (type IN ('signal.created', 'signal.updated', 'digest.published')),
    -- signal events: the card is read when the event is dispatched
    signal_id   uuid,
    data        jsonb NOT NULL DEFAULT '{}',
    topic_ids   bigint[] NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (xid, id)
);

-- Where the dispatcher stands in the outbox; its row lock makes one dispatcher run at a time.
CREATE TABLE webhook_dispatch_cursor (
    name       text PRIMARY KEY,
    xid        xid8 NOT NULL,
    id         bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO webhook_dispatch_cursor (name, xid, id) VALUES ('events', '0', 0);

-- A created or re-analysed signal becomes a signal.created / signal.updated event.
CREATE FUNCTION signal_changes_to_webhook_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_events (type, signal_id, data, topic_ids)
    VALUES ('signal.' || NEW.kind, NEW.signal_id, jsonb_build_object('replaces', NEW.replaces), NEW.topic_ids);
    RETURN NULL;
END;
$$;

-- Created after the backfill above: history is not announced to webhooks.
CREATE TRIGGER signal_changes_to_webhook_events
    AFTER INSERT ON signal_changes
    FOR EACH ROW
    WHEN (NEW.kind IN ('created', 'updated'))
    EXECUTE FUNCTION signal_changes_to_webhook_events();

-- Wakes the dispatchers (a periodic poll backs this up).
CREATE FUNCTION webhook_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('signals_webhook_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_events_notify
    AFTER INSERT ON webhook_events
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_events_notify();

-- One event as sent: ``id`` is the webhook-id header (the same on every attempt and
-- redelivery, so receivers can drop duplicates); ``body`` is exactly the bytes signed.
CREATE TABLE webhook_messages (
    id         text PRIMARY KEY,
    event_id   bigint,
    type       text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One message to one endpoint, and where it stands.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id       text NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    -- while sending: no other worker may send this delivery before then
    lease_until      timestamptz,
    last_status_code integer,
    last_error       text,
    redelivery_of    uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
-- GET /v1/webhooks/{id}/deliveries pages newest first.
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
-- One original delivery per endpoint and message: a dispatcher run repeated cannot double it.
CREATE UNIQUE INDEX webhook_deliveries_once_key ON webhook_deliveries (webhook_id, message_id)
    WHERE redelivery_of IS NULL;

-- Every attempt, as the deliveries list shows it.
CREATE TABLE webhook_attempts (
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL CHECK (attempt >= 1),
    started_at    timestamptz NOT NULL,
    duration_ms   integer NOT NULL CHECK (duration_ms >= 0),
    status_code   integer,
    error         text,
    next_retry_at timestamptz,
    PRIMARY KEY (delivery_id, attempt)
);
