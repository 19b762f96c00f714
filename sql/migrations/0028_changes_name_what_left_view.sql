-- A change that replaces a signal records the replaced version's topics, so a topic-restricted
-- reader whose topics the replaced version had, and the new one has not, learns that the
-- version it holds left its view (sync delivers that as a tombstone). And an older version
-- made current again (its page changed back) names the version it replaces, so mirrors drop it.

ALTER TABLE signal_changes ADD COLUMN replaces_topic_ids bigint[];

UPDATE signal_changes c SET replaces_topic_ids = s.topic_ids
FROM signals s
WHERE s.id = c.replaces;

-- As in migration 0026, with the replaced version's topics.
CREATE OR REPLACE FUNCTION signals_log_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    stored record;
    previous record;
BEGIN
    SELECT id, article_id, topic_ids, created_at, supplier_id INTO stored FROM signals WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;  -- deleted before its own commit: nobody ever saw it
    END IF;
    SELECT id, topic_ids INTO previous FROM signals
    WHERE article_id = stored.article_id AND id <> stored.id
      AND (created_at, id) < (stored.created_at, stored.id)
    ORDER BY created_at DESC, id DESC
    LIMIT 1;
    INSERT INTO signal_changes (kind, signal_id, replaces, replaces_topic_ids, topic_ids, supplier_id)
    VALUES (CASE WHEN previous.id IS NULL THEN 'created' ELSE 'updated' END, stored.id, previous.id,
            previous.topic_ids, stored.topic_ids, stored.supplier_id);
    RETURN NULL;
END;
$$;

-- An older version current again: after its newer version was deleted (nothing newer is left
-- to replace), or because its page changed back (the newer version it replaces is named).
CREATE OR REPLACE FUNCTION signals_log_restore() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    newer record;
BEGIN
    SELECT id, topic_ids INTO newer FROM signals
    WHERE article_id = NEW.article_id AND id <> NEW.id
      AND (created_at, id) > (NEW.created_at, NEW.id)
    ORDER BY created_at DESC, id DESC
    LIMIT 1;
    INSERT INTO signal_changes (kind, signal_id, replaces, replaces_topic_ids, topic_ids, supplier_id)
    VALUES ('updated', NEW.id, newer.id, newer.topic_ids, NEW.topic_ids, NEW.supplier_id);
    RETURN NULL;
END;
$$;
