-- Saved searches that alert (service/alerts/): each alert is a stored query; every new or
-- re-analysed current signal is matched against all of them once, in sync's log order, and
-- each match is listed, sent to the alert's webhook and shown in the alert's feed.
-- Never edit this file once released: add a new numbered migration instead.

-- The keys under which an alert is found for a signal (the percolator's index, see
-- signal_alert_keys): 'e:<entity id>', else 'w:<lexeme>' for a word of its query that a match
-- needs (or each, when it needs one of them), else 't:<topic id>', 's:<source>',
-- 'l:<language>', else '*'. Every signal that matches the alert carries one of its keys, so
-- the index of keys (alert_anchors) finds a signal's candidate alerts, and only those are
-- checked in full.
CREATE FUNCTION alert_anchor_keys(query tsquery, topic_id bigint, entity_id bigint, source text, lang text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN entity_id IS NOT NULL THEN ARRAY['e:' || entity_id]
        -- querytree keeps the part of the query an index can check (no negation alone): a
        -- document that matches holds at least one of its lexemes ('T': it needs none). With
        -- no OR every one of them is needed, so one is enough: the longest (rarer, as a rule),
        -- which keeps a signal's candidates few.
        WHEN query IS NOT NULL AND querytree(query) <> 'T' THEN ARRAY(
            SELECT 'w:' || lexeme
            FROM (
                SELECT DISTINCT replace(substr(m[1], 2, length(m[1]) - 2), '''''', '''') AS lexeme
                FROM regexp_matches(querytree(query), '(''(?:[^'']|'''')*'')', 'g') AS m
            ) AS lexemes
            ORDER BY length(lexeme) DESC, lexeme
            LIMIT CASE WHEN querytree(query) ~ '[|]' THEN NULL ELSE 1 END
        )
        WHEN topic_id IS NOT NULL THEN ARRAY['t:' || topic_id]
        WHEN source IS NOT NULL THEN ARRAY['s:' || source]
        WHEN lang IS NOT NULL THEN ARRAY['l:' || lang]
        ELSE ARRAY['*']
    END
$$;

-- Every key a signal's alerts may be found under (the other half of alert_anchor_keys).
CREATE FUNCTION signal_alert_keys(search tsvector, topic_ids bigint[], entity_ids bigint[],
                                  site_name text, language text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY['*']
        || ARRAY(SELECT 'e:' || e FROM unnest(entity_ids) AS e)
        || ARRAY(SELECT 'w:' || w FROM unnest(tsvector_to_array(search)) AS w)
        || ARRAY(SELECT 't:' || t FROM unnest(topic_ids) AS t)
        || CASE WHEN site_name IS NULL THEN '{}'::text[] ELSE ARRAY['s:' || site_name] END
        || CASE WHEN language IS NULL THEN '{}'::text[] ELSE ARRAY['l:' || language] END
$$;

-- An alert belongs to the creating key (api_key_id) and is managed by it and by its
-- partner's admin, as webhooks are; its matches follow that key as it is at match time.
CREATE TABLE alerts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    partner_id  uuid REFERENCES partners (id) ON DELETE CASCADE,
    api_key_id  uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- the query as the caller sent it, and what it means (signal_search_query, as on search)
    q           text CHECK (length(q) BETWEEN 1 AND 500),
    query       tsquery,
    topic_id    bigint,
    topic_slug  text,
    entity_id   bigint,
    source      text CHECK (length(source) BETWEEN 1 AND 200),
    lang        text CHECK (length(lang) BETWEEN 1 AND 35),
    webhook_id  uuid REFERENCES webhooks (id) ON DELETE SET NULL,
    anchors     text[] GENERATED ALWAYS AS (alert_anchor_keys(query, topic_id, entity_id, source, lang)) STORED,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((q IS NULL) = (query IS NULL)),
    CHECK ((topic_id IS NULL) = (topic_slug IS NULL))
);
CREATE INDEX alerts_key_idx ON alerts (api_key_id, created_at, id);
CREATE INDEX alerts_partner_idx ON alerts (partner_id, created_at, id);
CREATE INDEX alerts_webhook_idx ON alerts (webhook_id) WHERE webhook_id IS NOT NULL;

-- The percolator's index: each alert under each of its keys. A signal's keys (~100-1 000: its
-- words) are looked up in the primary key, one probe each. A GIN index over alerts.anchors
-- answered the same in 1.5 ms for 10 000 alerts, but PostgreSQL prices the array overlap of a
-- sequential scan far below its cost and chose that instead (50 ms); a B-tree probe per key
-- is priced as it costs.
CREATE TABLE alert_anchors (
    anchor   text NOT NULL,
    alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    PRIMARY KEY (anchor, alert_id)
);
CREATE INDEX alert_anchors_alert_idx ON alert_anchors (alert_id);

-- keeps alert_anchors equal to alerts.anchors (a change of the query recomputes those)
CREATE FUNCTION alerts_index_anchors() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM alert_anchors WHERE alert_id = NEW.id;
    END IF;
    INSERT INTO alert_anchors (anchor, alert_id) SELECT DISTINCT unnest(NEW.anchors), NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER alerts_index_anchors
    AFTER INSERT OR UPDATE OF anchors ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_index_anchors();

-- One row per alert and signal that matched it (never two: the unique key).
CREATE TABLE alert_matches (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    signal_id  uuid NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    matched_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, signal_id)
);
-- GET /v1/alerts/{id}/matches and the alert's feed: newest first
CREATE INDEX alert_matches_alert_idx ON alert_matches (alert_id, id DESC);
CREATE INDEX alert_matches_signal_idx ON alert_matches (signal_id);

-- Where the matcher stands in signal_changes, read as sync reads it ((xid, id) below the
-- snapshot's xmin); its row lock makes one matcher run at a time. It starts at the end of
-- the log: no alert exists yet, so nothing before could match.
CREATE TABLE alert_match_cursor (
    name       text PRIMARY KEY,
    xid        xid8 NOT NULL,
    id         bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO alert_match_cursor (name, xid, id)
SELECT 'changes', coalesce(max(xid), '0'::xid8), 0 FROM signal_changes;
-- every change of that last transaction too (id is an identity: the largest bigint is past it)
UPDATE alert_match_cursor SET id = 9223372036854775807 WHERE xid <> '0'::xid8;
