-- What is made of content a caller supplied (signals.supplier_id, migration 0025) reaches its
-- supplier's keys and admin keys only. Every read filters on the supplier; this migration
-- gives the reads what they need, keeps supplied signals out of everything shared (stories,
-- other signals' related lists, the daily counts, sync and webhooks of other readers) and
-- undoes what earlier versions shared. Never edit this file once released: add a new
-- numbered migration instead.

-- --- covering indexes --------------------------------------------------------------------------

-- The list walks, the aggregates' partial days and the related lists read these indexes
-- alone (index-only): they now carry the supplier too, so that a reader's supplier filter
-- does not send each row to the table. Almost every supplier_id is NULL (a null-bitmap bit).
DROP INDEX signals_current_feed_idx;
CREATE INDEX signals_current_feed_idx ON signals (created_at DESC, id DESC)
    INCLUDE (topic_ids, entity_ids, sentiment, language, site_name, story_id, is_story_lead,
             published_date, supplier_id)
    WHERE is_current;

DROP INDEX signals_card_idx;
CREATE INDEX signals_card_idx ON signals (id)
    INCLUDE (title, url, canonical_url, site_name, published_date, created_at, story_id, topic_ids,
             supplier_id)
    WHERE is_current;

-- --- topics and entities that only supplied signals name -----------------------------------------

-- A topic or entity exists for everyone once a fetched (public) signal has named it, and
-- never stops being public. Until then it exists only for the suppliers whose signals name
-- it (and admins): for anyone else it is unknown (service/topics/visibility.py).
ALTER TABLE topics ADD COLUMN is_public boolean NOT NULL DEFAULT true;
ALTER TABLE entities ADD COLUMN is_public boolean NOT NULL DEFAULT true;

-- named by supplied signals and by no public one (a name no signal carries stays public);
-- the few supplied signals are read through signals_supplier_idx, the public ones that name
-- a candidate through the link tables' indexes
UPDATE topics t SET is_public = false
WHERE t.id IN (SELECT unnest(s.topic_ids) FROM signals s WHERE s.supplier_id IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM signal_topics st JOIN signals s ON s.id = st.signal_id
      WHERE st.topic_id = t.id AND s.supplier_id IS NULL
  );
UPDATE entities e SET is_public = false
WHERE e.id IN (SELECT unnest(s.entity_ids) FROM signals s WHERE s.supplier_id IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM signal_entities se JOIN signals s ON s.id = se.signal_id
      WHERE se.entity_id = e.id AND s.supplier_id IS NULL
  );

-- new topics and entities start private; the trigger below makes them public with the first
-- public signal that names them (in its own transaction, so never later than the signal)
ALTER TABLE topics ALTER COLUMN is_public SET DEFAULT false;
ALTER TABLE entities ALTER COLUMN is_public SET DEFAULT false;

CREATE FUNCTION signals_make_names_public() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- only rows still private are written (and locked): once per topic or entity, ever
    UPDATE topics SET is_public = true WHERE id = ANY (NEW.topic_ids) AND NOT is_public;
    UPDATE entities SET is_public = true WHERE id = ANY (NEW.entity_ids) AND NOT is_public;
    RETURN NULL;
END;
$$;

-- also on topic_ids: a merge moves public signals onto the target topic
CREATE TRIGGER signals_make_names_public
    AFTER INSERT OR UPDATE OF topic_ids, entity_ids ON signals
    FOR EACH ROW
    WHEN (NEW.supplier_id IS NULL)
    EXECUTE FUNCTION signals_make_names_public();

-- --- daily counts: public signals only -----------------------------------------------------------

-- As in migration 0017, but a supplied version never counts (supplier_id never changes).
CREATE OR REPLACE FUNCTION signals_count_days() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_counts boolean := TG_OP <> 'INSERT' AND OLD.is_current AND OLD.supplier_id IS NULL;
    new_counts boolean := TG_OP <> 'DELETE' AND NEW.is_current AND NEW.supplier_id IS NULL;
BEGIN
    IF old_counts AND new_counts THEN
        PERFORM signal_days_move(OLD.created_at, OLD.topic_ids, OLD.entity_ids, OLD.sentiment,
                                 NEW.created_at, NEW.topic_ids, NEW.entity_ids, NEW.sentiment);
    ELSIF old_counts THEN
        PERFORM signal_days_move(OLD.created_at, OLD.topic_ids, OLD.entity_ids, OLD.sentiment,
                                 NULL, '{}', '{}', NULL);
    ELSIF new_counts THEN
        PERFORM signal_days_move(NULL, '{}', '{}', NULL,
                                 NEW.created_at, NEW.topic_ids, NEW.entity_ids, NEW.sentiment);
    END IF;
    RETURN NULL;
END;
$$;

-- the stored counts, again from the public current signals (the index rebuild above holds
-- the table's lock, so no writer runs between the two)
TRUNCATE topic_days, entity_days;

INSERT INTO topic_days (topic_id, day, signals, sentiment_sum, sentiment_n)
SELECT t.id, (s.created_at AT TIME ZONE 'UTC')::date, count(*),
       coalesce(sum(s.sentiment::numeric), 0), count(s.sentiment)
FROM signals s
CROSS JOIN LATERAL unnest(s.topic_ids) AS t (id)
WHERE s.is_current AND s.supplier_id IS NULL
GROUP BY 1, 2;

INSERT INTO entity_days (entity_id, day, signals)
SELECT e.id, (s.created_at AT TIME ZONE 'UTC')::date, count(*)
FROM signals s
CROSS JOIN LATERAL unnest(s.entity_ids) AS e (id)
WHERE s.is_current AND s.supplier_id IS NULL
GROUP BY 1, 2;

-- --- stories and related lists: public signals only -----------------------------------------------

-- Supplied signals leave the stories they were placed in (each is a story of its own again,
-- as a signal no story holds), and the stories they leave are summed up again from the
-- signals that remain, as refresh_story does (sql/queries/stories.sql); one left with no
-- signal at all goes (its title was a supplied headline).
CREATE TEMPORARY TABLE left_stories ON COMMIT DROP AS
SELECT DISTINCT story_id AS id FROM signals WHERE supplier_id IS NOT NULL AND story_id IS NOT NULL;

UPDATE signals SET story_id = NULL, is_story_lead = true
WHERE supplier_id IS NOT NULL AND (story_id IS NOT NULL OR NOT is_story_lead);

DELETE FROM story_placements p USING signals s WHERE s.id = p.signal_id AND s.supplier_id IS NOT NULL;

WITH leads AS (
    -- each story's newest current signal
    SELECT DISTINCT ON (s.story_id) s.story_id, s.id
    FROM signals s
    WHERE s.story_id IN (SELECT id FROM left_stories) AND s.is_current
    ORDER BY s.story_id, s.created_at DESC, s.id DESC
)
UPDATE signals s SET is_story_lead = (s.id IN (SELECT id FROM leads))
WHERE s.story_id IN (SELECT id FROM left_stories)
  AND s.is_story_lead IS DISTINCT FROM (s.id IN (SELECT id FROM leads));

UPDATE stories st
SET lead_signal_id = m.lead_id,
    title = coalesce(m.lead_title, st.title),
    signal_count = m.current_count,
    first_seen = m.first_seen,
    last_seen = m.last_seen,
    updated_at = now()
FROM (
    SELECT s.story_id,
           (array_agg(s.id ORDER BY s.created_at DESC, s.id DESC) FILTER (WHERE s.is_current))[1] AS lead_id,
           (array_agg(s.title ORDER BY s.created_at DESC, s.id DESC) FILTER (WHERE s.is_current))[1] AS lead_title,
           count(*) FILTER (WHERE s.is_current) AS current_count,
           min(s.created_at) AS first_seen, max(s.created_at) AS last_seen
    FROM signals s
    WHERE s.story_id IN (SELECT id FROM left_stories)
    GROUP BY s.story_id
) m
WHERE st.id = m.story_id;

DELETE FROM stories st
WHERE st.id IN (SELECT id FROM left_stories)
  AND NOT EXISTS (SELECT 1 FROM signals s WHERE s.story_id = st.id);

-- A supplied signal's own card keeps its links to public signals; nobody links to it.
DELETE FROM signal_related r USING signals s WHERE s.id = r.related_id AND s.supplier_id IS NOT NULL;

-- --- sync and webhooks: a supplied signal's changes reach its supplier only ------------------------

-- the signal's supplier when it changed (NULL: fetched, public); tombstones keep it
ALTER TABLE signal_changes ADD COLUMN supplier_id uuid;
UPDATE signal_changes c SET supplier_id = s.supplier_id
FROM signals s WHERE s.id = c.signal_id AND s.supplier_id IS NOT NULL;

ALTER TABLE webhook_events ADD COLUMN supplier_id uuid;
UPDATE webhook_events e SET supplier_id = s.supplier_id
FROM signals s WHERE s.id = e.signal_id AND s.supplier_id IS NOT NULL;

-- every attempt checks it against the endpoint key's supplier (a retry may come hours later)
ALTER TABLE webhook_messages ADD COLUMN supplier_id uuid;
UPDATE webhook_messages m SET supplier_id = s.supplier_id
FROM signals s
WHERE m.type IN ('signal.created', 'signal.updated') AND s.supplier_id IS NOT NULL
  AND s.id::text = m.body::jsonb #>> '{data,signal,id}';

-- As in migration 0005, with the signal's supplier.
CREATE OR REPLACE FUNCTION signals_log_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stored record;
    previous uuid;
BEGIN
    SELECT id, article_id, topic_ids, created_at, supplier_id INTO stored FROM signals WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;  -- deleted before its own commit: nobody ever saw it
    END IF;
    SELECT id INTO previous FROM signals
    WHERE article_id = stored.article_id AND id <> stored.id
      AND (created_at, id) < (stored.created_at, stored.id)
    ORDER BY created_at DESC, id DESC
    LIMIT 1;
    INSERT INTO signal_changes (kind, signal_id, replaces, topic_ids, supplier_id)
    VALUES (CASE WHEN previous IS NULL THEN 'created' ELSE 'updated' END, stored.id, previous,
            stored.topic_ids, stored.supplier_id);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION signals_log_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signal_changes (kind, signal_id, topic_ids, supplier_id)
    VALUES ('deleted', OLD.id, OLD.topic_ids, OLD.supplier_id);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION signals_log_restore() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signal_changes (kind, signal_id, topic_ids, supplier_id)
    VALUES ('updated', NEW.id, NEW.topic_ids, NEW.supplier_id);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION signal_changes_to_webhook_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_events (type, signal_id, data, topic_ids, supplier_id)
    VALUES ('signal.' || NEW.kind, NEW.signal_id, jsonb_build_object('replaces', NEW.replaces),
            NEW.topic_ids, NEW.supplier_id);
    RETURN NULL;
END;
$$;

ANALYZE signals;
ANALYZE topic_days;
ANALYZE entity_days;
