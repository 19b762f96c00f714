-- name: insert_alert
-- Stores a new saved search; its query is parsed as search parses q (signal_search_query).
INSERT INTO alerts (partner_id, api_key_id, name, q, query, topic_id, topic_slug, entity_id, source, lang, webhook_id)
VALUES (:partner_id, :api_key_id, :name, :q, signal_search_query(:q::text), :topic_id, :topic_slug,
        :entity_id, :source, :lang, :webhook_id)
RETURNING id;

-- name: search_words_of
-- Whether q has words a search can look for (a query of stop words only has none).
SELECT numnode(signal_search_query(:q::text)) > 0;

-- fragment: alert_managed_by_caller
-- Alerts (alerts a) the caller may see and manage: those its key created and, for its
-- partner's admin (:partner_admin: a key of the partner without a topic restriction), every
-- alert of the partner. Anything else answers 404.
AND (a.api_key_id = :api_key_id::uuid
     OR (:partner_admin::boolean AND a.partner_id = :partner_id::uuid))

-- fragment: alert_columns
-- An alert as the API shows it (the topic's slug as it is now: topics may be renamed).
a.id, a.api_key_id, a.name, a.q, a.entity_id, a.source, a.lang, a.webhook_id, a.created_at, a.updated_at,
coalesce((SELECT t.slug FROM topics t WHERE t.id = a.topic_id), a.topic_slug) AS topic

-- name: get_owned_alert
-- One alert, if the caller manages it.
SELECT
    -- include: alert_columns
FROM alerts a
WHERE a.id = :id
  -- include: alert_managed_by_caller
;

-- name: list_owned_alerts
-- A page of the caller's alerts, oldest first, after a (created_at, id) position.
SELECT
    -- include: alert_columns
FROM alerts a
WHERE (:after_created::timestamptz IS NULL OR (a.created_at, a.id) > (:after_created::timestamptz, :after_id::uuid))
  -- include: alert_managed_by_caller
ORDER BY a.created_at, a.id
LIMIT :limit;

-- name: update_owned_alert
-- Changes the fields whose set_* flag is true (a new query replaces the whole query).
UPDATE alerts a
SET name = CASE WHEN :set_name THEN :name ELSE a.name END,
    q = CASE WHEN :set_query THEN :q ELSE a.q END,
    query = CASE WHEN :set_query THEN signal_search_query(:q::text) ELSE a.query END,
    topic_id = CASE WHEN :set_query THEN :topic_id ELSE a.topic_id END,
    topic_slug = CASE WHEN :set_query THEN :topic_slug ELSE a.topic_slug END,
    entity_id = CASE WHEN :set_query THEN :entity_id ELSE a.entity_id END,
    source = CASE WHEN :set_query THEN :source ELSE a.source END,
    lang = CASE WHEN :set_query THEN :lang ELSE a.lang END,
    webhook_id = CASE WHEN :set_webhook THEN :webhook_id::uuid ELSE a.webhook_id END,
    updated_at = now()
WHERE a.id = :id
  -- include: alert_managed_by_caller
RETURNING a.id;

-- name: delete_owned_alert
-- Deletes an alert with its matches.
DELETE FROM alerts a
WHERE a.id = :id
  -- include: alert_managed_by_caller
RETURNING a.id;

-- name: webhook_of_key
-- The endpoint, if the key created it (an alert delivers only to its own key's endpoints).
SELECT w.id FROM webhooks w WHERE w.id = :webhook_id AND w.api_key_id = :api_key_id;

-- name: owning_key_of_alert
-- The key that created an alert the caller manages, with its topic restriction as it is now.
SELECT k.id, k.topic_ids
FROM alerts a
JOIN api_keys k ON k.id = a.api_key_id
WHERE a.id = :id
  -- include: alert_managed_by_caller
;

-- name: list_alert_matches
-- A page of an alert's matches, newest first, after a match id; only signals the reader may
-- see now (its topic restriction and supplier, as on every read).
SELECT m.id, m.signal_id, m.matched_at
FROM alert_matches m
JOIN signals s ON s.id = m.signal_id
WHERE m.alert_id = :alert_id
  AND (:after_id::bigint IS NULL OR m.id < :after_id::bigint)
  AND (:restrict_topics::bigint[] IS NULL OR s.topic_ids && :restrict_topics::bigint[])
  -- include: signal_supplier_visible
ORDER BY m.id DESC
LIMIT :limit;

-- --- the matcher ---------------------------------------------------------------------------------

-- name: lock_alert_match_cursor
-- The matcher's position in signal_changes, locked for this run (another matcher that holds
-- it makes this one skip: one run at a time).
SELECT xid, id FROM alert_match_cursor WHERE name = 'changes' FOR UPDATE SKIP LOCKED;

-- name: advance_alert_match_cursor
-- Moves the matcher past the changes it handled (in the same transaction as their matches).
UPDATE alert_match_cursor SET xid = :xid::xid8, id = :id, updated_at = now() WHERE name = 'changes';

-- name: pending_signal_changes
-- The next changes of the log after the matcher's position whose transactions have all ended
-- (xid below the snapshot's xmin: nothing can still commit before them), in (xid, id) order,
-- as sync reads them.
WITH horizon AS MATERIALIZED (
    -- every transaction with a smaller xid has committed or rolled back
    SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin
)
SELECT c.xid, c.id, c.kind, c.signal_id, c.changed_at
FROM signal_changes c
WHERE (c.xid, c.id) > (:after_xid::xid8, :after_id::bigint)
  AND c.xid < (SELECT xmin FROM horizon)
ORDER BY c.xid, c.id
LIMIT :limit;

-- fragment: alert_filters_hold
-- Alert a's own filters hold for signal s (every given one).
AND (a.query IS NULL OR s.search @@ a.query)
AND (a.topic_id IS NULL OR s.topic_ids @> ARRAY[a.topic_id])
AND (a.entity_id IS NULL OR s.entity_ids @> ARRAY[a.entity_id])
AND (a.source IS NULL OR s.site_name = a.source)
AND (a.lang IS NULL OR s.language = a.lang)

-- fragment: alert_key_may_read
-- The key that owns alert m (its api_key_id) may read signal m now: not revoked, reads
-- signals, its partner not disabled, the signal within its topics, and supplied content only
-- its supplier's (or an admin key's). A scalar subquery, looked up per alert that already
-- matched: as a join, PostgreSQL expected one key row and put the keys first.
AND coalesce((
    SELECT k.revoked_at IS NULL
           AND ('admin' = ANY (k.scopes) OR 'signals:read' = ANY (k.scopes))
           AND p.disabled_at IS NULL
           AND (k.topic_ids IS NULL OR k.topic_ids && m.topic_ids)
           AND (m.supplier_id IS NULL OR 'admin' = ANY (k.scopes)
                OR m.supplier_id = coalesce(k.partner_id, k.id))
    FROM api_keys k
    LEFT JOIN partners p ON p.id = k.partner_id
    WHERE k.id = m.api_key_id
), false)

-- fragment: alert_percolation
-- Continues a WITH whose CTE changed (signal_id, changed_at, position) names signals: matched
-- (position, signal_id, alert_id) is every alert each current one matches, of the alerts that
-- existed at changed_at. Each step is materialized so that the plan follows the steps.
, keyed AS MATERIALIZED (
    -- each current signal with the keys its alerts are filed under, computed once
    SELECT c.position, c.changed_at, s.id AS signal_id, s.search, s.topic_ids, s.entity_ids,
           s.site_name, s.language, s.supplier_id,
           signal_alert_keys(s.search, s.topic_ids, s.entity_ids, s.site_name, s.language) AS keys
    FROM changed c
    JOIN signals s ON s.id = c.signal_id AND s.is_current
), candidates AS MATERIALIZED (
    -- the alerts filed under one of its keys: one primary-key probe per key
    SELECT DISTINCT ks.position, x.alert_id
    FROM keyed ks JOIN alert_anchors x ON x.anchor = ANY (ks.keys)
), checked AS MATERIALIZED (
    -- the candidates whose filters hold
    SELECT s.position, s.signal_id, s.topic_ids, s.supplier_id, a.id AS alert_id, a.api_key_id
    FROM candidates c
    JOIN keyed s ON s.position = c.position
    JOIN alerts a ON a.id = c.alert_id
    WHERE a.created_at <= s.changed_at
      -- include: alert_filters_hold
), matched AS (
    -- and whose key may read the signal
    SELECT m.position, m.signal_id, m.alert_id
    FROM checked m
    WHERE true
      -- include: alert_key_may_read
)

-- name: percolate_signal
-- The alerts one current signal matches now (the matcher's test for one signal, as the bench
-- and the plan test run it; nothing is stored).
WITH changed AS (
    -- the one signal, matched against every alert
    SELECT :signal_id::uuid AS signal_id, 'infinity'::timestamptz AS changed_at, 1::bigint AS position
)
-- include: alert_percolation
SELECT alert_id AS id FROM matched;

-- name: insert_alert_matches
-- Matches each changed signal that is still current against every alert that existed when
-- it changed, and stores the new matches (one per alert and signal: a repeat is ignored);
-- returns them with where each goes (the alert's endpoint, if it is enabled).
WITH changed AS (
    -- the changes of this batch in log order, with when each was logged
    SELECT c.signal_id, c.changed_at, c.position
    FROM unnest(:signal_ids::uuid[], :changed_at::timestamptz[]) WITH ORDINALITY AS c (signal_id, changed_at, position)
)
-- include: alert_percolation
, inserted AS (
    INSERT INTO alert_matches (alert_id, signal_id)
    SELECT m.alert_id, m.signal_id
    FROM matched m
    -- match ids follow the log: the matches list is newest first by id
    ORDER BY m.position, m.alert_id
    ON CONFLICT DO NOTHING
    RETURNING id, alert_id, signal_id, matched_at
)
SELECT i.id, i.alert_id, i.signal_id, i.matched_at, a.name AS alert_name, s.topic_ids, s.supplier_id,
       w.id AS webhook_id
FROM inserted i
JOIN alerts a ON a.id = i.alert_id
JOIN signals s ON s.id = i.signal_id
LEFT JOIN webhooks w ON w.id = a.webhook_id AND w.disabled_at IS NULL
ORDER BY i.id;

-- name: insert_alert_messages
-- Stores alert.matched bodies to send, with the signal's topics and supplier (every attempt
-- checks them against the endpoint key's restriction and supplier, as for signal events).
INSERT INTO webhook_messages (id, type, body, topic_ids, supplier_id)
SELECT m.id, 'alert.matched', m.body, m.topic_ids::bigint[], m.supplier_id
FROM unnest(:ids::text[], :bodies::text[], :topic_ids::text[], :supplier_ids::uuid[])
     AS m (id, body, topic_ids, supplier_id);
